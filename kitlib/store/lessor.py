"""The lessor: leases, their TTLs and the keys attached to them, as etcd's ``lease.Lessor``.

A lease is a promise that runs out: a key put with a lease is deleted when
the lease's TTL passes without a keep-alive, or when the lease is revoked.
kube-apiserver stores every Event under a lease (``--event-ttl``, an hour
by default) so that Events expire on their own. The lessor keeps the table
behind it: for each lease its TTL, its expiry on the store's clock, and the
keys attached to it.

It holds no lock and runs no thread. Lock rule: the embedded store
(:class:`~kitlib.store.embedded.EmbeddedStore`) calls it only while holding
its own lock, and does the rest itself: it logs grants and revocations in
its write-ahead log, deletes a revoked lease's keys, and runs the thread
that revokes expired leases. Time is the injected clock's, so a
:class:`~kitlib.clock.FakeClock` decides when a lease expires.

Simplifications:
- Lease IDs come from the store's random generator; on restart every lease
  gets its full TTL again (etcd does the same when a new leader takes over).
"""

from __future__ import annotations

import random

from kitlib.clock import Clock
from kitlib.store.errors import LeaseNotFound
from kitlib.store.types import Lease, LeaseInfo

# The shortest lease etcd grants with its default election timeout.
MIN_LEASE_TTL = 2


class _Lease:
    __slots__ = ("id", "ttl", "expiry", "keys")

    def __init__(self, lease_id: int, ttl: int, expiry: float) -> None:
        self.id = lease_id
        self.ttl = ttl
        self.expiry = expiry
        self.keys: set[str] = set()


class Lessor:
    """Every lease: its TTL, when it expires on ``clock``, and its keys (etcd's ``lessor``).

    Not thread-safe: its owner calls it under the owner's lock (see the
    module's docstring). Nothing here is durable; the owner logs what must
    survive a restart and rebuilds the table with :meth:`restore`,
    :meth:`forget` and :meth:`promote`.
    """

    def __init__(self, clock: Clock, rng: random.Random) -> None:
        self.clock = clock
        self._rng = rng
        self._leases: dict[int, _Lease] = {}

    def __contains__(self, lease_id: object) -> bool:
        return lease_id in self._leases

    # -- the lease calls -----------------------------------------------------

    def grant(self, ttl: int) -> Lease:
        """A new lease of ``ttl`` seconds (at least :data:`MIN_LEASE_TTL`), expiring ``ttl`` from now."""
        # etcd raises short TTLs to its minimum (1.5 election timeouts, 2 s
        # with default settings), so a lease cannot expire between heartbeats.
        ttl = max(int(ttl), MIN_LEASE_TTL)
        lease_id = self._rng.getrandbits(62) or 1
        while lease_id in self._leases:
            lease_id = self._rng.getrandbits(62) or 1
        self._leases[lease_id] = _Lease(lease_id, int(ttl), self.clock.now() + ttl)
        return Lease(lease_id, int(ttl))

    def renew(self, lease_id: int) -> int:
        """Restart the lease's TTL from now and return it; :class:`LeaseNotFound` if it is gone or expired."""
        lease = self._leases.get(lease_id)
        if lease is None or lease.expiry <= self.clock.now():
            # An expired lease is not renewed, even if the store has not
            # revoked it yet: its keys are already as good as gone.
            raise LeaseNotFound(lease_id)
        lease.expiry = self.clock.now() + lease.ttl
        return lease.ttl

    def time_to_live(self, lease_id: int) -> LeaseInfo:
        lease = self._leases.get(lease_id)
        if lease is None:
            raise LeaseNotFound(lease_id)
        # Whole seconds left, rounded down as etcd reports them.
        remaining = max(0, int(lease.expiry - self.clock.now()))
        return LeaseInfo(lease_id, remaining, lease.ttl, sorted(lease.keys))

    def revoke(self, lease_id: int) -> list[str]:
        """Drop the lease; return its keys, sorted, for the caller to delete."""
        lease = self._leases.pop(lease_id, None)
        if lease is None:
            raise LeaseNotFound(lease_id)
        return sorted(lease.keys)

    def expired(self) -> list[int]:
        """The IDs of the leases whose TTL has run out on the clock (still held until revoked)."""
        now = self.clock.now()
        return [lease.id for lease in self._leases.values() if lease.expiry <= now]

    # -- keys ----------------------------------------------------------------

    def attach(self, key: str, old_lease: int, new_lease: int) -> None:
        """``key`` moved from ``old_lease`` to ``new_lease`` (0: none); ``new_lease`` must exist."""
        if old_lease and old_lease in self._leases:
            self._leases[old_lease].keys.discard(key)
        if new_lease:
            self._leases[new_lease].keys.add(key)

    # -- snapshots and recovery ----------------------------------------------

    def snapshot(self) -> list[list[int]]:
        """``[id, ttl]`` for every lease: what a snapshot keeps (expiries restart at :meth:`promote`)."""
        return [[lease.id, lease.ttl] for lease in self._leases.values()]

    def restore(self, lease_id: int, ttl: int) -> None:
        """Recreate a lease read from a snapshot or a replayed grant; :meth:`promote` sets its expiry."""
        self._leases[lease_id] = _Lease(lease_id, ttl, 0.0)

    def forget(self, lease_id: int) -> None:
        """Drop a lease a replayed record revoked (an unknown one is fine)."""
        self._leases.pop(lease_id, None)

    def promote(self) -> None:
        """Give every lease its full TTL from now (etcd's ``Promote``, when a member becomes leader)."""
        now = self.clock.now()
        for lease in self._leases.values():
            lease.expiry = now + lease.ttl
