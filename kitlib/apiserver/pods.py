"""The Pod's own subresources: ``binding`` (the scheduler's decision) and ``log`` (what a container printed).

**binding.** The scheduler never edits a Pod. It POSTs a ``Binding`` to
``pods/<name>/binding`` naming a Node, and the API server sets
``spec.nodeName``, which is otherwise immutable, in one compare-and-swap.
A Pod is bound once: a second binding is a ``409 Conflict``, which is how
two schedulers racing for one Pod learn that the other won (Kubernetes'
``BindingREST.Create`` and ``assignPod``). The Pod also gets the
``PodScheduled`` condition, and the Binding's annotations.

**log.** ``kubectl logs`` reads ``pods/<name>/log``. kube-apiserver does not
hold logs: it finds the Pod's node and forwards the request to that node's
kubelet, which reads the container's log file. Here a kubelet registers a
:class:`LogSource` for its node with :class:`NodeLogs`, and the API server
asks it. Before a kubelet runs, the answers are the ones kube gives for a
Pod nobody has started: no node yet, or a container waiting to start.

Simplifications:
- The legacy ``bindings`` resource (``POST .../bindings``) is not served;
  kube-scheduler uses ``pods/binding`` too.
- A log request reaches the kubelet in-process (a function call), not by
  HTTPS to port 10250; ``limitBytes`` and ``sinceTime`` are not supported.
"""

from __future__ import annotations

import threading
from typing import Iterator, Protocol

from kitlib.api.errors import APIError, BadRequest, Conflict, Invalid
from kitlib.api.field import go_quote, invalid, not_supported, required
from kitlib.api.meta import deep_copy, rfc3339
from kitlib.apiserver.registry import Registry
from kitlib.apiserver.resources import Resource


def bind(registry: Registry, pods: Resource, namespace: str | None, name: str, binding: dict, now_wall: float) -> dict:
    """Assign the Pod to ``binding.target.name``; the ``Status`` kube answers a binding with (code 201)."""
    target = binding.get("target") if isinstance(binding.get("target"), dict) else {}
    errors = []
    if not target.get("name"):
        errors.append(required("target.name", ""))
    if target.get("kind") not in (None, "", "Node"):
        errors.append(not_supported("target.kind", target.get("kind"), ["Node"]))
    if errors:
        raise Invalid("Binding", (binding.get("metadata") or {}).get("name", name), errors)
    node = target["name"]

    def assign(current: dict) -> dict:
        if current["metadata"].get("deletionTimestamp"):
            raise Conflict("pods/binding", name, f"pod {name} is being deleted, cannot be assigned to a host")
        assigned = (current.get("spec") or {}).get("nodeName")
        if assigned:
            raise Conflict("pods/binding", name, f"pod {name} is already assigned to node {go_quote(assigned)}")
        pod = deep_copy(current)
        pod["spec"]["nodeName"] = node
        annotations = (binding.get("metadata") or {}).get("annotations") or {}
        if annotations:
            pod["metadata"].setdefault("annotations", {}).update(annotations)
        conditions = [c for c in pod.setdefault("status", {}).get("conditions", []) if c.get("type") != "PodScheduled"]
        conditions.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                           "lastTransitionTime": rfc3339(now_wall)})
        pod["status"]["conditions"] = conditions
        return pod

    registry.guaranteed_update(pods, namespace, name, assign)
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


class LogSource(Protocol):
    """A node's logs: what a kubelet offers the API server for ``kubectl logs``."""

    def logs(self, namespace: str, pod: str, container: str, *, follow: bool = False, tail_lines: int | None = None,
             timestamps: bool = False, previous: bool = False) -> Iterator[bytes]:
        """The log's bytes, in chunks; with ``follow``, chunks keep coming until the caller closes the iterator."""
        ...


class NodeLogs:
    """Which kubelet holds which node's logs: kubelets register here as they start."""

    def __init__(self) -> None:
        self._sources: dict[str, LogSource] = {}
        self._lock = threading.Lock()

    def register(self, node: str, source: LogSource) -> None:
        with self._lock:
            self._sources[node] = source

    def unregister(self, node: str) -> None:
        with self._lock:
            self._sources.pop(node, None)

    def source(self, node: str) -> LogSource | None:
        with self._lock:
            return self._sources.get(node)


def read_logs(pod: dict, query: dict[str, str], sources: NodeLogs) -> Iterator[bytes]:
    """The chunks of ``kubectl logs``, or the error kube answers for a Pod whose log cannot be read yet."""
    name = pod["metadata"]["name"]
    containers = [c["name"] for c in (pod.get("spec") or {}).get("containers", [])]
    others = [c["name"] for key in ("initContainers", "ephemeralContainers") for c in (pod.get("spec") or {}).get(key, [])]
    container = query.get("container", "")
    if not container:
        if len(containers) != 1:
            choices = " ".join(containers)
            raise BadRequest(f"a container name must be specified for pod {name}, choose one of: [{choices}]")
        container = containers[0]
    elif container not in containers + others:
        raise BadRequest(f"container {container} is not valid for pod {name}")
    tail = query.get("tailLines", "")
    if tail and not tail.lstrip("-").isdigit():
        raise BadRequest(f"tailLines: Invalid value: {tail!r}")
    if tail and int(tail) < 0:
        raise Invalid("PodLogOptions", "", [invalid("tailLines", int(tail), "must be greater than or equal to 0")])
    node = (pod.get("spec") or {}).get("nodeName")
    if not node:
        raise BadRequest(f"pod {name} does not have a host assigned")
    source = sources.source(node)
    if source is None:
        waiting = _waiting_reason(pod, container)
        if waiting:
            raise BadRequest(f'container "{container}" in pod "{name}" is waiting to start: {waiting}')
        raise APIError(f"the kubelet of node {node} is not reachable", reason="ServiceUnavailable", code=503)
    return source.logs(pod["metadata"].get("namespace", ""), name, container,
                       follow=query.get("follow") in ("true", "1"), tail_lines=int(tail) if tail else None,
                       timestamps=query.get("timestamps") in ("true", "1"), previous=query.get("previous") in ("true", "1"))


def _waiting_reason(pod: dict, container: str) -> str:
    for status in (pod.get("status") or {}).get("containerStatuses", []):
        if status.get("name") == container:
            return ((status.get("state") or {}).get("waiting") or {}).get("reason", "")
    return "ContainerCreating"  # no status yet: the kubelet has not started on it
