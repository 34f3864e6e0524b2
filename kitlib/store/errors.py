"""Errors the store raises, mirroring etcd's (``mvcc: required revision has been compacted``...).

Simplifications:
- etcd answers with gRPC status codes; here each error is a Python class
  carrying etcd's message, and the etcd backend maps the codes it meets to them.
"""

from __future__ import annotations

from kitlib.errors import KitError


class StoreError(KitError):
    """Root of the store's errors."""


class Compacted(StoreError):
    """The revision asked for is older than the last compaction: its history is gone.

    A watcher that gets this must list again (a fresh read) and watch from the
    revision that list returned, exactly as a Kubernetes informer re-lists
    after ``410 Gone``.
    """

    def __init__(self, requested: int, compact_revision: int) -> None:
        self.requested = requested
        self.compact_revision = compact_revision
        super().__init__(
            f"revision {requested} has been compacted (history is kept from revision "
            f"{compact_revision} on): read the current state again and watch from its revision"
        )


class FutureRevision(StoreError):
    """The revision asked for has not happened yet."""

    def __init__(self, requested: int, current: int) -> None:
        self.requested = requested
        self.current = current
        super().__init__(f"revision {requested} is in the future (the store is at {current})")


class LeaseNotFound(StoreError):
    """The lease does not exist: never granted, revoked, or expired."""

    def __init__(self, lease_id: int) -> None:
        self.lease_id = lease_id
        super().__init__(f"lease {lease_id:x} not found (it expired or was revoked): grant a new one")


class DuplicateKey(StoreError):
    """A transaction writes the same key twice, which etcd forbids."""


class StoreClosed(StoreError):
    """The store was closed; open it again."""


class StoreUnavailable(StoreError):
    """The store's server cannot be reached (for the etcd backend)."""


class StoreCorrupted(StoreError):
    """The data directory is damaged beyond the torn last record recovery repairs."""
