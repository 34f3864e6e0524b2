"""Rate limiters: how long a work-queue key waits before its next try.

When a controller's ``sync(key)`` fails, its worker puts the key back with
``add_rate_limited(key)`` (:class:`~kitlib.client.workqueue.RateLimitingQueue`),
and a rate limiter decides the delay: longer for a key that keeps failing,
and never faster overall than the API server should be asked. On success,
``forget(key)`` resets that key's count. This is client-go's
``k8s.io/client-go/util/workqueue/default_rate_limiters.go``: the
:class:`RateLimiter` contract and the limiters a controller gets by default
(:func:`default_controller_rate_limiter`). Delays are counted on the
injected clock, so a :class:`~kitlib.clock.FakeClock` replays them exactly.

Simplifications:
- No per-item jitter limiters beyond the three client-go uses by default
  (no ``ItemFastSlowRateLimiter``, no ``WithMaxWaitRateLimiter``).
"""

from __future__ import annotations

import threading
from typing import Hashable, Protocol

from kitlib.clock import Clock, RealClock


class RateLimiter(Protocol):
    """Decides how long a key waits before its next try (client-go's ``RateLimiter``)."""

    def when(self, key: Hashable) -> float:
        """Seconds to wait before trying ``key`` again; counts one more failure for it."""

    def forget(self, key: Hashable) -> None:
        """``key`` succeeded: forget its failures (its next failure waits the shortest time)."""

    def num_requeues(self, key: Hashable) -> int:
        """How many times ``key`` has failed since it was last forgotten."""


class ItemExponentialFailureRateLimiter:
    """Per key: ``base_delay * 2**failures``, capped at ``max_delay`` (5 ms, 10 ms, 20 ms ... 1000 s).

    client-go's ``ItemExponentialFailureRateLimiter``: a key that keeps
    failing is tried less and less often, without slowing the other keys.
    """

    def __init__(self, base_delay: float = 0.005, max_delay: float = 1000.0) -> None:
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._lock = threading.Lock()
        self._failures: dict[Hashable, int] = {}

    def when(self, key: Hashable) -> float:
        with self._lock:
            exponent = self._failures.get(key, 0)
            self._failures[key] = exponent + 1
        try:
            backoff = self.base_delay * 2.0**exponent
        except OverflowError:  # 2**exponent beyond a float: far past any cap
            return self.max_delay
        return min(backoff, self.max_delay)

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def num_requeues(self, key: Hashable) -> int:
        with self._lock:
            return self._failures.get(key, 0)


class BucketRateLimiter:
    """One token bucket for all keys: ``qps`` tokens a second, at most ``burst`` saved up.

    client-go's ``BucketRateLimiter`` over ``golang.org/x/time/rate``: each
    retry takes a token; the bucket starts full, so the first ``burst``
    retries go at once, then one every ``1/qps`` seconds. It bounds the
    overall retry rate when many keys fail together. It counts no
    failures: ``forget`` does nothing and ``num_requeues`` is 0.
    """

    def __init__(self, qps: float = 10.0, burst: int = 100, *, clock: Clock | None = None) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError("a token bucket needs qps > 0 and burst >= 1")
        self.qps = qps
        self.burst = burst
        self.clock = clock or RealClock()
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._last: float | None = None  # when tokens were last counted; None: full, never used

    def when(self, key: Hashable) -> float:
        with self._lock:
            now = self.clock.now()
            tokens = self._tokens
            if self._last is not None:
                tokens = min(float(self.burst), tokens + (now - self._last) * self.qps)
            # Reserve a token even if there is none yet: the debt is paid by
            # waiting, and the next caller queues behind it (rate.Limiter.Reserve).
            tokens -= 1.0
            self._tokens, self._last = tokens, now
            return 0.0 if tokens >= 0 else -tokens / self.qps

    def forget(self, key: Hashable) -> None:
        pass

    def num_requeues(self, key: Hashable) -> int:
        return 0


class MaxOfRateLimiter:
    """Asks every limiter and waits the longest (client-go's ``MaxOfRateLimiter``)."""

    def __init__(self, *limiters: RateLimiter) -> None:
        if not limiters:
            raise ValueError("MaxOfRateLimiter needs at least one limiter")
        self.limiters = limiters

    def when(self, key: Hashable) -> float:
        # Every limiter is asked (each counts the failure), not just until the largest.
        return max([limiter.when(key) for limiter in self.limiters])

    def forget(self, key: Hashable) -> None:
        for limiter in self.limiters:
            limiter.forget(key)

    def num_requeues(self, key: Hashable) -> int:
        return max(limiter.num_requeues(key) for limiter in self.limiters)


def default_controller_rate_limiter(clock: Clock | None = None) -> MaxOfRateLimiter:
    """client-go's ``DefaultControllerRateLimiter``: per-key 5 ms doubling to 1000 s, and 10 qps overall (burst 100)."""
    return MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(0.005, 1000.0),
        BucketRateLimiter(qps=10.0, burst=100, clock=clock),
    )
