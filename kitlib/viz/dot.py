"""Graphviz pictures that fail politely: a missing or broken ``dot`` prints one line instead of a traceback.

Every picture function in :mod:`kitlib.viz` builds a ``graphviz.Digraph``;
:func:`draw` renders it once to find out whether it can be shown, so a
reader without graphviz gets a sentence saying what to install and the rest
of the chapter still runs.

Simplifications:
- The check renders the picture once more than needed (to SVG, then again
  when the notebook shows it); pictures here are small.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    import graphviz

DOT_MISSING = (
    "graphviz's `dot` program is not installed, so this picture is skipped "
    "(install it with: sudo apt-get install graphviz)"
)


def dot_available() -> bool:
    """Whether graphviz's ``dot`` program is on the PATH."""
    return shutil.which("dot") is not None


def draw(make: Callable[..., "graphviz.Digraph"], *args: Any, **options: Any) -> "graphviz.Digraph | None":
    """``make(*args, **options)``, checked to render; without ``dot``, print one line and return ``None``."""
    if not dot_available():
        print(DOT_MISSING)
        return None
    graph = make(*args, **options)
    try:
        graph.pipe(format="svg")
    except Exception as err:  # graphviz.ExecutableNotFound, a broken dot, ...
        print(f"graphviz's `dot` could not draw this picture ({type(err).__name__}: {err}); it is skipped")
        return None
    return graph
