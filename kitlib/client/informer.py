"""Informers: a component's local, read-only copy of the objects it watches.

A controller does not ask the API server "which Pods are there?" every time
it reconciles: it keeps a cache, filled by one LIST and kept current by a
WATCH from the list's resourceVersion, and it hears about every change
through event handlers, which put keys on a work queue. This is client-go's
``k8s.io/client-go/tools/cache``:

    ListWatch --list, watch--> Reflector --replace/add/update/delete--> SharedInformer
                                                                  |-> Indexer: "namespace/name" -> object, plus indexes
                                                                  '-> handlers: on_add, on_update, on_delete

The :class:`~kitlib.client.reflector.Reflector` survives a broken watch: it
resumes from the last resourceVersion it saw, or lists again when that
version is too old (``410 Gone``); after a re-list, objects that vanished
meanwhile are reported as deleted with a
:class:`~kitlib.client.indexer.DeletedFinalStateUnknown` tombstone. The
:class:`~kitlib.client.indexer.Indexer` answers reads from memory. Its
objects are shared by every reader and frozen: never modify one;
``kitlib.api.deep_copy`` it first (see :mod:`kitlib.client.indexer`).

    informer = SharedInformer(pods_list_watch, clock=clock, indexers={NODE_NAME_INDEX: node_name_index})
    informer.add_event_handler(on_add=lambda pod: queue.add(key_of(pod)))
    informer.run()
    wait_for_cache_sync(informer, timeout=10)
    informer.indexer.by_index(NODE_NAME_INDEX, "node-1")

Everything is plain threads; handlers, the cache and the reflector's loop
are synchronous code a reader can step through.

Simplifications:
- No DeltaFIFO: the reflector's thread updates the cache and calls every
  handler itself, in event order, so a slow handler delays the watch
  (client-go queues deltas and gives each handler a goroutine and a buffer).
  Handlers should do what sample-controller's do: enqueue a key and return.
- One resync period per informer, for all its handlers (client-go: per
  handler); a re-list reports an object whose resourceVersion did not change
  to nobody (client-go reports it to handlers whose resync is due).
- The reflector's and the indexer's own simplifications are listed in
  :mod:`kitlib.client.reflector` and :mod:`kitlib.client.indexer`.
"""

from __future__ import annotations

import logging
import random
import threading
import time as _real_time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Protocol

from kitlib.api.meta import key_of
from kitlib.clock import Clock, RealClock
from kitlib.client.indexer import DeletedFinalStateUnknown, IndexFunc, Indexer, Obj, freeze
from kitlib.client.reflector import Backoff, ListWatch, Reflector, resource_version_of
from kitlib.client.workqueue import sleep_until

log = logging.getLogger(__name__)


# -- the shared informer -----------------------------------------------------


class ResourceEventHandler(Protocol):
    """What an informer tells a component (client-go's ``ResourceEventHandler``).

    When a handler runs, the cache already holds ``new`` (or no longer holds
    the deleted object). ``on_delete`` may receive a
    :class:`DeletedFinalStateUnknown` instead of the object. Handlers run on
    the informer's thread, one event at a time, in order; they must return
    quickly (enqueue a key) and must not modify what they are given.
    """

    def on_add(self, obj: Obj) -> None: ...

    def on_update(self, old: Obj, new: Obj) -> None: ...

    def on_delete(self, obj: Obj | DeletedFinalStateUnknown) -> None: ...


