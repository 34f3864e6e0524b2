"""Informers: a component's local, read-only copy of the objects it watches.

A controller does not ask the API server "which Pods are there?" every time
it reconciles: it keeps a cache, filled by one LIST and kept current by a
WATCH from the list's resourceVersion, and it hears about every change
through event handlers, which put keys on a work queue. This is client-go's
``k8s.io/client-go/tools/cache``:

    ListWatch --list, watch--> Reflector --replace/add/update/delete--> SharedInformer
                                                                  |-> Indexer: "namespace/name" -> object, plus indexes
                                                                  '-> handlers: on_add, on_update, on_delete

The :class:`Reflector` survives a broken watch: it resumes from the last
resourceVersion it saw, or lists again when that version is too old
(``410 Gone``); after a re-list, objects that vanished meanwhile are reported
as deleted with a :class:`DeletedFinalStateUnknown` tombstone. The
:class:`Indexer` answers reads from memory. Its objects are shared by every
reader and frozen: never modify one; ``kitlib.api.deep_copy`` it first.

    informer = SharedInformer(pods_list_watch, clock=clock, indexers={NODE_NAME_INDEX: node_name_index})
    informer.add_event_handler(on_add=lambda pod: queue.add(key_of(pod)))
    informer.run()
    wait_for_cache_sync(informer, timeout=10)
    informer.indexer.by_index(NODE_NAME_INDEX, "node-1")

The rule, enforced:

    >>> pod = freeze({"metadata": {"name": "web-0", "labels": {"app": "web"}}})
    >>> pod["metadata"]["labels"]["app"] = "db"  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ReadOnlyObject: ... read-only: copy it with kitlib.api.deep_copy(obj) and modify the copy
    >>> mine = deep_copy(pod); mine["metadata"]["labels"]["app"] = "db"; mine["metadata"]["labels"]
    {'app': 'db'}

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
- One LIST per (re-)list, always a consistent read: no pagination, no
  ``resourceVersion=0`` served from the watch cache, no streaming list.
- A watch is opened with the resourceVersion alone; no timeoutSeconds or
  allowWatchBookmarks are sent (a ListWatch may add them), but BOOKMARK
  events are understood.
- No cache mutation detector: cached objects are frozen instead (see
  :func:`freeze`).
"""

from __future__ import annotations

import logging
import random
import threading
import time as _real_time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol

from kitlib.api.errors import APIError, Gone, from_status
from kitlib.api.meta import deep_copy, key_of, namespace
from kitlib.clock import Clock, RealClock
from kitlib.client.workqueue import sleep_until
from kitlib.errors import KitError

log = logging.getLogger(__name__)

Obj = dict[str, Any]

# A watch that ends this soon on the clock without a single event is a
# failure, not a server's routine timeout (client-go's "very short watch").
VERY_SHORT_WATCH_SECONDS = 1.0


# -- the source: list and watch ---------------------------------------------


class WatchStream(Protocol):
    """An open watch: iterate it for ``(type, object)`` events; ``close()`` to end it.

    ``type`` is ``"ADDED"``, ``"MODIFIED"``, ``"DELETED"``, ``"BOOKMARK"``
    (only ``metadata.resourceVersion`` is meaningful) or ``"ERROR"`` (the
    object is a ``Status``). Iteration ends when the server closes the watch.
    ``close()`` may be called from another thread and must make a blocked
    iteration end.
    """

    def __iter__(self) -> Iterator[tuple[str, Obj]]: ...

    def close(self) -> None: ...


class ListWatch(Protocol):
    """Where an informer's objects come from (client-go's ``ListerWatcher``).

    ``list`` returns every object and the resourceVersion of that snapshot;
    ``watch`` streams the changes after ``resource_version``. A version the
    server no longer remembers fails with :class:`~kitlib.api.errors.Gone`
    (410), raised or sent as an ERROR event. ``options`` (label or field
    selectors...) are passed through unchanged to both calls.
    """

    def list(self, **options: Any) -> tuple[list[Obj], str]: ...

    def watch(self, resource_version: str, **options: Any) -> WatchStream: ...


def resource_version_of(obj: Mapping[str, Any]) -> str:
    return (obj.get("metadata") or {}).get("resourceVersion") or ""


# -- read-only objects -------------------------------------------------------


class ReadOnlyObject(KitError, TypeError):
    """Someone tried to modify an object taken from an informer's cache."""


_READ_ONLY = (
    "this object belongs to an informer's cache, shared by every reader, and is read-only: "
    "copy it with kitlib.api.deep_copy(obj) and modify the copy"
)


