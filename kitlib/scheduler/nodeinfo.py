"""NodeInfo: one Node, the Pods on it, and what they request, in the scheduler's units.

Every Filter and Score plugin reads a Node through a :class:`NodeInfo`, never
through the API: the scheduler keeps a cache of Nodes and of the Pods bound
(or assumed) to them, and at the start of each scheduling cycle it takes a
snapshot of that cache (kube-scheduler's ``framework.NodeInfo`` and
``Snapshot``). A NodeInfo sums its Pods' requests the way kube does:

- cpu in millicores (``500m`` -> 500), memory and ephemeral-storage in bytes,
  the number of Pods against ``status.allocatable.pods``;
- a Pod's request is its containers' requests added together, or the largest
  init container if that is larger (init containers run one at a time),
  sidecars (init containers with ``restartPolicy: Always``) added to both,
  plus ``spec.overhead`` (``resourcehelper.PodRequests``);
- ``non_zero_requested`` is the same sum with 100m CPU and 200Mi memory for a
  container that states no request (``GetNonzeroRequests``), so that Score
  plugins do not pile request-less Pods on one Node that looks empty.

    >>> info = NodeInfo.of({"metadata": {"name": "n1"}, "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}})
    >>> info.allocatable.milli_cpu, info.allocatable.allowed_pod_number
    (4000, 110)

A NodeInfo holds the Node and Pod dicts as the informer served them and never
modifies them; :meth:`NodeInfo.clone` copies the bookkeeping, not the objects,
so preemption can remove Pods from a copy to ask "would it fit without them?".

Simplifications:
- Pod-level ``spec.resources`` and in-place resize (status resources) are not
  read; requests come from ``spec`` only.
- No image, port, volume or affinity bookkeeping: only what the plugins here use.
- Scalar resources are named resources with a ``/`` (extended), ``hugepages-``
  or ``attachable-volumes-`` prefix, as ``IsScalarResourceName`` roughly says.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Iterable, Mapping

from kitlib.api.meta import key_of
from kitlib.api.quantity import parse_quantity

Obj = dict[str, Any]

CPU, MEMORY, EPHEMERAL_STORAGE, PODS = "cpu", "memory", "ephemeral-storage", "pods"

# pkg/scheduler/util: DefaultMilliCPURequest and DefaultMemoryRequest, the
# requests a container "has" for scoring when it states none.
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024
NON_ZERO_DEFAULTS: Mapping[str, Fraction] = {CPU: Fraction(DEFAULT_MILLI_CPU_REQUEST, 1000),
                                             MEMORY: Fraction(DEFAULT_MEMORY_REQUEST)}


def is_scalar_resource_name(name: str) -> bool:
    """Extended (``example.com/gpu``), hugepages or attachable-volume resources: counted by name."""
    return "/" in name or name.startswith(("hugepages-", "attachable-volumes-"))


@functools.lru_cache(maxsize=4096, typed=True)  # typed: True is not the quantity 1
def _parsed(value: str | int | float) -> Fraction:
    # Every Pod of a workload repeats the same few strings ("100m", "500Mi"), and the cache
    # parses each Pod several times (assumed, confirmed, PreFilter, PreScore): parse each once.
    return parse_quantity(value).value


def _amounts(resource_list: Mapping[str, Any] | None) -> dict[str, Fraction]:
    return {name: _parsed(value) for name, value in (resource_list or {}).items()}


def _add(into: dict[str, Fraction], other: Mapping[str, Fraction]) -> None:
    for name, value in other.items():
        # A first value is stored as it is: most Pods have one container, and Fraction arithmetic is slow.
        into[name] = into[name] + value if name in into else value


def _max(into: dict[str, Fraction], other: Mapping[str, Fraction]) -> None:
    for name, value in other.items():
        if value > into.get(name, Fraction(0)):
            into[name] = value


def _container_requests(container: Obj, non_missing: Mapping[str, Fraction] | None) -> dict[str, Fraction]:
    requests = _amounts((container.get("resources") or {}).get("requests"))
    # applyNonMissing: only a request that is absent gets the default; an explicit "0" stays 0.
    for name, value in (non_missing or {}).items():
        requests.setdefault(name, value)
    return requests


def pod_requests(pod: Obj, non_missing: Mapping[str, Fraction] | None = None) -> dict[str, Fraction]:
    """A Pod's effective requests as exact amounts (``resourcehelper.PodRequests``).

    ``non_missing`` gives a value for each resource a container leaves out
    (pass :data:`NON_ZERO_DEFAULTS` for the scoring view).
    """
    spec = pod.get("spec") or {}
    requests: dict[str, Fraction] = {}
    for container in spec.get("containers") or []:
        _add(requests, _container_requests(container, non_missing))
    # Init containers run one after the other before the app containers, so the
    # Pod needs the largest of them; sidecars keep running, so they add up.
    sidecars: dict[str, Fraction] = {}
    init_peak: dict[str, Fraction] = {}
    for container in spec.get("initContainers") or []:
        own = _container_requests(container, non_missing)
        if container.get("restartPolicy") == "Always":
            _add(requests, own)
            _add(sidecars, own)
            during = dict(sidecars)
        else:
            during = dict(own)
            _add(during, sidecars)
        _max(init_peak, during)
    _max(requests, init_peak)
    _add(requests, _amounts(spec.get("overhead")))
    return requests


@dataclass
class Resource:
    """Amounts in the scheduler's integer units (``framework.Resource``)."""

    milli_cpu: int = 0
    memory: int = 0
    ephemeral_storage: int = 0
    allowed_pod_number: int = 0
    scalar: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_amounts(cls, amounts: Mapping[str, Fraction]) -> "Resource":
        """Convert exact amounts as ``Quantity.MilliValue()`` / ``Value()`` do: rounding up."""
        resource = cls()
        resource.add(amounts)
        return resource

    @classmethod
    def from_list(cls, resource_list: Mapping[str, Any] | None) -> "Resource":
        """From a ``ResourceList`` such as a Node's ``status.allocatable``."""
        return cls.from_amounts(_amounts(resource_list))

    def add(self, amounts: Mapping[str, Fraction], sign: int = 1) -> None:
        for name, value in amounts.items():
            if name == CPU:
                self.milli_cpu += sign * math.ceil(value * 1000)
            elif name == MEMORY:
                self.memory += sign * math.ceil(value)
            elif name == EPHEMERAL_STORAGE:
                self.ephemeral_storage += sign * math.ceil(value)
            elif name == PODS:
                self.allowed_pod_number += sign * math.ceil(value)
            elif is_scalar_resource_name(name):
                self.scalar[name] = self.scalar.get(name, 0) + sign * math.ceil(value)

    def get(self, name: str) -> int:
        """The amount of one resource by its API name (cpu in millicores)."""
        if name == CPU:
            return self.milli_cpu
        if name == MEMORY:
            return self.memory
        if name == EPHEMERAL_STORAGE:
            return self.ephemeral_storage
        if name == PODS:
            return self.allowed_pod_number
        return self.scalar.get(name, 0)

    def is_zero(self) -> bool:
        return not (self.milli_cpu or self.memory or self.ephemeral_storage or any(self.scalar.values()))

    def copy(self) -> "Resource":
        return Resource(self.milli_cpu, self.memory, self.ephemeral_storage, self.allowed_pod_number,
                        dict(self.scalar))


