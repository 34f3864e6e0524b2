"""The scheduling queue: activeQ order, back-off, parking and moves, the nominator, on a FakeClock."""

from __future__ import annotations

import threading
import time

import pytest

from kitlib.client.workqueue import Empty
from kitlib.clock import FakeClock
from kitlib.scheduler.queue import (
    ACTIVE_Q,
    ASSIGNED_POD_DELETE,
    BACKOFF_Q,
    NODE_ADD,
    NODE_UPDATE,
    UNSCHEDULABLE_PODS,
    WILDCARD_EVENT,
    QueuedPodInfo,
    SchedulingQueue,
    SchedulingQueueError,
)


def pod(name: str, priority: int | None = None, **extra) -> dict:
    p = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
         "spec": {}, "status": {}}
    if priority is not None:
        p["spec"]["priority"] = priority
    for section, fields in extra.items():
        p[section] = {**p.get(section, {}), **fields}
    return p


def new_queue(**kwargs) -> tuple[SchedulingQueue, FakeClock]:
    clock = FakeClock()
    return SchedulingQueue(clock, **kwargs), clock


def where(q: SchedulingQueue, name: str) -> str | None:
    return q.pending_pods()[0].get(f"default/{name}")


def fail(q: SchedulingQueue, name: str, plugins=("NodeResourcesFit",), *, backoff: bool = False) -> QueuedPodInfo:
    """Add ``name``, pop it and hand it back as rejected by ``plugins``."""
    q.add(pod(name))
    info = q.pop(timeout=0)
    assert info.key == f"default/{name}"
    info.unschedulable_plugins = set(plugins)
    q.add_unschedulable_if_not_present(info, backoff=backoff)
    return info


def pop_names(q: SchedulingQueue) -> list[str]:
    names = []
    while q.metrics().active:
        names.append(q.pop(timeout=0).pod["metadata"]["name"])
    return names


# -- activeQ order -------------------------------------------------------------

# Each add: (name, priority, seconds the clock advances before it).
ORDER = {
    "FIFO among equals, even at one instant": ([("a", None, 0), ("b", None, 0), ("c", None, 0)], ["a", "b", "c"]),
    "higher priority first": ([("low", 1, 0), ("high", 100, 0), ("mid", 10, 0)], ["high", "mid", "low"]),
    "unset priority is 0, below 1 and above -1": (
        [("neg", -1, 0), ("zero", None, 0), ("one", 1, 0)], ["one", "zero", "neg"]),
    "earlier timestamp first among equal priority": (
        [("first", 5, 0), ("second", 5, 1), ("low", 0, 0)], ["first", "second", "low"]),
    "priority beats age": ([("old", 0, 0), ("new", 1, 60)], ["new", "old"]),
}


@pytest.mark.parametrize("adds, expected", ORDER.values(), ids=ORDER.keys())
def test_active_q_order(adds, expected):
    q, clock = new_queue()
    for name, priority, advance in adds:
        clock.advance(advance)
        q.add(pod(name, priority))
    assert pop_names(q) == expected


def test_custom_less():
    q, _ = new_queue(less=lambda a, b: a.pod["metadata"]["name"] > b.pod["metadata"]["name"])
    for name in "bca":
        q.add(pod(name))
    assert pop_names(q) == ["c", "b", "a"]


# -- back-off --------------------------------------------------------------------

BACKOFF = {1: 1.0, 2: 2.0, 3: 4.0, 4: 8.0, 5: 10.0, 6: 10.0, 20: 10.0}


@pytest.mark.parametrize("attempts, seconds", BACKOFF.items(), ids=[f"attempt {a}" for a in BACKOFF])
def test_backoff_duration(attempts, seconds):
    q, clock = new_queue()
    assert q.backoff_duration(attempts) == seconds
    # The same duration, end to end: a pod handed back after its n-th pop waits that long in backoffQ.
    q.add(pod("p"))
    for _ in range(attempts):
        info = q.pop(timeout=0)
        q.add_unschedulable_if_not_present(info, backoff=True)
        clock.advance(q.backoff_duration(info.attempts))
        assert q.flush_backoff_completed() == 1
    assert info.attempts == attempts
    q.pop(timeout=0)
    q.add_unschedulable_if_not_present(info, backoff=True)
    clock.advance(q.backoff_duration(attempts + 1) - 0.5)
    assert q.flush_backoff_completed() == 0 and where(q, "p") == BACKOFF_Q
    clock.advance(0.5)
    assert q.flush_backoff_completed() == 1 and where(q, "p") == ACTIVE_Q


