"""The Indexer: an informer's local cache of objects, with indexes, read-only.

A controller reads the objects it reconciles from memory, not from the API
server: an informer's reflector keeps this cache equal to the server's
objects, filed by ``"namespace/name"`` key, and secondary indexes (by
namespace, by node) find objects without scanning. This is client-go's
``k8s.io/client-go/tools/cache`` ``Indexer`` (``index.go``,
``thread_safe_store.go``), with the index functions it ships and the
tombstone an informer hands to ``on_delete`` when it missed a deletion
(:class:`DeletedFinalStateUnknown`).

The cache's objects are shared by every reader and frozen: never modify
one; ``kitlib.api.deep_copy`` it first. The rule, enforced:

    >>> pod = freeze({"metadata": {"name": "web-0", "labels": {"app": "web"}}})
    >>> pod["metadata"]["labels"]["app"] = "db"  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ReadOnlyObject: ... read-only: copy it with kitlib.api.deep_copy(obj) and modify the copy
    >>> mine = deep_copy(pod); mine["metadata"]["labels"]["app"] = "db"; mine["metadata"]["labels"]
    {'app': 'db'}

Simplifications:
- No cache mutation detector: cached objects are frozen instead (see
  :func:`freeze`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from kitlib.api.meta import deep_copy, key_of, namespace
from kitlib.errors import KitError

Obj = dict[str, Any]


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
    kind = type(obj)
    # Every object of every watch event passes here, so the plain JSON types are tested first and the
    # children are recursed into only when they are not leaves (half the calls of a naive walk).
    if kind is dict:
        return ReadOnlyDict({k: v if type(v) in _DONE else freeze(v) for k, v in obj.items()})
    if kind is list or kind is tuple:
        return ReadOnlyList([v if type(v) in _DONE else freeze(v) for v in obj])
    if isinstance(obj, (ReadOnlyDict, ReadOnlyList)):
        return obj
    if isinstance(obj, dict):  # another mapping type: frozen as a plain dict would be
        return freeze(dict(obj))
    if isinstance(obj, (list, tuple)):
        return freeze(list(obj))
    return obj  # str, int, float, bool, None: immutable already


_DONE = frozenset((str, int, float, bool, type(None), ReadOnlyDict, ReadOnlyList))  # nothing to freeze inside


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

    def indexers(self) -> dict[str, IndexFunc]:
        """The index functions, by index name."""
        with self._lock:
            return dict(self._indexers)

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
