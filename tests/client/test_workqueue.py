"""The work queue: dedup, dirty/processing, shutdown, delays on the clock, rate limiters."""

from __future__ import annotations

import queue
import threading
import time

import pytest

from kitlib.clock import FakeClock, RealClock
from kitlib.client.ratelimiter import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    default_controller_rate_limiter,
)
from kitlib.client.workqueue import DelayingQueue, Empty, RateLimitingQueue, WorkQueue, WorkQueueError


def run_script(q: WorkQueue, script):
    """Each step: ("add", key) | ("get", expected key) | ("done", key) | ("len", n) | ("shutdown", None) | ("get_shutdown", None)."""
    for step, (op, arg) in enumerate(script):
        where = f"step {step}: {op} {arg!r}"
        if op == "add":
            q.add(arg)
        elif op == "get":
            assert q.get(timeout=0) == (arg, False), where
        elif op == "get_shutdown":
            assert q.get(timeout=0) == (None, True), where
        elif op == "get_empty":
            with pytest.raises(Empty):
                q.get(timeout=0)
        elif op == "done":
            q.done(arg)
        elif op == "len":
            assert len(q) == arg, where
        elif op == "shutdown":
            q.shut_down()
        else:  # pragma: no cover
            raise AssertionError(op)


SCRIPTS = {
    "fifo": [("add", "a"), ("add", "b"), ("add", "c"), ("get", "a"), ("get", "b"), ("get", "c"), ("len", 0)],
    "a key waiting is queued once": [
        ("add", "a"), ("add", "b"), ("add", "a"), ("add", "a"), ("len", 2), ("get", "a"), ("get", "b"), ("get_empty", None),
    ],
    "re-added while processing waits for done": [
        ("add", "a"), ("get", "a"), ("add", "a"), ("len", 0), ("get_empty", None),
        ("done", "a"), ("len", 1), ("get", "a"), ("done", "a"), ("len", 0),
    ],
    "re-added many times while processing comes back once": [
        ("add", "a"), ("get", "a"), ("add", "a"), ("add", "a"), ("add", "a"), ("done", "a"), ("len", 1),
        ("get", "a"), ("done", "a"), ("len", 0),
    ],
    "re-added key goes to the back of the line": [
        ("add", "a"), ("get", "a"), ("add", "b"), ("add", "a"), ("add", "c"), ("done", "a"),
        ("get", "b"), ("get", "c"), ("get", "a"),
    ],
    "done without a re-add forgets the key": [("add", "a"), ("get", "a"), ("done", "a"), ("len", 0), ("get_empty", None)],
    "two workers never hold one key": [
        ("add", "a"), ("add", "b"), ("get", "a"), ("add", "a"), ("get", "b"), ("get_empty", None), ("done", "a"), ("get", "a"),
    ],
    "after shut down: adds ignored, queued keys drained, then shutdown": [
        ("add", "a"), ("add", "b"), ("shutdown", None), ("add", "c"), ("len", 2),
        ("get", "a"), ("get", "b"), ("get_shutdown", None), ("get_shutdown", None),
    ],
    "a key re-added before shut down still comes back after done": [
        ("add", "a"), ("get", "a"), ("add", "a"), ("shutdown", None), ("get_shutdown", None),
        ("done", "a"), ("get", "a"), ("done", "a"), ("get_shutdown", None),
    ],
}


@pytest.mark.parametrize("script", SCRIPTS.values(), ids=SCRIPTS.keys())
@pytest.mark.parametrize("kind", [WorkQueue, DelayingQueue, RateLimitingQueue])
def test_queue_scripts(kind, script):
    q = kind("test") if kind is WorkQueue else kind("test", clock=FakeClock())
    run_script(q, script)


@pytest.mark.parametrize("bad", ["never-added", "done-twice"])
def test_done_for_a_key_not_being_processed_is_loud(bad):
    q = WorkQueue("q")
    if bad == "done-twice":
        q.add("a")
        q.get()
        q.done("a")
    with pytest.raises(WorkQueueError, match="not being processed"):
        q.done("a" if bad == "done-twice" else "x")


def test_get_blocks_until_a_key_is_added():
    q = WorkQueue()
    got = []
    worker = threading.Thread(target=lambda: got.append(q.get(timeout=5)))
    worker.start()
    time.sleep(0.01)
    assert got == []
    q.add("a")
    worker.join(5)
    assert got == [("a", False)]


def test_get_timeout_raises_empty_which_is_also_queue_empty():
    q = WorkQueue("idle")
    started = time.monotonic()
    with pytest.raises(queue.Empty, match="no key in the work queue 'idle'"):
        q.get(timeout=0.02)
    assert time.monotonic() - started >= 0.02


def test_shut_down_wakes_every_blocked_worker():
    q = WorkQueue()
    results = []
    workers = [threading.Thread(target=lambda: results.append(q.get(timeout=5))) for _ in range(3)]
    for w in workers:
        w.start()
    time.sleep(0.01)
    q.shut_down()
    for w in workers:
        w.join(5)
    assert results == [(None, True)] * 3 and q.shutting_down()