def test_backoff_q_flushes_in_expiry_order():
    q, clock = new_queue()
    q.add(pod("twice"))
    info = q.pop(timeout=0)
    q.add_unschedulable_if_not_present(info, backoff=True)
    clock.advance(1)
    q.flush_backoff_completed()
    twice = q.pop(timeout=0)  # attempts 2: 2 s back-off
    once = fail(q, "once", backoff=True)  # attempts 1: 1 s back-off
    q.add_unschedulable_if_not_present(twice, backoff=True)
    assert list(q.pending_pods()[0]) == ["default/once", "default/twice"]
    clock.advance(1)
    assert q.flush_backoff_completed() == 1 and where(q, "once") == ACTIVE_Q and once.attempts == 1
    clock.advance(1)
    assert q.flush_backoff_completed() == 1 and where(q, "twice") == ACTIVE_Q


# -- parking and moving ------------------------------------------------------------

# A parked pod (1 attempt: 1 s back-off) and a cluster event after `advance` seconds.
MOVES = {
    "back-off over: straight to activeQ": (1.0, ACTIVE_Q),
    "still backing off: to backoffQ": (0.5, BACKOFF_Q),
}


@pytest.mark.parametrize("advance, expected", MOVES.values(), ids=MOVES.keys())
def test_failed_pod_is_parked_until_an_event(advance, expected):
    q, clock = new_queue()
    fail(q, "p")
    assert where(q, "p") == UNSCHEDULABLE_PODS
    assert q.pending_pods()[1] == "activeQ:0; backoffQ:0; unschedulablePods:1"
    clock.advance(advance)
    assert q.move_all_to_active_or_backoff(NODE_ADD) == 1
    assert where(q, "p") == expected


def test_move_request_during_the_cycle_sends_the_pod_to_backoff_q():
    q, clock = new_queue()
    q.add(pod("p"))
    info = q.pop(timeout=0)
    q.move_all_to_active_or_backoff(NODE_ADD)  # while p is being scheduled: nothing parked yet
    info.unschedulable_plugins = {"NodeResourcesFit"}
    q.add_unschedulable_if_not_present(info)
    assert where(q, "p") == BACKOFF_Q
    clock.advance(1)
    q.flush_backoff_completed()
    assert where(q, "p") == ACTIVE_Q


def test_move_request_before_the_cycle_does_not_count():
    q, _ = new_queue()
    q.add(pod("p"))
    q.move_all_to_active_or_backoff(NODE_ADD)
    info = q.pop(timeout=0)
    q.add_unschedulable_if_not_present(info)
    assert where(q, "p") == UNSCHEDULABLE_PODS


def test_handing_back_a_queued_pod_is_an_error():
    q, _ = new_queue()
    info = fail(q, "p")
    with pytest.raises(SchedulingQueueError, match="already present in unschedulablePods"):
        q.add_unschedulable_if_not_present(info)


def test_precheck_chooses_the_pods_that_move():
    q, clock = new_queue()
    fail(q, "small")
    fail(q, "big")
    clock.advance(1)
    moved = q.move_all_to_active_or_backoff(NODE_ADD, precheck=lambda p: p["metadata"]["name"] == "small")
    assert moved == 1 and where(q, "small") == ACTIVE_Q and where(q, "big") == UNSCHEDULABLE_PODS


# After `advance` seconds parked: does the 30-s leftover flush move it (kube: strictly longer than 5 min)?
LEFTOVER = {"299 s": (299, UNSCHEDULABLE_PODS), "300 s": (300, UNSCHEDULABLE_PODS), "301 s": (301, ACTIVE_Q)}


@pytest.mark.parametrize("advance, expected", LEFTOVER.values(), ids=LEFTOVER.keys())
def test_leftover_flush_after_five_minutes(advance, expected):
    q, clock = new_queue(queueing_hints={"NodeResourcesFit": set()})  # no event could ever move it
    fail(q, "p")
    clock.advance(advance)
    q.flush_unschedulable_left_over()
    assert where(q, "p") == expected


# -- queueing hints --------------------------------------------------------------------

