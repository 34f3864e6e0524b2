"""The one door to validation: metadata rules plus the kind's own, as kube-apiserver runs them.

The API server calls :func:`validate` (or :func:`validate_or_raise`) on
every write, after defaulting and after the registry has filled the system
fields (``uid``, ``creationTimestamp``; a Job's generated selector), and
before it stores anything:

- create: ``validate(obj, namespaced=...)`` runs ``ValidateObjectMeta``
  with the kind's name rule, the core finalizer-name rule, then the kind's
  create rules (``ValidatePod``, ``ValidateDeployment``...);
- update: ``validate(new, namespaced=..., old=old)`` runs
  ``ValidateObjectMetaUpdate`` then the kind's update rules (immutable
  selectors, a Pod's frozen spec, a binding's roleRef...);
- a subresource: ``subresource="status"`` (the metadata update, then the
  kind's status rules: counters not negative, a Namespace's phase...) or
  ``"finalize"`` for a Namespace.

Kinds are found by API group (from ``apiVersion``) and ``kind``; an unknown
kind gets the metadata rules only.

    >>> pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
    ...        "spec": {"containers": [{"name": "web"}]}}
    >>> [str(e) for e in validate(pod, namespaced=True)][:2]
    ['spec.terminationGracePeriodSeconds: Required value', 'spec.containers[0].image: Required value']

Simplifications:
- Metadata errors come first, then the kind's; kube interleaves them
  differently for a few kinds (RBAC validates rules before the update's
  metadata). The set of errors is the same.
- The generic ``BeforeCreate`` re-check of metadata (with path-segment
  names) only runs for Events, the one served kind whose own rules skip it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from kitlib.api import validation_apps as apps
from kitlib.api import validation_batch as batch
from kitlib.api import validation_core as core
from kitlib.api import validation_groups as groups
from kitlib.api import validation_pod as pod
from kitlib.api import validation_service as service
from kitlib.api.errors import Invalid
from kitlib.api.field import FieldError
from kitlib.api.validation import (
    NameRule,
    name_is_dns_label,
    name_is_path_segment,
    name_rule,
    validate_finalizers,
    validate_object_meta,
    validate_object_meta_update,
)

Obj = dict[str, Any]
Create = Callable[[Obj], "list[FieldError]"]
Update = Callable[[Obj, Obj], "list[FieldError]"]


def _nothing(*_: Obj) -> list[FieldError]:
    return []


@dataclass(frozen=True)
class KindRules:
    """One kind's validation, as its registry strategy wires it in kube-apiserver.

    ``update`` defaults to re-running ``create`` on the new object (most
    kinds' ``ValidateXUpdate``); ``status`` to nothing beyond the metadata.
    ``name`` overrides the kind's name rule; ``kube_finalizers`` is False for
    kinds validated with apimachinery's ObjectMeta rules alone (Lease).
    """

    create: Create = _nothing
    update: Update | None = None
    status: Update = _nothing
    name: NameRule | None = None
    kube_finalizers: bool = True


RULES: dict[tuple[str, str], KindRules] = {
    ("", "Pod"): KindRules(pod.validate_pod, pod.validate_pod_update, pod.validate_pod_status_update),
    ("", "Service"): KindRules(service.validate_service, service.validate_service_update),
    ("", "Endpoints"): KindRules(service.validate_endpoints),
    ("", "ReplicationController"): KindRules(core.validate_replication_controller,
                                             status=lambda new, old: core.validate_replica_set_status(new)),
    ("", "Namespace"): KindRules(core.validate_namespace, _nothing, core.validate_namespace_status_update),
    ("", "Node"): KindRules(core.validate_node, core.validate_node_update, core.validate_node_update),
    ("", "ConfigMap"): KindRules(core.validate_config_map, core.validate_config_map_update),
    ("", "Secret"): KindRules(core.validate_secret, core.validate_secret_update),
    ("", "ServiceAccount"): KindRules(),
    ("", "Event"): KindRules(core.validate_event),  # special-cased in validate()
    ("apps", "Deployment"): KindRules(apps.validate_deployment, apps.validate_deployment_update,
                                      apps.validate_deployment_status),
    ("apps", "ReplicaSet"): KindRules(apps.validate_replica_set, apps.validate_replica_set_update,
                                      lambda new, old: core.validate_replica_set_status(new)),
    ("apps", "DaemonSet"): KindRules(apps.validate_daemon_set, apps.validate_daemon_set_update,
                                     apps.validate_daemon_set_status),
    # StatefulSet names are DNS labels since v1.27: each Pod's hostname is <name>-<ordinal>.
    ("apps", "StatefulSet"): KindRules(apps.validate_stateful_set, apps.validate_stateful_set_update,
                                       apps.validate_stateful_set_status, name=name_is_dns_label),
    ("batch", "Job"): KindRules(batch.validate_job, batch.validate_job_update, batch.validate_job_status),
    ("batch", "CronJob"): KindRules(batch.validate_cron_job, batch.validate_cron_job),
    ("autoscaling", "HorizontalPodAutoscaler"): KindRules(groups.validate_hpa, groups.validate_hpa, groups.validate_hpa_status),
    ("coordination.k8s.io", "Lease"): KindRules(groups.validate_lease, kube_finalizers=False),
    ("scheduling.k8s.io", "PriorityClass"): KindRules(groups.validate_priority_class, groups.validate_priority_class_update),
    ("rbac.authorization.k8s.io", "Role"): KindRules(groups.validate_role),
    ("rbac.authorization.k8s.io", "ClusterRole"): KindRules(groups.validate_cluster_role),
    ("rbac.authorization.k8s.io", "RoleBinding"): KindRules(groups.validate_role_binding, groups.validate_role_binding_update),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): KindRules(groups.validate_cluster_role_binding,
                                                                   groups.validate_cluster_role_binding_update),
}


def group_of(obj: Obj) -> str:
    """The API group in an object's ``apiVersion`` (``apps/v1`` -> ``apps``, ``v1`` -> ``""``)."""
    api_version = obj.get("apiVersion") or ""
    return api_version.rpartition("/")[0]


def rules_for(obj: Obj) -> KindRules:
    return RULES.get((group_of(obj), obj.get("kind") or ""), KindRules())


def _finalizer_names(obj: Obj, rules: KindRules) -> list[FieldError]:
    if not rules.kube_finalizers:
        return []
    names = (obj.get("metadata") or {}).get("finalizers") or []
    return [e for i, name in enumerate(names) for e in core.kube_finalizer(name, f"metadata.finalizers[{i}]")]


def validate(obj: Obj, *, namespaced: bool, old: Obj | None = None, subresource: str = "") -> list[FieldError]:
    """Every broken rule of a create (``old`` is None) or an update, as kube-apiserver v1.32 reports them."""
    rules, kind = rules_for(obj), obj.get("kind") or ""
    if old is None:
        if kind == "Event" and group_of(obj) == "":
            # A v1 Event gets its legacy rules, then (only if they pass) the generic BeforeCreate metadata check.
            errs = core.validate_event(obj)
            return errs or validate_object_meta(obj, namespaced=namespaced, name_fn=name_is_path_segment)
        name_fn = rules.name or name_rule(kind)
        errs = validate_object_meta(obj, namespaced=namespaced, name_fn=name_fn) + _finalizer_names(obj, rules)
        return errs + rules.create(obj)
    errs = validate_object_meta_update(obj, old)
    errs += validate_finalizers((obj.get("metadata") or {}).get("finalizers")) + _finalizer_names(obj, rules)
    if subresource == "status":
        return errs + rules.status(obj, old)
    if subresource == "finalize" and kind == "Namespace":
        return errs + core.validate_namespace_finalize(obj)
    update = rules.update if rules.update is not None else (lambda new, _old: rules.create(new))
    return errs + update(obj, old)


def validate_or_raise(obj: Obj, *, namespaced: bool, old: Obj | None = None, group: str = "",
                      subresource: str = "") -> None:
    """:func:`validate`, raising :class:`~kitlib.api.errors.Invalid` (kube's 422) when anything is wrong."""
    errors = validate(obj, namespaced=namespaced, old=old, subresource=subresource)
    if errors:
        name = (obj.get("metadata") or {}).get("name") or ""
        raise Invalid(obj.get("kind") or "", name, errors, group=group or group_of(obj))


validate_binding = pod.validate_binding  # the pods/binding body (a Binding, not the Pod)
