"""The scheduling queue: which pending Pod the scheduler tries next, and when a failed one comes back.

The scheduler's informer adds every new unbound Pod here; its one scheduling
loop ``pop()``s the next, runs the framework on it, and binds it or hands it
back. As kube-scheduler's ``PriorityQueue``
(``pkg/scheduler/internal/queue/scheduling_queue.go``), a pod waits in one
of three sub-queues:

- **activeQ**: a heap in the queue-sort plugin's order (PrioritySort: higher
  ``spec.priority`` first, then the one queued first); only these are popped.
- **backoffQ**: pods waiting out a back-off (1 s after the first attempt,
  doubling per attempt up to 10 s), by when it ends; a flush every second
  moves those done to activeQ.
- **unschedulablePods**: pods the plugins rejected. Retrying at once would
  fail again, so they are parked until a cluster event might help (a Node
  added, a Pod deleted) or until they have waited 5 minutes.

An event that arrives *while* a pod is being scheduled must not be missed:
the queue numbers its scheduling cycles (one per pop) and remembers the cycle
of the last move request; a pod that failed in or before it goes to backoffQ
instead of being parked (kube's ``moveRequestCycle``).

    info = q.pop()                                     # blocks until a pod is active
    info.unschedulable_plugins = {"NodeResourcesFit"}  # the framework said no
    q.add_unschedulable_if_not_present(info)           # parked
    q.move_all_to_active_or_backoff(NODE_ADD)          # a node joined: try again

Lock rule: one condition variable guards every field; nothing outside the
queue is called while holding it but the clock, the sort function and a
move's ``precheck``, none of which may call back into the queue.

Simplifications:
- Queueing hints are a mapping plugin -> event names; kube's are functions
  of (pod, old object, new object) that may also answer "skip" or "queue
  after back-off", and its events are (resource, action type) pairs.
- No in-flight pods: kube >= 1.28 records the events that arrive during a
  pod's cycle and replays them through the hints; here any move request
  during the cycle sends the failed pod to backoffQ (kube <= 1.27).
- No PreEnqueue plugins (scheduling gates), ``Activate`` or
  ``AssignedPodAdded`` (which moves only pods with matching affinity); use
  ``move_all_to_active_or_backoff`` with a ``precheck``.
- The nominator (:mod:`kitlib.scheduler.nominator`) has its own.
- Heaps delete in O(n) (kube's tracks each item's index for O(log n)).
- After ``close()``, ``pop`` returns None even if pods are active; kube's
  ``Pop`` would still hand them out, but its loop has stopped calling it.
- Metrics are counters read with ``metrics()``, not Prometheus series
  (``incoming`` is ``scheduler_queue_incoming_pods_total``).
"""

from __future__ import annotations

import logging
import threading
import time as _real_time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from kitlib.api.meta import key_of
from kitlib.client.workqueue import Empty, sleep_until
from kitlib.clock import Clock
from kitlib.errors import KitError
from kitlib.scheduler.heap import Heap, Less
from kitlib.scheduler.nodeinfo import pod_priority
from kitlib.scheduler.nominator import Nominator

log = logging.getLogger(__name__)

Pod = dict[str, Any]

# Sub-queue names, as kube's logs and metrics spell them.
ACTIVE_Q, BACKOFF_Q, UNSCHEDULABLE_PODS = "activeQ", "backoffQ", "unschedulablePods"

# Cluster events (kube's ClusterEvent labels) a caller passes to move_all_to_active_or_backoff.
NODE_ADD, NODE_UPDATE = "NodeAdd", "NodeUpdate"
ASSIGNED_POD_ADD, ASSIGNED_POD_UPDATE, ASSIGNED_POD_DELETE = "AssignedPodAdd", "AssignedPodUpdate", "AssignedPodDelete"
UNSCHEDULABLE_TIMEOUT = "UnschedulableTimeout"  # the leftover flush: moves every parked pod
WILDCARD_EVENT = "*"  # matches every plugin's interest; a plugin registering "*" wants every event
# Why a pod entered a sub-queue, for the incoming counters (kube's event labels).
POD_ADD, POD_UPDATE = "PodAdd", "PodUpdate"
SCHEDULE_ATTEMPT_FAILURE, BACKOFF_COMPLETE = "ScheduleAttemptFailure", "BackoffComplete"

