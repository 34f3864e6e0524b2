"""The work queue: how a controller remembers what still needs reconciling.

An informer's event handler does not reconcile; it puts the object's key
(``"namespace/name"``) on a work queue and returns. Worker threads take keys
off the queue, read the newest object from the cache and make the world
match it (``process_next_work_item`` -> ``sync(key)``). If that fails, the
key goes back with a growing delay. Because the queue holds keys, not
objects, ten quick updates to one Pod become one reconcile of its latest
state. This is client-go's ``k8s.io/client-go/util/workqueue``, in three
layers, each adding to the one before:

- :class:`WorkQueue`: a fair, de-duplicating FIFO that never hands one key
  to two workers at once (``workqueue.Type``);
- :class:`DelayingQueue`: ``add_after(key, delay)`` on the injected clock
  (``DelayingInterface``);
- :class:`RateLimitingQueue`: ``add_rate_limited(key)`` with a
  :class:`~kitlib.client.ratelimiter.RateLimiter` deciding the delay, ``forget(key)`` on success,
  ``num_requeues(key)`` (``RateLimitingInterface``).

The three promises, in a few lines:

    >>> q = WorkQueue("demo")
    >>> q.add("default/web-0"); q.add("default/web-1"); q.add("default/web-0"); len(q)
    2
    >>> q.get()
    ('default/web-0', False)
    >>> q.add("default/web-0"); len(q)  # being processed: it waits for done()
    1
    >>> q.done("default/web-0"); len(q)
    2

A worker, as sample-controller writes it::

    def process_next_work_item(self) -> bool:
        key, shutdown = self.queue.get()
        if shutdown:
            return False
        try:
            self.sync(key)
        except Exception:
            self.queue.add_rate_limited(key)  # try again later, later each time
        else:
            self.queue.forget(key)            # success: reset its back-off
        finally:
            self.queue.done(key)              # ALWAYS: or the key is stuck forever
        return True

Timeouts and delays live on two different clocks, on purpose. Delays
(``add_after``, back-off) are part of the component's behaviour, so they run
on its clock and a :class:`~kitlib.clock.FakeClock` replays them exactly.
The ``timeout`` of :meth:`WorkQueue.get` is the calling thread's patience,
in real seconds, so a test never hangs on a simulated clock nobody advances.

Simplifications:
- client-go's delaying queue runs a goroutine with a timer that moves due
  keys into the queue. Here nothing runs in the background: due keys are
  moved by whoever next looks at the queue (``get``, ``len``, ``metrics``).
  A blocked ``get`` wakes exactly when the next key is due on a
  :class:`~kitlib.clock.RealClock`; on any other clock it looks again every
  :data:`POLL_SECONDS` of real time while keys are waiting.
- ``done(key)`` for a key that is not being processed raises
  :class:`WorkQueueError`; client-go ignores it silently (and may queue the
  key twice).
- Metrics are counters read with :meth:`WorkQueue.metrics`, not Prometheus
  series; there are no latency histograms.
- No priority queue (``Touch``).
- The rate limiters' own simplifications are listed in
  :mod:`kitlib.client.ratelimiter`.
"""

from __future__ import annotations

import heapq
import logging
import queue as _stdlib_queue
import threading
import time as _real_time
from collections import deque
from dataclasses import dataclass
from typing import Hashable

from kitlib.client.ratelimiter import RateLimiter, default_controller_rate_limiter
from kitlib.clock import Clock, RealClock
from kitlib.errors import KitError

log = logging.getLogger(__name__)

# How often a blocked waiter looks at a clock that is not the real one (a
# FakeClock moves only when a test or a simulation advances it, and it cannot
# wake our waiters itself).
POLL_SECONDS = 0.01


class WorkQueueError(KitError):
    """The queue's contract was broken (``done`` for a key that ``get`` did not hand out)."""


