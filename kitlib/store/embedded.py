"""The embedded store: etcd's semantics in this process, durable on local disk.

It answers the same calls as a real etcd server (see
:class:`~kitlib.store.types.Store`), keeping the key space in memory
(:mod:`kitlib.store.mvcc`) and every change in a write-ahead log with
snapshots (:mod:`kitlib.store.wal`). A write is acknowledged, and shown to
watchers, only once its log record is on disk. Without a directory it keeps
everything in memory, for simulations and quick experiments.

How a write travels: under the store's lock the transaction's comparisons are
evaluated, its changes applied to the key space at the next revision and its
record appended to the log; then, without the lock, the writer waits for the
group commit that puts its record on disk; the thread that did that flush
hands the new events to the watchers, in revision order.

Leases live beside the keys, in a :class:`~kitlib.store.lessor.Lessor`: a key
put with a lease is deleted when the lease expires (its keep-alives stopped)
or is revoked. A background thread checks expiry on the store's clock, so a
:class:`~kitlib.clock.FakeClock` drives it in tests and simulations.

Simplifications:
- One node, no raft: etcd replicates each record to a majority of its members
  before applying it; here the record is only made durable on one disk.
- A read may see a write a moment before that write is durable (the write is
  applied in memory first); if the process dies in that moment, the write
  was never acknowledged and is gone after recovery, though a reader saw it.
  etcd applies a write only after it is committed.
- The leases' own simplifications are listed in :mod:`kitlib.store.lessor`.
"""

from __future__ import annotations

import logging
import random
import threading
from base64 import b64decode
from collections import deque
from pathlib import Path

from kitlib.clock import Clock, RealClock
from kitlib.store.errors import DuplicateKey, LeaseNotFound, StoreClosed, StoreError
from kitlib.store.lessor import Lessor
from kitlib.store.mvcc import MVCC, KeyRange, key_range
from kitlib.store.types import (
    Compare,
    DeleteResult,
    Event,
    KeyValue,
    Lease,
    LeaseInfo,
    Op,
    OpResult,
    PutResult,
    RangeResult,
    TxnResult,
    Value,
    as_bytes,
)
from kitlib.store.wal import WAL, DataDir, _fsync_dir, compact_op, del_op, grant_op, put_op, revoke_op
from kitlib.store.watch import QueuedWatch

log = logging.getLogger(__name__)

# How often the lessor looks for expired leases (etcd checks every 500 ms).
LEASE_CHECK_INTERVAL = 0.25
# Take a snapshot and start a new log segment after this many records, so
# recovery replays a bounded log. etcd's --snapshot-count defaults to the
# same; a snapshot holds all uncompacted history and stops writers while it
# is written, so taking them much more often costs more than it saves.
DEFAULT_SNAPSHOT_EVERY = 100_000


class EmbeddedWatch(QueuedWatch):
    """One watcher's stream of events (see :class:`~kitlib.store.types.Watch`)."""

    def __init__(self, store: "EmbeddedStore", kr: KeyRange, start: int, prev_kv: bool) -> None:
        super().__init__()
        self._store = store
        self.key_range = kr
        self.start = start
        self.prev_kv = prev_kv

    def _deliver(self, event: Event) -> None:
        if event.revision >= self.start and self.key_range.contains(event.kv.key):
            self._put(event if self.prev_kv else Event(event.type, event.kv))

    def _fail(self, err: BaseException) -> None:
        self._put(err)

    def _stop(self) -> None:
        self._store._unregister(self)


