"""Fake list/watch sources for the client tests (not part of the engine).

:class:`StoreListWatch` serves objects from :mod:`kitlib.store`'s embedded
store the way the API server does: keys ``/registry/pods/<ns>/<name>``, JSON
values, ``resourceVersion`` = the key's mod revision, a list's version = the
store's revision, a watch from version R = the store's events after R, and a
compacted R surfaces as ``410 Gone``. :class:`ScriptedListWatch` is fed by
hand, for events the store never produces (BOOKMARK, ERROR).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any, Iterator

from kitlib.api.errors import Gone
from kitlib.store import Compacted, EventType
from kitlib.store.embedded import EmbeddedStore

Obj = dict[str, Any]


def pod(name: str, ns: str = "default", node: str | None = None, **labels: str) -> Obj:
    spec: Obj = {"containers": [{"name": "app", "image": "nginx"}]}
    if node:
        spec["nodeName"] = node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
        "spec": spec,
    }


def memory_store() -> EmbeddedStore:
    return EmbeddedStore(None, lessor=False)


class StoreListWatch:
    """A ListWatch over an embedded store, for one resource.

    ``compacted`` chooses how a too-old resourceVersion is reported: ``"open"``
    (``watch()`` raises Gone), ``"raise"`` (iterating raises Gone) or
    ``"event"`` (an ERROR event carrying the 410 Status, then the end).
    ``gate``: while cleared, ``watch()`` waits (a test "disconnects" the
    informer with ``disconnect()`` and changes the store meanwhile).
    """

    def __init__(self, store: EmbeddedStore, resource: str = "pods", *, compacted: str = "event") -> None:
        self.store = store
        self.prefix = f"/registry/{resource}/"
        self.compacted = compacted
        self.gate = threading.Event()
        self.gate.set()
        self.lists: list[str] = []  # the resourceVersion each list returned
        self.watches: list[str] = []  # the resourceVersion each watch started from
        self._streams: list[StoreWatchStream] = []
        self._lock = threading.Lock()

    # the test's side
    def put(self, obj: Obj) -> int:
        md = obj["metadata"]
        return self.store.put(f"{self.prefix}{md['namespace']}/{md['name']}", json.dumps(obj)).revision

    def delete(self, ns: str, name: str) -> int:
        return self.store.delete(f"{self.prefix}{ns}/{name}").revision

    def disconnect(self) -> None:
        """End every open watch cleanly; new watches wait until :meth:`reconnect`."""
        self.gate.clear()
        with self._lock:
            streams, self._streams = self._streams, []
        for stream in streams:
            stream.close()

    def reconnect(self) -> None:
        self.gate.set()

    def open_watches(self) -> int:
        with self._lock:
            return sum(1 for s in self._streams if not s.closed)

    # the ListWatch protocol
    def list(self, **options: Any) -> tuple[list[Obj], str]:
        result = self.store.range(self.prefix, prefix=True)
        items = [_object(kv.value, kv.mod_revision) for kv in result.kvs]
        self.lists.append(str(result.revision))
        return items, str(result.revision)

    def watch(self, resource_version: str, **options: Any) -> "StoreWatchStream":
        if not self.gate.wait(10):
            raise ConnectionError("the fake API server stayed disconnected")
        self.watches.append(resource_version)
        start = int(resource_version) + 1
        if self.compacted == "open" and start < self.store.compact_revision:
            raise _gone(resource_version, self.store.compact_revision)
        stream = StoreWatchStream(self.store.watch(self.prefix, prefix=True, start_revision=start, prev_kv=True),
                                  resource_version, self.compacted)
        with self._lock:
            self._streams.append(stream)
        return stream


def _gone(resource_version: str, compact_revision: int) -> Gone:
    # kube-apiserver's words (storage.NewTooLargeResourceVersionError's sibling, errTooOld)
    return Gone(f"too old resource version: {resource_version} ({compact_revision})")


def _object(value: bytes, revision: int) -> Obj:
    obj = json.loads(value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
    return obj


class StoreWatchStream:
    def __init__(self, watch, resource_version: str, compacted: str) -> None:
        self._watch = watch
        self._rv = resource_version
        self._compacted = compacted
        self.closed = False

    def __iter__(self) -> Iterator[tuple[str, Obj]]:
        while True:
            try:
                event = self._watch.get()
            except Compacted as err:
                gone = _gone(self._rv, err.compact_revision)
                if self._compacted == "event":
                    yield "ERROR", gone.status()
                    return
                raise gone from None
            if event is None:  # cancelled
                return
            if event.type == EventType.DELETE:
                # The API server sends the last state, stamped with the deleting revision.
                yield "DELETED", _object(event.prev_kv.value, event.kv.mod_revision)
            else:
                yield ("ADDED" if event.kv.version == 1 else "MODIFIED"), _object(event.kv.value, event.kv.mod_revision)

    def close(self) -> None:
        self.closed = True
        self._watch.cancel()


class ScriptedListWatch:
    """Lists return ``items`` at ``resource_version`` (or raise the next of ``list_errors``); each
    watch is a :class:`ScriptedStream` the test feeds."""

    def __init__(self, items: list[Obj] = (), resource_version: str = "10") -> None:
        self.items = list(items)
        self.resource_version = resource_version
        self.list_errors: list[BaseException] = []
        self.watch_errors: list[BaseException] = []
        self.lists: list[str] = []
        self.watches: list[str] = []
        self.streams: list[ScriptedStream] = []
        self._cond = threading.Condition()

    def list(self, **options: Any) -> tuple[list[Obj], str]:
        with self._cond:
            if self.list_errors:
                raise self.list_errors.pop(0)
            self.lists.append(self.resource_version)
            return [json.loads(json.dumps(o)) for o in self.items], self.resource_version

    def watch(self, resource_version: str, **options: Any) -> "ScriptedStream":
        with self._cond:
            self.watches.append(resource_version)
            if self.watch_errors:
                raise self.watch_errors.pop(0)
            stream = ScriptedStream()
            self.streams.append(stream)
            self._cond.notify_all()
            return stream

    def stream(self, n: int, timeout: float = 5.0) -> "ScriptedStream":
        """The n-th watch opened (from 0), waiting for it to be opened."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.streams) > n, timeout):
                raise AssertionError(f"watch #{n} was never opened (watches: {self.watches})")
            return self.streams[n]


_END = object()


class ScriptedStream:
    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()
        self.closed = False

    def send(self, event_type: str, obj: Obj) -> None:
        self._queue.put((event_type, obj))

    def fail(self, err: BaseException) -> None:
        self._queue.put(err)

    def end(self) -> None:
        self._queue.put(_END)

    def __iter__(self) -> Iterator[tuple[str, Obj]]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self.closed = True
        self._queue.put(_END)


def eventually(predicate, timeout: float = 5.0, *, clock=None, step: float = 0.0, message: str = "") -> None:
    """Poll ``predicate`` (every millisecond of real time), advancing ``clock`` by ``step`` between polls."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(message or f"condition not met within {timeout} s")
        if clock is not None and step:
            clock.advance(step)
        time.sleep(0.001)
