"""The Reflector: keeps a local store equal to the server's objects, by list and watch.

An informer does not poll the API server. Its reflector LISTs every object
once, then WATCHes from the list's resourceVersion and applies each event to
a store: an :class:`~kitlib.client.indexer.Indexer`, or the
:class:`~kitlib.client.informer.SharedInformer` that fills one and tells its
handlers. This is client-go's ``k8s.io/client-go/tools/cache/reflector.go``,
with its source (:class:`ListWatch`, client-go's ``ListerWatcher``) and its
back-off (:class:`Backoff`).

The reflector survives a broken watch: it resumes from the last
resourceVersion it saw, or lists again when that version is too old
(``410 Gone``). Its loop is plain, synchronous code on one thread, and every
wait is on the injected clock.

Simplifications:
- One LIST per (re-)list, always a consistent read: no pagination, no
  ``resourceVersion=0`` served from the watch cache, no streaming list.
- A watch is opened with the resourceVersion alone; no timeoutSeconds or
  allowWatchBookmarks are sent (a ListWatch may add them), but BOOKMARK
  events are understood.
"""

from __future__ import annotations

import logging
import random
import threading
from typing import Any, Iterable, Iterator, Mapping, Protocol

from kitlib.api.errors import APIError, Gone, from_status
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


# -- the reflector -----------------------------------------------------------


class ReflectorStore(Protocol):
    """What a reflector writes into: an :class:`~kitlib.client.indexer.Indexer`, or an informer that also notifies."""

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