HINTS = {
    "no hints: every event moves": (None, {"NodeResourcesFit"}, ASSIGNED_POD_DELETE, True),
    "registered event moves": (
        {"NodeResourcesFit": {NODE_ADD, ASSIGNED_POD_DELETE}}, {"NodeResourcesFit"}, ASSIGNED_POD_DELETE, True),
    "unregistered event does not": ({"NodeResourcesFit": {NODE_ADD}}, {"NodeResourcesFit"}, NODE_UPDATE, False),
    "any rejecting plugin may ask": ({"A": {NODE_ADD}, "B": {NODE_UPDATE}}, {"A", "B"}, NODE_UPDATE, True),
    "plugin without hints wants every event": ({"A": {NODE_ADD}}, {"Other"}, NODE_UPDATE, True),
    "plugin registering the wildcard": ({"A": {WILDCARD_EVENT}}, {"A"}, NODE_UPDATE, True),
    "wildcard event moves everyone": ({"A": set()}, {"A"}, WILDCARD_EVENT, True),
    "no rejecting plugins (an error): moves": ({"A": set()}, set(), NODE_ADD, True),
}


@pytest.mark.parametrize("hints, plugins, event, moves", HINTS.values(), ids=HINTS.keys())
def test_queueing_hints_filter_moves(hints, plugins, event, moves):
    q, clock = new_queue(queueing_hints=hints)
    fail(q, "p", plugins)
    clock.advance(1)
    assert q.move_all_to_active_or_backoff(event) == int(moves)
    assert where(q, "p") == (ACTIVE_Q if moves else UNSCHEDULABLE_PODS)


# -- update and delete ----------------------------------------------------------------------

# A parked pod is updated after `advance` seconds; where does it go?
UPDATES = {
    "status only: stays parked": (
        lambda p: p["status"].update(phase="Pending", conditions=[{"type": "PodScheduled"}]), 1, UNSCHEDULABLE_PODS),
    "resourceVersion only: stays parked": (lambda p: p["metadata"].update(resourceVersion="7"), 1, UNSCHEDULABLE_PODS),
    "new label: to activeQ": (lambda p: p["metadata"].update(labels={"disk": "ssd"}), 1, ACTIVE_Q),
    "spec change while backing off: to backoffQ": (lambda p: p["spec"].update(nodeSelector={"a": "b"}), 0.5, BACKOFF_Q),
}


@pytest.mark.parametrize("change, advance, expected", UPDATES.values(), ids=UPDATES.keys())
def test_update_of_a_parked_pod(change, advance, expected):
    q, clock = new_queue()
    fail(q, "p")
    old, new = pod("p"), pod("p")
    change(new)
    clock.advance(advance)
    q.update(old, new)
    assert where(q, "p") == expected
    assert q.pending_pods()[0] and q.metrics().adds == 1  # an update is not a new add


@pytest.mark.parametrize("sub_queue", [ACTIVE_Q, BACKOFF_Q])
def test_update_in_place(sub_queue):
    q, _ = new_queue()
    q.add(pod("first"))
    q.add(pod("p"))
    if sub_queue == BACKOFF_Q:
        q.pop(timeout=0)
        q.add_unschedulable_if_not_present(q.pop(timeout=0), backoff=True)
    new = pod("p", metadata={"labels": {"v": "2"}})
    q.update(pod("p"), new)
    assert where(q, "p") == sub_queue
    if sub_queue == ACTIVE_Q:
        assert q.pop(timeout=0).pod["metadata"]["name"] == "first"  # kept its place
        assert q.pop(timeout=0).pod is new


def test_update_of_an_unknown_pod_adds_it():
    q, _ = new_queue()
    q.update(None, pod("p"))
    assert where(q, "p") == ACTIVE_Q


def to_sub_queue(q: SchedulingQueue, name: str, sub_queue: str) -> None:
    if sub_queue == ACTIVE_Q:
        q.add(pod(name))
    else:
        fail(q, name, backoff=sub_queue == BACKOFF_Q)


@pytest.mark.parametrize("sub_queue", [ACTIVE_Q, BACKOFF_Q, UNSCHEDULABLE_PODS])
def test_delete_from_each_sub_queue(sub_queue):
    q, _ = new_queue()
    to_sub_queue(q, "p", sub_queue)
    q.add(pod("other"))
    assert where(q, "p") == sub_queue
    q.delete(pod("p"))
    assert where(q, "p") is None
    assert list(q.pending_pods()[0]) == ["default/other"]


def test_add_wins_over_a_stale_copy():
    q, _ = new_queue()
    fail(q, "p")
    q.add(pod("p"))
    assert q.pending_pods()[1] == "activeQ:1; backoffQ:0; unschedulablePods:0"


