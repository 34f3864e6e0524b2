"""Informers: the indexer, read-only objects, the reflector's list/watch/relist, handlers, resync."""

from __future__ import annotations

import copy
import json
import pickle
import random
import threading

import pytest

from kitlib.api.errors import Gone, InternalError
from kitlib.api.meta import deep_copy, key_of
from kitlib.client.indexer import (
    NAMESPACE_INDEX,
    NODE_NAME_INDEX,
    DeletedFinalStateUnknown,
    Indexer,
    ReadOnlyObject,
    deletion_handling_key,
    freeze,
    namespace_index,
    node_name_index,
)
from kitlib.client.informer import SharedInformer, wait_for_cache_sync
from kitlib.client.reflector import Backoff, Reflector
from kitlib.clock import FakeClock

from .fakes import ScriptedListWatch, StoreListWatch, eventually, memory_store, pod


def rv(obj) -> str:
    return obj["metadata"]["resourceVersion"]


class Recorder:
    """A handler that writes down what it hears, and what the cache held at that moment."""

    def __init__(self, indexer: Indexer | None = None) -> None:
        self.indexer = indexer
        self.events: list[tuple] = []
        self.calls: list[tuple] = []  # (method, args..., cached object at the time)
        self._lock = threading.Lock()

    def _record(self, event: tuple, *args) -> None:
        with self._lock:
            key = event[1]
            cached = self.indexer.get_by_key(key) if self.indexer is not None else None
            self.events.append(event)
            self.calls.append((event[0], *args, cached))

    def on_add(self, obj) -> None:
        self._record(("add", key_of(obj), rv(obj)), obj)

    def on_update(self, old, new) -> None:
        self._record(("update", key_of(new), rv(old), rv(new)), old, new)

    def on_delete(self, obj) -> None:
        if isinstance(obj, DeletedFinalStateUnknown):
            self._record(("tombstone", obj.key, rv(obj.obj)), obj)
        else:
            self._record(("delete", key_of(obj), rv(obj)), obj)

    def since(self, n: int) -> list[tuple]:
        with self._lock:
            return self.events[n:]

    def __len__(self) -> int:
        with self._lock:
            return len(self.events)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def running():
    """Start informers through this; they are stopped (and their fakes reconnected) after the test."""
    started: list[tuple[SharedInformer, object]] = []

    def start(informer: SharedInformer, source=None) -> SharedInformer:
        started.append((informer, source))
        informer.run()
        return informer

    yield start
    for informer, source in started:
        if isinstance(source, StoreListWatch):
            source.reconnect()
        informer.stop()


@pytest.fixture
def source():
    store = memory_store()
    yield StoreListWatch(store)
    store.close()


# -- the indexer --------------------------------------------------------------

INDEX_STEPS = [
    # (operation, argument, expected namespace index, expected node index)
    ("add", pod("a", node="n1"), {"default": ["default/a"]}, {"n1": ["default/a"]}),
    ("add", pod("b", ns="kube-system"), {"default": ["default/a"], "kube-system": ["kube-system/b"]},
     {"n1": ["default/a"]}),
    ("update", pod("a", node="n2"), {"default": ["default/a"], "kube-system": ["kube-system/b"]},
     {"n2": ["default/a"]}),
    ("add", pod("c", node="n2"), {"default": ["default/a", "default/c"], "kube-system": ["kube-system/b"]},
     {"n2": ["default/a", "default/c"]}),
    ("delete", pod("a"), {"default": ["default/c"], "kube-system": ["kube-system/b"]}, {"n2": ["default/c"]}),
    ("delete", "kube-system/b", {"default": ["default/c"]}, {"n2": ["default/c"]}),
    ("delete", "default/never-there", {"default": ["default/c"]}, {"n2": ["default/c"]}),
    ("replace", [pod("e", node="n1"), pod("d", ns="x", node="n1")], {"default": ["default/e"], "x": ["x/d"]},
     {"n1": ["default/e", "x/d"]}),
]