def pod_resource(pod: Obj, non_zero: bool = False) -> Resource:
    """A Pod's requests as a :class:`Resource`; ``non_zero`` applies the scoring defaults."""
    return Resource.from_amounts(pod_requests(pod, NON_ZERO_DEFAULTS if non_zero else None))


def pod_priority(pod: Obj) -> int:
    """``spec.priority``, which the API server copies from the PriorityClass; 0 when unset."""
    priority = (pod.get("spec") or {}).get("priority")
    return int(priority) if priority is not None else 0


class NodeInfo:
    """A Node dict, the Pods on it, and the sums the plugins read.

    ``requested`` and ``non_zero_requested`` are the sums of the Pods'
    requests (see the module docstring); ``allocatable`` comes from
    ``status.allocatable``. Read-only for plugins: only the scheduler's cache
    and preemption's dry run (on a :meth:`clone`) add or remove Pods.
    """

    # Slots and plain attributes: Filter and Score read ``name``, ``labels`` and ``taints`` for
    # hundreds of Nodes per cycle, so they are looked up once per Node object, not per read
    # (kube's NodeInfo also holds the parsed Node rather than re-reading the API object).
    __slots__ = ("node", "pods", "requested", "non_zero_requested", "allocatable", "name", "labels", "taints")

    def __init__(self, node: Obj | None = None) -> None:
        self.node: Obj = node or {}
        self.pods: list[Obj] = []
        self.requested = Resource()
        self.non_zero_requested = Resource()
        self.allocatable = Resource.from_list((self.node.get("status") or {}).get("allocatable"))
        metadata = self.node.get("metadata") or {}
        self.name: str = metadata.get("name", "")
        self.labels: dict[str, str] = metadata.get("labels") or {}
        self.taints: list[Obj] = (self.node.get("spec") or {}).get("taints") or []

    @classmethod
    def of(cls, node: Obj, pods: Iterable[Obj] = ()) -> "NodeInfo":
        info = cls(node)
        for pod in pods:
            info.add_pod(pod)
        return info

    def add_pod(self, pod: Obj) -> None:
        self.pods.append(pod)
        self.requested.add(pod_requests(pod))
        self.non_zero_requested.add(pod_requests(pod, NON_ZERO_DEFAULTS))

    def remove_pod(self, pod: Obj) -> bool:
        """Forget ``pod`` (matched by UID, else by ``namespace/name``); False if it was not here."""
        for i, have in enumerate(self.pods):
            if _same_pod(have, pod):
                del self.pods[i]
                self.requested.add(pod_requests(have), sign=-1)
                self.non_zero_requested.add(pod_requests(have, NON_ZERO_DEFAULTS), sign=-1)
                return True
        return False

    def clone(self) -> "NodeInfo":
        """A copy whose Pod list and sums can change; the Node and Pod dicts are shared, never written."""
        other = NodeInfo.__new__(NodeInfo)
        other.node, other.pods = self.node, list(self.pods)
        other.name, other.labels, other.taints = self.name, self.labels, self.taints
        other.requested, other.non_zero_requested = self.requested.copy(), self.non_zero_requested.copy()
        other.allocatable = self.allocatable.copy()
        return other

    def __repr__(self) -> str:
        return (f"<NodeInfo {self.name}: {len(self.pods)} pods, cpu {self.requested.milli_cpu}m/"
                f"{self.allocatable.milli_cpu}m, memory {self.requested.memory}/{self.allocatable.memory}>")


def _same_pod(a: Obj, b: Obj) -> bool:
    uid_a, uid_b = (a.get("metadata") or {}).get("uid"), (b.get("metadata") or {}).get("uid")
    if uid_a and uid_b:
        return uid_a == uid_b
    return key_of(a) == key_of(b)


def node_infos(nodes: Iterable[Obj], pods: Iterable[Obj]) -> list[NodeInfo]:
    """NodeInfos for ``nodes``, each with the Pods whose ``spec.nodeName`` names it, in node order.

    Pods that have finished (``Succeeded``/``Failed``) hold no resources: the
    scheduler's Pod informer leaves them out, and so does this.
    """
    infos = {(node.get("metadata") or {}).get("name", ""): NodeInfo(node) for node in nodes}
    for pod in pods:
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        info = infos.get((pod.get("spec") or {}).get("nodeName") or "")
        if info is not None:
            info.add_pod(pod)
    return list(infos.values())
