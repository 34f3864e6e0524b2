"""A heap of queued Pods with lookup by key: the scheduling queue's active and back-off queues.

kube-scheduler keeps these in ``pkg/scheduler/backend/heap``: a binary heap
ordered by a ``less`` function (the queue-sort plugin's, or the back-off
expiry) plus a map from ``namespace/name`` to the entry, so a Pod can be
updated or removed where it is.

Simplifications:
- Removing an entry from the middle re-heapifies the whole list (O(n));
  kube keeps each entry's index to fix the heap in O(log n).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from kitlib.scheduler.queue import QueuedPodInfo

Less = Callable[["QueuedPodInfo", "QueuedPodInfo"], bool]


class Heap:
    """Queued pod infos by key, handed out in ``less`` order (kube's ``internal/heap``).

    Ties under ``less`` go in insertion order, so equal pods leave FIFO even
    when a FakeClock gives them one timestamp. An entry's place is fixed when
    it is pushed: never change what ``less`` reads while the info is inside.
    """

    def __init__(self, less: Less) -> None:
        self._less = less
        self._items: list[_Entry] = []
        self._by_key: dict[str, _Entry] = {}
        self._sequence = 0

    def add_or_update(self, info: QueuedPodInfo) -> None:
        old = self._by_key.get(info.key)
        if old is not None:
            self._remove(old)
            sequence = old.sequence  # an update keeps its place among equals
        else:
            self._sequence += 1
            sequence = self._sequence
        entry = _Entry(self._less, sequence, info)
        self._by_key[info.key] = entry
        heapq.heappush(self._items, entry)

    def delete(self, key: str) -> None:
        if (entry := self._by_key.get(key)) is not None:
            self._remove(entry)

    def _remove(self, entry: _Entry) -> None:
        del self._by_key[entry.info.key]
        self._items.remove(entry)
        heapq.heapify(self._items)

    def peek(self) -> QueuedPodInfo | None:
        return self._items[0].info if self._items else None

    def pop(self) -> QueuedPodInfo:
        entry = heapq.heappop(self._items)
        del self._by_key[entry.info.key]
        return entry.info

    def get(self, key: str) -> QueuedPodInfo | None:
        entry = self._by_key.get(key)
        return entry.info if entry else None

    def in_order(self) -> list[QueuedPodInfo]:
        return [entry.info for entry in sorted(self._items)]

    def __len__(self) -> int:
        return len(self._items)


@dataclass(eq=False, slots=True)
class _Entry:
    less: Less
    sequence: int  # insertion order: the tie-breaker
    info: QueuedPodInfo

    def __lt__(self, other: _Entry) -> bool:
        if self.less(self.info, other.info):
            return True
        if self.less(other.info, self.info):
            return False
        return self.sequence < other.sequence
