"""The store's vocabulary and its one contract, shared by every backend.

These shapes follow etcd's v3 API (``mvccpb.KeyValue``, ``RangeResponse``,
``TxnRequest``...) so that what a reader learns here reads the same in etcd's
documentation. Keys are text (Kubernetes keys look like
``/registry/pods/default/web-0``); values are bytes (the API server stores
JSON). Revisions are the store's logical clock: every write transaction
advances the revision by exactly one, and every key remembers the revision
that created it, the one that last modified it, and how many times it was
modified since it was created (its version).

Simplifications:
- Keys are UTF-8 text, not arbitrary bytes.
- A transaction's comparisons and operations each name one key or a prefix;
  etcd's comparisons over a whole key range are not offered.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Iterator, NamedTuple, Protocol, Union

Value = Union[bytes, str]


def as_bytes(value: Value) -> bytes:
    """Values are bytes; text is accepted for convenience and stored as UTF-8."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"a value must be bytes or str, not {type(value).__name__}")


def prefix_end(prefix: str) -> str | None:
    """The first key after every key that starts with ``prefix`` (etcd's ``GetPrefixRangeEnd``).

    ``None`` means "to the end of the key space" (the empty prefix).
    """
    if prefix == "":
        return None
    # Increment the last character that can be incremented; like etcd, which
    # does the same on bytes. Text keys never contain U+10FFFF in practice.
    chars = list(prefix)
    while chars:
        last = ord(chars[-1])
        if last < 0x10FFFF:
            chars[-1] = chr(last + 1)
            return "".join(chars)
        chars.pop()
    return None


class KeyValue(NamedTuple):
    """One key at one revision, as etcd's ``mvccpb.KeyValue``.

    Immutable, and a named tuple rather than a frozen dataclass because the
    store makes one per write and a tuple is several times cheaper to build.
    """

    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int = 0

    @property
    def text(self) -> str:
        """The value decoded as UTF-8 (most values in the kit are JSON)."""
        return self.value.decode("utf-8")


class EventType(str, enum.Enum):
    PUT = "PUT"
    DELETE = "DELETE"


class Event(NamedTuple):
    """A change seen by a watcher.

    For a DELETE, ``kv`` holds the key with ``mod_revision`` set to the
    deleting revision, an empty value and version 0, as etcd reports it.
    ``prev_kv`` is filled only when the watch asked for it.
    """

    type: EventType
    kv: KeyValue
    prev_kv: KeyValue | None = None

    @property
    def revision(self) -> int:
        return self.kv.mod_revision


@dataclass(frozen=True)
class RangeResult:
    """The answer to a read: the keys, how many matched, and the store's revision."""

    kvs: list[KeyValue]
    count: int
    more: bool
    revision: int

    def __iter__(self) -> Iterator[KeyValue]:
        return iter(self.kvs)

    def __len__(self) -> int:
        return len(self.kvs)


class PutResult(NamedTuple):
    revision: int
    prev_kv: KeyValue | None = None


@dataclass(frozen=True)
class DeleteResult:
    revision: int
    deleted: int
    prev_kvs: list[KeyValue] = field(default_factory=list)


CompareTarget = str  # "value" | "version" | "create_revision" | "mod_revision" | "lease"
_TARGETS = ("value", "version", "create_revision", "mod_revision", "lease")
_OPS = ("=", "!=", "<", ">")


@dataclass(frozen=True)
class Compare:
    """One condition of a transaction, evaluated against the current state.

    A key that does not exist has version, create_revision, mod_revision and
    lease 0, so ``Compare.mod_revision(k, "=", 0)`` means "k does not exist".
    A value comparison on a missing key is always false (as in etcd).
    """

    key: str
    target: CompareTarget
    op: str
    operand: int | bytes

    def __post_init__(self) -> None:
        if self.target not in _TARGETS:
            raise ValueError(f"compare target must be one of {_TARGETS}, not {self.target!r}")
        if self.op not in _OPS:
            raise ValueError(f"compare operator must be one of {_OPS}, not {self.op!r}")

    @classmethod
    def value(cls, key: str, op: str, value: Value) -> "Compare":
        return cls(key, "value", op, as_bytes(value))

    @classmethod
    def version(cls, key: str, op: str, version: int) -> "Compare":
        return cls(key, "version", op, int(version))

    @classmethod
    def create_revision(cls, key: str, op: str, revision: int) -> "Compare":
        return cls(key, "create_revision", op, int(revision))

    @classmethod
    def mod_revision(cls, key: str, op: str, revision: int) -> "Compare":
        return cls(key, "mod_revision", op, int(revision))

    @classmethod
    def lease(cls, key: str, op: str, lease_id: int) -> "Compare":
        return cls(key, "lease", op, int(lease_id))

    def holds(self, kv: KeyValue | None) -> bool:
        """Evaluate against the key's current state (``None``: the key is absent)."""
        if self.target == "value":
            if kv is None:
                return False
            actual: int | bytes = kv.value
        elif kv is None:
            actual = 0
        else:
            actual = getattr(kv, self.target)
        operand = self.operand
        if self.op == "=":
            return actual == operand
        if self.op == "!=":
            return actual != operand
        if self.op == "<":
            return actual < operand  # type: ignore[operator]
        return actual > operand  # type: ignore[operator]


