"""The bootstrap policy: the Roles and bindings the kit installs at start-up.

An empty RBAC denies everything, even to the cluster's own components, so the
API server creates a set of default ClusterRoles and bindings when it starts,
as kube-apiserver does from ``plugin/pkg/auth/authorizer/rbac/bootstrappolicy``:
``cluster-admin`` for ``system:masters``; discovery and ``basic-user`` for
every authenticated user, ``public-info-viewer`` for anyone; one role for each
component (the kubelets' ``system:node``, ``system:kube-scheduler``,
``system:kube-controller-manager``, kube-proxy's ``system:node-proxier``);
and ``admin``, ``edit`` and ``view``, bound to nobody, for an administrator
to grant in a namespace. :mod:`kitlib.apiserver.rbac` decides requests from
them. Each object carries the label and annotation Kubernetes puts on its
defaults.

Simplifications:
- ``admin``, ``edit`` and ``view`` carry their rules directly instead of
  being assembled from ``aggregate-to-*`` roles (aggregation is not
  computed; see :mod:`kitlib.apiserver.rbac`).
- ``system:node`` is bound to the group of kubelets, as before Kubernetes
  v1.8, since there is no Node authorizer; its rules are a subset of the
  real role's, and node heartbeat Leases are granted by the Role
  ``kit:node-heartbeat`` in ``kube-node-lease`` only.
- Every controller runs as one user, so ``system:kube-controller-manager``
  holds the union of what the controllers need (kube-controller-manager
  gives each its own ServiceAccount and ``system:controller:<name>`` role).
"""

from __future__ import annotations

from typing import Any

from kitlib.apiserver.authn import (
    AUTHENTICATED_GROUP,
    KUBE_CONTROLLER_MANAGER_USER,
    KUBE_PROXY_USER,
    KUBE_SCHEDULER_USER,
    MASTERS_GROUP,
    NODES_GROUP,
    UNAUTHENTICATED_GROUP,
)
from kitlib.apiserver.rbac import RBAC_API_VERSION, RBAC_GROUP, rule, subject

Obj = dict[str, Any]

READ = ("get", "list", "watch")
WRITE = ("create", "update", "patch", "delete", "deletecollection")
READ_WRITE = READ + WRITE


def _meta(name: str, namespace: str = "") -> Obj:
    # The marks Kubernetes puts on its defaults: the label lets you find them,
    # the annotation says the API server may restore them at start-up.
    meta: Obj = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta["labels"] = {"kubernetes.io/bootstrapping": "rbac-defaults"}
    meta["annotations"] = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
    return meta


def _role(kind: str, name: str, rules: list[Obj], namespace: str = "") -> Obj:
    return {"apiVersion": RBAC_API_VERSION, "kind": kind, "metadata": _meta(name, namespace), "rules": rules}


