"""Write-ahead log and snapshots: how the embedded store survives a crash.

Every change is appended to the log and forced to disk (``fsync``) before the
writer is told it succeeded, so an acknowledged write is never lost, whatever
kills the process. Forcing data to disk is slow (milliseconds), so writers
share it: whoever finds no flush in progress becomes the leader, writes every
record appended so far in one ``write`` and one ``fsync``, and wakes all the
writers those records belong to. This is *group commit*; with 16 writers one
``fsync`` acknowledges up to 16 writes. etcd does the same in its raft log.

On disk, a data directory holds::

    snap-<revision>.json    the whole key space at a revision (written to a
                            temporary file, fsynced, then renamed into place)
    wal-<first>.log         the records after that snapshot, each framed as
                            length (4 bytes) | CRC-32 (4 bytes) | JSON payload,
                            followed by zeros the log has not used yet
    LOCK                    held with flock while a process has the store open

Segments are filled with zeros ahead of the writes (etcd preallocates its
segments for the same reason): an fsync after writing into space the file
already has only flushes data, while one that grows the file must also
commit the new size to the file system's journal, which measured a fifth
slower here. The next zeros are written by a background thread once half of
them are used, so no writer waits for them. A zero length marks where the
records end.

Recovery loads the newest snapshot, then replays the log. A crash during a
write can leave a *torn* last record (short, or failing its checksum); it was
never acknowledged, so recovery cuts the log there and carries on. A bad
record anywhere else is real corruption and stops recovery with a message.

Simplifications:
- etcd's log also carries raft terms and indexes, starts a new 64 MB
  segment when one is full, and its snapshots are bbolt database files;
  here records are JSON and a segment grows (in zero-filled steps) until the
  next snapshot.
"""

from __future__ import annotations

import fcntl
import json
from binascii import b2a_base64
from json.encoder import encode_basestring_ascii as _quote
import logging
import os
import re
import struct
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kitlib.store.errors import StoreCorrupted, StoreError

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<II")  # payload length, CRC-32 of the payload
_MAX_RECORD = 1 << 30  # a length above this is garbage, not a record
_SEGMENT = re.compile(r"^wal-([0-9a-f]{16})\.log$")
_FIRST_STEP = 64 << 10  # zeros written ahead of a new segment
_MAX_STEP = 4 << 20
_SNAPSHOT = re.compile(r"^snap-([0-9a-f]{16})\.json$")


# A record is {"rev": R, "ops": [...]}: the changes one write made, at
# revision R. Each change is a JSON array, written by the functions below
# straight into text: they run once per write under the store's lock, and
# json.dumps builds a new encoder on every call, which costs more than the
# record itself. Recovery reads records back with json.loads.


def put_op(key: str, value: bytes, lease: int) -> str:
    return '["put",%s,"%s",%d]' % (_quote(key), b2a_base64(value, newline=False).decode(), lease)


def del_op(key: str) -> str:
    return '["del",%s]' % _quote(key)


def grant_op(lease_id: int, ttl: int) -> str:
    return '["grant",%d,%d]' % (lease_id, ttl)


def revoke_op(lease_id: int) -> str:
    return '["revoke",%d]' % lease_id


def compact_op(revision: int) -> str:
    return '["compact",%d]' % revision


def encode_record(revision: int, ops: list[str]) -> bytes:
    """The record of one write: its revision and its changes (from the functions above)."""
    return ('{"rev":%d,"ops":[%s]}' % (revision, ",".join(ops))).encode()


def frame(payload: bytes) -> bytes:
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def read_records(data: bytes) -> tuple[list[bytes], int]:
    """Parse framed records; return them and the offset where the valid ones end."""
    records: list[bytes] = []
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        if length == 0:  # the zeros after the last record: no payload is empty
            break
        if length > _MAX_RECORD or start + length > len(data):
            break
        payload = data[start : start + length]
        if zlib.crc32(payload) != crc:
            break
        records.append(payload)
        offset = start + length
    return records, offset


def intact_record_after(data: bytes, bad: int) -> bool:
    """Is there an intact record anywhere after the bad one at offset ``bad``?

    A torn write damages only the end of the log: the batch being written
    when the process or the machine died, never acknowledged. An intact
    record after a damaged one means damage in the middle, which may have
    hit an acknowledged write; recovery must stop rather than cut it off.
    """
    for offset in range(bad + 1, len(data) - _HEADER.size + 1):
        length, crc = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        if 0 < length <= len(data) - start and zlib.crc32(data[start : start + length]) == crc:
            return True
    return False