# -- blocking, closing, the background flush -------------------------------------------


def pop_in_thread(q: SchedulingQueue) -> tuple[threading.Thread, list]:
    result: list = []
    thread = threading.Thread(target=lambda: result.append(q.pop(timeout=5)))
    thread.start()
    time.sleep(0.005)  # let it block
    return thread, result


def test_pop_blocks_then_wakes_on_add():
    q, _ = new_queue()
    thread, result = pop_in_thread(q)
    assert thread.is_alive() and result == []
    q.add(pod("p"))
    thread.join(timeout=5)
    assert result[0].key == "default/p" and result[0].attempts == 1


def test_close_wakes_a_blocked_pop():
    q, _ = new_queue()
    thread, result = pop_in_thread(q)
    q.close()
    thread.join(timeout=5)
    assert result == [None] and q.closed
    q.add(pod("p"))
    assert q.pop(timeout=0) is None  # closed means stop


def test_pop_timeout():
    q, _ = new_queue()
    with pytest.raises(Empty):
        q.pop(timeout=0.001)


def eventually(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.001)


def test_run_flushes_on_the_clock():
    q, clock = new_queue()
    fail(q, "backing-off", backoff=True)
    fail(q, "parked")
    q.run()
    try:
        clock.advance(1)
        eventually(lambda: where(q, "backing-off") == ACTIVE_Q)
        assert where(q, "parked") == UNSCHEDULABLE_PODS
        for _ in range(11):  # 330 s in 30-s steps: the leftover flush runs every 30 s
            clock.advance(30)
            time.sleep(0.002)
        eventually(lambda: where(q, "parked") == ACTIVE_Q)
    finally:
        q.close()
    assert q.metrics().incoming[ACTIVE_Q, "UnschedulableTimeout"] == 1


# -- the nominator ------------------------------------------------------------------------


def nominated(q: SchedulingQueue, node: str) -> list[str]:
    return [p["metadata"]["name"] for p in q.nominated_pods_for_node(node)]


def test_nominated_pods():
    q, _ = new_queue()
    q.nominate(pod("a"), "node-1")
    q.nominate(pod("b"), "node-1")
    assert nominated(q, "node-1") == ["a", "b"]
    q.nominate(pod("a"), "node-2")  # a pod is nominated to one node at most
    assert nominated(q, "node-1") == ["b"] and nominated(q, "node-2") == ["a"]
    q.nominate(pod("a"), "")
    assert nominated(q, "node-2") == []
    q.delete_nominated_pod_if_exists(pod("b"))
    q.delete_nominated_pod_if_exists(pod("never"))
    assert nominated(q, "node-1") == []
    q.nominate(pod("bound", spec={"nodeName": "node-1"}), "node-1")
    assert nominated(q, "node-1") == []


def test_nomination_follows_the_pod_through_the_queue():
    q, _ = new_queue()
    q.add(pod("p", status={"nominatedNodeName": "node-1"}))  # from its status (ModeNoop)
    assert nominated(q, "node-1") == ["p"]
    info = q.pop(timeout=0)
    q.add_unschedulable_if_not_present(info)
    q.nominate(info.pod, "node-2")  # preemption picked node-2: the scheduler nominates after handing back, as kube's
    assert nominated(q, "node-1") == [] and nominated(q, "node-2") == ["p"]
    # An update that does not mention a nomination keeps the one made in memory.
    updated = pod("p", metadata={"labels": {"x": "y"}})
    q.update(pod("p"), updated)
    assert q.nominated_pods_for_node("node-2") == [updated]
    q.delete(updated)
    assert nominated(q, "node-2") == []


def test_metrics():
    q, clock = new_queue()
    fail(q, "b")
    q.add(pod("a"))
    clock.advance(1)
    q.move_all_to_active_or_backoff(NODE_ADD)
    m = q.metrics()
    assert (m.adds, m.pops, m.moves, m.active, m.backoff, m.unschedulable) == (2, 1, 1, 2, 0, 0)
    assert m.incoming == {
        (ACTIVE_Q, "PodAdd"): 2, (UNSCHEDULABLE_PODS, "ScheduleAttemptFailure"): 1, (ACTIVE_Q, NODE_ADD): 1,
    }
    assert repr(q) == "<SchedulingQueue activeQ:2; backoffQ:0; unschedulablePods:0>"