def test_indexer_keeps_its_indexes_current():
    indexer = Indexer({NAMESPACE_INDEX: namespace_index, NODE_NAME_INDEX: node_name_index})
    for step, (op, arg, by_namespace, by_node) in enumerate(INDEX_STEPS):
        getattr(indexer, op)(arg)
        where = f"after step {step} ({op})"
        assert {v: indexer.index_keys(NAMESPACE_INDEX, v) for v in indexer.list_index_values(NAMESPACE_INDEX)} \
            == by_namespace, where
        assert {v: indexer.index_keys(NODE_NAME_INDEX, v) for v in indexer.list_index_values(NODE_NAME_INDEX)} \
            == by_node, where
        assert indexer.list_keys() == sorted({k for keys in by_namespace.values() for k in keys}), where
    assert [key_of(p) for p in indexer.by_index(NODE_NAME_INDEX, "n1")] == ["default/e", "x/d"]
    assert [key_of(p) for p in indexer.index(NAMESPACE_INDEX, pod("zzz", ns="x"))] == ["x/d"]
    assert indexer.by_index(NODE_NAME_INDEX, "nowhere") == []


def test_indexer_reads():
    indexer = Indexer()
    assert indexer.add(pod("a")) is None
    old = indexer.get_by_key("default/a")
    assert indexer.add(pod("a", app="web")) is old
    assert indexer.get(pod("a"))["metadata"]["labels"] == {"app": "web"}
    assert "default/a" in indexer and len(indexer) == 1 and indexer.get_by_key("default/b") is None
    indexer.add({"metadata": {"name": "node-1"}})  # cluster-scoped: the key is the name
    assert indexer.list_keys() == ["default/a", "node-1"]
    with pytest.raises(KeyError, match="no index named 'spec.nodeName'"):
        indexer.by_index(NODE_NAME_INDEX, "n1")


def test_an_index_added_later_covers_existing_objects():
    indexer = Indexer()
    indexer.add(pod("a", node="n1"))
    indexer.add_indexers({NODE_NAME_INDEX: node_name_index})
    assert indexer.index_keys(NODE_NAME_INDEX, "n1") == ["default/a"]
    with pytest.raises(ValueError, match="already exists"):
        indexer.add_indexers({NODE_NAME_INDEX: node_name_index})


# -- read-only objects ---------------------------------------------------------

MUTATIONS = {
    "set a top-level field": lambda o: o.__setitem__("kind", "Evil"),
    "set a label": lambda o: o["metadata"]["labels"].__setitem__("app", "evil"),
    "delete metadata": lambda o: o.__delitem__("metadata"),
    "update metadata": lambda o: o["metadata"].update(name="evil"),
    "setdefault status": lambda o: o.setdefault("status", {}),
    "pop spec": lambda o: o.pop("spec"),
    "clear labels": lambda o: o["metadata"]["labels"].clear(),
    "merge into labels": lambda o: o["metadata"]["labels"].__ior__({"x": "y"}),
    "append a container": lambda o: o["spec"]["containers"].append({"name": "evil"}),
    "+= containers": lambda o: o["spec"]["containers"].__iadd__([{}]),
    "replace a container": lambda o: o["spec"]["containers"].__setitem__(0, {}),
    "change an image": lambda o: o["spec"]["containers"][0].__setitem__("image", "evil"),
    "sort containers": lambda o: o["spec"]["containers"].sort(key=str),
    "delete a container": lambda o: o["spec"]["containers"].__delitem__(0),
}


@pytest.mark.parametrize("mutate", MUTATIONS.values(), ids=MUTATIONS.keys())
def test_modifying_a_cached_object_fails_and_cannot_corrupt_the_cache(mutate):
    original = pod("a", node="n1", app="web")
    indexer = Indexer({NODE_NAME_INDEX: node_name_index})
    indexer.add(original)
    cached = indexer.get_by_key("default/a")
    with pytest.raises(ReadOnlyObject, match=r"read-only: copy it with kitlib.api.deep_copy\(obj\)"):
        mutate(cached)
    assert indexer.get_by_key("default/a") == original
    assert isinstance(ReadOnlyObject("x"), TypeError)