class Empty(KitError, _stdlib_queue.Empty):
    """``get(timeout=...)`` found no key in time (also catchable as the standard ``queue.Empty``)."""


# -- waiting on a clock ------------------------------------------------------


def real_seconds_until(clock: Clock, deadline: float) -> float:
    """How long to block, in real seconds, before looking at ``clock`` again for ``deadline``.

    0 when the deadline has passed. On the real clock, exactly the time left;
    on a simulated clock, a short poll, since only its owner knows when it moves.
    """
    remaining = deadline - clock.now()
    if remaining <= 0:
        return 0.0
    if isinstance(clock, RealClock):
        return remaining
    expect = getattr(clock, "expect", None)
    if expect is not None:  # tell a FakeClock's driver that this moment matters (see FakeClock.expect)
        expect(deadline)
    return POLL_SECONDS


def sleep_until(clock: Clock, deadline: float, stop: threading.Event) -> bool:
    """Wait until ``clock`` reaches ``deadline`` or ``stop`` is set; True if stopped.

    ``clock.sleep`` cannot be interrupted; a component that must stop promptly
    (an informer's reflector backing off, its resync timer) waits here instead.
    """
    while not stop.is_set():
        wait = real_seconds_until(clock, deadline)
        if wait <= 0:
            return False
        stop.wait(wait)
    return True


# -- the queue ---------------------------------------------------------------


@dataclass(frozen=True)
class QueueMetrics:
    """What a teacher puts on the screen (client-go's ``workqueue_*`` metrics, as a snapshot)."""

    name: str
    depth: int  # keys waiting to be handed out by get() (workqueue_depth)
    adds: int  # keys accepted by add(); a duplicate of a waiting key is not counted (workqueue_adds_total)
    retries: int  # add_after() and add_rate_limited() calls (workqueue_retries_total)
    processing: int  # keys handed out whose done() has not come yet (unfinished work)
    waiting: int  # keys whose add_after() delay has not passed yet