def _fsync_dir(path: Path) -> None:
    # A rename or a new file is durable only once its directory entry is.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DataDir:
    """A store's directory: the lock, the snapshots and the log segments."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.path / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            holder = (self.path / "LOCK").read_text().strip() or "another process"
            raise StoreError(
                f"the store in {self.path} is already open (by pid {holder}); "
                "close it there first, or give this store another directory"
            ) from None
        os.ftruncate(self._lock_fd, 0)
        os.write(self._lock_fd, str(os.getpid()).encode())

    def release(self) -> None:
        if self._lock_fd >= 0:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = -1

    def segments(self) -> list[tuple[int, Path]]:
        found = [(int(m.group(1), 16), self.path / m.group(0)) for p in self.path.iterdir() if (m := _SEGMENT.match(p.name))]
        return sorted(found)

    def snapshots(self) -> list[tuple[int, Path]]:
        found = [(int(m.group(1), 16), self.path / m.group(0)) for p in self.path.iterdir() if (m := _SNAPSHOT.match(p.name))]
        return sorted(found)

    def segment_path(self, first_revision: int) -> Path:
        return self.path / f"wal-{first_revision:016x}.log"

    # -- snapshots ---------------------------------------------------------

    def load_snapshot(self) -> dict | None:
        snapshots = self.snapshots()
        if not snapshots:
            return None
        revision, path = snapshots[-1]
        try:
            return json.loads(path.read_bytes())
        except (OSError, ValueError) as err:
            # Snapshots are renamed into place only once complete, so a bad
            # one means the disk or someone else damaged it.
            raise StoreCorrupted(f"snapshot {path} is unreadable ({err}); restore the data directory from a backup") from err

    def write_snapshot(self, revision: int, state: dict) -> Path:
        final = self.path / f"snap-{revision:016x}.json"
        tmp = final.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(json.dumps(state, separators=(",", ":")).encode())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        _fsync_dir(self.path)
        return final

    def remove_before(self, revision: int) -> None:
        """Delete what a durable snapshot at ``revision`` replaces.

        That is older snapshots, and every log segment started at or before
        ``revision`` (the store started a new one at ``revision + 1`` when it
        took the snapshot, so those hold only records the snapshot has).
        """
        for rev, path in self.snapshots():
            if rev < revision:
                path.unlink(missing_ok=True)
        for first, path in self.segments():
            if first <= revision:
                path.unlink(missing_ok=True)
        for tmp in self.path.glob("snap-*.tmp"):
            tmp.unlink(missing_ok=True)
        _fsync_dir(self.path)

    # -- recovery ----------------------------------------------------------

    def replay(self) -> "Replay":
        """Every intact log record in order; a torn tail of the last segment is zeroed."""
        result = Replay()
        segments = self.segments()
        for index, (_, path) in enumerate(segments):
            data = path.read_bytes()
            payloads, end = read_records(data)
            # Records never end in a zero byte (the payload is JSON), so
            # everything written ends at the last byte that is not zero.
            written = len(data.rstrip(b"\0"))
            if end < written:
                if index != len(segments) - 1:
                    raise StoreCorrupted(
                        f"{path} is damaged at byte {end} but is not the last log segment; "
                        "restore the data directory from a backup"
                    )
                if intact_record_after(data[:written], end):
                    raise StoreCorrupted(
                        f"{path} is damaged at byte {end}, before records that are intact: this is not "
                        "a torn last write, and cutting the log there would lose acknowledged writes; "
                        "restore the data directory from a backup"
                    )
                log.warning("cutting a torn record off the end of %s (%d bytes at offset %d)", path.name, written - end, end)
                fd = os.open(path, os.O_WRONLY)
                try:
                    os.pwrite(fd, bytes(written - end), end)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                result.torn_bytes += written - end
            for payload in payloads:
                try:
                    result.records.append(json.loads(payload))
                except ValueError as err:  # a CRC-valid record is always our JSON
                    raise StoreCorrupted(f"{path}: a record passed its checksum but is not JSON ({err})") from err
            result.last_segment, result.end = path, end
        return result


@dataclass
class Replay:
    """What recovery found in the log."""

    records: list[dict] = field(default_factory=list)
    last_segment: Path | None = None
    end: int = 0  # where the records of the last segment end: the next write goes there
    torn_bytes: int = 0  # bytes of a half-written last record that were cut off


class _Waiter:
    """A writer waiting for its record to be durable; ``lock`` is held until it may go on."""

    __slots__ = ("seq", "lock", "lead", "next")

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.lock = threading.Lock()
        self.lock.acquire()
        self.lead = False
        self.next: "_Waiter | None" = None

    def wake(self) -> None:
        """Release this writer; it releases the next one in the chain (see :meth:`WAL._lead`)."""
        self.lock.release()


class WAL:
    """The append side of the log, with group commit.

    Contract: callers append records in revision order (they hold the store's
    lock while appending) and then, without that lock, call
    :meth:`wait_durable` with the sequence number :meth:`append` returned.
    ``on_durable(seq)`` runs in the flushing thread after every record up to
    ``seq`` is on disk, before any writer is woken, one call at a time: the
    store uses it to deliver watch events in order and only once durable.

    Group commit with one wake-up per writer: a writer that finds no flush in
    progress leads one (write every pending record, one fsync); the others
    park on a lock of their own. The leader releases exactly the writers its
    flush covered, and hands the lead to the oldest writer still waiting, so
    no thread is woken only to find it must wait again. The woken writers
    form a chain, each releasing the next, the new leader first so that its
    fsync overlaps the others' return. (A shared condition variable would
    make every writer runnable at once after each flush, all fighting over
    Python's interpreter lock; measured here, that cost more than the fsync.)
    """

    def __init__(
        self,
        path: Path | None,
        *,
        offset: int = 0,
        fsync: bool = True,
        on_durable: Callable[[int], None] = lambda seq: None,
    ) -> None:
        self.path = path
        self._fsync = fsync
        self._on_durable = on_durable
        # Records go at ``offset`` (the end of the records already there),
        # into zeros written ahead of them up to ``_allocated``.
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644) if path is not None else -1
        self._offset = offset
        self._allocated = os.fstat(self._fd).st_size if path is not None else 0
        self._mu = threading.Lock()
        self._extend_mu = threading.Lock()  # held while zeros are written past _allocated
        self._extending = False
        self._pending: list[bytes] = []
        self._waiters: list[_Waiter] = []  # in sequence order
        self._appended = 0  # sequence number of the last record appended
        self._durable = 0  # sequence number of the last record on disk
        self._flushing = False
        self._failure: BaseException | None = None
        self.fsyncs = 0  # how many fsyncs the log made (the benchmark reports writes per fsync)

    def append(self, revision: int, ops: list[str]) -> int:
        payload = encode_record(revision, ops)
        with self._mu:
            if self._failure is not None:
                raise StoreError(f"the write-ahead log failed earlier ({self._failure}); reopen the store") from self._failure
            self._pending.append(frame(payload))
            self._appended += 1
            return self._appended

    def wait_durable(self, seq: int) -> None:
        with self._mu:
            if self._durable >= seq:
                return
            if self._failure is not None:
                raise StoreError(f"the write-ahead log failed ({self._failure}); this write is not durable") from self._failure
            if not self._flushing:
                self._flushing = True
                waiter = None
            else:
                waiter = _Waiter(seq)
                self._waiters.append(waiter)
        if waiter is not None:
            waiter.lock.acquire()  # parked until a leader releases us
            if waiter.next is not None:
                waiter.next.wake()
            if not waiter.lead:
                if self._failure is not None and self._durable < seq:
                    raise StoreError(f"the write-ahead log failed ({self._failure}); this write is not durable") from self._failure
                return
        self._lead()

    def _lead(self) -> None:
        with self._mu:
            batch, self._pending = self._pending, []
            upto = self._appended
        try:
            self._write(batch)
            self._on_durable(upto)
        except BaseException as err:
            with self._mu:
                self._failure = err
                self._flushing = False
                waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                waiter.lock.release()
            raise
        with self._mu:
            self._durable = upto
            done = [w for w in self._waiters if w.seq <= upto]
            self._waiters = self._waiters[len(done):]
            if self._waiters:
                # Records appended during this flush: the oldest of their
                # writers leads the next one.
                # It is woken first, so the next fsync overlaps the others' wake-up.
                self._waiters[0].lead = True
                done.insert(0, self._waiters.pop(0))
            else:
                self._flushing = False
        # Wake the writers as a chain, each releasing the next: one thread
        # becomes runnable at a time, instead of all of them at once fighting
        # over the interpreter lock.
        for first, second in zip(done, done[1:]):
            first.next = second
        if done:
            done[0].wake()

    def _write(self, batch: list[bytes]) -> None:
        if self._fd < 0 or not batch:
            return
        data = b"".join(batch)
        if self._offset + len(data) > self._allocated:
            with self._extend_mu:  # a background extension may be on its way: wait for it, then look again
                if self._offset + len(data) > self._allocated:
                    self._extend(self._offset + len(data))
        os.pwrite(self._fd, data, self._offset)
        self._offset += len(data)
        if self._fsync:
            os.fdatasync(self._fd)
            self.fsyncs += 1
        if self._offset > self._allocated // 2 and not self._extending and self._fsync:
            # Half the zeros are used: write the next ones from another thread, so no writer's
            # fsync has to carry megabytes of zeros and a new file size (a stall of tens of ms).
            self._extending = True
            threading.Thread(target=self._extend_ahead, name="kit-wal-extend", daemon=True).start()

    def _extend(self, at_least: int = 0) -> None:
        """Zero-fill ahead, in steps that double from 64 KiB to 4 MiB: a small store stays small, a busy one
        extends rarely. Called with ``_extend_mu`` held; ``_allocated`` grows only once the zeros are written."""
        step = min(max(_FIRST_STEP, self._allocated), _MAX_STEP)
        size = max(self._allocated + step, at_least)
        os.pwrite(self._fd, bytes(size - self._allocated), self._allocated)
        if self._fsync:
            os.fdatasync(self._fd)
        self._allocated = size

    def _extend_ahead(self) -> None:
        try:
            with self._extend_mu:
                if self._fd >= 0:
                    self._extend()
        except OSError as err:  # the writer extends inline next time, and reports a real failure itself
            log.warning("could not extend the write-ahead log ahead of time: %s", err)
        finally:
            self._extending = False

    def flush(self) -> None:
        """Make everything appended so far durable."""
        with self._mu:
            seq = self._appended
        self.wait_durable(seq)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            with self._extend_mu:  # a background extension finishes first: it writes to this descriptor
                if self._fd >= 0:
                    os.close(self._fd)
                    self._fd = -1