def test_the_cache_holds_its_own_copy_and_copies_are_writable():
    original = pod("a", app="web")
    indexer = Indexer()
    indexer.add(original)
    original["metadata"]["labels"]["app"] = "changed by the caller afterwards"
    cached = indexer.get_by_key("default/a")
    assert cached["metadata"]["labels"] == {"app": "web"}

    mine = deep_copy(cached)
    mine["metadata"]["labels"]["app"] = "db"
    mine["spec"]["containers"].append({"name": "sidecar"})
    for other in (copy.deepcopy(cached), pickle.loads(pickle.dumps(cached))):
        other["spec"]["containers"].append({})
        assert type(other) is dict
    shallow = copy.copy(cached)
    shallow["kind"] = "Mine"  # the top is a new dict; what it holds is still the cache's, and frozen
    with pytest.raises(ReadOnlyObject):
        shallow["metadata"]["name"] = "x"
    assert cached == pod("a", app="web") and json.loads(json.dumps(cached)) == cached
    assert freeze(cached) is cached


# -- the informer: list, watch, relist ------------------------------------------


def test_initial_list_fills_the_cache_and_tells_handlers(source, clock, running):
    for name in ["c", "a", "b"]:
        source.put(pod(name))
    informer = SharedInformer(source, clock=clock)
    recorder = Recorder(informer.indexer)
    informer.add_event_handler(recorder)
    assert not informer.has_synced()
    running(informer, source)
    assert wait_for_cache_sync(informer, timeout=5)
    assert [e[:2] for e in recorder.events] == [("add", "default/a"), ("add", "default/b"), ("add", "default/c")]
    assert informer.indexer.list_keys() == ["default/a", "default/b", "default/c"]
    assert informer.last_sync_resource_version() == source.lists[0] == "4"


def test_watch_events_reach_handlers_in_order(source, clock, running):
    source.put(pod("a"))
    source.put(pod("b"))
    informer = running(SharedInformer(source, clock=clock), source)
    recorder = Recorder(informer.indexer)
    informer.add_event_handler(recorder)
    assert wait_for_cache_sync(informer, timeout=5)
    start = len(recorder)
    rv_d = source.put(pod("d"))
    rv_a = source.put(pod("a", app="web"))
    rv_del = source.delete("default", "b")
    rv_d2 = source.put(pod("d", node="n1"))
    eventually(lambda: len(recorder) - start == 4)
    assert recorder.since(start) == [
        ("add", "default/d", str(rv_d)),
        ("update", "default/a", "2", str(rv_a)),
        ("delete", "default/b", str(rv_del)),  # the last state, stamped with the deleting revision
        ("update", "default/d", str(rv_d), str(rv_d2)),
    ]
    assert informer.indexer.list_keys() == ["default/a", "default/d"]
    assert source.lists == ["3"] and source.watches == ["3"]


def test_handlers_see_consistent_old_new_and_cache(source, clock, running):
    informer = running(SharedInformer(source, clock=clock), source)
    recorder = Recorder(informer.indexer)
    informer.add_event_handler(recorder)
    assert wait_for_cache_sync(informer, timeout=5)
    source.put(pod("a"))
    source.put(pod("a", app="v2"))
    source.put(pod("a", app="v3"))
    source.delete("default", "a")
    eventually(lambda: len(recorder) == 4)
    (_, added, cached_at_add), (_, old1, new1, cached1), (_, old2, new2, cached2), (_, gone, cached_at_delete) \
        = recorder.calls
    assert cached_at_add is added and cached1 is new1 and cached2 is new2, "the cache holds new before handlers run"
    assert old1 is added and old2 is new1, "old is exactly the object handlers were given before"
    assert int(rv(old1)) < int(rv(new1)) < int(rv(new2)) < int(rv(gone))
    assert cached_at_delete is None and gone["metadata"]["labels"] == {"app": "v3"}


