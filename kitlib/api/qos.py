"""A Pod's quality-of-service class, from its containers' requests and limits.

The class decides what happens under memory pressure: the kubelet evicts
``BestEffort`` Pods first (no requests or limits at all), then
``Burstable`` ones (some requests or limits), and ``Guaranteed`` Pods last
(every container has CPU and memory limits, and requests equal to them).
The API server records it in ``status.qosClass`` when the Pod is created,
and it never changes afterwards (``pkg/apis/core/helper/qos.GetPodQOS``).

    >>> qos_class({"spec": {"containers": [{"name": "a"}]}})
    'BestEffort'
    >>> qos_class({"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"},
    ...                                                                 "requests": {"cpu": "1000m", "memory": "1Gi"}}}]}})
    'Guaranteed'

Simplifications:
- Only ``cpu`` and ``memory`` count, as in kube; pod-level resources (alpha
  in 1.32) are not considered. A quantity that does not parse is ignored
  here (validation reports it).
"""

from __future__ import annotations

from typing import Any

from kitlib.api.quantity import QuantityError, parse_quantity

_COMPUTE = ("cpu", "memory")


def _amounts(values: Any) -> dict[str, Any]:
    out = {}
    for name in _COMPUTE:
        text = (values or {}).get(name) if isinstance(values, dict) else None
        if text is None:
            continue
        try:
            amount = parse_quantity(str(text))
        except QuantityError:
            continue
        if amount.value > 0:  # a zero request is no request
            out[name] = amount
    return out


def qos_class(pod: dict) -> str:
    """``BestEffort``, ``Burstable`` or ``Guaranteed``, as ``GetPodQOS`` decides."""
    spec = pod.get("spec") or {}
    containers = [c for key in ("initContainers", "containers") for c in spec.get(key) or [] if isinstance(c, dict)]
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        wanted, capped = _amounts(resources.get("requests")), _amounts(resources.get("limits"))
        for name, amount in wanted.items():
            requests[name] = requests.get(name, 0) + amount.value
        for name, amount in capped.items():
            limits[name] = limits.get(name, 0) + amount.value
        if set(capped) != set(_COMPUTE):
            guaranteed = False  # a container without both limits makes the Pod at most Burstable
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and requests == limits:
        return "Guaranteed"
    return "Burstable"