@dataclass
class ResourceEventHandlerFuncs:
    """A handler from up to three functions; a missing one ignores its events (``ResourceEventHandlerFuncs``)."""

    add_func: Callable[[Obj], None] | None = None
    update_func: Callable[[Obj, Obj], None] | None = None
    delete_func: Callable[[Any], None] | None = None

    def on_add(self, obj: Obj) -> None:
        if self.add_func:
            self.add_func(obj)

    def on_update(self, old: Obj, new: Obj) -> None:
        if self.update_func:
            self.update_func(old, new)

    def on_delete(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        if self.delete_func:
            self.delete_func(obj)


class _Processor:
    """Updates the indexer, then tells every handler what changed (``processDeltas`` + ``sharedProcessor``).

    Lock rule: ``lock`` is held while the cache changes and the handlers are
    told, so handlers hear about changes in the order the cache made them,
    and a handler added late is replayed a cache that does not move under it.
    """

    def __init__(self, indexer: Indexer, name: str) -> None:
        self.indexer = indexer
        self.name = name
        self.handlers: list[ResourceEventHandler] = []
        self.lock = threading.RLock()
        self.synced = threading.Event()

    def add_handler(self, handler: ResourceEventHandler) -> None:
        with self.lock:
            for obj in self.indexer.list():
                self._call(handler.on_add, obj)
            self.handlers.append(handler)

    def replace(self, objs: Iterable[Obj], resource_version: str) -> None:
        frozen = [freeze(o) for o in objs]
        with self.lock:
            old_items = self.indexer.replace(frozen, resource_version)
            present = set()
            for new in frozen:
                key = key_of(new)
                present.add(key)
                old = old_items.get(key)
                if old is None:
                    self._notify("on_add", new)
                elif resource_version_of(old) != resource_version_of(new):
                    self._notify("on_update", old, new)
                # else: unchanged since we last saw it; nothing to tell
            for key in sorted(old_items.keys() - present):
                self._notify("on_delete", DeletedFinalStateUnknown(key, old_items[key]))
            self.synced.set()

    def add(self, obj: Obj) -> None:
        new = freeze(obj)
        with self.lock:
            old = self.indexer.add(new)
            if old is None:
                self._notify("on_add", new)
            else:
                self._notify("on_update", old, new)

    update = add  # an ADDED for a key we hold is an update, a MODIFIED for one we lack an add

    def delete(self, obj: Obj) -> None:
        final = freeze(obj)
        with self.lock:
            self.indexer.delete(final)
            self._notify("on_delete", final)

    def resync(self) -> None:
        with self.lock:
            for obj in self.indexer.list():
                self._notify("on_update", obj, obj)

    def _notify(self, method: str, *args: Any) -> None:
        for handler in list(self.handlers):  # a handler may add a handler; it hears from the next event on
            self._call(getattr(handler, method), *args)

    def _call(self, func: Callable[..., None], *args: Any) -> None:
        try:
            func(*args)
        except Exception:  # noqa: BLE001 (one broken handler must not stop the others or the watch)
            log.exception("%s: event handler %s failed", self.name, getattr(func, "__qualname__", func))


class SharedInformer:
    """A reflector, an indexer and a list of handlers, run on background threads (``SharedIndexInformer``).

    ``run()`` starts it and returns (client-go's ``Run`` blocks; a Python
    caller would only start a thread for it). ``stop()`` stops it.
    ``has_synced()`` turns true once the first list is in the cache and every
    handler has heard about it; :func:`wait_for_cache_sync` waits for that.
    Every ``resync_period`` seconds on the clock (0: never), every cached
    object is delivered again as ``on_update(obj, obj)``, so a controller
    that missed acting on something gets another chance.
    """

    def __init__(
        self,
        list_watch: ListWatch,
        *,
        name: str = "",
        resync_period: float = 0.0,
        indexers: Mapping[str, IndexFunc] | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        backoff: Backoff | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name or type(list_watch).__name__
        self.clock = clock or RealClock()
        self.resync_period = resync_period
        self.indexer = Indexer(indexers)
        self._processor = _Processor(self.indexer, self.name)
        self.reflector = Reflector(
            list_watch, self._processor, name=self.name, clock=self.clock, rng=rng, backoff=backoff, options=options
        )
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._started = False
        self._stopped = threading.Event()

    def add_event_handler(
        self,
        handler: ResourceEventHandler | None = None,
        *,
        on_add: Callable[[Obj], None] | None = None,
        on_update: Callable[[Obj, Obj], None] | None = None,
        on_delete: Callable[[Any], None] | None = None,
    ) -> ResourceEventHandler:
        """Register a handler object, or up to three functions; returns the handler.

        A handler added while the informer runs first receives ``on_add`` for
        every object already cached, as in client-go.
        """
        if handler is None:
            handler = ResourceEventHandlerFuncs(on_add, on_update, on_delete)
        elif on_add or on_update or on_delete:
            raise TypeError("pass a handler object or functions, not both")
        self._processor.add_handler(handler)
        return handler

    def run(self) -> None:
        """Start listing and watching on a background thread (and the resync timer); returns at once."""
        with self._lock:
            if self._started:
                log.warning("%s: informer already started", self.name)
                return
            self._started = True
            self._threads.append(
                threading.Thread(target=self.reflector.run, name=f"kit-informer-{self.name}", daemon=True)
            )
            if self.resync_period > 0:
                first = self.clock.now() + self.resync_period
                self._threads.append(threading.Thread(
                    target=self._resync_loop, args=(first,), name=f"kit-resync-{self.name}", daemon=True))
        for thread in self._threads:
            thread.start()

    def _resync_loop(self, deadline: float) -> None:
        # Deadlines are start + k * period on the clock, so a simulation that
        # jumps two periods at once gets two resyncs, deterministically.
        while not sleep_until(self.clock, deadline, self._stopped):
            if self.has_synced():
                self._processor.resync()
            deadline += self.resync_period

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the reflector and the resync timer; wait up to ``timeout`` real seconds for their threads."""
        self._stopped.set()
        self.reflector.stop()
        for thread in self._threads:
            if thread is not threading.current_thread():  # a handler may call stop()
                thread.join(timeout)
                if thread.is_alive():
                    log.warning("%s: thread %s did not stop within %s s (blocked in list or watch?)",
                                self.name, thread.name, timeout)

    def stopped(self) -> bool:
        return self._stopped.is_set()

    def has_synced(self) -> bool:
        """Whether the first list has reached the cache and the handlers (client-go's ``HasSynced``)."""
        return self._processor.synced.is_set()

    def last_sync_resource_version(self) -> str:
        return self.reflector.last_sync_resource_version

    def __enter__(self) -> "SharedInformer":
        self.run()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for_cache_sync(*informers: SharedInformer | Callable[[], bool], timeout: float | None = None) -> bool:
    """Wait until every informer has synced; False if ``timeout`` real seconds pass first, or one stops.

    Accepts informers or ``has_synced`` functions (client-go's
    ``WaitForCacheSync``). A controller starts its workers only after this
    returns True, or it would act on a half-filled cache ("no Pods yet" is
    not "no Pods").
    """
    checks = [i.has_synced if isinstance(i, SharedInformer) else i for i in informers]
    deadline = None if timeout is None else _real_time.monotonic() + timeout
    while not all(check() for check in checks):
        if any(isinstance(i, SharedInformer) and i.stopped() for i in informers):
            return False
        if deadline is not None and _real_time.monotonic() >= deadline:
            log.warning("caches did not sync within %s s", timeout)
            return False
        _real_time.sleep(0.005)
    return True