# How often PriorityQueue.Run's two goroutines flush (seconds on the queue's clock).
BACKOFF_FLUSH_PERIOD = 1.0
UNSCHEDULABLE_FLUSH_PERIOD = 30.0


class SchedulingQueueError(KitError):
    """The queue was used against its contract (a pod handed back while it is still queued)."""


@dataclass(eq=False)
class QueuedPodInfo:
    """A pod and what the queue knows about its attempts (kube's ``framework.QueuedPodInfo``).

    Owned by the queue while queued; the scheduler owns it between ``pop`` and
    handing it back, and sets ``unschedulable_plugins`` when a cycle fails.
    ``pod`` is the dict as the informer served it: read-only.
    """

    pod: Pod
    timestamp: float  # when it last entered the queue (refreshed on each failure): sorts and starts back-off
    initial_attempt_timestamp: float  # when it was first added, for the end-to-end latency
    attempts: int = 0  # pops so far; the back-off doubles with each
    unschedulable_plugins: set[str] = field(default_factory=set)  # who rejected it last time
    scheduling_cycle: int = 0  # the queue's cycle number when it was last popped

    @property
    def key(self) -> str:
        return key_of(self.pod)


def priority_then_timestamp(a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
    """PrioritySort's ``Less``: higher priority first, then the one queued earlier, then by name.

    The name only breaks exact ties, which happen on a simulated clock (many
    Pods queued at one instant); it makes a replay pop them in the same order.
    """
    pa, pb = pod_priority(a.pod), pod_priority(b.pod)
    if pa != pb:
        return pa > pb
    if a.timestamp != b.timestamp:
        return a.timestamp < b.timestamp
    return a.key < b.key


@dataclass(frozen=True)
class QueueMetrics:
    """A snapshot of the queue's counters and depths."""

    adds: int  # pods accepted by add() (and update() of a pod not queued)
    pops: int  # pods handed out by pop(): scheduling cycles started
    moves: int  # pods moved out of unschedulablePods or backoffQ to another sub-queue
    incoming: dict[tuple[str, str], int]  # (sub-queue, event) -> pods that entered it so far
    active: int
    backoff: int
    unschedulable: int


class SchedulingQueue:
    """kube-scheduler's ``PriorityQueue``: activeQ, backoffQ, unschedulablePods and the nominator.

    ``queueing_hints`` maps a plugin name to the events that may make a pod it
    rejected schedulable (kube's ``EventsToRegister``); a move moves a parked
    pod only if one of its rejecting plugins registered the event. A plugin
    missing from the mapping is interested in every event (as in kube, for a
    plugin that does not implement ``EnqueueExtensions``); ``None``: every
    move moves every pod.
    """

    def __init__(self, clock: Clock, *, initial_backoff: float = 1.0, max_backoff: float = 10.0,
                 unschedulable_timeout: float = 300.0, less: Less = priority_then_timestamp,
                 queueing_hints: Mapping[str, Iterable[str]] | None = None) -> None:
        self.clock = clock
        self.initial_backoff, self.max_backoff = initial_backoff, max_backoff
        self.unschedulable_timeout = unschedulable_timeout  # kube's podMaxInUnschedulablePodsDuration
        self.queueing_hints = None if queueing_hints is None else {p: set(e) for p, e in queueing_hints.items()}
        self._cond = threading.Condition()
        self._active = Heap(less)
        self._backoff = Heap(lambda a, b: self.backoff_expiry(a) < self.backoff_expiry(b))
        self._unschedulable: dict[str, QueuedPodInfo] = {}
        # A cycle is one pop; a pod that failed in a cycle <= _move_request_cycle
        # may have missed the event that helps it, so it must not be parked.
        self._scheduling_cycle = 0
        self._move_request_cycle = -1
        self._nominator = Nominator()  # used under _cond
        self._closed = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._adds = self._pops = self._moves = 0
        self._incoming: Counter[tuple[str, str]] = Counter()

    # -- back-off ------------------------------------------------------------

    def backoff_duration(self, attempts: int) -> float:
        """The back-off after ``attempts`` pops: initial, doubled per further attempt, capped."""
        duration = self.initial_backoff
        for _ in range(1, attempts):
            if duration > self.max_backoff - duration:  # kube's overflow-safe "2*d > max"
                return self.max_backoff
            duration += duration
        return duration

    def backoff_expiry(self, info: QueuedPodInfo) -> float:
        return info.timestamp + self.backoff_duration(info.attempts)

    def _is_backing_off(self, info: QueuedPodInfo) -> bool:
        return self.backoff_expiry(info) > self.clock.now()

    # -- adding and removing pods -----------------------------------------------

    def add(self, pod: Pod) -> None:
        """A new pending pod (the informer's add event): straight to activeQ."""
        with self._cond:
            self._add_locked(pod, POD_ADD)

    def _add_locked(self, pod: Pod, event: str) -> None:
        now = self.clock.now()
        info = QueuedPodInfo(pod, timestamp=now, initial_attempt_timestamp=now)
        # kube logs an error if the pod was already elsewhere: the add wins.
        self._unschedulable.pop(info.key, None)
        self._backoff.delete(info.key)
        self._active.add_or_update(info)
        self._adds += 1
        self._entered(ACTIVE_Q, event, info)
        self._nominator.nominate(pod, None)
        self._cond.notify_all()

    def update(self, old: Pod | None, new: Pod) -> None:
        """The pod changed: update it wherever it waits; a real change un-parks it.

        A pod in unschedulablePods whose spec or metadata changed (not just
        its status or resourceVersion) may now fit, so it goes to backoffQ or
        activeQ (kube's ``isPodUpdated``). A pod in no sub-queue is added.
        """
        with self._cond:
            key = key_of(new)
            for heap in (self._active, self._backoff):
                info = heap.get(key)
                if info is not None:
                    info.pod = new  # re-placed at once: add_or_update removes the old entry first
                    heap.add_or_update(info)
                    self._nominator.update(old, new)
                    return
            info = self._unschedulable.get(key)
            if info is None:
                self._add_locked(new, POD_UPDATE)
                return
            info.pod = new
            self._nominator.update(old, new)
            if old is None or _without_volatile(old) != _without_volatile(new):
                self._move_locked(info, POD_UPDATE)

    def delete(self, pod: Pod) -> None:
        """The pod is gone (deleted, or bound by someone else): remove it from every sub-queue."""
        with self._cond:
            key = key_of(pod)
            self._nominator.delete(key)
            self._active.delete(key)
            self._backoff.delete(key)
            self._unschedulable.pop(key, None)

    def pop(self, timeout: float | None = None) -> QueuedPodInfo | None:
        """The next pod to schedule; blocks until activeQ has one. None once closed.

        ``timeout`` is real seconds, the caller's patience (as in
        :meth:`~kitlib.client.workqueue.WorkQueue.get`); when it passes,
        :class:`~kitlib.client.workqueue.Empty` is raised, so None always
        means "closed, stop". Each pop starts a scheduling cycle.
        """
        deadline = None if timeout is None else _real_time.monotonic() + timeout
        with self._cond:
            while True:
                if self._closed:
                    return None
                if len(self._active):
                    break
                left = None if deadline is None else deadline - _real_time.monotonic()
                if left is not None and left <= 0:
                    raise Empty(f"no pod became active in the scheduling queue within {timeout} s")
                self._cond.wait(left)
            info = self._active.pop()
            info.attempts += 1
            self._scheduling_cycle += 1
            info.scheduling_cycle = self._scheduling_cycle
            self._pops += 1
            return info

    def add_unschedulable_if_not_present(self, info: QueuedPodInfo, *, backoff: bool = False) -> None:
        """Hand back a pod whose scheduling cycle failed.

        It is parked in unschedulablePods, unless a move request arrived
        during or after its cycle (the event it waits for may have come while
        it was being tried), or ``backoff`` is True (it failed with an error,
        not a plugin's verdict, so no event is needed): then it goes to
        backoffQ. Its timestamp restarts now, which starts its back-off.
        """
        with self._cond:
            key = info.key
            for name, present in ((UNSCHEDULABLE_PODS, key in self._unschedulable),
                                  (ACTIVE_Q, self._active.get(key) is not None),
                                  (BACKOFF_Q, self._backoff.get(key) is not None)):
                if present:
                    raise SchedulingQueueError(f"pod {key} is already present in {name}: hand a popped pod back once")
            info.timestamp = self.clock.now()
            if backoff or self._move_request_cycle >= info.scheduling_cycle:
                self._backoff.add_or_update(info)
                self._entered(BACKOFF_Q, SCHEDULE_ATTEMPT_FAILURE, info)
            else:
                self._unschedulable[key] = info
                self._entered(UNSCHEDULABLE_PODS, SCHEDULE_ATTEMPT_FAILURE, info)
            self._nominator.nominate(info.pod, None)

    # -- moving pods between sub-queues ---------------------------------------

    def move_all_to_active_or_backoff(self, event: str, precheck: Callable[[Pod], bool] | None = None) -> int:
        """A cluster event that may help parked pods: un-park those it may help; returns how many moved.

        A pod moves if ``precheck`` (when given) accepts it and, with queueing
        hints, one of its rejecting plugins registered ``event``. It goes to
        backoffQ if its back-off has not ended yet, else to activeQ. Pods
        being scheduled right now will go to backoffQ when they fail.
        """
        with self._cond:
            infos = [i for i in self._unschedulable.values() if precheck is None or precheck(i.pod)]
            return self._move_pods_locked(infos, event)

    def _entered(self, sub_queue: str, event: str, info: QueuedPodInfo) -> None:
        self._incoming[sub_queue, event] += 1
        log.debug("pod %s moved to %s (%s)", info.key, sub_queue, event)  # kube logs this at V(5)

    def _move_pods_locked(self, infos: list[QueuedPodInfo], event: str) -> int:
        moved = 0
        for info in infos:
            if self._pod_matches_event(info, event):
                self._move_locked(info, event)
                moved += 1
        self._move_request_cycle = self._scheduling_cycle
        return moved

    def _pod_matches_event(self, info: QueuedPodInfo, event: str) -> bool:
        # No rejecting plugins means the cycle failed for another reason
        # (an error, a Permit timeout): kube moves such pods on every event.
        if self.queueing_hints is None or not info.unschedulable_plugins:
            return True
        if event in (WILDCARD_EVENT, UNSCHEDULABLE_TIMEOUT):
            return True
        for plugin in info.unschedulable_plugins:
            events = self.queueing_hints.get(plugin)
            if events is None or event in events or WILDCARD_EVENT in events:
                return True
        return False

    def _move_locked(self, info: QueuedPodInfo, event: str) -> None:
        """Move a parked pod to backoffQ or activeQ."""
        del self._unschedulable[info.key]
        if self._is_backing_off(info):
            self._backoff.add_or_update(info)
            self._entered(BACKOFF_Q, event, info)
        else:
            self._active.add_or_update(info)
            self._entered(ACTIVE_Q, event, info)
            self._cond.notify_all()
        self._moves += 1

    def flush_backoff_completed(self) -> int:
        """Move every pod whose back-off has ended from backoffQ to activeQ (``flushBackoffQCompleted``)."""
        with self._cond:
            moved = 0
            while (info := self._backoff.peek()) is not None and not self._is_backing_off(info):
                self._active.add_or_update(self._backoff.pop())
                self._entered(ACTIVE_Q, BACKOFF_COMPLETE, info)
                moved += 1
            self._moves += moved
            if moved:
                self._cond.notify_all()
            return moved

    def flush_unschedulable_left_over(self) -> int:
        """Un-park pods parked longer than ``unschedulable_timeout`` (``flushUnschedulablePodsLeftover``).

        No event may ever come for them (the hints may be wrong, an event may
        have been missed), so after 5 minutes they are tried again anyway.
        """
        with self._cond:
            now = self.clock.now()
            stale = [i for i in self._unschedulable.values() if now - i.timestamp > self.unschedulable_timeout]
            return self._move_pods_locked(stale, UNSCHEDULABLE_TIMEOUT) if stale else 0

    def run(self) -> None:
        """Start the background flushes: backoffQ every 1 s, leftovers every 30 s, on the clock."""
        with self._cond:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(target=self._flush_loop, name="scheduling-queue-flush", daemon=True)
            self._thread.start()

    def _flush_loop(self) -> None:
        # As wait.Until: run now, then again a period after each run ends.
        next_leftover = self.clock.now()
        while True:
            self.flush_backoff_completed()
            if self.clock.now() >= next_leftover:
                self.flush_unschedulable_left_over()
                next_leftover = self.clock.now() + UNSCHEDULABLE_FLUSH_PERIOD
            if sleep_until(self.clock, self.clock.now() + BACKOFF_FLUSH_PERIOD, self._stop):
                return

    def close(self) -> None:
        """Stop the flushes and wake every blocked ``pop``, which returns None."""
        with self._cond:
            self._closed = True
            self._stop.set()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    @property
    def closed(self) -> bool:
        with self._cond:
            return self._closed

    # -- the nominator: pods that preempted others and wait for the room --------

    def nominate(self, pod: Pod, node: str | None = None) -> None:
        """Reserve ``node`` for ``pod`` (kube's ``AddNominatedPod``).

        ``node=None`` takes ``status.nominatedNodeName`` (kube's ModeNoop);
        a name overrides it, and ``""`` clears the nomination. While a pod is
        nominated, the scheduler counts it on that node when it filters other
        pods of lower priority, so they do not take the room it preempted for.
        """
        with self._cond:
            self._nominator.nominate(pod, node)

    def delete_nominated_pod_if_exists(self, pod: Pod) -> None:
        """Drop ``pod``'s reservation (it was bound, or deleted)."""
        with self._cond:
            self._nominator.delete(key_of(pod))

    def nominated_pods_for_node(self, node: str) -> list[Pod]:
        """The pods nominated to ``node``, in nomination order (read-only dicts)."""
        with self._cond:
            return self._nominator.pods_for_node(node)

    # -- looking inside -------------------------------------------------------

    def pending_pods(self) -> tuple[dict[str, str], str]:
        """``({pod key: sub-queue}, "activeQ:1; backoffQ:0; unschedulablePods:2")``, as kube's ``PendingPods``.

        Keys are listed activeQ first in pop order, then backoffQ by expiry,
        then unschedulablePods by key.
        """
        with self._cond:
            where = {i.key: ACTIVE_Q for i in self._active.in_order()}
            where.update({i.key: BACKOFF_Q for i in self._backoff.in_order()})
            where.update({k: UNSCHEDULABLE_PODS for k in sorted(self._unschedulable)})
            summary = (f"{ACTIVE_Q}:{len(self._active)}; {BACKOFF_Q}:{len(self._backoff)}; "
                       f"{UNSCHEDULABLE_PODS}:{len(self._unschedulable)}")
            return where, summary

    def metrics(self) -> QueueMetrics:
        with self._cond:
            return QueueMetrics(
                adds=self._adds, pops=self._pops, moves=self._moves, incoming=dict(self._incoming),
                active=len(self._active), backoff=len(self._backoff), unschedulable=len(self._unschedulable),
            )

    def __repr__(self) -> str:
        return f"<SchedulingQueue {self.pending_pods()[1]}>"


def _without_volatile(pod: Pod) -> Pod:
    """The pod without what changes on every write and cannot make it fit (kube's ``isPodUpdated``)."""
    meta = {k: v for k, v in (pod.get("metadata") or {}).items()
            if k not in ("resourceVersion", "generation", "managedFields")}
    return {**{k: v for k, v in pod.items() if k != "status"}, "metadata": meta}
