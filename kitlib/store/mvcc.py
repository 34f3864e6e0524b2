"""Multi-version key space in memory: every key keeps its history by revision.

This is the part of etcd called ``mvcc``: a write never overwrites, it adds a
version of the key at a new revision, so the store can answer "what was
there at revision 42?" and replay every change since then to a watcher.
Compaction throws away history older than a revision to bound memory.

The class is not thread-safe: :class:`~kitlib.store.embedded.EmbeddedStore`
calls it with its lock held, and it never does I/O.

Simplifications:
- etcd keeps versions in a B-tree index over a bbolt file; here a sorted list
  of keys and, per key, a list of versions in memory.
- Changes made in one transaction share a revision and are ordered by their
  position in it (etcd's sub-revisions); after recovery from a snapshot, the
  changes of one revision come back in key order.
"""

from __future__ import annotations

import bisect
from base64 import b64decode, b64encode
from dataclasses import dataclass, field

from kitlib.store.errors import Compacted, FutureRevision
from kitlib.store.types import Event, EventType, KeyValue, RangeResult


@dataclass
class _History:
    """The retained versions of one key; ``None`` marks a deletion (a tombstone)."""

    revs: list[int] = field(default_factory=list)
    kvs: list[KeyValue | None] = field(default_factory=list)

    def latest(self) -> KeyValue | None:
        return self.kvs[-1] if self.kvs else None

    def at(self, revision: int) -> KeyValue | None:
        i = bisect.bisect_right(self.revs, revision) - 1
        return self.kvs[i] if i >= 0 else None


@dataclass(frozen=True)
class KeyRange:
    """``[start, end)``; ``end=None`` with ``single=False`` means "to the end of the key space"."""

    start: str
    end: str | None
    single: bool

    def contains(self, key: str) -> bool:
        if self.single:
            return key == self.start
        return key >= self.start and (self.end is None or key < self.end)


def key_range(key: str, range_end: str | None = None, prefix: bool = False) -> KeyRange:
    """Resolve etcd's ways of naming keys into one range."""
    from kitlib.store.types import prefix_end

    if prefix:
        return KeyRange(key, prefix_end(key), single=False)
    if range_end is None or range_end == "":
        return KeyRange(key, None, single=True)
    if range_end == "\0":  # etcd: "every key from key on"
        return KeyRange(key, None, single=False)
    return KeyRange(key, range_end, single=False)


