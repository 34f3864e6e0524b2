"""The resources the API server serves: one row per REST resource.

kube-apiserver knows each resource by its group, version and plural name
(``apps/v1 deployments``), the Kind its objects carry (``Deployment``),
whether it lives in a namespace, the short names ``kubectl`` accepts
(``deploy``), its subresources (``status``, ``scale``...), the verbs it
answers, and where its objects are kept in etcd. Discovery documents, URL
routing, RBAC checks and storage all read this one table.

The storage prefixes are kube-apiserver's own, including its historical
oddities: Nodes live under ``/registry/minions`` (their name before 2014),
Services under ``/registry/services/specs`` beside their Endpoints under
``/registry/services/endpoints``, and ReplicationControllers under
``/registry/controllers``.

Simplifications:
- One version per group (the preferred one); kube-apiserver also serves
  older versions and converts between them.
- No CustomResourceDefinitions, no aggregated API servers.
"""

from __future__ import annotations

from dataclasses import dataclass

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Resource:
    """One REST resource, as discovery describes it."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    storage_prefix: str
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = VERBS

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        """``v1`` for the core group, ``apps/v1`` otherwise (an object's apiVersion)."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """``deployments.apps``, ``pods``: how Kubernetes names a resource in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def storage_key(self, namespace: str | None, name: str) -> str:
        """Where one object lives in the store: ``/registry/pods/default/web-0``."""
        if self.namespaced:
            return f"{self.storage_prefix}/{namespace}/{name}"
        return f"{self.storage_prefix}/{name}"

    def storage_range(self, namespace: str | None = None) -> str:
        """The key prefix of every object of this resource (in one namespace, if given)."""
        if self.namespaced and namespace:
            return f"{self.storage_prefix}/{namespace}/"
        return f"{self.storage_prefix}/"


_ALL = ("all",)
_CORE, _APPS = "", "apps"

RESOURCES: tuple[Resource, ...] = (
    # core/v1
    Resource(_CORE, "v1", "Namespace", "namespaces", False, "/registry/namespaces", ("ns",), subresources=("status", "finalize"),
             verbs=("create", "delete", "get", "list", "patch", "update", "watch")),
    Resource(_CORE, "v1", "Node", "nodes", False, "/registry/minions", ("no",), subresources=("status",)),
    Resource(_CORE, "v1", "Pod", "pods", True, "/registry/pods", ("po",), _ALL, ("status", "binding", "log", "eviction")),
    Resource(_CORE, "v1", "Service", "services", True, "/registry/services/specs", ("svc",), _ALL, ("status",)),
    Resource(_CORE, "v1", "Endpoints", "endpoints", True, "/registry/services/endpoints", ("ep",)),
    Resource(_CORE, "v1", "ConfigMap", "configmaps", True, "/registry/configmaps", ("cm",)),
    Resource(_CORE, "v1", "Secret", "secrets", True, "/registry/secrets"),
    Resource(_CORE, "v1", "Event", "events", True, "/registry/events", ("ev",)),
    Resource(_CORE, "v1", "ServiceAccount", "serviceaccounts", True, "/registry/serviceaccounts", ("sa",)),
    Resource(_CORE, "v1", "ReplicationController", "replicationcontrollers", True, "/registry/controllers", ("rc",), _ALL,
             ("status", "scale")),
    # apps/v1
    Resource(_APPS, "v1", "Deployment", "deployments", True, "/registry/deployments", ("deploy",), _ALL, ("status", "scale")),
    Resource(_APPS, "v1", "ReplicaSet", "replicasets", True, "/registry/replicasets", ("rs",), _ALL, ("status", "scale")),
    Resource(_APPS, "v1", "DaemonSet", "daemonsets", True, "/registry/daemonsets", ("ds",), _ALL, ("status",)),
    Resource(_APPS, "v1", "StatefulSet", "statefulsets", True, "/registry/statefulsets", ("sts",), _ALL, ("status", "scale")),
    # batch/v1
    Resource("batch", "v1", "Job", "jobs", True, "/registry/jobs", (), _ALL, ("status",)),
    Resource("batch", "v1", "CronJob", "cronjobs", True, "/registry/cronjobs", ("cj",), _ALL, ("status",)),
    # autoscaling/v2
    Resource("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True,
             "/registry/horizontalpodautoscalers", ("hpa",), _ALL, ("status",)),
    # coordination.k8s.io/v1
    Resource("coordination.k8s.io", "v1", "Lease", "leases", True, "/registry/leases"),
    # scheduling.k8s.io/v1
    Resource("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False, "/registry/priorityclasses", ("pc",)),
    # rbac.authorization.k8s.io/v1
    Resource("rbac.authorization.k8s.io", "v1", "Role", "roles", True, "/registry/roles"),
    Resource("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True, "/registry/rolebindings"),
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False, "/registry/clusterroles"),
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False,
             "/registry/clusterrolebindings"),
)

# The fields each kind lets a field selector use, beyond metadata.name and metadata.namespace (every
# kind's): each kind's GetAttrs/SelectableFields in kube-apiserver's registry (pkg/registry/*/strategy.go).
SELECTABLE_FIELDS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
            "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName"),
    "Event": ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
              "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
              "reportingComponent", "source", "type"),
    "Secret": ("type",),
    "Node": ("spec.unschedulable",),
    "Namespace": ("status.phase",),
    "ReplicaSet": ("status.replicas",),
    "ReplicationController": ("status.replicas",),
    "Job": ("status.successful",),
}


def selectable_fields(resource: Resource) -> tuple[str, ...]:
    """The field paths a field selector may name for this resource."""
    return ("metadata.name", "metadata.namespace") + SELECTABLE_FIELDS.get(resource.kind, ())


_BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
_BY_KIND = {(r.api_version, r.kind): r for r in RESOURCES}


def lookup(group: str, version: str, plural: str) -> Resource | None:
    """The resource a URL names (``apis/apps/v1/.../deployments``), or ``None``."""
    return _BY_PATH.get((group, version, plural))


def for_kind(api_version: str, kind: str) -> Resource | None:
    """The resource an object belongs to, from its ``apiVersion`` and ``kind``."""
    return _BY_KIND.get((api_version, kind))


def groups() -> dict[str, list[Resource]]:
    """Resources by API group, in the order discovery lists them (core first)."""
    out: dict[str, list[Resource]] = {}
    for resource in RESOURCES:
        out.setdefault(resource.group, []).append(resource)
    return out


def resolve(name: str) -> list[Resource]:
    """Every resource ``kubectl get NAME`` could mean: plural, singular, short name, kind or group-qualified."""
    name = name.lower()
    matches = []
    for resource in RESOURCES:
        qualified = {resource.plural, resource.singular, *resource.short_names, resource.kind.lower()}
        if resource.group:
            qualified |= {f"{n}.{resource.group}" for n in (resource.plural, resource.singular)}
        if name in qualified:
            matches.append(resource)
    return matches
