"""kube-scheduler's loop: watch pending Pods, pick a Node for each, bind it, say so in Events.

:class:`Scheduler` is the component ``kube-scheduler`` runs (``pkg/scheduler/scheduler.go``
and ``schedule_one.go``), reaching the cluster only through :mod:`kitlib.client`:

- a Node informer and a Pod informer (terminal Pods filtered out, as kube's
  field selector does). Unbound Pods whose ``spec.schedulerName`` is ours go
  to the :class:`~kitlib.scheduler.queue.SchedulingQueue`; bound ones to the
  :class:`~kitlib.scheduler.cache.Cache`. A Node added or changed in a way
  that matters, or a bound Pod deleted, moves parked Pods back to be tried;
- one scheduling thread: :meth:`Scheduler.schedule_one` pops a Pod, snapshots
  the cache, runs :func:`~kitlib.scheduler.schedule_one.schedule_pod`; on a
  host it assumes the Pod in the cache, runs Reserve and Permit, and hands the
  binding cycle to a small thread pool (kube binds in a goroutine), which
  POSTs ``pods/<name>/binding`` and records a ``Scheduled`` Event; on a
  FitError it runs PostFilter (preemption: victims deleted, the Pod
  nominated through ``pods/<name>/status``), records ``FailedScheduling``
  with kube's message, sets the ``PodScheduled=False`` condition, and hands
  the Pod back to the queue with the plugins that rejected it;
- optionally leader election on the Lease ``kube-system/kube-scheduler``:
  every copy watches, only the leader schedules.

Determinism: with a FakeClock and a seeded rng, the same scenario gives the
same placements, provided the caller (1) lets the Nodes register and
:meth:`Scheduler.run` return (it waits for the caches) before creating Pods;
(2) creates Pods in a fixed order (the queue is FIFO among equal
priorities) and does not change Nodes while they are being scheduled; and
(3) with a SimulatedCluster, calls ``cluster.catch_up()`` after waiting for
the placements, before advancing the clock. Back-off and the 5-minute
leftover flush run on the clock: advance it to see retried Pods move.

    scheduler = Scheduler(plane.client(in_process=True, user="system:kube-scheduler"),
                          clock, random.Random(0)).run()
    ...
    scheduler.stop()

Simplifications:
- Permit's Wait is treated as a rejection (no waiting-Pods map); PDBs are
  not read by preemption; no extenders, no profiles but one.
- Preemption does not clear lower-priority Pods' nominations, nor set the
  victims' ``DisruptionTarget`` condition before deleting them.
- Events are created and aggregated (``count``) by the scheduler itself on
  the calling thread (kube's recorder is asynchronous, with a correlator
  and spam filter).
- Losing the Lease stops the scheduling loop for good (kube-scheduler exits).
- Bound Pods being added or updated move no parked Pods (no PodAffinity here).
"""

from __future__ import annotations

import logging
import random
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kitlib.api.errors import NotFound
from kitlib.api.meta import deep_copy, key_of, name, namespace, rfc3339, uid
from kitlib.client.indexer import DeletedFinalStateUnknown
from kitlib.client.informer import SharedInformer, wait_for_cache_sync
from kitlib.client.leaderelection import LeaderElector
from kitlib.client.rest import ALL_NAMESPACES, Client
from kitlib.client.workqueue import Empty
from kitlib.clock import Clock
from kitlib.errors import KitError
from kitlib.scheduler.cache import DEFAULT_ASSUMED_POD_TTL, Cache
from kitlib.scheduler.diagnosis import FitError
from kitlib.scheduler.explain import Explanation, explain as explain_pod
from kitlib.scheduler.framework import Code, CycleState, Status
from kitlib.scheduler.plugins.default_binder import APIBinder
from kitlib.scheduler.plugins.registry import default_profile, in_tree_registry
from kitlib.scheduler.queue import ASSIGNED_POD_DELETE, NODE_ADD, NODE_UPDATE, SchedulingQueue, SchedulingQueueError
from kitlib.scheduler.recorder import EventRecorder
from kitlib.scheduler.runtime import Framework
from kitlib.scheduler.schedule_one import binding_cycle, run_post_filter, schedule_pod

