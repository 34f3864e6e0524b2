"""Clocks: every component takes one, so simulations and tests replay exactly.

A component never calls ``time.monotonic()`` itself; it asks its clock. The
real clock is the default; :class:`FakeClock` moves only when told to, which
makes lease expiry, back-off and heartbeats testable without sleeping, and
makes the book's outputs reproducible.

Simplifications:
- One clock per component, no clock skew between "machines": every hollow
  node and the control plane read the same time (real nodes drift apart).
"""

from __future__ import annotations

import heapq
import threading
import time
from typing import Protocol


class Clock(Protocol):
    """What a component needs to know about time."""

    def now(self) -> float:
        """Seconds on a monotonic scale (only differences are meaningful)."""

    def wall(self) -> float:
        """Seconds since the Unix epoch, for timestamps shown to people."""

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on this clock's scale."""


class RealClock:
    """The machine's clocks."""

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that moves only when :meth:`advance` is called.

    ``sleep`` blocks until another thread advances the clock far enough, so a
    component's background thread waits on simulated time exactly as it would
    on real time.

    The clock also keeps the moments components are waiting for: ``sleep``
    notes its own, and a component that polls (a delaying work queue, a
    timer loop) calls :meth:`expect`. Whoever drives the simulation reads
    :meth:`next_expected` and moves the clock from one such moment to the
    next, so nothing that was due is skipped over (the discrete-event
    simulation of the 500 Lines Paxos cluster).
    """

    def __init__(self, start: float = 0.0, wall_start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._wall_offset = wall_start - start
        self._cond = threading.Condition()
        self._expected: list[float] = []  # a heap of moments someone waits for; passed ones are dropped lazily
        self._expected_set: set[float] = set()  # the same moments, so a poll loop noting one often adds it once

    def now(self) -> float:
        with self._cond:
            return self._now

    def wall(self) -> float:
        with self._cond:
            return self._now + self._wall_offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock never goes backwards")
        with self._cond:
            self._now += seconds
            while self._expected and self._expected[0] <= self._now:  # passed: forget them
                self._expected_set.discard(heapq.heappop(self._expected))
            self._cond.notify_all()

    def sleep(self, seconds: float) -> None:
        with self._cond:
            deadline = self._now + seconds
            self._expect_locked(deadline)
            while self._now < deadline:
                self._cond.wait()

    def expect(self, deadline: float) -> None:
        """Note that something will happen at ``deadline`` (simulated seconds) if the clock gets there."""
        with self._cond:
            self._expect_locked(deadline)

    def _expect_locked(self, deadline: float) -> None:
        if deadline > self._now and deadline not in self._expected_set:
            self._expected_set.add(deadline)
            heapq.heappush(self._expected, deadline)

    def next_expected(self) -> float | None:
        """The soonest moment still ahead that some component waits for, or None."""
        with self._cond:
            while self._expected and self._expected[0] <= self._now:
                self._expected_set.discard(heapq.heappop(self._expected))
            return self._expected[0] if self._expected else None
