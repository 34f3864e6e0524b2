"""Expectations: what a controller has asked for and not yet seen in its informer's cache.

A ReplicaSet controller that wants 3 Pods and sees 0 creates 3. If the key
comes back before the informer has delivered those 3 Pods (a resync, an
update of the ReplicaSet), the cache still shows 0, and a naive controller
creates 3 more. kube-controller-manager prevents this with
``ControllerExpectations`` (``pkg/controller/controller_utils.go``): before
creating N Pods the controller *expects* N creations; its Pod event handler
counts each one it *observes*; ``sync`` acts only when the expectations are
*satisfied* (all observed), or after they expire, in case a watch event was
lost forever. Deletions are tracked by Pod key
(``UIDTrackingControllerExpectations``), because a Pod deleted gracefully
is seen twice (an update setting ``deletionTimestamp``, then the delete)
and must be counted once.

    expectations.expect_creations("default/web", 3)
    expectations.satisfied_expectations("default/web")   # False: 3 creations still to be seen
    expectations.creation_observed("default/web")        # from the Pod informer's on_add, three times
    expectations.satisfied_expectations("default/web")   # True: sync may act again

Simplifications:
- Counters under one lock, not the atomic int64s in a client-go store.
- No ``RaiseExpectations`` (only the job controller of old used it).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from kitlib.clock import Clock, RealClock

log = logging.getLogger(__name__)

# ExpectationsTimeout: past this, a controller stops waiting for watch events
# that may never come, and syncs on what its cache shows.
EXPECTATIONS_TIMEOUT = 5 * 60.0


@dataclass
class ControlleeExpectations:
    """What one controller still expects: ``add`` creations and ``delete`` deletions, set at ``timestamp``."""

    add: int = 0
    delete: int = 0
    timestamp: float = 0.0
    deleted_keys: set[str] = field(default_factory=set)  # UID tracking: which Pods we expect to see go

    def fulfilled(self) -> bool:
        # Below zero is possible: a Pod created before its expectation was recorded, seen twice.
        return self.add <= 0 and self.delete <= 0


class ControllerExpectations:
    """kube's ``UIDTrackingControllerExpectations`` over ``ControllerExpectations``, keyed by controller key.

    Thread-safe: event handlers (the informer's thread) observe, workers
    expect and check. The TTL is measured on ``clock``.
    """

    def __init__(self, clock: Clock | None = None, timeout: float = EXPECTATIONS_TIMEOUT) -> None:
        self.clock = clock or RealClock()
        self.timeout = timeout
        self._lock = threading.Lock()
        self._store: dict[str, ControlleeExpectations] = {}

    def get(self, key: str) -> ControlleeExpectations | None:
        """A copy of the expectations recorded for ``key``, if any."""
        with self._lock:
            exp = self._store.get(key)
            if exp is None:
                return None
            return ControlleeExpectations(exp.add, exp.delete, exp.timestamp, set(exp.deleted_keys))

    def satisfied_expectations(self, key: str) -> bool:
        """Whether ``sync(key)`` may create or delete now (``SatisfiedExpectations``).

        True when nothing was ever expected (a new controller, or one whose
        expectations were deleted), when everything expected was observed,
        or when the expectations are older than the timeout.
        """
        with self._lock:
            exp = self._store.get(key)
            if exp is None:
                return True
            if exp.fulfilled():
                log.debug("controller expectations fulfilled for %s", key)
                return True
            if self.clock.now() - exp.timestamp > self.timeout:
                log.info("controller expectations for %s expired (add=%d, delete=%d): syncing anyway",
                         key, exp.add, exp.delete)
                return True
            log.debug("controller %s still waiting on expectations: add=%d, delete=%d", key, exp.add, exp.delete)
            return False

    def set_expectations(self, key: str, add: int, delete: int) -> None:
        with self._lock:
            self._store[key] = ControlleeExpectations(add, delete, self.clock.now())

    def expect_creations(self, key: str, adds: int) -> None:
        """About to create ``adds`` objects; replaces what was expected before."""
        self.set_expectations(key, adds, 0)

    def expect_deletions(self, key: str, deleted_keys: list[str]) -> None:
        """About to delete the objects with these ``"namespace/name"`` keys."""
        with self._lock:
            old = self._store.get(key)
            if old is not None and old.deleted_keys:
                log.warning("clobbering existing delete keys of %s: %s", key, sorted(old.deleted_keys))
            self._store[key] = ControlleeExpectations(0, len(set(deleted_keys)), self.clock.now(),
                                                      set(deleted_keys))

    def lower_expectations(self, key: str, add: int, delete: int) -> None:
        with self._lock:
            exp = self._store.get(key)
            if exp is not None:
                exp.add -= add
                exp.delete -= delete

    def creation_observed(self, key: str) -> None:
        """One expected creation was seen (or will never happen: a create that failed)."""
        self.lower_expectations(key, 1, 0)

    def deletion_observed(self, key: str, deleted_key: str) -> None:
        """The object ``deleted_key`` is gone; counted once, and only if we deleted it."""
        with self._lock:
            exp = self._store.get(key)
            if exp is not None and deleted_key in exp.deleted_keys:
                exp.deleted_keys.discard(deleted_key)
                exp.delete -= 1

    def delete_expectations(self, key: str) -> None:
        """Forget ``key`` (its controller object is gone)."""
        with self._lock:
            self._store.pop(key, None)