def test_resume_after_a_dropped_watch_without_duplicates(source, clock, running):
    source.put(pod("a"))
    informer = running(SharedInformer(source, clock=clock), source)
    recorder = Recorder()
    informer.add_event_handler(recorder)
    assert wait_for_cache_sync(informer, timeout=5)
    rv_x = source.put(pod("x"))
    eventually(lambda: len(recorder) == 2)
    source.disconnect()  # the server closes the watch (a timeout, a restart)
    rv_a = source.put(pod("a", app="web"))
    rv_e = source.put(pod("e"))
    rv_gone = source.delete("default", "x")
    source.reconnect()
    eventually(lambda: len(recorder) >= 5)
    eventually(lambda: source.open_watches() == 1)
    assert recorder.since(2) == [
        ("update", "default/a", "2", str(rv_a)),
        ("add", "default/e", str(rv_e)),
        ("delete", "default/x", str(rv_gone)),
    ]
    assert source.lists == ["2"], "no re-list: the watch resumed"
    assert source.watches == ["2", str(rv_x)], "resumed from the last resourceVersion seen"


@pytest.mark.parametrize("compacted", ["open", "raise", "event"])
def test_relist_after_compaction_synthesizes_deletes(clock, running, compacted):
    store = memory_store()
    source = StoreListWatch(store, compacted=compacted)
    try:
        for name in ["a", "b", "c"]:
            source.put(pod(name))
        informer = running(SharedInformer(source, clock=clock, rng=random.Random(1)), source)
        recorder = Recorder(informer.indexer)
        informer.add_event_handler(recorder)
        assert wait_for_cache_sync(informer, timeout=5)
        source.put(pod("x"))
        eventually(lambda: len(recorder) == 4)
        source.disconnect()
        rv_a = informer.indexer.get_by_key("default/a")["metadata"]["resourceVersion"]
        source.delete("default", "a")
        rv_b = source.put(pod("b", app="web"))
        rv_d = source.put(pod("d"))
        store.compact(store.revision)  # the history the informer needs is gone
        source.reconnect()
        # 410, then a back-off (0.8 s to 1.6 s on the clock), then a fresh list.
        eventually(lambda: len(source.lists) == 2, clock=clock, step=0.05)
        eventually(lambda: len(recorder) == 7)
        assert recorder.since(4) == [
            ("update", "default/b", "3", str(rv_b)),  # changed: update; c and x unchanged: nothing
            ("add", "default/d", str(rv_d)),
            ("tombstone", "default/a", rv_a),  # the delete we missed, with the last state we knew
        ]
        tombstone = recorder.calls[-1][1]
        assert deletion_handling_key(tombstone) == "default/a" and tombstone.obj["metadata"]["name"] == "a"
        assert recorder.calls[-1][-1] is None, "the cache no longer holds it when the handler runs"
        assert informer.indexer.list_keys() == ["default/b", "default/c", "default/d", "default/x"]
        eventually(lambda: source.watches[-1] == source.lists[1], message="the new watch starts at the new list")
    finally:
        source.reconnect()
        informer.stop()
        store.close()


def test_a_watch_that_ends_at_once_empty_is_a_failure(source, clock, running):
    informer = running(SharedInformer(source, clock=clock), source)
    assert wait_for_cache_sync(informer, timeout=5)
    eventually(lambda: source.open_watches() == 1)
    source.disconnect()
    source.reconnect()
    eventually(lambda: len(source.lists) == 2, clock=clock, step=0.05)


# -- the reflector on scripted sources ---------------------------------------------


def scripted(clock, *items, **kwargs):
    lw = ScriptedListWatch(list(items), resource_version="10")
    informer = SharedInformer(lw, clock=clock, **kwargs)
    return lw, informer


def test_bookmark_moves_the_resource_version_only(clock, running):
    lw, informer = scripted(clock, {**pod("a"), "metadata": {**pod("a")["metadata"], "resourceVersion": "9"}})
    recorder = Recorder()
    informer.add_event_handler(recorder)
    running(informer)
    lw.stream(0).send("BOOKMARK", {"kind": "Pod", "metadata": {"resourceVersion": "15"}})
    lw.stream(0).end()
    lw.stream(1)
    assert lw.watches == ["10", "15"] and lw.lists == ["10"]
    assert recorder.events == [("add", "default/a", "9")]