def _refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
    raise ReadOnlyObject(_READ_ONLY)


class ReadOnlyDict(dict):
    """A dict that refuses changes; still a dict for reading, ``json.dumps`` and ``==``."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __copy__(self) -> dict:
        return dict(self)  # a shallow copy is writable at the top; what it holds is still frozen

    def __deepcopy__(self, memo: dict) -> Any:
        return deep_copy(self)

    def __reduce__(self) -> Any:
        return (dict, (dict(self),))


class ReadOnlyList(list):
    """A list that refuses changes."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse

    def __copy__(self) -> list:
        return list(self)

    def __deepcopy__(self, memo: dict) -> Any:
        return deep_copy(self)

    def __reduce__(self) -> Any:
        return (list, (list(self),))


def freeze(obj: Any) -> Any:
    """A read-only deep copy of a JSON-shaped value (an already frozen one is returned as is).

    Why freeze rather than hand out copies: a cache is read far more often
    than it is written (a scheduler looks at every Pod on every cycle), so
    each object is converted once, when it arrives, and reads cost nothing.
    And a reader who forgets the rule "copy before you modify" fails at the
    very line that breaks it, with a message saying what to do, instead of
    silently corrupting what every other reader sees, or, with copies,
    never learning the rule that client-go relies on. Freezing also makes
    the ``old`` object given to ``on_update`` a snapshot nobody can change.
    """
    if isinstance(obj, (ReadOnlyDict, ReadOnlyList)):
        return obj
    if isinstance(obj, dict):
        return ReadOnlyDict((k, freeze(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return ReadOnlyList(freeze(v) for v in obj)
    return obj  # str, int, float, bool, None: immutable already


# -- the cache ---------------------------------------------------------------

IndexFunc = Callable[[Obj], list[str]]

NAMESPACE_INDEX = "namespace"
NODE_NAME_INDEX = "spec.nodeName"


def namespace_index(obj: Obj) -> list[str]:
    """Index by namespace (client-go's ``MetaNamespaceIndexFunc``)."""
    return [namespace(obj)]


def node_name_index(obj: Obj) -> list[str]:
    """Index Pods by the node they are bound to; unscheduled Pods are in no bucket."""
    node = (obj.get("spec") or {}).get("nodeName")
    return [node] if node else []


@dataclass(frozen=True)
class DeletedFinalStateUnknown:
    """What ``on_delete`` receives when the informer missed a deletion (client-go's tombstone).

    The watch broke while the object was deleted; the re-list that followed
    no longer contained it. ``obj`` is the last state the cache knew, which
    may be stale. Use :func:`deletion_handling_key` for the key.
    """

    key: str
    obj: Obj


def deletion_handling_key(obj: Obj | DeletedFinalStateUnknown) -> str:
    """The ``"namespace/name"`` key of an object or a tombstone (``DeletionHandlingMetaNamespaceKeyFunc``)."""
    if isinstance(obj, DeletedFinalStateUnknown):
        return obj.key
    return key_of(obj)


class Indexer:
    """Objects by ``"namespace/name"`` key, and secondary indexes (client-go's ``cache.Indexer``).

    Every object returned is frozen (:func:`freeze`): read it, or
    ``deep_copy`` it before changing anything. Reads and writes are
    thread-safe. Lists come back sorted by key, so outputs are reproducible.

    An index is a function from an object to the values it is filed under
    (:func:`namespace_index`, :func:`node_name_index`); :meth:`by_index`
    finds the objects filed under a value without scanning the cache.
    """

    def __init__(self, indexers: Mapping[str, IndexFunc] | None = None) -> None:
        self._lock = threading.RLock()
        self._items: dict[str, Obj] = {}
        self._indexers: dict[str, IndexFunc] = {}
        self._indices: dict[str, dict[str, set[str]]] = {}  # index name -> value -> keys
        if indexers:
            self.add_indexers(indexers)

    # reads ---------------------------------------------------------------

    def get_by_key(self, key: str) -> Obj | None:
        with self._lock:
            return self._items.get(key)

    def get(self, obj: Obj) -> Obj | None:
        """The cached object with the same key as ``obj``."""
        return self.get_by_key(key_of(obj))

    def list(self) -> list[Obj]:
        with self._lock:
            return [self._items[k] for k in sorted(self._items)]

    def list_keys(self) -> list[str]:
        with self._lock:
            return sorted(self._items)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items

    def by_index(self, index_name: str, value: str) -> list[Obj]:
        """The objects filed under ``value`` in the index ``index_name``."""
        with self._lock:
            return [self._items[k] for k in self.index_keys(index_name, value)]

    def index_keys(self, index_name: str, value: str) -> list[str]:
        with self._lock:
            return sorted(self._index(index_name).get(value, ()))

    def list_index_values(self, index_name: str) -> list[str]:
        with self._lock:
            return sorted(self._index(index_name))

    def index(self, index_name: str, obj: Obj) -> list[Obj]:
        """The objects sharing any value of ``index_name`` with ``obj`` (client-go's ``Index``)."""
        with self._lock:
            index = self._index(index_name)
            keys: set[str] = set()
            for value in self._indexers[index_name](obj):
                keys |= index.get(value, set())
            return [self._items[k] for k in sorted(keys)]

    def _index(self, index_name: str) -> dict[str, set[str]]:
        try:
            return self._indices[index_name]
        except KeyError:
            raise KeyError(f"no index named {index_name!r} (indexes: {sorted(self._indexers)})") from None

    # writes: the reflector's (through an informer), never a controller's --

    def add_indexers(self, indexers: Mapping[str, IndexFunc]) -> None:
        with self._lock:
            for name, func in indexers.items():
                if name in self._indexers:
                    raise ValueError(f"index {name!r} already exists")
                self._indexers[name] = func
                self._indices[name] = {}
                for key, obj in self._items.items():
                    self._file(name, key, obj)

    def add(self, obj: Obj) -> Obj | None:
        """Store (a frozen copy of) ``obj`` under its key; return the object it replaced."""
        return self._put(key_of(obj), freeze(obj))

    update = add

    def delete(self, obj: Obj | str) -> Obj | None:
        """Remove the object with ``obj``'s key (or the key itself); return what was cached."""
        key = obj if isinstance(obj, str) else deletion_handling_key(obj)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._unfile(key, old)
            return old

    def replace(self, objs: Iterable[Obj], resource_version: str = "") -> dict[str, Obj]:
        """Make the cache hold exactly ``objs``; return what it held before, by key."""
        new = {key_of(o): freeze(o) for o in objs}
        with self._lock:
            old = self._items
            self._items = new
            self._indices = {name: {} for name in self._indexers}
            for key, obj in new.items():
                for name in self._indexers:
                    self._file(name, key, obj)
            return old

    def _put(self, key: str, obj: Obj) -> Obj | None:
        with self._lock:
            old = self._items.get(key)
            if old is not None:
                self._unfile(key, old)
            self._items[key] = obj
            for name in self._indexers:
                self._file(name, key, obj)
            return old

    def _file(self, name: str, key: str, obj: Obj) -> None:
        for value in self._indexers[name](obj):
            self._indices[name].setdefault(value, set()).add(key)

    def _unfile(self, key: str, obj: Obj) -> None:
        for name, func in self._indexers.items():
            index = self._indices[name]
            for value in func(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]


# -- the reflector -----------------------------------------------------------


class ReflectorStore(Protocol):
    """What a reflector writes into: an :class:`Indexer`, or an informer that also notifies."""

    def replace(self, objs: Iterable[Obj], resource_version: str) -> Any: ...

    def add(self, obj: Obj) -> Any: ...

    def update(self, obj: Obj) -> Any: ...

    def delete(self, obj: Obj) -> Any: ...


class Backoff:
    """How long the reflector waits after a failure: client-go's reflector back-off.

    0.8 s, doubling up to 30 s, each wait stretched by a random fraction up to
    ``jitter`` of itself (so a thousand informers do not retry in step); back
    to 0.8 s after ``reset_after`` seconds without a failure
    (``NewExponentialBackoffManager(800ms, 30s, 2min, 2.0, 1.0)``).
    """

    def __init__(
        self,
        initial: float = 0.8,
        cap: float = 30.0,
        factor: float = 2.0,
        jitter: float = 1.0,
        reset_after: float = 120.0,
    ) -> None:
        self.initial, self.cap, self.factor, self.jitter, self.reset_after = initial, cap, factor, jitter, reset_after
        self._next = initial
        self._last: float | None = None

    def next(self, now: float, rng: random.Random) -> float:
        """The wait before the next try, for a failure at ``now``."""
        if self._last is None or now - self._last > self.reset_after:
            self._next = self.initial
        self._last = now
        delay = self._next
        self._next = min(self._next * self.factor, self.cap)
        if self.jitter > 0:
            delay += rng.random() * self.jitter * delay
        return delay


class _VeryShortWatch(KitError):
    pass


class Reflector:
    """Keeps a store equal to the server's objects: list, then watch, forever (client-go's ``Reflector``).

    What it does when things go wrong, as client-go does:

    ====================================== =========================================
    what happened                          what the reflector does next
    ====================================== =========================================
    the list fails                         back off, list again
    opening the watch fails with 410 Gone  back off, list again
    opening the watch fails otherwise      back off, watch again from the same version
    an ERROR event, or the stream fails    back off, list again
    the watch ends (a server timeout)      watch again at once, from the last version seen
    ...with no event within 1 s            back off, list again ("very short watch")
    ====================================== =========================================

    Resuming from the last version seen means no event is delivered twice
    and none is lost. Listing again replaces the store's contents; the store
    (an informer) works out what changed. Back-off waits are on the clock.
    """

    def __init__(
        self,
        list_watch: ListWatch,
        store: ReflectorStore,
        *,
        name: str = "",
        clock: Clock | None = None,
        rng: random.Random | None = None,
        backoff: Backoff | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.list_watch = list_watch
        self.store = store
        self.name = name or type(list_watch).__name__
        self.clock = clock or RealClock()
        self.rng = rng or random.Random()
        self.backoff = backoff or Backoff()
        self.options = dict(options or {})
        self._stop = threading.Event()
        self._lock = threading.Lock()  # guards _stream
        self._stream: WatchStream | None = None
        self._last_rv = ""

    @property
    def last_sync_resource_version(self) -> str:
        """The resourceVersion of the last list or event applied (where a resumed watch starts)."""
        return self._last_rv

    def run(self) -> None:
        """List and watch until :meth:`stop` (blocks; an informer runs it on its own thread)."""
        while not self._stop.is_set():
            try:
                self.list_and_watch()
            except Gone as err:
                log.info("%s: %s; listing again", self.name, err)
            except Exception as err:  # noqa: BLE001 (whatever failed, the cure is a fresh list)
                log.warning("%s: %s: %s; listing again after a back-off", self.name, type(err).__name__, err)
            if self._stop.is_set():
                break
            self._back_off()

    def stop(self) -> None:
        """Make :meth:`run` return: ends the open watch, interrupts a back-off."""
        self._stop.set()
        with self._lock:
            stream = self._stream
        if stream is not None:
            stream.close()

    def _back_off(self) -> None:
        delay = self.backoff.next(self.clock.now(), self.rng)
        log.debug("%s: backing off %.3f s", self.name, delay)
        sleep_until(self.clock, self.clock.now() + delay, self._stop)

    def list_and_watch(self) -> None:
        """One list, then watches from its resourceVersion until one must be followed by a list.

        Returns when stopped; raises what made a re-list necessary.
        """
        items, rv = self.list_watch.list(**self.options)
        self.store.replace(items, rv)
        self._last_rv = rv
        while not self._stop.is_set():
            try:
                stream = self.list_watch.watch(self._last_rv, **self.options)
            except Gone:
                raise
            except Exception as err:  # noqa: BLE001 (the server may be restarting: our state is still good)
                log.warning("%s: watch from %s failed: %s; retrying after a back-off", self.name, self._last_rv, err)
                self._back_off()
                continue
            with self._lock:
                if self._stop.is_set():
                    stream.close()
                    return
                self._stream = stream
            started = self.clock.now()
            try:
                events = self._handle_watch(stream)
            finally:
                with self._lock:
                    self._stream = None
                stream.close()
            if self._stop.is_set():
                return
            if events == 0 and self.clock.now() - started < VERY_SHORT_WATCH_SECONDS:
                raise _VeryShortWatch(f"very short watch: the watch from {self._last_rv} ended at once with no event")
            log.debug("%s: watch ended after %d events; resuming from %s", self.name, events, self._last_rv)

    def _handle_watch(self, stream: WatchStream) -> int:
        """Apply events to the store until the stream ends; return how many there were."""
        count = 0
        for event_type, obj in stream:
            if self._stop.is_set():
                break
            if event_type == "ERROR":
                raise _status_error(obj)
            if event_type == "ADDED":
                self.store.add(obj)
            elif event_type == "MODIFIED":
                self.store.update(obj)
            elif event_type == "DELETED":
                self.store.delete(obj)
            elif event_type != "BOOKMARK":
                log.warning("%s: ignoring a watch event of unknown type %r", self.name, event_type)
                continue
            self._last_rv = resource_version_of(obj) or self._last_rv
            count += 1
        return count


def _status_error(obj: Any) -> APIError:
    try:
        return from_status(obj)
    except ValueError:
        return APIError(f"the watch sent an ERROR event that is not a Status: {obj!r:.200}")


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