class MVCC:
    """The versioned key space. Revisions start at 1, as in a fresh etcd."""

    def __init__(self) -> None:
        self.revision = 1
        self.compact_revision = 0
        self._keys: list[str] = []  # sorted; every key with retained history
        self._history: dict[str, _History] = {}
        # Every change after compact_revision, in order, with prev_kv filled:
        # what a watcher that starts in the past is replayed.
        self._events: list[Event] = []
        self._event_revs: list[int] = []

    # -- reads -------------------------------------------------------------

    def check_revision(self, revision: int) -> int:
        """Map ``0`` to now and refuse revisions that are compacted or in the future."""
        if revision <= 0:
            return self.revision
        if revision > self.revision:
            raise FutureRevision(revision, self.revision)
        if revision < self.compact_revision:
            raise Compacted(revision, self.compact_revision)
        return revision

    def current(self, key: str) -> KeyValue | None:
        history = self._history.get(key)
        return history.latest() if history else None

    def _keys_in(self, kr: KeyRange) -> list[str]:
        if kr.single:
            return [kr.start] if kr.start in self._history else []
        lo = bisect.bisect_left(self._keys, kr.start)
        hi = len(self._keys) if kr.end is None else bisect.bisect_left(self._keys, kr.end)
        return self._keys[lo:hi]

    def range(
        self,
        kr: KeyRange,
        revision: int = 0,
        limit: int = 0,
        count_only: bool = False,
        keys_only: bool = False,
    ) -> RangeResult:
        at = self.check_revision(revision)
        found: list[KeyValue] = []
        count = 0
        for key in self._keys_in(kr):
            history = self._history[key]
            kv = history.latest() if at == self.revision else history.at(at)
            if kv is None:
                continue
            count += 1
            if count_only or (limit > 0 and len(found) >= limit):
                continue
            if keys_only:
                kv = KeyValue(kv.key, b"", kv.create_revision, kv.mod_revision, kv.version, kv.lease)
            found.append(kv)
        # etcd derives "more" from the keys it returns, so count_only never has more.
        more = limit > 0 and not count_only and count > len(found)
        return RangeResult(kvs=found, count=count, more=more, revision=self.revision)

    def events_since(self, revision: int, kr: KeyRange, upto: int) -> list[Event]:
        """Changes to keys in ``kr`` with ``revision <= rev <= upto``, oldest first."""
        if revision < self.compact_revision:
            raise Compacted(revision, self.compact_revision)
        lo = bisect.bisect_left(self._event_revs, revision)
        hi = bisect.bisect_right(self._event_revs, upto)
        return [ev for ev in self._events[lo:hi] if kr.contains(ev.kv.key)]

    def keys(self) -> list[str]:
        """Keys that exist now (not deleted)."""
        return [k for k in self._keys if self._history[k].latest() is not None]

    # -- writes (the caller has checked everything; these cannot fail) -----

    def put(self, key: str, value: bytes, revision: int, lease: int = 0) -> Event:
        history = self._history.get(key)
        if history is None:
            history = self._history[key] = _History()
            bisect.insort(self._keys, key)
        prev = history.latest()
        if prev is None:
            kv = KeyValue(key, value, revision, revision, 1, lease)
        else:
            kv = KeyValue(key, value, prev.create_revision, revision, prev.version + 1, lease)
        self._record(history, revision, kv)
        event = Event(EventType.PUT, kv, prev)
        self._add_event(event)
        return event

    def delete(self, key: str, revision: int) -> Event | None:
        history = self._history.get(key)
        prev = history.latest() if history else None
        if history is None or prev is None:
            return None
        self._record(history, revision, None)
        # etcd reports a deletion as the key at the deleting revision, empty, version 0.
        event = Event(EventType.DELETE, KeyValue(key, b"", 0, revision, 0, 0), prev)
        self._add_event(event)
        return event

    def _record(self, history: _History, revision: int, kv: KeyValue | None) -> None:
        if history.revs and history.revs[-1] == revision:
            # Cannot happen through txn (duplicate keys are refused), but
            # recovery must be idempotent if a record is applied twice.
            history.kvs[-1] = kv
        else:
            history.revs.append(revision)
            history.kvs.append(kv)

    def _add_event(self, event: Event) -> None:
        self._events.append(event)
        self._event_revs.append(event.revision)

    def compact(self, revision: int) -> None:
        """Forget history before ``revision``; the state at ``revision`` stays readable."""
        if revision <= self.compact_revision:
            raise Compacted(revision, self.compact_revision)
        if revision > self.revision:
            raise FutureRevision(revision, self.revision)
        self.compact_revision = revision
        for key in list(self._history):
            history = self._history[key]
            # Keep the newest version at or before the compaction point (it is
            # the key's value at that revision) unless it is a deletion.
            i = bisect.bisect_right(history.revs, revision) - 1
            if i < 0:
                continue
            keep_from = i if history.kvs[i] is not None else i + 1
            del history.revs[:keep_from]
            del history.kvs[:keep_from]
            if not history.revs:
                del self._history[key]
        self._keys = sorted(self._history)
        cut = bisect.bisect_left(self._event_revs, revision)
        del self._events[:cut]
        del self._event_revs[:cut]
        # What stays replayable at the compaction revision itself is what etcd
        # keeps: a put made at it, without the older version it replaced, and
        # no deletion (the tombstone was just dropped).
        at = bisect.bisect_right(self._event_revs, revision)
        kept = [Event(e.type, e.kv) for e in self._events[:at] if e.type == EventType.PUT]
        self._events[:at] = kept
        self._event_revs[:at] = [e.revision for e in kept]

    # -- snapshots ---------------------------------------------------------

    def dump(self) -> dict:
        """Everything needed to rebuild this key space (see :meth:`load`)."""
        return self.encode(self.copy())

    def copy(self) -> tuple[int, int, list[tuple[str, list[int], list[KeyValue | None]]]]:
        """A consistent copy, cheap to take under the store's lock.

        Versions are immutable, so copying the lists that hold them is
        enough; :meth:`encode` then does the slow part without the lock.
        """
        histories = [(key, h.revs.copy(), h.kvs.copy()) for key, h in self._history.items()]
        return self.revision, self.compact_revision, histories

    @staticmethod
    def encode(copy: tuple[int, int, list[tuple[str, list[int], list[KeyValue | None]]]]) -> dict:
        """A copy from :meth:`copy` as the JSON-ready state :meth:`load` reads."""
        revision, compact_revision, histories = copy
        keys = {}
        for key, revs, kvs in histories:
            keys[key] = [
                [rev, None] if kv is None else [rev, kv.create_revision, kv.version, kv.lease, b64encode(kv.value).decode()]
                for rev, kv in zip(revs, kvs)
            ]
        return {"revision": revision, "compact_revision": compact_revision, "keys": keys}

    @classmethod
    def load(cls, state: dict) -> "MVCC":
        mvcc = cls()
        mvcc.revision = state["revision"]
        mvcc.compact_revision = state["compact_revision"]
        events: list[tuple[int, str, Event]] = []
        for key, versions in state["keys"].items():
            history = _History()
            prev: KeyValue | None = None
            for entry in versions:
                rev = entry[0]
                if entry[1] is None:
                    kv = None
                    if prev is not None:
                        events.append((rev, key, Event(EventType.DELETE, KeyValue(key, b"", 0, rev, 0, 0), prev)))
                else:
                    kv = KeyValue(key, b64decode(entry[4]), entry[1], rev, entry[2], entry[3])
                    events.append((rev, key, Event(EventType.PUT, kv, prev)))
                history.revs.append(rev)
                history.kvs.append(kv)
                prev = kv
            mvcc._history[key] = history
        mvcc._keys = sorted(mvcc._history)
        events.sort(key=lambda item: (item[0], item[1]))
        # The oldest retained version of a key may predate the compaction
        # point; it is state, not a replayable change.
        for rev, _key, event in events:
            if rev >= mvcc.compact_revision:
                mvcc._add_event(event)
        return mvcc