@dataclass(frozen=True)
class Op:
    """One operation inside a transaction: put, delete or range."""

    kind: str  # "put" | "delete" | "range"
    key: str
    value: bytes = b""
    lease: int = 0
    prefix: bool = False
    prev_kv: bool = False
    limit: int = 0
    range_end: str | None = None

    @classmethod
    def put(cls, key: str, value: Value, *, lease: int = 0, prev_kv: bool = False) -> "Op":
        return cls("put", key, as_bytes(value), lease=lease, prev_kv=prev_kv)

    @classmethod
    def delete(cls, key: str, range_end: str | None = None, *, prefix: bool = False, prev_kv: bool = False) -> "Op":
        return cls("delete", key, prefix=prefix, prev_kv=prev_kv, range_end=range_end)

    @classmethod
    def range(cls, key: str, range_end: str | None = None, *, prefix: bool = False, limit: int = 0) -> "Op":
        return cls("range", key, prefix=prefix, limit=limit, range_end=range_end)


OpResult = Union[RangeResult, PutResult, DeleteResult]


@dataclass(frozen=True)
class TxnResult:
    """Which branch ran, each operation's result in order, and the revision after it."""

    succeeded: bool
    responses: list[OpResult]
    revision: int


@dataclass(frozen=True)
class Lease:
    """A granted lease: keys attached to it vanish when it expires."""

    id: int
    ttl: int


@dataclass(frozen=True)
class LeaseInfo:
    """What ``lease_time_to_live`` reports: remaining and granted TTL, attached keys."""

    id: int
    ttl: int
    granted_ttl: int
    keys: list[str]


class Watch(Protocol):
    """A stream of events for a key or a prefix, in revision order.

    ``get`` returns the next event, or ``None`` when ``timeout`` seconds pass
    without one; it raises :class:`~kitlib.store.errors.Compacted` when the
    watch started before the last compaction. Iterating yields events until
    the watch is cancelled. Always ``cancel()`` (or use ``with``).
    """

    def get(self, timeout: float | None = None) -> Event | None: ...

    def cancel(self) -> None: ...

    def __iter__(self) -> Iterator[Event]: ...

    def __enter__(self) -> "Watch": ...

    def __exit__(self, *exc: object) -> None: ...


class Store(Protocol):
    """The contract every backend keeps (the embedded store and real etcd).

    ``range_end`` selects keys in ``[key, range_end)``; ``prefix=True``
    selects every key starting with ``key``. ``revision=0`` means "now".
    """

    @property
    def revision(self) -> int:
        """The current revision (the last write's)."""

    def put(self, key: str, value: Value, *, lease: int = 0, prev_kv: bool = False) -> PutResult: ...

    def get(self, key: str, *, revision: int = 0) -> KeyValue | None: ...

    def range(
        self,
        key: str,
        range_end: str | None = None,
        *,
        prefix: bool = False,
        revision: int = 0,
        limit: int = 0,
        count_only: bool = False,
        keys_only: bool = False,
    ) -> RangeResult: ...

    def delete(
        self, key: str, range_end: str | None = None, *, prefix: bool = False, prev_kv: bool = False
    ) -> DeleteResult: ...

    def txn(self, compare: list[Compare], success: list[Op], failure: list[Op] | None = None) -> TxnResult: ...

    def watch(
        self,
        key: str,
        range_end: str | None = None,
        *,
        prefix: bool = False,
        start_revision: int = 0,
        prev_kv: bool = False,
    ) -> Watch: ...

    def compact(self, revision: int) -> None: ...

    def lease_grant(self, ttl: int) -> Lease: ...

    def lease_keepalive(self, lease_id: int) -> int: ...

    def lease_revoke(self, lease_id: int) -> None: ...

    def lease_time_to_live(self, lease_id: int) -> LeaseInfo: ...

    def close(self) -> None: ...