class WorkQueue:
    """A FIFO of keys with client-go's promises (``workqueue.Type``).

    * Fair: keys are handed out in the order they were first added.
    * Stingy: a key added several times before a worker takes it is handed
      out once ("dirty" set: the keys that need processing).
    * Exclusive: a key is never handed to two workers at once. A key added
      again while a worker holds it ("processing" set) waits, and is handed
      out again only after that worker calls :meth:`done`.

    Any number of threads may add and get. Lock rule: one condition variable
    guards every field; nothing outside the queue is called while holding it
    but the clock (whose ``now()`` never calls back).
    """

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._cond = threading.Condition()
        self._queue: deque[Hashable] = deque()  # hand-out order; every key here is also in _dirty
        self._dirty: set[Hashable] = set()  # keys that need processing (queued, or re-added while processing)
        self._processing: set[Hashable] = set()  # keys handed out by get(), done() not called yet
        self._shutting_down = False
        self._drain = False
        self._adds = 0
        self._retries = 0

    # Hooks for the delaying layer (no-ops here): move due keys into the
    # queue, and say how long a blocked get() may sleep before they are due.
    def _release_due_locked(self) -> None:
        pass

    def _wakeup_seconds_locked(self) -> float | None:
        return None

    def _on_shut_down_locked(self) -> None:
        pass

    def add(self, key: Hashable) -> None:
        """Mark ``key`` as needing processing.

        A key already waiting is not queued twice. A key a worker holds right
        now is queued again when that worker calls :meth:`done`. After
        :meth:`shut_down`, adds are ignored.
        """
        with self._cond:
            self._add_locked(key)

    def _add_locked(self, key: Hashable) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._adds += 1
        self._dirty.add(key)
        if key in self._processing:
            return  # done() will queue it: never two workers on one key
        self._queue.append(key)
        self._cond.notify_all()

    def get(self, timeout: float | None = None) -> tuple[Hashable | None, bool]:
        """Take the next key: ``(key, False)``, or ``(None, True)`` once shut down and empty.

        Blocks until a key is available. After :meth:`shut_down`, keys
        already queued are still handed out; ``shutdown`` is True only when
        none is left, and the worker should then return. ``timeout`` is in
        real seconds (the caller's patience, not simulated time): when it
        passes with no key, :class:`Empty` is raised.

        You MUST call :meth:`done` with the key when you have processed it,
        whether that succeeded or not: until then the key stays in the
        "processing" set and is never handed out again.
        """
        deadline = None if timeout is None else _real_time.monotonic() + timeout
        with self._cond:
            while True:
                self._release_due_locked()
                if self._queue:
                    break
                if self._shutting_down:
                    return None, True
                wait = self._wakeup_seconds_locked()
                if deadline is not None:
                    left = deadline - _real_time.monotonic()
                    if left <= 0:
                        raise Empty(f"no key in the work queue {self.name!r} within {timeout} s")
                    wait = left if wait is None else min(wait, left)
                self._cond.wait(wait)
            key = self._queue.popleft()
            self._processing.add(key)
            self._dirty.discard(key)
            return key, False

    def done(self, key: Hashable) -> None:
        """Say that a worker has finished with ``key`` (successfully or not).

        If the key was added again while it was being processed, it is
        queued now. Calling this for a key that :meth:`get` did not hand out
        (or calling it twice) is a bug, and raises :class:`WorkQueueError`.
        """
        with self._cond:
            if key not in self._processing:
                raise WorkQueueError(
                    f"done({key!r}) on work queue {self.name!r}, but the key is not being processed: "
                    "call done() exactly once for each key get() returned"
                )
            self._processing.discard(key)
            if key in self._dirty:
                self._queue.append(key)
            self._cond.notify_all()  # a getter may take it; shut_down_with_drain may be waiting

    def __len__(self) -> int:
        """Keys waiting to be handed out (not the ones being processed or still delayed)."""
        with self._cond:
            self._release_due_locked()
            return len(self._queue)

    def shut_down(self) -> None:
        """Stop accepting keys; workers get the keys still queued, then ``(None, True)``.

        Returns at once, without waiting for workers (see :meth:`shut_down_with_drain`).
        """
        with self._cond:
            self._drain = False  # a drain in progress stops waiting, as in client-go
            self._shut_down_locked()

    def shut_down_with_drain(self, timeout: float | None = None) -> bool:
        """Stop accepting keys, then wait until every key handed out has been :meth:`done`.

        Your workers must call ``done`` for every key, or this waits forever
        (or until ``timeout`` real seconds pass). Returns True when nothing is
        being processed any more. As in client-go it waits for the keys being
        processed, not for the queue to be empty: keep workers running until
        ``get`` reports shutdown.
        """
        deadline = None if timeout is None else _real_time.monotonic() + timeout
        with self._cond:
            self._drain = True
            self._shut_down_locked()
            while self._processing and self._drain:
                left = None if deadline is None else deadline - _real_time.monotonic()
                if left is not None and left <= 0:
                    break
                self._cond.wait(left)
            return not self._processing

    def _shut_down_locked(self) -> None:
        self._shutting_down = True
        self._on_shut_down_locked()
        self._cond.notify_all()

    def shutting_down(self) -> bool:
        with self._cond:
            return self._shutting_down

    def metrics(self) -> QueueMetrics:
        with self._cond:
            self._release_due_locked()
            return QueueMetrics(
                name=self.name,
                depth=len(self._queue),
                adds=self._adds,
                retries=self._retries,
                processing=len(self._processing),
                waiting=self._waiting_count_locked(),
            )

    def _waiting_count_locked(self) -> int:
        return 0

    def __repr__(self) -> str:
        m = self.metrics()
        return f"<{type(self).__name__} {self.name!r} depth={m.depth} processing={m.processing} waiting={m.waiting}>"