class EmbeddedStore:
    """etcd v3 semantics in process; durable in ``data_dir`` (``None``: memory only)."""

    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        fsync: bool = True,
        snapshot_every: int = DEFAULT_SNAPSHOT_EVERY,
        lessor: bool = True,
    ) -> None:
        self.clock = clock or RealClock()
        self._rng = rng or random.Random()
        self._fsync = fsync
        self.snapshot_every = snapshot_every
        self._lock = threading.RLock()
        self._snapshot_lock = threading.Lock()  # held for a whole snapshot (see snapshot())
        self._watch_lock = threading.Lock()
        self._watchers: set[EmbeddedWatch] = set()
        self._lessor = Lessor(self.clock, self._rng)  # the leases; used under self._lock
        # (sequence number, events) appended in revision order, delivered to
        # watchers once the sequence number is durable.
        self._undelivered: deque[tuple[int, list[Event]]] = deque()
        self._delivered_revision = 1
        self._records_since_snapshot = 0
        self._closed = False

        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.torn_bytes = 0  # bytes of a torn last record that recovery cut off
        self._dir: DataDir | None = None
        if self.data_dir is None:
            self._mvcc = MVCC()
            self._wal = WAL(None, on_durable=self._deliver_upto)
        else:
            self._dir = DataDir(self.data_dir)
            try:
                self._recover()
            except BaseException:
                self._dir.release()
                raise
        self._delivered_revision = self._mvcc.revision

        self._stop = threading.Event()
        self._lessor_thread: threading.Thread | None = None
        if lessor:
            self._lessor_thread = threading.Thread(target=self._run_lessor, name="kit-store-lessor", daemon=True)
            self._lessor_thread.start()

    # -- recovery ------------------------------------------------------------

    def _recover(self) -> None:
        assert self._dir is not None
        state = self._dir.load_snapshot()
        if state is None:
            self._mvcc = MVCC()
        else:
            self._mvcc = MVCC.load(state["mvcc"])
            for lease_id, ttl in state["leases"]:
                self._lessor.restore(lease_id, ttl)
        snapshot_revision = self._mvcc.revision
        replay = self._dir.replay()
        self.torn_bytes = replay.torn_bytes
        for record in replay.records:
            # A crash between writing a snapshot and removing the old log
            # leaves records the snapshot already holds: their key changes
            # are skipped, their lease changes replayed in order (harmless).
            self._replay(record, keys=state is None or record["rev"] > snapshot_revision)
        self._lessor.promote()
        for key in self._mvcc.keys():
            kv = self._mvcc.current(key)
            if kv is not None and kv.lease in self._lessor:
                self._lessor.attach(key, 0, kv.lease)
        if replay.last_segment is None:
            self._wal = WAL(self._dir.segment_path(self._mvcc.revision + 1), fsync=self._fsync, on_durable=self._deliver_upto)
        else:
            self._wal = WAL(replay.last_segment, offset=replay.end, fsync=self._fsync, on_durable=self._deliver_upto)
        _fsync_dir(self._dir.path)
        self._records_since_snapshot = len(replay.records)
        log.info("recovered %s at revision %d (%d log records replayed)", self._dir.path, self._mvcc.revision, len(replay.records))

    def _replay(self, record: dict, keys: bool = True) -> None:
        revision = record["rev"]
        for op in record["ops"]:
            kind = op[0]
            if kind == "put" and keys:
                self._mvcc.put(op[1], b64decode(op[2]), revision, op[3])
            elif kind == "del" and keys:
                self._mvcc.delete(op[1], revision)
            elif kind == "grant":
                self._lessor.restore(op[1], op[2])
            elif kind == "revoke":
                self._lessor.forget(op[1])
            elif kind == "compact":
                if op[1] > self._mvcc.compact_revision:
                    self._mvcc.compact(op[1])
        self._mvcc.revision = max(self._mvcc.revision, revision)

    # -- the write path ------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed("the store is closed; open it again")

    def _commit(self, ops: list[str], events: list[Event]) -> int:
        """Log a change (lock held) and return its sequence number to wait on."""
        seq = self._wal.append(self._mvcc.revision, ops)
        self._undelivered.append((seq, events))
        self._records_since_snapshot += 1
        return seq

    def _after_commit(self, seq: int) -> None:
        """Wait (lock released) until the change is durable; snapshot if due."""
        self._wal.wait_durable(seq)
        if self._dir is not None and self._records_since_snapshot >= self.snapshot_every:
            # One snapshot at a time; a writer that finds one under way goes on.
            if self._snapshot_lock.acquire(blocking=False):
                try:
                    if self._records_since_snapshot >= self.snapshot_every and not self._closed:
                        self._snapshot()
                finally:
                    self._snapshot_lock.release()

    def _deliver_upto(self, seq: int) -> None:
        # Runs in the one thread that just made records up to ``seq`` durable.
        with self._watch_lock:
            while self._undelivered and self._undelivered[0][0] <= seq:
                _, events = self._undelivered.popleft()
                for event in events:
                    for watcher in self._watchers:
                        watcher._deliver(event)
                if events:
                    self._delivered_revision = events[-1].revision

    def _apply(self, op: Op, revision: int, log_ops: list[str], events: list[Event]) -> OpResult:
        if op.kind == "range":
            # A read reports the revision it saw: the new one only if this
            # transaction already wrote something before it (as etcd does).
            result = self._mvcc.range(key_range(op.key, op.range_end, op.prefix), limit=op.limit)
            return RangeResult(result.kvs, result.count, result.more, revision if log_ops else revision - 1)
        if op.kind == "put":
            prev = self._apply_put(op.key, op.value, op.lease, revision, log_ops, events)
            return PutResult(revision, prev if op.prev_kv else None)
        kr = key_range(op.key, op.range_end, op.prefix)
        deleted = []
        for key in list(self._mvcc._keys_in(kr)):
            event = self._mvcc.delete(key, revision)
            if event is None:
                continue
            assert event.prev_kv is not None
            self._lessor.attach(key, event.prev_kv.lease, 0)
            log_ops.append(del_op(key))
            events.append(event)
            deleted.append(event.prev_kv)
        return DeleteResult(revision, len(deleted), deleted if op.prev_kv else [])

    def _apply_put(self, key: str, value: bytes, lease: int, revision: int, log_ops: list[str], events: list[Event]) -> KeyValue | None:
        """Put ``key`` at ``revision`` (lock held); return the version it replaced."""
        prev = self._mvcc.current(key)
        events.append(self._mvcc.put(key, value, revision, lease))
        self._lessor.attach(key, prev.lease if prev else 0, lease)
        log_ops.append(put_op(key, value, lease))
        return prev

    def _check_ops(self, ops: list[Op]) -> None:
        # etcd refuses a transaction that writes one key twice, because the
        # order of two changes at one revision would be ambiguous.
        for op in ops:
            if op.key == "" and not op.prefix and op.range_end is None:
                raise ValueError("a key must not be empty (etcd has no empty key); the empty prefix means every key")
        puts = [op.key for op in ops if op.kind == "put"]
        if len(set(puts)) != len(puts):
            raise DuplicateKey("duplicate key given in txn request: a transaction may write each key once")
        for op in ops:
            if op.kind == "delete":
                kr = key_range(op.key, prefix=op.prefix)
                if any(kr.contains(key) for key in puts):
                    raise DuplicateKey("duplicate key given in txn request: a key is both put and deleted")

    def _check_leases(self, ops: list[Op]) -> None:
        # Only the branch that runs needs its leases to exist (as in etcd).
        for op in ops:
            if op.kind == "put" and op.lease and op.lease not in self._lessor:
                raise LeaseNotFound(op.lease)

    def txn(self, compare: list[Compare], success: list[Op], failure: list[Op] | None = None) -> TxnResult:
        failure = failure or []
        with self._lock:
            self._check_open()
            self._check_ops(success)
            self._check_ops(failure)
            succeeded = all(c.holds(self._mvcc.current(c.key)) for c in compare)
            branch = success if succeeded else failure
            self._check_leases(branch)
            revision = self._mvcc.revision + 1
            log_ops: list[str] = []
            events: list[Event] = []
            responses = [self._apply(op, revision, log_ops, events) for op in branch]
            if not log_ops:  # nothing changed: no new revision, nothing to log
                return TxnResult(succeeded, responses, self._mvcc.revision)
            self._mvcc.revision = revision
            seq = self._commit(log_ops, events)
        self._after_commit(seq)
        return TxnResult(succeeded, responses, revision)

    # -- the Store contract --------------------------------------------------

    @property
    def revision(self) -> int:
        with self._lock:
            return self._mvcc.revision

    @property
    def compact_revision(self) -> int:
        with self._lock:
            return self._mvcc.compact_revision

    def put(self, key: str, value: Value, *, lease: int = 0, prev_kv: bool = False) -> PutResult:
        # The same as txn([], [Op.put(...)]), without building the
        # transaction: a plain put is the commonest write by far.
        if key == "":
            raise ValueError("a key must not be empty (etcd has no empty key); the empty prefix means every key")
        value = as_bytes(value)
        log_ops: list[str] = []
        events: list[Event] = []
        with self._lock:
            self._check_open()
            self._check_leases([Op.put(key, value, lease=lease)] if lease else [])
            revision = self._mvcc.revision + 1
            prev = self._apply_put(key, value, lease, revision, log_ops, events)
            self._mvcc.revision = revision
            seq = self._commit(log_ops, events)
        self._after_commit(seq)
        return PutResult(revision, prev if prev_kv else None)

    def get(self, key: str, *, revision: int = 0) -> KeyValue | None:
        result = self.range(key, revision=revision)
        return result.kvs[0] if result.kvs else None

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
    ) -> RangeResult:
        kr = key_range(key, range_end, prefix)
        if kr.single and key == "":
            raise ValueError("a key must not be empty (etcd has no empty key); the empty prefix means every key")
        with self._lock:
            self._check_open()
            return self._mvcc.range(kr, revision, limit, count_only, keys_only)

    def delete(self, key: str, range_end: str | None = None, *, prefix: bool = False, prev_kv: bool = False) -> DeleteResult:
        result = self.txn([], [Op.delete(key, range_end, prefix=prefix, prev_kv=prev_kv)])
        response: DeleteResult = result.responses[0]  # type: ignore[assignment]
        return DeleteResult(result.revision, response.deleted, response.prev_kvs)

    def watch(
        self,
        key: str,
        range_end: str | None = None,
        *,
        prefix: bool = False,
        start_revision: int = 0,
        prev_kv: bool = False,
    ) -> EmbeddedWatch:
        kr = key_range(key, range_end, prefix)
        if kr.single and key == "":
            raise ValueError("a key must not be empty (etcd has no empty key); the empty prefix means every key")
        # The watch lock keeps deliveries out while the watcher replays
        # history and registers, so it sees every event exactly once.
        # Lock order, everywhere: the store's lock, then the watch lock.
        with self._lock, self._watch_lock:
            self._check_open()
            start = start_revision if start_revision > 0 else self._mvcc.revision + 1
            watcher = EmbeddedWatch(self, kr, start, prev_kv)
            if start <= self._delivered_revision:
                try:
                    history = self._mvcc.events_since(start, kr, self._delivered_revision)
                except StoreError as err:
                    watcher._fail(err)
                    return watcher
                for event in history:
                    watcher._deliver(event)
            self._watchers.add(watcher)
            return watcher

    def watch_backlog(self) -> bool:
        """Whether some write is not yet delivered to, or not yet taken in by, an active watcher.

        For a simulation's "has everything settled?" (:meth:`kitlib.cluster.local.LocalCluster.settle`).
        """
        with self._watch_lock:
            watchers = list(self._watchers)
        return self._delivered_revision < self._mvcc.revision or any(w.backlogged() for w in watchers)

    def _unregister(self, watcher: EmbeddedWatch) -> None:
        with self._watch_lock:
            self._watchers.discard(watcher)

    def compact(self, revision: int) -> None:
        with self._lock:
            self._check_open()
            self._mvcc.compact(revision)
            seq = self._wal.append(self._mvcc.revision, [compact_op(revision)])
        self._wal.wait_durable(seq)

    # -- leases --------------------------------------------------------------

    def lease_grant(self, ttl: int) -> Lease:
        if ttl < 1:
            raise ValueError("a lease's TTL is a whole number of seconds, at least 1")
        with self._lock:
            self._check_open()
            lease = self._lessor.grant(ttl)  # raised to etcd's minimum TTL
            seq = self._commit([grant_op(lease.id, lease.ttl)], [])
        self._after_commit(seq)
        return lease

    def lease_keepalive(self, lease_id: int) -> int:
        with self._lock:
            self._check_open()
            # Keep-alives are not logged: after a restart every lease gets its
            # full TTL anyway.
            return self._lessor.renew(lease_id)

    def lease_time_to_live(self, lease_id: int) -> LeaseInfo:
        with self._lock:
            return self._lessor.time_to_live(lease_id)

    def lease_revoke(self, lease_id: int) -> None:
        with self._lock:
            self._check_open()
            keys = self._lessor.revoke(lease_id)
            events: list[Event] = []
            log_ops: list[str] = []
            if keys:
                self._mvcc.revision += 1
                for key in keys:
                    event = self._mvcc.delete(key, self._mvcc.revision)
                    if event is not None:
                        events.append(event)
                        log_ops.append(del_op(key))
            log_ops.append(revoke_op(lease_id))
            seq = self._commit(log_ops, events)
        self._after_commit(seq)

    def expire_leases(self) -> list[int]:
        """Revoke every lease whose TTL ran out; return their IDs (the lessor calls this)."""
        with self._lock:
            if self._closed:
                return []
            expired = self._lessor.expired()
        for lease_id in expired:
            try:
                self.lease_revoke(lease_id)
                log.info("lease %x expired", lease_id)
            except (LeaseNotFound, StoreClosed):
                pass  # revoked meanwhile
        return expired

    def _run_lessor(self) -> None:
        while not self._stop.is_set():
            self.clock.sleep(LEASE_CHECK_INTERVAL)
            if self._stop.is_set():
                return
            try:
                self.expire_leases()
            except StoreError as err:  # the log failed: the store is unusable anyway
                log.error("lessor stopped: %s", err)
                return

    # -- snapshots and shutdown ----------------------------------------------

    def snapshot(self) -> Path | None:
        """Write the whole state to disk, start a new log segment, and drop the old ones.

        Writers are held up only while the state is copied and the log
        switches to a new segment; encoding and writing the snapshot (the
        slow part) happens after the lock is released. Until the snapshot
        file is renamed into place, the old segments stay, so a crash at any
        moment recovers from the previous snapshot and every segment.
        """
        if self._dir is None:
            return None
        with self._snapshot_lock:
            return self._snapshot()

    def _snapshot(self) -> Path:
        assert self._dir is not None
        with self._lock:
            self._check_open()
            self._wal.flush()
            revision = self._mvcc.revision
            copy = self._mvcc.copy()
            leases = self._lessor.snapshot()
            old = self._wal
            self._wal = WAL(self._dir.segment_path(revision + 1), fsync=self._fsync, on_durable=self._deliver_upto)
            self._wal.fsyncs = old.fsyncs
            old.close()
            self._records_since_snapshot = 0
        path = self._dir.write_snapshot(revision, {"format": 1, "mvcc": MVCC.encode(copy), "leases": leases})
        self._dir.remove_before(revision)
        log.info("snapshot at revision %d", revision)
        return path

    @property
    def fsyncs(self) -> int:
        return self._wal.fsyncs

    def close(self) -> None:
        # Wait for a snapshot being written: the directory must not be
        # unlocked for another process while files are still changing.
        with self._snapshot_lock, self._lock:
            if self._closed:
                return
            self._closed = True
            self._stop.set()
            try:
                self._wal.close()
            finally:
                if self._dir is not None:
                    self._dir.release()
        with self._watch_lock:
            watchers = list(self._watchers)
        for watcher in watchers:
            watcher.cancel()

    def __enter__(self) -> "EmbeddedStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = str(self.data_dir) if self.data_dir else "memory"
        return f"<EmbeddedStore {where} revision={self._mvcc.revision}>"

