"""The nominator: Pods that preempted others, and the Node each waits to have room on.

When preemption evicts lower-priority Pods from a Node for a Pod, the room
does not appear at once (the victims take their grace period to go), so
the Pod goes back to the queue *nominated* to that Node
(``status.nominatedNodeName``). Until it is bound there, the scheduler
counts it on that Node when it filters Pods of lower priority, so they do
not take the room it made (kube's ``nominator`` in
``pkg/scheduler/backend/queue``).

The :class:`~kitlib.scheduler.queue.SchedulingQueue` keeps one, and calls it
under its own lock, as kube's PriorityQueue does: a Pod added, updated or
handed back to the queue has its nomination refreshed from its status.

Simplifications:
- Pods are keyed by ``namespace/name``, not UID, and no lister is asked
  whether a nominated Pod still exists (the queue deletes it on the Pod's
  deletion event).
"""

from __future__ import annotations

from typing import Any

from kitlib.api.meta import key_of

Pod = dict[str, Any]


class Nominator:
    """Pod key -> Node and Node -> {pod key: Pod}, in nomination order. Not thread-safe: the queue locks."""

    def __init__(self) -> None:
        self._node_of: dict[str, str] = {}
        self._pods_on: dict[str, dict[str, Pod]] = {}

    def nominate(self, pod: Pod, node: str | None) -> None:
        """Reserve ``node`` for ``pod`` (``AddNominatedPod``); ``None`` takes the Pod's status, ``""`` clears."""
        key = key_of(pod)
        self.delete(key)  # never more than one node per pod
        if node is None:
            node = nominated_node_name(pod)
        if not node or (pod.get("spec") or {}).get("nodeName"):
            return  # nothing to reserve, or already bound
        self._node_of[key] = node
        self._pods_on.setdefault(node, {})[key] = pod

    def update(self, old: Pod | None, new: Pod) -> None:
        """A new version of a Pod (``updateNominatedPod``).

        An update without ``nominatedNodeName`` can arrive right after the
        scheduler nominated the Pod in memory: that reservation is kept.
        """
        node = None
        if not nominated_node_name(old) and not nominated_node_name(new):
            node = self._node_of.get(key_of(new))
        self.nominate(new, node)

    def delete(self, key: str) -> None:
        """Drop the reservation of the Pod ``key`` (bound, or deleted)."""
        node = self._node_of.pop(key, None)
        if node is not None:
            del self._pods_on[node][key]
            if not self._pods_on[node]:
                del self._pods_on[node]

    def pods_for_node(self, node: str) -> list[Pod]:
        """The Pods nominated to ``node``, in nomination order."""
        return list(self._pods_on.get(node, {}).values())


def nominated_node_name(pod: Pod | None) -> str:
    return ((pod or {}).get("status") or {}).get("nominatedNodeName") or ""
