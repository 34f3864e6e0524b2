"""The embedded store beyond the shared contract: recovery, snapshots, leases on a fake clock."""

from __future__ import annotations

import random

import pytest

from kitlib.clock import FakeClock
from kitlib.store import Compacted, EventType, LeaseNotFound, StoreClosed, open_store
from kitlib.store.embedded import EmbeddedStore


def _state(store):
    return [(kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version, kv.lease) for kv in store.range("", "\0")]


@pytest.mark.parametrize("snapshot_every", [1, 3, 10_000], ids=["snapshot-every-write", "every-3", "log-only"])
def test_reopen_restores_exact_state_and_history(tmp_path, snapshot_every):
    rng = random.Random(snapshot_every)
    with EmbeddedStore(tmp_path, snapshot_every=snapshot_every, lessor=False, rng=random.Random(1)) as store:
        lease = store.lease_grant(30)
        for i in range(60):
            key = f"/k/{rng.randrange(10)}"
            if rng.random() < 0.2:
                store.delete(key)
            else:
                store.put(key, f"v{i}", lease=lease.id if rng.random() < 0.3 else 0)
        store.compact(store.revision - 20)
        before, revision, compacted = _state(store), store.revision, store.compact_revision
        history = [(e.type, e.kv.key, e.revision) for e in _drain(store.watch("", "\0", start_revision=compacted))]
        info = store.lease_time_to_live(lease.id)
    with EmbeddedStore(tmp_path, lessor=False) as store:
        assert _state(store) == before
        assert store.revision == revision
        assert store.compact_revision == compacted
        assert store.lease_time_to_live(lease.id).keys == info.keys
        with pytest.raises(Compacted):
            store.range("/k/", prefix=True, revision=compacted - 1)
        replay = [(e.type, e.kv.key, e.revision) for e in _drain(store.watch("", "\0", start_revision=compacted))]
        if snapshot_every == 10_000:
            assert replay == history
        else:
            # From a snapshot, the changes of one revision come back in key order.
            assert sorted(replay) == sorted(history)


def _drain(watch):
    events = []
    while (event := watch.get(timeout=0.2)) is not None:
        events.append(event)
    watch.cancel()
    return events


def test_snapshot_replaces_old_log_segments(tmp_path):
    with EmbeddedStore(tmp_path, snapshot_every=5, lessor=False) as store:
        for i in range(23):
            store.put(f"/s/{i}", str(i))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len([n for n in names if n.startswith("snap-")]) == 1
    assert len([n for n in names if n.startswith("wal-")]) == 1
    with EmbeddedStore(tmp_path, lessor=False) as store:
        assert store.range("/s/", prefix=True, count_only=True).count == 23


def test_crash_between_snapshot_and_log_removal_recovers(tmp_path):
    # Keep a copy of the old log, as if the process died right after the
    # snapshot was renamed into place and before old segments were deleted.
    with EmbeddedStore(tmp_path, lessor=False, rng=random.Random(2)) as store:
        lease = store.lease_grant(60)
        store.put("/a", "1", lease=lease.id)
        store.lease_revoke(lease.id)  # deletes /a
        store.put("/b", "2")
        (segment,) = tmp_path.glob("wal-*.log")
        old = segment.read_bytes()
        store.snapshot()
        store.put("/c", "3")
    (tmp_path / "wal-0000000000000000.log").write_bytes(old)
    with EmbeddedStore(tmp_path, lessor=False) as store:
        assert [kv.key for kv in store.range("/", prefix=True)] == ["/b", "/c"]
        with pytest.raises(LeaseNotFound):  # the revoke was replayed after the grant
            store.lease_time_to_live(lease.id)


def test_lease_expires_on_the_fake_clock_and_watchers_see_deletes(tmp_path):
    clock = FakeClock()
    with EmbeddedStore(tmp_path, clock=clock, lessor=False) as store:
        lease = store.lease_grant(10)
        store.put("/nodes/a", "hb", lease=lease.id)
        watch = store.watch("/nodes/", prefix=True)
        clock.advance(9)
        assert store.expire_leases() == []
        assert store.lease_keepalive(lease.id) == 10  # a heartbeat pushes expiry to 19
        clock.advance(9)
        assert store.expire_leases() == []
        assert store.lease_time_to_live(lease.id).ttl == 1
        clock.advance(1)
        assert store.expire_leases() == [lease.id]
        assert store.get("/nodes/a") is None
        event = watch.get(timeout=1)
        assert (event.type, event.kv.key) == (EventType.DELETE, "/nodes/a")
        with pytest.raises(LeaseNotFound):
            store.lease_keepalive(lease.id)


def test_lessor_thread_runs_on_the_store_clock(tmp_path):
    clock = FakeClock()
    with EmbeddedStore(None, clock=clock) as store:
        lease = store.lease_grant(5)
        store.put("/x", "1", lease=lease.id)
        watch = store.watch("/x")
        # The lessor wakes every 0.25 s of fake time; keep the fake clock
        # moving until it has expired the lease (it may start sleeping only
        # after some of the advances, so a fixed number is not enough).
        event = None
        for _ in range(400):
            clock.advance(0.25)
            event = watch.get(timeout=0.01)
            if event is not None:
                break
        assert event is not None and event.type == EventType.DELETE
        assert clock.now() >= 5


def test_leases_get_their_full_ttl_back_after_a_restart(tmp_path):
    clock = FakeClock()
    with EmbeddedStore(tmp_path, clock=clock, lessor=False) as store:
        lease = store.lease_grant(10)
        clock.advance(8)
    with EmbeddedStore(tmp_path, clock=clock, lessor=False) as store:
        assert store.lease_time_to_live(lease.id).ttl == 10


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.put("/a", "1"),
        lambda s: s.range("/", prefix=True),
        lambda s: s.watch("/a"),
        lambda s: s.lease_grant(5),
    ],
    ids=["put", "range", "watch", "lease"],
)
def test_a_closed_store_says_so(call):
    store = open_store("memory://")
    store.close()
    with pytest.raises(StoreClosed, match="closed"):
        call(store)


def test_close_ends_open_watches():
    store = open_store("memory://")
    watch = store.watch("/a")
    store.close()
    assert list(watch) == []


def test_memory_store_is_not_durable(tmp_path):
    store = open_store("memory://")
    store.put("/a", "1")
    assert store.data_dir is None
    store.close()
    assert list(tmp_path.iterdir()) == []


def test_crash_while_writing_a_snapshot_loses_nothing(tmp_path, monkeypatch):
    from kitlib.store import wal

    with EmbeddedStore(tmp_path, lessor=False) as store:
        for i in range(5):
            store.put(f"/a/{i}", str(i))
        store.snapshot()
        for i in range(5):
            store.put(f"/b/{i}", str(i))

        def die(self, revision, state):  # the process dies before the new snapshot is in place
            raise KeyboardInterrupt("killed while writing the snapshot")

        monkeypatch.setattr(wal.DataDir, "write_snapshot", die)
        with pytest.raises(KeyboardInterrupt):
            store.snapshot()
        store.put("/c/0", "after")  # the log already moved on to a new segment
        monkeypatch.undo()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len([n for n in names if n.startswith("wal-")]) == 2, names
    with EmbeddedStore(tmp_path, lessor=False) as store:
        assert store.range("/", prefix=True, count_only=True).count == 11
        store.snapshot()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len([n for n in names if n.startswith("wal-")]) == 1 and len([n for n in names if n.startswith("snap-")]) == 1
