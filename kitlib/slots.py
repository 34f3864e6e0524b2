"""Extension points ("slots") that an exercise can fill with the reader's code.

The engine calls a slot like a function. By default a slot runs the
reference implementation; ``with slot.installed(fn):`` runs ``fn`` instead,
everywhere the engine uses that slot, until the block ends. This is how the
autograder puts a reader's function into the real engine: it checks
behaviour in a running scenario, never the source text.

Simplifications:
- One installed function per slot at a time, process-wide (not per thread):
  two exercises are never graded in one process at once.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, Iterator

SLOTS: dict[str, "Slot"] = {}


class Slot:
    """One replaceable function of the engine."""

    def __init__(self, name: str, reference: Callable[..., Any], doc: str = "") -> None:
        if name in SLOTS:
            raise ValueError(f"slot {name!r} is declared twice")
        self.name = name
        self.reference = reference
        self.__doc__ = doc or reference.__doc__
        self._current = reference
        self._lock = threading.Lock()
        SLOTS[name] = self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._current(*args, **kwargs)

    @property
    def current(self) -> Callable[..., Any]:
        return self._current

    @contextlib.contextmanager
    def installed(self, fn: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
        """Run ``fn`` in place of the current implementation inside the block."""
        if not callable(fn):
            raise TypeError(f"slot {self.name}: expected a function, got {type(fn).__name__}")
        with self._lock:
            previous, self._current = self._current, fn
        try:
            yield fn
        finally:
            with self._lock:
                self._current = previous

    def __repr__(self) -> str:
        which = "reference" if self._current is self.reference else getattr(self._current, "__name__", "?")
        return f"<Slot {self.name} -> {which}>"