def test_added_for_a_known_key_is_an_update_and_modified_for_an_unknown_one_an_add(clock, running):
    lw, informer = scripted(clock, {**pod("a"), "metadata": {**pod("a")["metadata"], "resourceVersion": "9"}})
    recorder = Recorder()
    informer.add_event_handler(recorder)
    running(informer)
    stream = lw.stream(0)
    stream.send("ADDED", {**pod("a"), "metadata": {**pod("a")["metadata"], "resourceVersion": "11"}})
    stream.send("MODIFIED", {**pod("b"), "metadata": {**pod("b")["metadata"], "resourceVersion": "12"}})
    eventually(lambda: len(recorder) == 3)
    assert recorder.events[1:] == [("update", "default/a", "9", "11"), ("add", "default/b", "12")]


ERRORS = {
    "ERROR event with 410": ("event", Gone("too old resource version: 10 (20)").status()),
    "ERROR event with 500": ("event", InternalError("etcd is sad").status()),
    "ERROR event without a Status": ("event", {"kind": "Pod"}),
    "the stream fails": ("fail", ConnectionResetError("connection reset by peer")),
    "Gone raised mid-stream": ("fail", Gone("too old resource version: 10 (20)")),
}


@pytest.mark.parametrize("how,what", ERRORS.values(), ids=ERRORS.keys())
def test_watch_errors_back_off_then_list_again(clock, running, how, what):
    lw, informer = scripted(clock, backoff=Backoff(jitter=0))
    running(informer)
    stream = lw.stream(0)
    stream.send("ADDED", {**pod("a"), "metadata": {**pod("a")["metadata"], "resourceVersion": "11"}})
    if how == "event":
        stream.send("ERROR", what)
    else:
        stream.fail(what)
    eventually(lambda: informer.indexer.get_by_key("default/a") is not None)
    lw.items = []  # the relist will find a gone
    recorder = Recorder()
    informer.add_event_handler(recorder)  # replays default/a as an add
    eventually(lambda: len(lw.lists) == 2, clock=clock, step=0.05)
    eventually(lambda: len(recorder) == 2)
    assert recorder.events[1] == ("tombstone", "default/a", "11")
    lw.stream(1)
    assert lw.watches == ["10", "10"]


def test_opening_the_watch_fails_then_retries_from_the_same_version(clock, running):
    lw, informer = scripted(clock, backoff=Backoff(jitter=0))
    lw.watch_errors = [ConnectionRefusedError("connection refused")]
    running(informer)
    assert wait_for_cache_sync(informer, timeout=5)
    eventually(lambda: len(lw.streams) == 1, clock=clock, step=0.05)
    assert lw.lists == ["10"] and lw.watches == ["10", "10"]


def test_opening_the_watch_with_410_lists_again(clock, running):
    lw, informer = scripted(clock, backoff=Backoff(jitter=0))
    lw.watch_errors = [Gone("too old resource version: 10 (20)")]
    running(informer)
    eventually(lambda: len(lw.lists) == 2, clock=clock, step=0.05)
    lw.stream(0)
    assert lw.watches == ["10", "10"]


def test_list_failures_back_off_on_the_clock_until_synced(clock, running):
    lw, informer = scripted(clock, pod("a"), backoff=Backoff(jitter=0))
    lw.list_errors = [ConnectionRefusedError("refused"), InternalError("not ready")]
    running(informer)
    assert not wait_for_cache_sync(informer, timeout=0.05), "nothing lists until the clock moves"
    clock.advance(0.8)  # first back-off
    eventually(lambda: not lw.list_errors)
    assert not informer.has_synced()
    eventually(informer.has_synced, clock=clock, step=0.1)  # second: 1.6 s
    assert informer.indexer.list_keys() == ["default/a"]


BACKOFF_SEQUENCE = [
    # (seconds since the previous failure, expected wait)
    (0, 0.8), (1, 1.6), (1, 3.2), (1, 6.4), (1, 12.8), (1, 25.6), (1, 30.0), (1, 30.0),
    (121, 0.8),  # two quiet minutes: start again from the beginning
    (120, 1.6),  # exactly two minutes is not more than two
]