def test_shut_down_with_drain_waits_for_done():
    q = WorkQueue()
    q.add("a")
    key, _ = q.get()
    drained = []
    closer = threading.Thread(target=lambda: drained.append(q.shut_down_with_drain(timeout=5)))
    closer.start()
    time.sleep(0.02)
    assert closer.is_alive(), "must wait while a key is being processed"
    q.add("b")  # ignored: shutting down
    q.done(key)
    closer.join(5)
    assert drained == [True] and q.get() == (None, True)


def test_shut_down_with_drain_times_out_when_done_never_comes():
    q = WorkQueue()
    q.add("a")
    q.get()
    assert q.shut_down_with_drain(timeout=0.01) is False


def test_shut_down_cancels_a_drain_in_progress():
    q = WorkQueue()
    q.add("a")
    q.get()
    drained = []
    closer = threading.Thread(target=lambda: drained.append(q.shut_down_with_drain(timeout=5)))
    closer.start()
    time.sleep(0.01)
    q.shut_down()
    closer.join(5)
    assert drained == [False]


def test_metrics_count_depth_adds_and_retries():
    clock = FakeClock()
    q = RateLimitingQueue("pods", clock=clock)
    q.add("a")
    q.add("a")  # dedup: not an add
    q.add("b")
    key, _ = q.get()
    q.add_rate_limited("c")  # waits 5 ms
    m = q.metrics()
    assert (m.name, m.depth, m.adds, m.retries, m.processing, m.waiting) == ("pods", 1, 2, 1, 1, 1)
    clock.advance(0.005)
    m = q.metrics()
    assert (m.depth, m.adds, m.waiting) == (2, 3, 0)
    assert "depth=2" in repr(q)


# -- add_after on the clock ---------------------------------------------------

DELAY_CASES = {
    # (calls: [(key, delay)], steps: [(advance, expected keys released, in order)])
    "released in due order": (
        [("a", 3), ("b", 1), ("c", 2)],
        [(0.5, []), (0.5, ["b"]), (1, ["c"]), (1, ["a"])],
    ),
    "zero or negative delay adds at once": ([("a", 0), ("b", -1)], [(0, ["a", "b"])]),
    "ties keep the order of add_after": ([("a", 1), ("b", 1), ("c", 1)], [(1, ["a", "b", "c"])]),
    "a sooner time wins": ([("a", 5), ("a", 1)], [(1, ["a"]), (10, [])]),
    "a later time does not postpone": ([("a", 1), ("a", 5)], [(1, ["a"]), (10, [])]),
    "one big step releases all due": ([("a", 1), ("b", 2), ("c", 30)], [(10, ["a", "b"]), (20, ["c"])]),
}


@pytest.mark.parametrize("calls,steps", DELAY_CASES.values(), ids=DELAY_CASES.keys())
def test_add_after_on_fake_clock(calls, steps):
    clock = FakeClock()
    q = DelayingQueue("d", clock=clock)
    for key, delay in calls:
        q.add_after(key, delay)
    for advance, expected in steps:
        clock.advance(advance)
        got = []
        while len(q):
            key, _ = q.get(timeout=0)
            got.append(key)
            q.done(key)
        assert got == expected, f"after advancing {advance}"
    assert q.metrics().retries == len(calls)


def test_add_after_of_a_waiting_key_is_deduplicated_by_the_queue():
    clock = FakeClock()
    q = DelayingQueue(clock=clock)
    q.add("a")
    q.add_after("a", 1)
    clock.advance(1)
    assert len(q) == 1


def test_blocked_get_wakes_when_the_fake_clock_advances():
    clock = FakeClock()
    q = DelayingQueue(clock=clock)
    q.add_after("a", 10)
    got = []
    worker = threading.Thread(target=lambda: got.append(q.get(timeout=5)))
    worker.start()
    time.sleep(0.03)
    assert got == []
    clock.advance(10)
    worker.join(5)
    assert got == [("a", False)]


def test_blocked_get_wakes_for_a_sooner_key_added_later():
    clock = FakeClock()
    q = DelayingQueue(clock=clock)
    q.add_after("late", 100)
    got = []
    worker = threading.Thread(target=lambda: got.append(q.get(timeout=5)))
    worker.start()
    time.sleep(0.01)
    q.add_after("soon", 1)
    clock.advance(1)
    worker.join(5)
    assert got == [("soon", False)]


def test_add_after_on_the_real_clock():
    q = DelayingQueue(clock=RealClock())
    started = time.monotonic()
    q.add_after("a", 0.02)
    assert q.get(timeout=2) == ("a", False)
    assert time.monotonic() - started >= 0.02


def test_shut_down_drops_waiting_keys_and_ignores_new_ones():
    clock = FakeClock()
    q = DelayingQueue(clock=clock)
    q.add_after("a", 1)
    q.shut_down()
    q.add_after("b", 0)
    clock.advance(5)
    assert len(q) == 0 and q.get() == (None, True) and q.metrics().retries == 1


# -- rate limiters ------------------------------------------------------------

# 5 ms doubling: the n-th failure (from 0) waits 0.005 * 2**n, capped at 1000 s (reached at n = 18).
EXPONENTIAL = [0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56]


