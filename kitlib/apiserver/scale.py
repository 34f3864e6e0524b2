"""The ``scale`` subresource: one number, a workload's replicas, as an ``autoscaling/v1 Scale``.

``kubectl scale`` and the HorizontalPodAutoscaler never edit a Deployment
(or ReplicaSet, StatefulSet, ReplicationController) directly: they read and
write its ``/scale`` subresource, a small ``Scale`` object whose
``spec.replicas`` is the workload's and whose ``status`` reports the
replicas running and the label selector that counts them. One interface
for every kind that can scale, and RBAC can grant it alone
(``deployments/scale``) without granting the whole object.

Simplifications:
- Only ``autoscaling/v1 Scale``; its ``status.selector`` is the selector
  in string form, as Kubernetes reports it.
"""

from __future__ import annotations

from typing import Any

from kitlib.api.errors import BadRequest
from kitlib.api.selectors import selector_from_label_selector, selector_from_set

Obj = dict[str, Any]


def selector_string(obj: Obj) -> str:
    """The workload's Pod selector as a label-selector string (``app=nginx``)."""
    selector = (obj.get("spec") or {}).get("selector") or {}
    if obj.get("kind") == "ReplicationController":  # a plain map of labels
        return str(selector_from_set(selector))
    return str(selector_from_label_selector(selector))


def to_scale(obj: Obj) -> Obj:
    """The ``Scale`` view of a scalable object."""
    md = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in md},
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
        "status": {"replicas": (obj.get("status") or {}).get("replicas", 0), "selector": selector_string(obj)},
    }


def replicas_of(scale: Obj) -> int:
    """The replicas a ``Scale`` asks for, checked as Kubernetes validates it."""
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise BadRequest(f"spec.replicas: Invalid value: {replicas!r}: must be greater than or equal to 0")
    return replicas