log = logging.getLogger(__name__)
Obj = dict[str, Any]

DEFAULT_SCHEDULER_NAME = "default-scheduler"
LEASE_NAMESPACE, LEASE_NAME = "kube-system", "kube-scheduler"
# The PodScheduled condition's reasons (v1.PodReasonUnschedulable, v1.PodReasonSchedulerError).
REASON_UNSCHEDULABLE, REASON_SCHEDULER_ERROR = "Unschedulable", "SchedulerError"
MAX_EXPLANATIONS = 1000


def _assigned(pod: Obj) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


def _node_scheduling_properties(node: Obj) -> tuple:
    """What may make a parked Pod fit (kube's ``nodeSchedulingPropertiesChange``), not the heartbeats."""
    spec, status = node.get("spec") or {}, node.get("status") or {}
    conditions = sorted((c.get("type", ""), c.get("status", "")) for c in status.get("conditions") or [])
    return (bool(spec.get("unschedulable")), spec.get("taints") or [], (node.get("metadata") or {}).get("labels"),
            status.get("allocatable"), conditions)


class Scheduler:
    """Informers, a cache, a queue, a framework and a scheduling thread: ``run()``, then ``stop()``."""

    def __init__(self, client: Client, clock: Clock, rng: random.Random, *, framework: Framework | None = None,
                 scheduler_name: str = DEFAULT_SCHEDULER_NAME, percentage_of_nodes_to_score: int = 0,
                 explain: bool = False, leader_elect: bool = False, identity: str = "",
                 assumed_pod_ttl: float = DEFAULT_ASSUMED_POD_TTL, bind_workers: int = 4,
                 stepped: bool = False) -> None:
        """``stepped``: no scheduling thread; the caller runs :meth:`schedule_pending` (a simulation's step)."""
        self.client, self.clock, self.scheduler_name = client, clock, scheduler_name
        self.stepped = stepped
        # Separate generators: the informers' threads draw at unpredictable moments, the framework must not.
        fwk_rng, informer_rng, elector_rng = (random.Random(rng.getrandbits(64)) for _ in range(3))
        self.identity = identity or f"{scheduler_name}-{rng.getrandbits(32):08x}"  # kube: hostname + "_" + uuid
        self.binder = APIBinder(client)
        if framework is None:
            profile = default_profile(self.binder, percentage_of_nodes_to_score=percentage_of_nodes_to_score or None)
            profile.scheduler_name = scheduler_name
            framework = Framework(profile, in_tree_registry(), fwk_rng)
        self.framework = framework
        self.cache = Cache(clock, assumed_pod_ttl)
        self.queue = SchedulingQueue(clock)
        self.recorder = EventRecorder(client, clock, scheduler_name, self.identity)
        self.explain = explain
        self._explanations: OrderedDict[str, Explanation] = OrderedDict()
        self._next_start = 0  # where the next cycle's Filter search starts (nextStartNodeIndex)
        self._lock = threading.Condition()  # guards _in_flight and _explanations
        self._in_flight = 0  # cycles and bindings under way
        self._stop = threading.Event()
        self._loop: threading.Thread | None = None
        self._binding = ThreadPoolExecutor(max_workers=bind_workers, thread_name_prefix="kit-scheduler-bind")
        self.nodes = SharedInformer(client.nodes().list_watch(rng=informer_rng), name="scheduler-nodes",
                                    clock=clock, rng=informer_rng)
        # kube-scheduler's Pod informer leaves out finished Pods: they hold no resources.
        source = client.pods(ALL_NAMESPACES).list_watch(field_selector="status.phase!=Succeeded,status.phase!=Failed",
                                                        rng=informer_rng)
        self.pods = SharedInformer(source, name="scheduler-pods", clock=clock, rng=informer_rng)
        self.nodes.add_event_handler(on_add=self._node_added, on_update=self._node_updated,
                                     on_delete=self._node_deleted)
        self.pods.add_event_handler(on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted)
        self.elector: LeaderElector | None = None
        if leader_elect:
            self.elector = LeaderElector(client, LEASE_NAMESPACE, LEASE_NAME, self.identity, clock, rng=elector_rng,
                                         on_started_leading=self._start_loop, on_stopped_leading=self._stop_loop)

    def __repr__(self) -> str:
        return f"<Scheduler {self.identity} {self.queue.pending_pods()[1]}; {self.cache!r}>"

    # -- event handlers (informer threads): only the cache and the queue ------------------------

    def responsible_for(self, pod: Obj) -> bool:
        return ((pod.get("spec") or {}).get("schedulerName") or DEFAULT_SCHEDULER_NAME) == self.scheduler_name

    def _node_added(self, node: Obj) -> None:
        self.cache.add_node(node)
        self.queue.move_all_to_active_or_backoff(NODE_ADD)

    def _node_updated(self, old: Obj, new: Obj) -> None:
        self.cache.update_node(new)
        if _node_scheduling_properties(old) != _node_scheduling_properties(new):
            self.queue.move_all_to_active_or_backoff(NODE_UPDATE)

    def _node_deleted(self, obj: Any) -> None:
        self.cache.remove_node(obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj)

    def _pod_added(self, pod: Obj) -> None:
        if _assigned(pod):
            self.cache.add_pod(pod)  # confirms an assumed Pod
        elif self.responsible_for(pod):
            self.queue.add(pod)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if _assigned(new):
            if not _assigned(old):  # just bound (by us or anyone): leaves the queue, joins the cache
                self.queue.delete(old)
                self.cache.add_pod(new)
            else:
                self.cache.update_pod(old, new)
        elif self.responsible_for(new):
            self.queue.update(old, new)
        else:
            self.queue.delete(old)

    def _pod_deleted(self, obj: Any) -> None:
        pod = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        if _assigned(pod):  # deleted or finished: its room is free, parked Pods may fit now
            self.cache.remove_pod(pod)
            self.queue.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE)
        else:
            self.queue.delete(pod)

    # -- one scheduling cycle ---------------------------------------------------------------------

    def schedule_one(self, timeout: float | None = None) -> bool:
        """Pop one Pod and schedule it; False once the queue is closed (``ScheduleOne``).

        Raises :class:`~kitlib.client.workqueue.Empty` if no Pod came within
        ``timeout`` real seconds. The binding cycle continues on a pool thread.
        """
        info = self.queue.pop(timeout)
        if info is None:
            return False
        with self._lock:
            self._in_flight += 1
        try:
            self._scheduling_cycle(info)
        finally:
            self._done()
        return True

    def _scheduling_cycle(self, info: Any) -> None:
        pod = info.pod
        if (pod.get("metadata") or {}).get("deletionTimestamp") or self.cache.is_assumed(pod):
            return  # kube's skipPodSchedule: being deleted, or already on its way to a Node
        fwk, state = self.framework, CycleState()
        nodes = self.cache.snapshot()
        if self.explain:
            self._keep_explanation(key_of(pod), explain_pod(fwk, pod, nodes))
        result = schedule_pod(fwk, state, pod, nodes, self._next_start)
        self._next_start = result.next_start_node_index
        if result.fit_error is not None:
            nominated = self._preempt(state, pod, result.fit_error)
            self._failure(info, result.fit_error.message(), REASON_UNSCHEDULABLE,
                          result.fit_error.diagnosis.unschedulable_plugins, nominated)
            return
        if not result.status.is_success():
            self._failure(info, result.status.message(), REASON_SCHEDULER_ERROR, backoff=True)
            return
        host = result.suggested_host
        assumed = deep_copy(pod)  # never modify the informer's object
        assumed["spec"]["nodeName"] = host
        self.cache.assume_pod(assumed)
        self.queue.delete_nominated_pod_if_exists(pod)  # as kube's assume(): the room it waited for is taken
        status = fwk.run_reserve(state, assumed, host)
        if status.is_success():
            status, _ = fwk.run_permit(state, assumed, host)
            if status.is_wait():
                status = Status(Code.Unschedulable, (f"{status.message()} (waiting is not supported)",))
        if not status.is_success():
            fwk.run_unreserve(state, assumed, host)
            self.cache.forget_pod(assumed)
            rejected = status.is_rejected()
            self._failure(info, status.message(), REASON_UNSCHEDULABLE if rejected else REASON_SCHEDULER_ERROR,
                          {status.plugin} if rejected and status.plugin else set(), backoff=not rejected)
            return
        with self._lock:
            self._in_flight += 1
        if self.stepped:  # a simulation's step binds before the next Pod, so a replay binds in the same order
            self._bind(state, info, assumed, host)
        else:
            self._binding.submit(self._bind, state, info, assumed, host)

    def schedule_pending(self) -> int:
        """Schedule every Pod active in the queue now, one after the other, bindings included; return how many.

        The step of a ``stepped`` scheduler (a simulation on a FakeClock):
        the Pods that arrived since the last step are taken in the queue's
        order (priority, then arrival time, then name), whatever order their
        watch events came in, so the same scenario places them the same way.
        """
        count = 0
        while not self._stop.is_set():
            try:
                if not self.schedule_one(timeout=0):
                    break
            except Empty:
                break
            count += 1
        return count

    def _bind(self, state: CycleState, info: Any, assumed: Obj, host: str) -> None:
        """The binding cycle, on a pool thread (kube's ``go func() { bindingCycle }``)."""
        try:
            status = binding_cycle(self.framework, state, assumed, host)
            if status.is_success():
                self.cache.finish_binding(assumed)
                self.recorder.event(assumed, "Normal", "Scheduled", "Binding",
                                    f"Successfully assigned {namespace(assumed)}/{name(assumed)} to {host}")
                return
            if self.cache.is_assumed(assumed):
                self.cache.forget_pod(assumed)
            # Its room is free again: a parked Pod may fit there (kube moves with AssignedPodDelete).
            self.queue.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE)
            self._failure(info, status.message(), REASON_SCHEDULER_ERROR, backoff=True)
        except Exception:  # noqa: BLE001 (a bug in one binding must not kill the pool thread silently)
            log.exception("binding %s to %s failed", key_of(assumed), host)
        finally:
            self._done()

    def _preempt(self, state: CycleState, pod: Obj, fit_error: FitError) -> str | None:
        """PostFilter; delete the victims it names. The Node to nominate, ``""`` to clear, None to leave."""
        result, status = run_post_filter(self.framework, state, pod, fit_error)
        if status.code == Code.Error:
            log.error("running PostFilter for %s: %s", key_of(pod), status.message())
        if result is None:
            return None
        if status.is_success():
            for victim in result.victims:
                try:
                    self.client.pods(namespace(victim)).delete(name(victim), uid=uid(victim) or None)
                except NotFound:
                    pass  # already gone: what we wanted
                self.recorder.event(victim, "Normal", "Preempted", "Preempting",
                                    f"Preempted by pod {uid(pod)} on node {result.nominated_node_name}")
        return result.nominated_node_name

    def _failure(self, info: Any, message: str, reason: str, plugins: set[str] | None = None,
                 nominated: str | None = None, *, backoff: bool = False) -> None:
        """Record why, and hand the Pod back to the queue (``handleSchedulingFailure``)."""
        key = info.key
        log.info("unable to schedule pod %s: %s", key, message)
        cached = self.pods.indexer.get_by_key(key)
        if cached is None:
            log.info("pod %s doesn't exist in informer cache: not queued again", key)
            return
        if _assigned(cached):
            log.info("pod %s has been assigned to node %s: not queued again", key, cached["spec"]["nodeName"])
            return
        info.pod, info.unschedulable_plugins = cached, set(plugins or ())
        try:  # first back to the queue, so our own status patch below finds it there
            self.queue.add_unschedulable_if_not_present(info, backoff=backoff)
        except SchedulingQueueError as err:  # an update re-queued it during its cycle (kube logs this too)
            log.debug("%s", err)
        if nominated:
            self.queue.nominate(cached, nominated)
        self.recorder.event(cached, "Warning", "FailedScheduling", "Scheduling", message)
        self._update_pod_status(cached, reason, message, nominated)

    def _update_pod_status(self, pod: Obj, reason: str, message: str, nominated: str | None) -> None:
        status = pod.get("status") or {}
        condition = next((c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), {})
        same = [condition.get(k) for k in ("status", "reason", "message")] == ["False", reason, message]
        if same and (nominated is None or nominated == (status.get("nominatedNodeName") or "")):
            return  # kube's updatePod: nothing changed, nothing written
        patch: Obj = {"status": {"conditions": [{"type": "PodScheduled", "status": "False", "reason": reason,
                                                 "message": message, "lastProbeTime": None,
                                                 "lastTransitionTime": rfc3339(self.clock.wall())}]}}
        if nominated is not None:
            patch["status"]["nominatedNodeName"] = nominated or None
        try:
            self.client.pods(namespace(pod)).patch(name(pod), patch, "strategic", subresource="status")
        except KitError as err:
            log.warning("could not update the status of pod %s: %s", key_of(pod), err)

    def _keep_explanation(self, key: str, explanation: Explanation) -> None:
        with self._lock:
            self._explanations[key] = explanation
            self._explanations.move_to_end(key)
            while len(self._explanations) > MAX_EXPLANATIONS:
                self._explanations.popitem(last=False)

    def last_explanation(self, pod_key: str) -> Explanation | None:
        """With ``explain=True``: every plugin's verdict and score in ``pod_key``'s last cycle."""
        with self._lock:
            return self._explanations.get(pod_key)

    def _done(self) -> None:
        with self._lock:
            self._in_flight -= 1
            self._lock.notify_all()

    def idle(self) -> bool:
        """No Pod active in the queue, no cycle or binding under way (parked Pods may remain)."""
        with self._lock:
            return self._in_flight == 0 and self.queue.metrics().active == 0

    # -- life cycle -----------------------------------------------------------------------------------

    def run(self, sync_timeout: float = 30.0) -> "Scheduler":
        """Start the informers and wait for their caches, then schedule (or stand for leader first)."""
        self.queue.run()
        self.nodes.run()
        self.pods.run()
        if not wait_for_cache_sync(self.nodes, self.pods, timeout=sync_timeout):
            raise KitError(f"the scheduler's caches did not sync within {sync_timeout} s: is the API server up?")
        if self.stepped:
            return self  # the caller drives it: schedule_pending()
        if self.elector is not None:
            self.elector.start()
        else:
            self._start_loop()
        return self

    def is_leader(self) -> bool:
        return self.elector.is_leader() if self.elector is not None else True

    def _start_loop(self) -> None:
        if self._loop is not None or self._stop.is_set():
            return
        log.info("%s: scheduling", self.identity)
        self._loop = threading.Thread(target=self._run_loop, name=f"kit-scheduler-{self.identity}", daemon=True)
        self._loop.start()

    def _run_loop(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.schedule_one():
                    return
            except Exception:  # noqa: BLE001 (kube's loop survives a cycle's bug: log, go on)
                log.exception("%s: scheduling cycle failed", self.identity)

    def _stop_loop(self) -> None:
        self._stop.set()
        self.queue.close()  # wakes the loop's pop()
        loop = self._loop
        if loop is not None and loop is not threading.current_thread():
            loop.join(10)

    def stop(self) -> None:
        """Step down (releasing the Lease), stop scheduling, finish bindings under way, stop watching."""
        if self.elector is not None:
            self.elector.stop()
        self._stop_loop()
        self._binding.shutdown(wait=True)
        self.nodes.stop()
        self.pods.stop()

    def __enter__(self) -> "Scheduler":
        return self.run()

    def __exit__(self, *exc: object) -> None:
        self.stop()