def test_item_exponential_back_off_sequence():
    limiter = ItemExponentialFailureRateLimiter()
    assert [limiter.when("a") for _ in EXPONENTIAL] == pytest.approx(EXPONENTIAL)
    assert limiter.num_requeues("a") == len(EXPONENTIAL)
    assert limiter.when("b") == 0.005, "keys back off independently"
    for _ in range(20):
        last = limiter.when("a")
    assert last == 1000.0 and limiter.num_requeues("a") == 30
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0 and limiter.when("a") == 0.005


@pytest.mark.parametrize("failures,delay", [(17, 0.005 * 2**17), (18, 1000.0), (2000, 1000.0)])
def test_item_exponential_cap(failures, delay):
    limiter = ItemExponentialFailureRateLimiter()
    limiter._failures["k"] = failures
    assert limiter.when("k") == pytest.approx(delay)


BUCKET_STEPS = [
    # (advance before, number of calls, expected delays)
    (0, 100, [0.0] * 100),  # the burst: the bucket starts full
    (0, 3, [0.1, 0.2, 0.3]),  # then one token every 1/qps seconds, queued behind each other
    (0.3, 1, [0.1]),  # 0.3 s paid the debt of 3; the bucket is empty again
    (10, 101, [0.0] * 99 + [0.1, 0.2]),  # 10 s pays the debt of 1 and saves 99 tokens
    (100, 101, [0.0] * 100 + [0.1]),  # 100 s would be 1000 tokens: at most burst are saved
]


def test_bucket_rate_limiter_burst_then_qps():
    clock = FakeClock()
    limiter = BucketRateLimiter(qps=10, burst=100, clock=clock)
    for advance, calls, expected in BUCKET_STEPS:
        clock.advance(advance)
        assert [limiter.when(f"k{i}") for i in range(calls)] == pytest.approx(expected)
    assert limiter.num_requeues("k0") == 0


def test_default_controller_rate_limiter_takes_the_max():
    clock = FakeClock()
    limiter = default_controller_rate_limiter(clock)
    assert isinstance(limiter, MaxOfRateLimiter)
    assert [limiter.when("a") for _ in range(3)] == pytest.approx([0.005, 0.01, 0.02])
    for i in range(97):
        limiter.when(f"other-{i}")  # drains the bucket: 100 tokens used
    assert limiter.when("fresh") == pytest.approx(0.1), "the bucket dominates a key's first 5 ms"
    assert limiter.when("a") == pytest.approx(0.2), "then the token debt (0.2 s) beats a's 40 ms"
    assert limiter.num_requeues("a") == 4
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0


def test_rate_limited_retries_on_the_fake_clock():
    clock = FakeClock()
    q = RateLimitingQueue("rs", clock=clock)
    for expected in [0.005, 0.01, 0.02, 0.04]:
        q.add_rate_limited("default/web")
        clock.advance(expected * 0.99)
        assert len(q) == 0, f"released before its {expected} s back-off"
        clock.advance(expected * 0.02)
        assert len(q) == 1, f"not released after its {expected} s back-off"
        key, _ = q.get(timeout=0)
        q.done(key)
    assert q.num_requeues("default/web") == 4 and q.metrics().retries == 4
    q.forget("default/web")
    assert q.num_requeues("default/web") == 0


def test_a_worker_loop_retries_until_sync_succeeds():
    """sample-controller's loop, on a FakeClock: fails twice, then succeeds and is forgotten."""
    clock = FakeClock()
    q = RateLimitingQueue("demo", clock=clock)
    attempts = []

    def sync(key):
        attempts.append((key, clock.now()))
        if len(attempts) < 3:
            raise RuntimeError("not yet")

    def process_next_work_item() -> bool:
        key, shutdown = q.get(timeout=5)
        if shutdown:
            return False
        try:
            sync(key)
        except RuntimeError:
            q.add_rate_limited(key)
        else:
            q.forget(key)
        finally:
            q.done(key)
        return True

    worker = threading.Thread(target=lambda: [None for _ in iter(process_next_work_item, False)])
    worker.start()
    q.add("ns/a")
    deadline = time.monotonic() + 5
    while len(attempts) < 3 and time.monotonic() < deadline:
        clock.advance(0.001)
        time.sleep(0.001)
    q.shut_down_with_drain(timeout=5)
    worker.join(5)
    assert not worker.is_alive()
    times = [t for _, t in attempts]
    assert len(times) == 3 and times[1] - times[0] >= 0.005 and times[2] - times[1] >= 0.01
    assert q.num_requeues("ns/a") == 0


@pytest.mark.parametrize("name", [
    "kitlib.client", "kitlib.client.workqueue", "kitlib.client.ratelimiter", "kitlib.client.reflector",
    "kitlib.client.indexer", "kitlib.client.informer",
])
def test_module_docstring_and_examples(name):
    import doctest
    import importlib

    module = importlib.import_module(name)
    assert module.__doc__ and "Simplifications:" in module.__doc__, f"{name}: DESIGN.md asks for a Simplifications: section"
    result = doctest.testmod(module)
    assert result.failed == 0
