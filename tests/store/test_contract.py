"""The store's contract, run on every backend (the embedded store and a real etcd).

What etcd does is the specification: where the embedded store and etcd
disagree, the embedded store is wrong. Revisions are always taken relative to
what a test observes, because the etcd backend is one server shared by the
whole session.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

import pytest

from kitlib.store import (
    Compacted,
    Compare,
    DeleteResult,
    DuplicateKey,
    EventType,
    FutureRevision,
    KeyValue,
    LeaseNotFound,
    Op,
    PutResult,
    RangeResult,
    StoreClosed,
)
from kitlib.store.update import guaranteed_update

# A lease ID no backend has granted (both pick IDs at random from 62 or 63 bits).
UNKNOWN_LEASE = 0x0BAD_1EA5E


def keys_of(result) -> list[str]:
    return [kv.key for kv in result]


def drain(watch, n: int, timeout: float = 5.0) -> list:
    """The next ``n`` events, failing if they do not arrive within ``timeout``."""
    events = []
    deadline = time.monotonic() + timeout
    while len(events) < n:
        left = deadline - time.monotonic()
        event = watch.get(timeout=max(0.0, left))
        assert event is not None, f"expected {n} events, got {len(events)}: {events}"
        events.append(event)
    return events


# -- put, get, range ---------------------------------------------------------


def test_put_then_get(store):
    base = store.revision
    put = store.put("/registry/pods/default/web-0", b'{"kind":"Pod"}')
    assert put == PutResult(base + 1, None)
    assert store.revision == base + 1
    kv = store.get("/registry/pods/default/web-0")
    assert kv == KeyValue("/registry/pods/default/web-0", b'{"kind":"Pod"}', base + 1, base + 1, 1, 0)
    assert store.get("/registry/pods/default/web-1") is None


def test_text_values_are_stored_as_utf8(store):
    store.put("/k", "héllo")
    assert store.get("/k").value == "héllo".encode()
    assert store.get("/k").text == "héllo"


def test_unicode_keys(store):
    store.put("/ünï/κλειδί", "1")
    store.put("/ünï/ключ", "2")
    store.put("/ünj", "3")
    assert keys_of(store.range("/ünï/", prefix=True)) == ["/ünï/κλειδί", "/ünï/ключ"]


RANGE_KEYS = ["/a/1", "/a/2", "/a/3", "/ab", "/b/1"]

RANGE_CASES = [
    # (id, key, range_end, prefix, expected keys)
    ("single key", "/a/2", None, False, ["/a/2"]),
    ("missing single key", "/a/9", None, False, []),
    ("prefix", "/a/", None, True, ["/a/1", "/a/2", "/a/3"]),
    ("prefix that is also a key's start", "/a", None, True, ["/a/1", "/a/2", "/a/3", "/ab"]),
    ("empty prefix: every key", "", None, True, RANGE_KEYS),
    ("range_end excludes its end", "/a/1", "/a/3", False, ["/a/1", "/a/2"]),
    ("range_end '\\0': from key on", "/a/3", "\0", False, ["/a/3", "/ab", "/b/1"]),
    ("empty range", "/c", "/d", False, []),
]


@pytest.mark.parametrize("key,range_end,prefix,expected", [c[1:] for c in RANGE_CASES], ids=[c[0] for c in RANGE_CASES])
def test_range_selects_keys_in_order(store, key, range_end, prefix, expected):
    for k in reversed(RANGE_KEYS):  # written out of order: a range is sorted by key
        store.put(k, k)
    result = store.range(key, range_end, prefix=prefix)
    assert keys_of(result) == expected
    assert result.count == len(expected)
    assert result.more is False
    assert result.revision == store.revision


LIMIT_CASES = [
    # (id, limit, count_only, expected number of kvs, expected more)
    ("no limit", 0, False, 3, False),
    ("limit below count", 2, False, 2, True),
    ("limit equal to count", 3, False, 3, False),
    ("limit above count", 5, False, 3, False),
    ("count only", 0, True, 0, False),
    # etcd computes `more` from the kvs it returns, and count_only returns none.
    ("count only with a limit", 2, True, 0, False),
]


@pytest.mark.parametrize("limit,count_only,n_kvs,more", [c[1:] for c in LIMIT_CASES], ids=[c[0] for c in LIMIT_CASES])
def test_range_limit_more_and_count(store, limit, count_only, n_kvs, more):
    for k in ["/p/1", "/p/2", "/p/3", "/q"]:
        store.put(k, "v")
    result = store.range("/p/", prefix=True, limit=limit, count_only=count_only)
    assert len(result.kvs) == n_kvs
    assert keys_of(result) == ["/p/1", "/p/2", "/p/3"][:n_kvs]
    assert result.count == 3  # count is every match, whatever the limit
    assert result.more is more


def test_keys_only_keeps_the_bookkeeping(store):
    store.put("/k/1", "one")
    store.put("/k/1", "uno")
    store.put("/k/2", "two")
    full = store.range("/k/", prefix=True)
    bare = store.range("/k/", prefix=True, keys_only=True)
    assert [kv.value for kv in bare] == [b"", b""]
    assert [(kv.key, kv.create_revision, kv.mod_revision, kv.version) for kv in bare] == [
        (kv.key, kv.create_revision, kv.mod_revision, kv.version) for kv in full
    ]


def test_range_at_a_past_revision(store):
    r1 = store.put("/h/a", "1").revision
    r2 = store.put("/h/a", "2").revision
    r3 = store.put("/h/b", "1").revision
    r4 = store.delete("/h/a").revision
    table = [
        # (revision, expected {key: value})
        (r1, {"/h/a": b"1"}),
        (r2, {"/h/a": b"2"}),
        (r3, {"/h/a": b"2", "/h/b": b"1"}),
        (r4, {"/h/b": b"1"}),
        (0, {"/h/b": b"1"}),
    ]
    for revision, expected in table:
        result = store.range("/h/", prefix=True, revision=revision)
        assert {kv.key: kv.value for kv in result} == expected, f"at revision {revision}"
        assert result.count == len(expected)
        # The header is the store's revision now, not the one read at.
        assert result.revision == r4
    assert store.get("/h/a", revision=r1).mod_revision == r1
    assert store.get("/h/a", revision=r4) is None


def test_version_create_and_mod_revision_bookkeeping(store):
    r1 = store.put("/v", "a").revision
    r2 = store.put("/v", "b").revision
    r3 = store.put("/v", "c").revision
    assert store.get("/v") == KeyValue("/v", b"c", create_revision=r1, mod_revision=r3, version=3)
    assert r2 == r1 + 1 and r3 == r2 + 1
    r4 = store.delete("/v").revision
    assert r4 == r3 + 1
    r5 = store.put("/v", "d").revision
    # A key created again starts a new life: version 1, a new create_revision.
    assert store.get("/v") == KeyValue("/v", b"d", create_revision=r5, mod_revision=r5, version=1)


def test_put_prev_kv(store):
    first = store.put("/pk", "1", prev_kv=True)
    assert first.prev_kv is None
    second = store.put("/pk", "2", prev_kv=True)
    assert second.prev_kv == KeyValue("/pk", b"1", first.revision, first.revision, 1)
    assert store.put("/pk", "3").prev_kv is None  # only when asked


# -- delete --------------------------------------------------------------------


def test_delete_one_key_with_prev_kv(store):
    put = store.put("/d/1", "x")
    result = store.delete("/d/1", prev_kv=True)
    assert result == DeleteResult(put.revision + 1, 1, [KeyValue("/d/1", b"x", put.revision, put.revision, 1)])
    assert store.get("/d/1") is None


DELETE_CASES = [
    # (id, key, range_end, prefix, deleted keys)
    ("prefix", "/d/", None, True, ["/d/1", "/d/2", "/d/3"]),
    ("range_end", "/d/2", "/d/9", False, ["/d/2", "/d/3"]),
    ("single key", "/d/3", None, False, ["/d/3"]),
]


@pytest.mark.parametrize("key,range_end,prefix,deleted", [c[1:] for c in DELETE_CASES], ids=[c[0] for c in DELETE_CASES])
def test_delete_range_with_prev_kv(store, key, range_end, prefix, deleted):
    for k in ["/d/1", "/d/2", "/d/3", "/e"]:
        store.put(k, k)
    before = store.revision
    result = store.delete(key, range_end, prefix=prefix, prev_kv=True)
    # One delete is one revision, however many keys it removes.
    assert result.revision == before + 1 == store.revision
    assert result.deleted == len(deleted)
    assert [kv.key for kv in result.prev_kvs] == deleted
    assert [kv.value for kv in result.prev_kvs] == [k.encode() for k in deleted]
    remaining = {"/d/1", "/d/2", "/d/3", "/e"} - set(deleted)
    assert keys_of(store.range("", prefix=True)) == sorted(remaining)


def test_delete_without_prev_kv_reports_only_the_count(store):
    store.put("/d/1", "x")
    store.put("/d/2", "y")
    result = store.delete("/d/", prefix=True)
    assert result.deleted == 2 and result.prev_kvs == []


def test_delete_of_a_missing_key_does_not_advance_the_revision(store):
    store.put("/present", "x")
    before = store.revision
    result = store.delete("/absent", prev_kv=True)
    assert result == DeleteResult(before, 0, [])
    assert store.delete("/nothing/", prefix=True).deleted == 0
    assert store.revision == before


# -- transactions ------------------------------------------------------------------


@dataclass(frozen=True)
class CompareCase:
    id: str
    make: Callable[[KeyValue], Compare]  # builds the comparison from the key's state
    holds: bool


# The key "/t" holds b"v2" at version 2, without a lease; "/missing" does not exist.
COMPARE_CASES = [
    CompareCase("value =", lambda kv: Compare.value("/t", "=", "v2"), True),
    CompareCase("value = other", lambda kv: Compare.value("/t", "=", "v1"), False),
    CompareCase("value !=", lambda kv: Compare.value("/t", "!=", "v1"), True),
    CompareCase("value >", lambda kv: Compare.value("/t", ">", "v1"), True),
    CompareCase("value <", lambda kv: Compare.value("/t", "<", "v1"), False),
    CompareCase("version =", lambda kv: Compare.version("/t", "=", 2), True),
    CompareCase("version >", lambda kv: Compare.version("/t", ">", 1), True),
    CompareCase("version <", lambda kv: Compare.version("/t", "<", 2), False),
    CompareCase("version !=", lambda kv: Compare.version("/t", "!=", 2), False),
    CompareCase("create_revision =", lambda kv: Compare.create_revision("/t", "=", kv.create_revision), True),
    CompareCase("create_revision <", lambda kv: Compare.create_revision("/t", "<", kv.create_revision), False),
    CompareCase("create_revision >", lambda kv: Compare.create_revision("/t", ">", 0), True),
    CompareCase("mod_revision =", lambda kv: Compare.mod_revision("/t", "=", kv.mod_revision), True),
    CompareCase("mod_revision != ", lambda kv: Compare.mod_revision("/t", "!=", kv.mod_revision), False),
    CompareCase("mod_revision <", lambda kv: Compare.mod_revision("/t", "<", kv.mod_revision + 1), True),
    CompareCase("mod_revision = 0 on a present key", lambda kv: Compare.mod_revision("/t", "=", 0), False),
    CompareCase("lease = 0", lambda kv: Compare.lease("/t", "=", 0), True),
    CompareCase("lease !=", lambda kv: Compare.lease("/t", "!=", 0), False),
    # A missing key has version, revisions and lease 0 ...
    CompareCase("missing: mod_revision = 0 means absent", lambda kv: Compare.mod_revision("/missing", "=", 0), True),
    CompareCase("missing: version = 0", lambda kv: Compare.version("/missing", "=", 0), True),
    CompareCase("missing: version > 0", lambda kv: Compare.version("/missing", ">", 0), False),
    CompareCase("missing: create_revision = 0", lambda kv: Compare.create_revision("/missing", "=", 0), True),
    CompareCase("missing: lease = 0", lambda kv: Compare.lease("/missing", "=", 0), True),
    # ... but any comparison of its value is false, even "!=".
    CompareCase("missing: value = empty", lambda kv: Compare.value("/missing", "=", b""), False),
    CompareCase("missing: value != x", lambda kv: Compare.value("/missing", "!=", "x"), False),
]


@pytest.mark.parametrize("case", COMPARE_CASES, ids=[c.id for c in COMPARE_CASES])
def test_txn_compare(store, case):
    store.put("/t", "v1")
    store.put("/t", "v2")
    kv = store.get("/t")
    before = store.revision
    result = store.txn([case.make(kv)], success=[Op.put("/branch", "success")], failure=[Op.put("/branch", "failure")])
    assert result.succeeded is case.holds
    assert result.revision == before + 1
    assert store.get("/branch").value == (b"success" if case.holds else b"failure")


def test_txn_compare_lease(store):
    lease = store.lease_grant(30)
    store.put("/leased", "x", lease=lease.id)
    assert store.txn([Compare.lease("/leased", "=", lease.id)], []).succeeded
    assert not store.txn([Compare.lease("/leased", "=", 0)], []).succeeded


def test_txn_needs_every_comparison_to_hold(store):
    store.put("/a", "1")
    store.put("/b", "2")
    compare = [Compare.value("/a", "=", "1"), Compare.value("/b", "=", "wrong")]
    result = store.txn(compare, success=[Op.put("/won", "yes")], failure=[Op.range("/a")])
    assert not result.succeeded
    assert store.get("/won") is None
    assert keys_of(result.responses[0]) == ["/a"]


def test_txn_responses_in_order(store):
    store.put("/x/1", "old")
    store.put("/x/2", "two")
    before = store.revision
    result = store.txn(
        [Compare.version("/x/1", "=", 1)],
        success=[
            Op.put("/x/1", "new", prev_kv=True),
            Op.range("/x/", prefix=True),
            Op.delete("/x/2", prev_kv=True),
            Op.range("/x/", prefix=True, limit=1),
        ],
    )
    assert result.succeeded and result.revision == before + 1
    put, seen, deleted, limited = result.responses
    assert isinstance(put, PutResult) and put.revision == before + 1 and put.prev_kv.value == b"old"
    # A read in a transaction sees the transaction's earlier writes.
    assert isinstance(seen, RangeResult) and [kv.value for kv in seen] == [b"new", b"two"]
    assert isinstance(deleted, DeleteResult) and deleted.deleted == 1 and deleted.prev_kvs[0].key == "/x/2"
    assert isinstance(limited, RangeResult) and keys_of(limited) == ["/x/1"] and limited.count == 1 and not limited.more
    # All of a transaction's writes share one revision.
    assert store.get("/x/1").mod_revision == before + 1


def test_txn_range_reports_the_revision_it_read_at(store):
    # etcd answers a read inside a transaction with the revision of what it
    # read: before the transaction's first write, the old revision; after,
    # the new one.
    store.put("/r", "1")
    before = store.revision
    result = store.txn([], [Op.range("/r"), Op.put("/r", "2"), Op.range("/r")])
    first, _, second = result.responses
    assert (first.revision, second.revision, result.revision) == (before, before + 1, before + 1)


NO_WRITE_CASES = [
    # (id, compare builder, success, failure)
    ("reads only", lambda: [], [Op.range("/n", prefix=True)], None),
    ("empty transaction", lambda: [], [], None),
    ("failed compare, no failure ops", lambda: [Compare.value("/n/1", "=", "nope")], [Op.put("/n/1", "x")], None),
    ("deletes of missing keys", lambda: [], [Op.delete("/none"), Op.delete("/none/", prefix=True)], None),
]


@pytest.mark.parametrize("compare,success,failure", [c[1:] for c in NO_WRITE_CASES], ids=[c[0] for c in NO_WRITE_CASES])
def test_txn_without_writes_keeps_the_revision(store, compare, success, failure):
    store.put("/n/1", "v")
    before = store.revision
    result = store.txn(compare(), success, failure)
    assert result.revision == before
    assert store.revision == before


DUPLICATE_CASES = [
    # (id, success, failure)
    ("two puts of one key", [Op.put("/k", "1"), Op.put("/k", "2")], []),
    ("put and delete of one key", [Op.put("/k", "1"), Op.delete("/k")], []),
    ("delete then put of one key", [Op.delete("/k"), Op.put("/k", "1")], []),
    ("put under a deleted prefix", [Op.delete("/", prefix=True), Op.put("/k", "1")], []),
    ("in the failure branch too", [Op.put("/ok", "1")], [Op.put("/k", "1"), Op.put("/k", "2")]),
]


@pytest.mark.parametrize("success,failure", [c[1:] for c in DUPLICATE_CASES], ids=[c[0] for c in DUPLICATE_CASES])
def test_txn_refuses_a_duplicate_key(store, success, failure):
    before = store.revision
    with pytest.raises(DuplicateKey, match="duplicate key"):
        store.txn([], success, failure)
    assert store.revision == before
    assert store.get("/k") is None and store.get("/ok") is None


def test_txn_allows_overlapping_deletes_and_distinct_puts(store):
    store.put("/k/1", "x")
    result = store.txn([], [Op.delete("/k/", prefix=True), Op.delete("/k/1"), Op.put("/a", "1"), Op.put("/b", "2")])
    assert [r.deleted for r in result.responses[:2]] == [1, 0]
    assert keys_of(store.range("", prefix=True)) == ["/a", "/b"]


# -- watch -------------------------------------------------------------------------


def test_watch_from_now(store):
    store.put("/w", "before")
    with store.watch("/w") as watch:
        assert watch.get(timeout=0.2) is None  # nothing from before the watch
        r1 = store.put("/w", "1").revision
        store.put("/other", "x")
        r2 = store.put("/w", "2").revision
        first, second = drain(watch, 2)
        assert (first.type, first.kv.value, first.revision) == (EventType.PUT, b"1", r1)
        assert (second.kv.value, second.revision, second.kv.version) == (b"2", r2, 3)
        assert first.prev_kv is None  # not asked for
        assert watch.get(timeout=0.2) is None


def test_watch_from_a_past_revision_replays_history_in_order(store):
    r1 = store.put("/hist/a", "1").revision
    store.put("/hist/b", "1")
    store.put("/hist/a", "2")
    store.delete("/hist/a")
    store.txn([], [Op.put("/hist/c", "1"), Op.put("/hist/d", "1")])
    now = store.revision
    with store.watch("/hist/", prefix=True, start_revision=r1 + 1) as watch:
        events = drain(watch, 5)
        assert [(e.type, e.kv.key, e.revision) for e in events] == [
            (EventType.PUT, "/hist/b", r1 + 1),
            (EventType.PUT, "/hist/a", r1 + 2),
            (EventType.DELETE, "/hist/a", r1 + 3),
            (EventType.PUT, "/hist/c", now),  # one transaction, in its order
            (EventType.PUT, "/hist/d", now),
        ]
        # ... and then live events, without a gap or a repeat.
        store.put("/hist/e", "1")
        assert drain(watch, 1)[0].kv.key == "/hist/e"
        assert watch.get(timeout=0.2) is None


def test_watch_a_future_revision_waits_for_it(store):
    now = store.revision
    with store.watch("/f", start_revision=now + 2) as watch:
        store.put("/f", "1")  # now + 1: before the start
        store.put("/f", "2")  # now + 2
        event = drain(watch, 1)[0]
        assert (event.kv.value, event.revision) == (b"2", now + 2)


WATCH_SCOPE_CASES = [
    # (id, key, range_end, prefix, keys the watcher sees)
    ("one key", "/s/1", None, False, ["/s/1"]),
    ("prefix", "/s/", None, True, ["/s/1", "/s/2"]),
    ("range", "/s/2", "/t", False, ["/s/2", "/sz"]),
]


@pytest.mark.parametrize("key,range_end,prefix,seen", [c[1:] for c in WATCH_SCOPE_CASES], ids=[c[0] for c in WATCH_SCOPE_CASES])
def test_watch_scope(store, key, range_end, prefix, seen):
    with store.watch(key, range_end, prefix=prefix) as watch:
        for k in ["/s", "/s/1", "/s/2", "/sz", "/t"]:
            store.put(k, "x")
        assert [e.kv.key for e in drain(watch, len(seen))] == seen
        assert watch.get(timeout=0.2) is None


def test_watch_prev_kv_and_the_shape_of_a_delete(store):
    with store.watch("/pv", prev_kv=True) as watch:
        created = store.put("/pv", "1").revision
        store.put("/pv", "2")
        deleted = store.delete("/pv").revision
        create, update, delete = drain(watch, 3)
    assert create.prev_kv is None
    assert update.prev_kv == KeyValue("/pv", b"1", created, created, 1)
    assert update.kv == KeyValue("/pv", b"2", created, created + 1, 2)
    # etcd reports a deletion as the key at the deleting revision, empty, version 0.
    assert delete.type is EventType.DELETE
    assert delete.kv == KeyValue("/pv", b"", create_revision=0, mod_revision=deleted, version=0, lease=0)
    assert delete.revision == deleted
    assert delete.prev_kv == KeyValue("/pv", b"2", created, created + 1, 2)


def test_watch_without_prev_kv_has_none_on_delete(store):
    store.put("/pv", "1")
    with store.watch("/pv") as watch:
        store.delete("/pv")
        event = drain(watch, 1)[0]
    assert event.type is EventType.DELETE and event.prev_kv is None


def test_watch_iteration_ends_on_cancel(store):
    watch = store.watch("/it/", prefix=True)
    for i in range(3):
        store.put(f"/it/{i}", str(i))
    seen = []
    for event in watch:
        seen.append(event.kv.key)
        if len(seen) == 2:
            watch.cancel()
    # Events already received are still handed out, then the iteration ends.
    assert seen[:2] == ["/it/0", "/it/1"]
    assert watch.get(timeout=0.1) is None


# -- compaction and revisions that do not exist ---------------------------------------


def test_compaction_forgets_history(store):
    old = store.put("/c", "1").revision
    store.put("/c", "2")
    compacted_at = store.put("/c", "3").revision
    store.put("/c", "4")
    store.compact(compacted_at)
    with pytest.raises(Compacted) as err:
        store.range("/c", revision=old)
    assert (err.value.requested, err.value.compact_revision) == (old, compacted_at)
    # The compaction revision itself stays readable, and so does everything after.
    assert store.get("/c", revision=compacted_at).value == b"3"
    assert store.get("/c").value == b"4"


def test_watch_at_a_compacted_revision_raises(store):
    old = store.put("/c", "1").revision
    compacted_at = store.put("/c", "2").revision
    store.compact(compacted_at)
    with store.watch("/c", start_revision=old) as watch:
        with pytest.raises(Compacted) as err:
            watch.get(timeout=5)
        assert (err.value.requested, err.value.compact_revision) == (old, compacted_at)
        with pytest.raises(Compacted):  # and it stays failed
            watch.get(timeout=1)


def test_watch_from_the_compaction_revision_works(store):
    store.put("/c", "1")
    compacted_at = store.put("/c", "2").revision
    store.put("/c", "3")
    store.compact(compacted_at)
    with store.watch("/c", start_revision=compacted_at) as watch:
        assert [e.kv.value for e in drain(watch, 2)] == [b"2", b"3"]


def test_history_at_the_compaction_revision(store):
    # Compaction keeps, for each key, its newest version at or before the
    # compaction revision, unless that version is a deletion: so a watch from
    # the compaction revision does not see a DELETE made at it, and an event
    # whose previous version was compacted away carries no prev_kv.
    store.put("/z/a", "1")
    store.put("/z/b", "1")
    compacted_at = store.delete("/z/a").revision
    store.put("/z/b", "2")
    store.compact(compacted_at)
    with store.watch("/z/", prefix=True, start_revision=compacted_at, prev_kv=True) as watch:
        event = drain(watch, 1)[0]
        assert (event.type, event.kv.key, event.revision) == (EventType.PUT, "/z/b", compacted_at + 1)
        assert event.prev_kv.value == b"1"  # /z/b's version at the compaction revision is kept
        assert watch.get(timeout=0.3) is None
    put_at = store.put("/y", "1").revision
    store.put("/y", "2")
    store.compact(put_at + 1)
    with store.watch("/y", start_revision=put_at + 1, prev_kv=True) as watch:
        event = drain(watch, 1)[0]
    assert (event.kv.value, event.prev_kv) == (b"2", None)


def test_compact_twice_raises(store):
    store.put("/c", "1")
    compacted_at = store.put("/c", "2").revision
    store.put("/c", "3")
    store.compact(compacted_at)
    for again in (compacted_at, compacted_at - 1):
        with pytest.raises(Compacted) as err:
            store.compact(again)
        assert (err.value.requested, err.value.compact_revision) == (again, compacted_at)
    store.compact(compacted_at + 1)  # a later revision is fine


def test_future_revision(store):
    store.put("/fut", "1")
    now = store.revision
    with pytest.raises(FutureRevision) as err:
        store.range("/fut", revision=now + 1)
    assert (err.value.requested, err.value.current) == (now + 1, now)
    with pytest.raises(FutureRevision):
        store.get("/fut", revision=now + 10)
    with pytest.raises(FutureRevision):
        store.compact(now + 1)


# -- leases ----------------------------------------------------------------------------


def test_lease_grant_attach_keepalive_and_time_to_live(store):
    lease = store.lease_grant(30)
    assert lease.id != 0 and lease.ttl == 30
    before = store.revision  # granting a lease is not a write to the key space
    store.put("/lease/b", "x", lease=lease.id)
    store.put("/lease/a", "x", lease=lease.id)
    store.put("/lease/c", "x")
    assert store.revision == before + 3
    assert store.get("/lease/a").lease == lease.id
    info = store.lease_time_to_live(lease.id)
    assert (info.id, info.granted_ttl, info.keys) == (lease.id, 30, ["/lease/a", "/lease/b"])
    assert 0 < info.ttl <= 30
    assert store.lease_keepalive(lease.id) == 30
    # Putting a key without the lease takes it off the lease.
    store.put("/lease/b", "y")
    assert store.lease_time_to_live(lease.id).keys == ["/lease/a"]


def test_lease_revoke_deletes_its_keys(store):
    lease = store.lease_grant(30)
    store.put("/lease/a", "x", lease=lease.id)
    store.put("/lease/b", "x", lease=lease.id)
    store.put("/lease/c", "x")
    before = store.revision
    with store.watch("/lease/", prefix=True) as watch:
        store.lease_revoke(lease.id)
        events = drain(watch, 2)
    # The keys go in one write, at one revision.
    assert store.revision == before + 1
    # etcd deletes a lease's keys in key order.
    assert [(e.type, e.kv.key, e.revision) for e in events] == [
        (EventType.DELETE, "/lease/a", before + 1),
        (EventType.DELETE, "/lease/b", before + 1),
    ]
    assert keys_of(store.range("/lease/", prefix=True)) == ["/lease/c"]
    with pytest.raises(LeaseNotFound):
        store.lease_time_to_live(lease.id)


def test_lease_revoke_without_keys_does_not_advance_the_revision(store):
    lease = store.lease_grant(30)
    before = store.revision
    store.lease_revoke(lease.id)
    assert store.revision == before


def test_lease_expiry_deletes_its_keys(store):
    # The one real-time wait: etcd's minimum TTL is about 2 s and its lessor
    # looks for expired leases every 500 ms.
    lease = store.lease_grant(2)
    store.put("/exp/a", "x", lease=lease.id)
    store.put("/exp/kept", "x")
    with store.watch("/exp/", prefix=True) as watch:
        deadline = time.monotonic() + 6.0
        while store.get("/exp/a") is not None:
            assert time.monotonic() < deadline, "the lease did not expire within 6 s"
            time.sleep(0.1)
        event = drain(watch, 1)[0]
    assert (event.type, event.kv.key) == (EventType.DELETE, "/exp/a")
    assert store.get("/exp/kept") is not None
    with pytest.raises(LeaseNotFound):
        store.lease_keepalive(lease.id)


LEASE_NOT_FOUND_CASES = [
    # (id, call)
    ("keepalive", lambda s: s.lease_keepalive(UNKNOWN_LEASE)),
    ("time_to_live", lambda s: s.lease_time_to_live(UNKNOWN_LEASE)),
    ("revoke", lambda s: s.lease_revoke(UNKNOWN_LEASE)),
    ("put", lambda s: s.put("/l", "x", lease=UNKNOWN_LEASE)),
    ("put in a txn", lambda s: s.txn([], [Op.put("/l", "x", lease=UNKNOWN_LEASE)])),
]


@pytest.mark.parametrize("call", [c[1] for c in LEASE_NOT_FOUND_CASES], ids=[c[0] for c in LEASE_NOT_FOUND_CASES])
def test_lease_not_found(store, call):
    before = store.revision
    with pytest.raises(LeaseNotFound) as err:
        call(store)
    assert err.value.lease_id == UNKNOWN_LEASE
    assert store.revision == before
    assert store.get("/l") is None


def test_a_revoked_lease_is_gone(store):
    lease = store.lease_grant(30)
    store.lease_revoke(lease.id)
    for call in (store.lease_revoke, store.lease_keepalive, store.lease_time_to_live):
        with pytest.raises(LeaseNotFound):
            call(lease.id)
    with pytest.raises(LeaseNotFound):
        store.put("/l", "x", lease=lease.id)


def test_txn_checks_leases_only_in_the_branch_it_runs(store):
    # etcd checks a put's lease when it applies the branch that was chosen;
    # an unknown lease in the other branch does not matter.
    result = store.txn(
        [Compare.version("/absent", "=", 0)],
        success=[Op.put("/l", "x")],
        failure=[Op.put("/l", "x", lease=UNKNOWN_LEASE)],
    )
    assert result.succeeded and store.get("/l") is not None


EMPTY_KEY_CASES = [
    # (id, call): etcd has no empty key ("etcdserver: key is not provided").
    ("put", lambda s: s.put("", "x")),
    ("get", lambda s: s.get("")),
    ("delete", lambda s: s.delete("")),
    ("watch", lambda s: s.watch("")),
    ("put in a txn", lambda s: s.txn([], [Op.put("", "x")])),
]


@pytest.mark.parametrize("call", [c[1] for c in EMPTY_KEY_CASES], ids=[c[0] for c in EMPTY_KEY_CASES])
def test_the_empty_key_is_refused(store, call):
    with pytest.raises(ValueError, match="empty"):
        call(store)


def test_the_empty_key_starts_a_range(store):
    # ... but it may start a range or name the empty prefix: every key.
    store.put("/a", "1")
    store.put("/b", "1")
    assert keys_of(store.range("", "/b")) == ["/a"]
    assert keys_of(store.range("", "\0")) == ["/a", "/b"]
    assert store.delete("", prefix=True).deleted == 2


def test_lease_ttl_must_be_positive(store):
    with pytest.raises(ValueError):
        store.lease_grant(0)


# -- concurrency and lifecycle --------------------------------------------------------


def test_guaranteed_update_loses_no_update(store):
    threads, increments = 8, 50
    revisions: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def increment(value: bytes | None) -> bytes:
        return str(int(value or b"0") + 1).encode()

    def worker() -> None:
        try:
            for _ in range(increments):
                revision = guaranteed_update(store, "/counter", increment)
                with lock:
                    revisions.append(revision)
        except BaseException as err:  # noqa: BLE001  (reported below, in the test's thread)
            errors.append(err)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=60)
    assert not errors, errors
    kv = store.get("/counter")
    assert int(kv.value) == threads * increments
    assert kv.version == threads * increments
    assert len(set(revisions)) == threads * increments  # every success was its own write


def test_a_closed_store_refuses_calls(store):
    store.put("/k", "v")
    store.close()
    with pytest.raises(StoreClosed):
        store.put("/k", "w")
    with pytest.raises(StoreClosed):
        store.get("/k")
    store.close()  # twice is fine
