"""The watcher's side of a watch, shared by both backends.

A backend feeds a :class:`QueuedWatch` from its own thread (the embedded
store's flusher, or the reader of etcd's watch stream); the reader of the
watch takes events off a queue in order, at its own pace. An error put on the
queue (for example :class:`~kitlib.store.errors.Compacted`) is raised by
``get`` and stays: a failed watch does not recover, the caller re-lists.

Simplifications:
- The queue is unbounded; etcd cancels a watcher that falls too far behind
  and makes it start again.
"""

from __future__ import annotations

import queue
from kitlib.store.types import Event


class WatchIteration:
    """Iteration and ``with`` for any watch that has ``get(timeout)`` and ``cancel()``."""

    def get(self, timeout: float | None = None):  # pragma: no cover - overridden
        raise NotImplementedError

    def cancel(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __iter__(self):
        while True:
            event = self.get()
            if event is None:
                return
            yield event

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()


class QueuedWatch(WatchIteration):
    """Events in revision order; see :class:`~kitlib.store.types.Watch` for the contract."""

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()
        self.cancelled = False
        # The queue's unfinished_tasks counts events delivered and not yet finished with: get() marks the
        # previous event done when the reader comes back for the next one (readers loop on get()). It tells
        # a simulation whether this watcher is still catching up (see backlogged()).
        self._holding = False
        # A watch read only now and then, on demand (a cache's change detector), never counts as behind.
        self.passive = False

    def _put(self, item: Event | BaseException) -> None:
        self._queue.put(item)

    def get(self, timeout: float | None = None) -> Event | None:
        if self._holding:  # the reader is back: it has finished with the last event
            self._holding = False
            self._queue.task_done()
        if self.cancelled and self._queue.empty():
            return None
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if isinstance(item, BaseException):
            self._queue.task_done()
            self._queue.put(item)  # stays failed
            raise item
        if item is None:
            self._queue.task_done()
            return None  # after cancel()
        self._holding = True
        return item

    def backlogged(self) -> bool:
        """Events delivered that the reader has not finished with (always False for a passive watch)."""
        return not self.passive and not self.cancelled and self._queue.unfinished_tasks > 0

    def cancel(self) -> None:
        if self.cancelled:
            return
        self.cancelled = True
        self._stop()
        self._queue.put(None)  # wakes a blocked get()

    def _stop(self) -> None:
        """Detach from the backend (called once, by :meth:`cancel`)."""