class DelayingQueue(WorkQueue):
    """A work queue that can also add a key later, on the injected clock (``DelayingInterface``).

    Keys waiting for their time sit in a heap of timers ordered by when they
    are due (ties in the order they were added). A key waiting twice keeps
    the sooner time: ``add_after(k, 5)`` then ``add_after(k, 1)`` adds ``k``
    once, after 1 s. With a :class:`~kitlib.clock.FakeClock`, advancing the
    clock releases every key that has come due.
    """

    def __init__(self, name: str = "", *, clock: Clock | None = None) -> None:
        super().__init__(name)
        self.clock = clock or RealClock()
        self._timers: list[tuple[float, int, Hashable]] = []  # (ready_at, sequence, key), a heap
        self._waiting: dict[Hashable, tuple[float, int, Hashable]] = {}  # key -> its live heap entry
        self._sequence = 0

    def add_after(self, key: Hashable, delay: float) -> None:
        """Add ``key`` once ``delay`` seconds have passed on the queue's clock.

        ``delay <= 0`` adds it now. Ignored after shut down; keys still
        waiting at shut down are dropped.
        """
        with self._cond:
            if self._shutting_down:
                return
            self._retries += 1
            if delay <= 0:
                self._add_locked(key)
                return
            ready_at = self.clock.now() + delay
            expect = getattr(self.clock, "expect", None)
            if expect is not None:  # a simulation's driver must stop the clock there (FakeClock.expect)
                expect(ready_at)
            current = self._waiting.get(key)
            if current is not None and current[0] <= ready_at:
                return  # already due sooner
            # The old entry (if any) stays in the heap but is no longer the
            # live one; _release_due_locked skips it.
            self._sequence += 1
            entry = (ready_at, self._sequence, key)
            self._waiting[key] = entry
            heapq.heappush(self._timers, entry)
            self._cond.notify_all()  # a blocked get() may have to wake sooner

    def _release_due_locked(self) -> None:
        if not self._timers:
            return
        now = self.clock.now()
        while self._timers and self._timers[0][0] <= now:
            entry = heapq.heappop(self._timers)
            key = entry[2]
            if self._waiting.get(key) is entry:
                del self._waiting[key]
                self._add_locked(key)

    def _wakeup_seconds_locked(self) -> float | None:
        while self._timers and self._waiting.get(self._timers[0][2]) is not self._timers[0]:
            heapq.heappop(self._timers)  # a superseded entry
        if not self._timers:
            return None
        return real_seconds_until(self.clock, self._timers[0][0])

    def _on_shut_down_locked(self) -> None:
        self._timers.clear()
        self._waiting.clear()

    def _waiting_count_locked(self) -> int:
        return len(self._waiting)


class RateLimitingQueue(DelayingQueue):
    """A delaying queue whose retries wait as a :class:`RateLimiter` says (``RateLimitingInterface``).

    The pair a worker uses: :meth:`add_rate_limited` when ``sync(key)``
    failed, :meth:`forget` when it succeeded. ``forget`` only resets the
    back-off; it does not remove the key from the queue, and :meth:`done`
    must still be called.
    """

    def __init__(
        self,
        name: str = "",
        *,
        clock: Clock | None = None,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        super().__init__(name, clock=clock)
        self.rate_limiter = rate_limiter or default_controller_rate_limiter(self.clock)

    def add_rate_limited(self, key: Hashable) -> None:
        """Add ``key`` after the delay the rate limiter gives it (one more failure counted)."""
        self.add_after(key, self.rate_limiter.when(key))

    def forget(self, key: Hashable) -> None:
        """``key`` is done being retried: reset its failure count (call it after a successful sync)."""
        self.rate_limiter.forget(key)

    def num_requeues(self, key: Hashable) -> int:
        """How many times ``key`` was added with :meth:`add_rate_limited` since it was last forgotten."""
        return self.rate_limiter.num_requeues(key)