def _binding(kind: str, name: str, role_kind: str, subjects: list[Obj], namespace: str = "") -> Obj:
    return {"apiVersion": RBAC_API_VERSION, "kind": kind, "metadata": _meta(name, namespace),
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": role_kind, "name": name}, "subjects": subjects}


def _events() -> Obj:
    return rule(["create", "update", "patch"], ["", "events.k8s.io"], ["events"])


def _view_rules() -> list[Obj]:
    # Real `view` is aggregated from system:aggregate-to-view and also covers
    # the deprecated extensions group. Secrets are left out on purpose: reading
    # them would let a viewer act as any ServiceAccount.
    return [
        rule(READ, [""], ["pods", "pods/log", "pods/status", "services", "services/status", "endpoints",
                          "persistentvolumeclaims", "persistentvolumeclaims/status", "configmaps", "serviceaccounts",
                          "replicationcontrollers", "replicationcontrollers/scale", "replicationcontrollers/status",
                          "events", "limitranges", "resourcequotas", "resourcequotas/status", "bindings"]),
        # Used in a RoleBinding, this reads the binding's own Namespace only.
        rule(READ, [""], ["namespaces", "namespaces/status"]),
        rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
        rule(READ, ["apps"], ["controllerrevisions", "daemonsets", "daemonsets/status", "deployments",
                              "deployments/scale", "deployments/status", "replicasets", "replicasets/scale",
                              "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status"]),
        rule(READ, ["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
        rule(READ, ["batch"], ["jobs", "jobs/status", "cronjobs", "cronjobs/status"]),
        rule(READ, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
        rule(READ, ["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"]),
    ]


def _edit_rules() -> list[Obj]:
    # Real `edit` is aggregated from aggregate-to-edit and aggregate-to-view.
    # Like it, no writes to status subresources, quotas or limits (those
    # belong to the system), and none to Endpoints (since v1.22: writing them
    # could hijack a Service's traffic).
    return _view_rules() + [
        rule(READ, [""], ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"]),
        rule(["impersonate"], [""], ["serviceaccounts"]),
        rule(WRITE, [""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"]),
        rule(["create"], [""], ["pods/eviction", "serviceaccounts/token"]),
        rule(WRITE, [""], ["configmaps", "persistentvolumeclaims", "replicationcontrollers",
                           "replicationcontrollers/scale", "secrets", "serviceaccounts", "services", "services/proxy"]),
        rule(WRITE, ["apps"], ["daemonsets", "deployments", "deployments/rollback", "deployments/scale",
                               "replicasets", "replicasets/scale", "statefulsets", "statefulsets/scale"]),
        rule(WRITE, ["autoscaling"], ["horizontalpodautoscalers"]),
        rule(WRITE, ["batch"], ["jobs", "cronjobs"]),
        rule(WRITE, ["policy"], ["poddisruptionbudgets"]),
        rule(WRITE, ["networking.k8s.io"], ["ingresses", "networkpolicies"]),
    ]


def _admin_rules() -> list[Obj]:
    # `edit` plus the power to share it: Roles and RoleBindings in the namespace.
    return _edit_rules() + [
        rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
        rule(READ_WRITE, [RBAC_GROUP], ["roles", "rolebindings"]),
    ]


def _node_rules() -> list[Obj]:
    # What a kubelet needs (bootstrappolicy.NodeRules). Real Kubernetes binds
    # system:node to nobody and lets the Node authorizer grant each kubelet
    # only the objects of its own Pods; the real role also covers CSI,
    # volume attachments, RuntimeClasses, CSRs for certificate rotation, and
    # Leases cluster-wide (here they sit in the Role kit:node-heartbeat).
    return [
        rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),  # the kubelet's own API checks callers
        rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews", "localsubjectaccessreviews"]),
        rule(READ, [""], ["services"]),  # Service environment variables for containers
        rule(["create", "get", "list", "watch", "update", "patch"], [""], ["nodes"]),  # register itself
        rule(["update", "patch"], [""], ["nodes/status"]),  # report conditions, capacity, addresses
        _events(),
        rule(READ + ("create", "delete"), [""], ["pods"]),  # its Pods; create/delete for mirror Pods
        rule(["update", "patch"], [""], ["pods/status"]),
        rule(["create"], [""], ["pods/eviction", "serviceaccounts/token"]),
        rule(READ, [""], ["secrets", "configmaps"]),  # volumes and env; watched one by one by name
        rule(["get"], [""], ["persistentvolumeclaims", "persistentvolumes", "endpoints"]),
    ]


def _scheduler_rules() -> list[Obj]:
    # The real role also reads CSI and storage objects for volume limits.
    return [
        _events(),
        # Leader election: anyone may create the Lease, only this name may be renewed.
        rule(["create"], ["coordination.k8s.io"], ["leases"]),
        rule(["get", "update"], ["coordination.k8s.io"], ["leases"], names=["kube-scheduler"]),
        rule(READ, [""], ["nodes", "namespaces"]),
        rule(READ + ("delete",), [""], ["pods"]),  # delete: preemption
        rule(["create"], [""], ["pods/binding", "bindings"]),
        rule(["patch", "update"], [""], ["pods/status"]),  # the PodScheduled condition, nominatedNodeName
        # Things that select Pods (spreading) or that Pods use.
        rule(READ, [""], ["services", "replicationcontrollers", "persistentvolumeclaims", "persistentvolumes"]),
        rule(READ, ["apps"], ["replicasets", "statefulsets"]),
        rule(READ, ["policy"], ["poddisruptionbudgets"]),
    ]


def _controller_manager_rules() -> list[Obj]:
    # Real kube-controller-manager gives each controller its own
    # ServiceAccount and a system:controller:<name> role with only what that
    # controller needs; its own role just starts them. The kit runs every
    # controller under one user, so this role is the union: broad, but listed.
    return [
        _events(),
        rule(["list", "watch"], ["*"], ["*"]),  # the informers of every controller
        # The garbage collector reads any owner, patches ownerReferences and
        # finalizers away and deletes dependents; the namespace controller
        # empties a deleted namespace with deletecollection. Every controller's
        # status updates, and renewing the leader-election Lease, fall under
        # it too (so unlike the scheduler's, that Lease is not named).
        rule(["get", "update", "patch", "delete", "deletecollection"], ["*"], ["*"]),
        # What the controllers create.
        rule(["create"], ["coordination.k8s.io"], ["leases"]),
        rule(["create"], [""], ["pods", "endpoints", "persistentvolumeclaims", "serviceaccounts"]),
        rule(["create"], ["apps"], ["replicasets", "controllerrevisions"]),
        rule(["create"], ["batch"], ["jobs"]),
        rule(["create"], ["discovery.k8s.io"], ["endpointslices"]),
    ]


def bootstrap_policy() -> list[Obj]:
    """The roles and bindings the kit installs at start-up, new dicts on every call.

    ClusterRoles first, then ClusterRoleBindings, then one Role and
    RoleBinding in ``kube-node-lease`` (which must exist for them to mean
    anything). ``admin``, ``edit`` and ``view`` are bound to nobody: bind
    them with a RoleBinding in a namespace to give a team that namespace.
    """
    cluster_roles = [
        # Everything, everywhere, including non-resource URLs.
        _role("ClusterRole", "cluster-admin", [rule(["*"], ["*"], ["*"]), rule(["*"], urls=["*"])]),
        # Discovery documents and the OpenAPI schemas: what kubectl reads first.
        _role("ClusterRole", "system:discovery", [rule(["get"], urls=[
            "/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", "/version", "/version/",
            "/healthz", "/livez", "/readyz"])]),
        # "Who am I, and what may I do": kubectl auth whoami / auth can-i.
        _role("ClusterRole", "system:basic-user", [
            rule(["create"], ["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
            rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"])]),
        # Harmless facts, meant even for anonymous users where those are allowed.
        _role("ClusterRole", "system:public-info-viewer", [rule(["get"], urls=[
            "/healthz", "/livez", "/readyz", "/version", "/version/"])]),
        _role("ClusterRole", "admin", _admin_rules()),
        _role("ClusterRole", "edit", _edit_rules()),
        _role("ClusterRole", "view", _view_rules()),
        _role("ClusterRole", "system:node", _node_rules()),
        _role("ClusterRole", "system:kube-scheduler", _scheduler_rules()),
        _role("ClusterRole", "system:kube-controller-manager", _controller_manager_rules()),
        # kube-proxy: Services and their endpoints, to program the node's rules.
        _role("ClusterRole", "system:node-proxier", [
            rule(["list", "watch"], [""], ["services", "endpoints"]),
            rule(["list", "watch"], ["discovery.k8s.io"], ["endpointslices"]),
            rule(READ, [""], ["nodes"]),
            _events()]),
    ]
    cluster_bindings = [
        _binding("ClusterRoleBinding", "cluster-admin", "ClusterRole", [subject("Group", MASTERS_GROUP)]),
        _binding("ClusterRoleBinding", "system:discovery", "ClusterRole", [subject("Group", AUTHENTICATED_GROUP)]),
        _binding("ClusterRoleBinding", "system:basic-user", "ClusterRole", [subject("Group", AUTHENTICATED_GROUP)]),
        _binding("ClusterRoleBinding", "system:public-info-viewer", "ClusterRole",
                 [subject("Group", AUTHENTICATED_GROUP), subject("Group", UNAUTHENTICATED_GROUP)]),
        # Bound to the group of kubelets, as before Kubernetes v1.8 (see _node_rules).
        _binding("ClusterRoleBinding", "system:node", "ClusterRole", [subject("Group", NODES_GROUP)]),
        _binding("ClusterRoleBinding", "system:kube-scheduler", "ClusterRole", [subject("User", KUBE_SCHEDULER_USER)]),
        _binding("ClusterRoleBinding", "system:kube-controller-manager", "ClusterRole",
                 [subject("User", KUBE_CONTROLLER_MANAGER_USER)]),
        _binding("ClusterRoleBinding", "system:node-proxier", "ClusterRole", [subject("User", KUBE_PROXY_USER)]),
    ]
    # Node heartbeats are Leases in kube-node-lease; a Role there keeps
    # kubelets away from every other Lease (leader election, for one).
    heartbeat = [
        _role("Role", "kit:node-heartbeat", [rule(["get", "create", "update", "patch", "delete"],
                                                  ["coordination.k8s.io"], ["leases"])], "kube-node-lease"),
        _binding("RoleBinding", "kit:node-heartbeat", "Role", [subject("Group", NODES_GROUP)], "kube-node-lease"),
    ]
    return cluster_roles + cluster_bindings + heartbeat