def test_backoff_sequence():
    backoff, now = Backoff(jitter=0), 0.0
    for gap, expected in BACKOFF_SEQUENCE:
        now += gap
        assert backoff.next(now, random.Random(0)) == pytest.approx(expected), f"at {now}"


def test_backoff_jitter_stretches_up_to_double():
    rng = random.Random(7)
    waits = [Backoff().next(0.0, rng) for _ in range(50)]
    assert all(0.8 <= w < 1.6 for w in waits) and len(set(waits)) > 1


# -- resync, handlers, lifecycle --------------------------------------------------


def test_resync_redelivers_every_object_on_the_clock(source, clock, running):
    source.put(pod("a"))
    source.put(pod("b"))
    informer = SharedInformer(source, clock=clock, resync_period=30)
    recorder = Recorder()
    informer.add_event_handler(recorder)
    running(informer, source)
    assert wait_for_cache_sync(informer, timeout=5)
    clock.advance(29)
    eventually(lambda: source.open_watches() == 1)
    assert len(recorder) == 2
    clock.advance(1)
    eventually(lambda: len(recorder) == 4)
    assert recorder.since(2) == [("update", "default/a", "2", "2"), ("update", "default/b", "3", "3")]
    (_, old, new, _) = recorder.calls[2]
    assert old is new is informer.indexer.get_by_key("default/a")
    clock.advance(60)  # two periods at once: two resyncs
    eventually(lambda: len(recorder) == 8)


def test_a_late_handler_hears_the_cache_as_adds(source, clock, running):
    source.put(pod("a"))
    informer = running(SharedInformer(source, clock=clock), source)
    assert wait_for_cache_sync(informer, timeout=5)
    late = Recorder()
    informer.add_event_handler(late)
    assert late.events == [("add", "default/a", "2")]
    source.put(pod("b"))
    eventually(lambda: len(late) == 2)


def test_function_handlers_and_a_failing_handler(source, clock, running, caplog):
    informer = SharedInformer(source, clock=clock)
    seen = []

    def broken(obj):
        raise RuntimeError("handler bug")

    informer.add_event_handler(on_add=broken)
    informer.add_event_handler(on_add=lambda o: seen.append(("add", key_of(o))),
                               on_delete=lambda o: seen.append(("delete", deletion_handling_key(o))))
    with pytest.raises(TypeError):
        informer.add_event_handler(Recorder(), on_add=print)
    running(informer, source)
    assert wait_for_cache_sync(informer, timeout=5)
    source.put(pod("a"))
    source.put(pod("a", app="x"))  # no update function: ignored
    source.delete("default", "a")
    eventually(lambda: len(seen) == 2)
    assert seen == [("add", "default/a"), ("delete", "default/a")]
    assert "event handler" in caplog.text and "handler bug" in caplog.text


def test_stop_ends_the_threads_and_the_watch(source, clock):
    informer = SharedInformer(source, clock=clock, resync_period=10)
    with informer:
        assert wait_for_cache_sync(informer, timeout=5)
        eventually(lambda: source.open_watches() == 1)
    assert source.open_watches() == 0
    assert all(not t.is_alive() for t in informer._threads)
    assert informer.stopped() and informer.has_synced()


def test_wait_for_cache_sync_gives_up_on_a_stopped_informer(clock):
    lw, informer = scripted(clock)
    lw.list_errors = [ConnectionRefusedError("refused")]
    informer.run()
    informer.stop()
    assert wait_for_cache_sync(informer, lambda: True, timeout=5) is False


def test_a_reflector_can_fill_a_plain_indexer(clock):
    lw = ScriptedListWatch([pod("a")], resource_version="10")
    indexer = Indexer()
    reflector = Reflector(lw, indexer, clock=clock)
    thread = threading.Thread(target=reflector.run)
    thread.start()
    lw.stream(0).send("ADDED", {**pod("b"), "metadata": {**pod("b")["metadata"], "resourceVersion": "11"}})
    eventually(lambda: len(indexer) == 2)
    reflector.stop()
    thread.join(5)
    assert not thread.is_alive() and lw.stream(0).closed
    assert reflector.last_sync_resource_version == "11"
