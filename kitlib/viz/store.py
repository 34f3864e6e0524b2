"""Pictures of a live store: key-space tables, a time-travel widget, the key tree.

The store chapter uses these to show what etcd (or the embedded store) holds
at any revision. Each function reads the store through the public
:class:`~kitlib.store.types.Store` contract only (``range`` at a revision),
so the same pictures work on the embedded store and on a real etcd.

- :func:`key_space_table` is the key space at one revision, as a table whose
  rows changed *at* that revision are highlighted.
- :func:`revision_browser` is a slider over revisions linked, in the browser,
  to a stack of those tables: time travel that keeps working on a static web
  page with no kernel behind it (the link is ``widgets.jslink``, which runs in
  JavaScript).
- :func:`key_tree` draws the keys as the tree their slashes suggest;
  :func:`draw_key_tree` returns it for display, or prints one line and returns
  ``None`` when graphviz's ``dot`` program is missing.

Simplifications:
- Values are shown as text, cut to a width; a value that is not UTF-8 is
  shown as its length in bytes.
- The browser copies the key space at every revision into the page, so it
  is meant for the small stores of the book (hundreds of revisions, not
  millions).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from kitlib.store.errors import Compacted
from kitlib.viz.dot import DOT_MISSING, dot_available, draw  # noqa: F401 (DOT_MISSING, dot_available: part of this API)
from kitlib.store.types import Event, EventType, KeyValue, Store

if TYPE_CHECKING:  # pragma: no cover - only for type checkers
    import graphviz
    import ipywidgets

# The columns of a key-space table, in etcd's own field names.
COLUMNS = ("key", "value", "create_revision", "mod_revision", "version", "lease")
DEFAULT_VALUE_WIDTH = 48

# Row highlight colours (light backgrounds readable in light and dark themes).
_CREATED = "#d4f4dd"
_UPDATED = "#fff3c4"
_DELETED = "#f9d6d5"
# One small style sheet, repeated with every table so a table stands alone
# (in a notebook output, in a widget, on the website).
_STYLE = (
    "<style>.kit-table{border-collapse:collapse;margin:0.3em 0;font-size:0.9em}"
    ".kit-table caption{caption-side:top;text-align:left;font-weight:bold;padding:0.2em 0}"
    ".kit-table th,.kit-table td{text-align:left;padding:0.1em 0.5em;border-bottom:1px solid #ddd}"
    ".kit-table th{vertical-align:bottom}"
    ".kit-table code{white-space:nowrap}</style>"
)


# -- reading the store --------------------------------------------------------


def key_space(store: Store, prefix: str = "", revision: int = 0) -> list[KeyValue]:
    """Every key under ``prefix`` as it was at ``revision`` (``0``: now), in key order."""
    return list(store.range(prefix, prefix=True, revision=revision).kvs)


def oldest_revision(store: Store) -> int:
    """The oldest revision the store can still read (1, or the last compaction point)."""
    return max(1, int(getattr(store, "compact_revision", 0) or 0))


@dataclass(frozen=True)
class Change:
    """What happened to one key at one revision: ``created``, ``updated`` or ``deleted``."""

    kind: str
    key: str

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"


def changes_at(store: Store, revision: int, prefix: str = "") -> list[Change]:
    """The changes the write at ``revision`` made to keys under ``prefix``, in key order.

    Puts are the keys whose ``mod_revision`` is ``revision`` (``version`` 1
    means the key was created). Deletions are keys present one revision
    earlier and absent now; they cannot be seen when that earlier revision
    has been compacted away.
    """
    now = {kv.key: kv for kv in key_space(store, prefix, revision)}
    changes = [
        Change("created" if kv.version == 1 else "updated", key)
        for key, kv in now.items()
        if kv.mod_revision == revision
    ]
    if revision - 1 >= oldest_revision(store):
        try:
            before = key_space(store, prefix, revision - 1)
        except Compacted:
            before = []
        changes += [Change("deleted", kv.key) for kv in before if kv.key not in now]
    return sorted(changes, key=lambda change: change.key)


# -- tables -------------------------------------------------------------------


def show_value(value: bytes, width: int = DEFAULT_VALUE_WIDTH, *, summary: bool = False) -> str:
    """A value as one line of text at most ``width`` characters long.

    With ``summary``, a Kubernetes object (JSON with a ``kind``) is shown as
    its kind and the facts a reader follows in the book, e.g.
    ``Pod Running on node-1``; other values are shown as they are.
    """
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return f"<{len(value)} bytes>"
    if summary:
        text = _summary(text) or text
    text = " ".join(text.split())
    if width and len(text) > width:
        text = text[: width - 1] + "…"
    return text


def _summary(text: str) -> str | None:
    """``Pod Running on node-1`` for a Pod's JSON; ``None`` if ``text`` is not an object with a kind."""
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("kind"), str):
        return None
    words = [obj["kind"]]
    status, spec = obj.get("status") or {}, obj.get("spec") or {}
    if isinstance(status, dict) and isinstance(status.get("phase"), str):
        words.append(status["phase"])
    if isinstance(spec, dict) and isinstance(spec.get("nodeName"), str):
        words.append(f"on {spec['nodeName']}")
    return " ".join(words)


def _cell(kv: KeyValue, column: str, width: int, summary: bool) -> str:
    if column == "value":
        return show_value(kv.value, width, summary=summary)
    if column == "lease":
        return f"{kv.lease:x}" if kv.lease else "-"
    return str(getattr(kv, column))


@dataclass
class Table:
    """A small table that shows itself as HTML in a notebook and as text elsewhere.

    ``marks`` gives a row (by index) a CSS background colour; ``caption``
    is one line above the table.
    """

    columns: Sequence[str]
    rows: list[list[str]]
    caption: str = ""
    marks: dict[int, str] = field(default_factory=dict)
    empty: str = "(no keys)"

    def to_html(self) -> str:
        # <wbr> lets a long header (create_revision) break after its underscore.
        head = "".join(f"<th>{html.escape(c).replace('_', '_<wbr>')}</th>" for c in self.columns)
        body = []
        for i, row in enumerate(self.rows):
            style = f" style='background:{self.marks[i]}'" if i in self.marks else ""
            cells = "".join(f"<td><code>{html.escape(cell)}</code></td>" for cell in row)
            body.append(f"<tr{style}>{cells}</tr>")
        if not self.rows:
            body.append(f"<tr><td colspan='{len(self.columns)}'><em>{html.escape(self.empty)}</em></td></tr>")
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        table = f"<table class='kit-table'>{caption}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        # A table wider than the page scrolls sideways instead of being cut off.
        return f"{_STYLE}<div style='overflow-x:auto'>{table}</div>"

    def to_text(self) -> str:
        rows = [list(self.columns)] + self.rows
        widths = [max(len(row[i]) for row in rows) for i in range(len(self.columns))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        if not self.rows:
            lines.append(self.empty)
        if self.caption:
            lines.insert(0, self.caption)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.to_html()

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return self.to_text()


def kv_table(
    kvs: Iterable[KeyValue],
    *,
    columns: Sequence[str] | None = None,
    width: int = DEFAULT_VALUE_WIDTH,
    strip: str = "",
    caption: str = "",
    marks: dict[str, str] | None = None,
    summary: bool = False,
) -> Table:
    """A table of keys, one row each, with etcd's field names as columns.

    ``columns`` defaults to :data:`COLUMNS`, without ``lease`` when no key
    has one. ``strip`` is a prefix cut off the front of every key (to save width);
    ``marks`` maps a key to a row colour; ``summary`` shows Kubernetes
    objects by kind and state (see :func:`show_value`).
    """
    kvs = list(kvs)
    if columns is None:
        columns = COLUMNS if any(kv.lease for kv in kvs) else tuple(c for c in COLUMNS if c != "lease")
    marks = marks or {}
    rows, row_marks = [], {}
    for i, kv in enumerate(kvs):
        row = [_cell(kv, c, width, summary) for c in columns]
        if "key" in columns and strip and kv.key.startswith(strip):
            row[list(columns).index("key")] = kv.key[len(strip):]
        rows.append(row)
        if kv.key in marks:
            row_marks[i] = marks[kv.key]
    return Table(list(columns), rows, caption, row_marks)


def describe_revision(store: Store, revision: int, prefix: str = "") -> str:
    """One line saying what the write at ``revision`` did, e.g. ``revision 3: created /a``."""
    if revision <= 1:
        return "revision 1: the empty store (a new etcd starts at revision 1)"
    changes = changes_at(store, revision, prefix)
    if not changes:
        if revision == oldest_revision(store):
            return f"revision {revision}: the oldest revision kept (history before it was compacted)"
        return f"revision {revision}: no change under {prefix or 'the key space'}"
    return f"revision {revision}: " + ", ".join(str(change) for change in changes)


def key_space_table(
    store: Store,
    prefix: str = "",
    revision: int = 0,
    *,
    width: int = DEFAULT_VALUE_WIDTH,
    strip: str = "",
    summary: bool = False,
) -> Table:
    """The keys under ``prefix`` at ``revision``, the ones that changed at that revision highlighted.

    Created keys are green, updated ones yellow; keys the revision deleted
    are listed last, in red, with the version they had before.
    """
    at = revision or store.revision
    kvs = key_space(store, prefix, at)
    changes = changes_at(store, at, prefix) if at > 1 else []
    colour = {"created": _CREATED, "updated": _UPDATED}
    marks = {c.key: colour[c.kind] for c in changes if c.kind in colour}
    deleted = {c.key for c in changes if c.kind == "deleted"}
    if deleted:
        kvs += [kv for kv in key_space(store, prefix, at - 1) if kv.key in deleted]
        marks.update({key: _DELETED for key in deleted})
    table = kv_table(
        kvs, width=width, strip=strip, caption=describe_revision(store, at, prefix), marks=marks, summary=summary
    )
    for i, kv in enumerate(kvs):
        if kv.key in deleted:
            table.rows[i][0] += "  (deleted)"
    return table


def event_line(event: Event, strip: str = "") -> str:
    """A watch event as one line: ``rev   5  PUT     /registry/... (version 2)``."""
    key = event.kv.key[len(strip):] if strip and event.kv.key.startswith(strip) else event.kv.key
    if event.type == EventType.DELETE:
        detail = "deleted"
    elif event.kv.version == 1:
        detail = "created"
    else:
        detail = f"version {event.kv.version}"
    return f"rev {event.revision:>3}  {event.type.value:<6}  {key}  ({detail})"


# -- the time-travel widget ---------------------------------------------------


def revision_browser(
    store: Store,
    prefix: str = "",
    *,
    first: int | None = None,
    last: int | None = None,
    width: int = DEFAULT_VALUE_WIDTH,
    strip: str = "",
    summary: bool = True,
) -> "ipywidgets.VBox":
    """A slider over revisions ``first..last`` that shows the key space at each one.

    The widget is ``VBox([SelectionSlider, Stack])``: the stack holds one
    :class:`~ipywidgets.HTML` table per revision (see :func:`key_space_table`),
    and the slider's ``index`` is linked to the stack's ``selected_index``
    with ``widgets.jslink`` (kept as ``box.link``). A link made in JavaScript
    keeps working on a static web page, where no Python kernel is running.
    Values are summarised (``summary``, see :func:`show_value`) to keep rows
    short.
    """
    import ipywidgets as widgets

    last = last or store.revision
    first = max(first or 1, oldest_revision(store))
    if first > last:
        raise ValueError(f"no revisions to show: first {first} is after last {last}")
    revisions = list(range(first, last + 1))
    pages = [
        widgets.HTML(value=key_space_table(store, prefix, r, width=width, strip=strip, summary=summary).to_html())
        for r in revisions
    ]
    stack = widgets.Stack(children=pages, selected_index=len(pages) - 1)
    # No Play button beside it: its view finds its icon as an <i> element,
    # which the website's Font Awesome script replaces with an <svg>, and it
    # then fails on the first click.
    slider = widgets.SelectionSlider(
        options=[str(r) for r in revisions],
        index=len(revisions) - 1,
        description="revision",
        continuous_update=True,
        layout=widgets.Layout(width="70%"),
    )
    box = widgets.VBox([slider, stack])
    # Kept for inspection, and so the link widget stays referenced.
    box.link = widgets.jslink((slider, "index"), (stack, "selected_index"))
    return box


# -- the key tree ---------------------------------------------------------------


def key_tree(store: Store, prefix: str = "/", revision: int = 0, *, show_revisions: bool = True) -> "graphviz.Digraph":
    """The keys under ``prefix`` drawn as the tree their ``/`` separators suggest.

    etcd's key space is flat (a sorted list of byte strings, no
    directories); the tree is how a prefix query groups it. Leaves are keys,
    labelled with their ``mod_revision`` and ``version`` unless
    ``show_revisions`` is false.
    """
    import graphviz

    graph = graphviz.Digraph("keys", graph_attr={"rankdir": "LR", "nodesep": "0.12", "ranksep": "0.3"})
    graph.attr("node", shape="box", style="rounded", fontname="Helvetica", fontsize="10", height="0.25")
    graph.attr("edge", arrowhead="none", color="#888888")
    graph.node("n0", prefix or "/", shape="box", style="rounded,bold")
    ids: dict[str, str] = {}
    for kv in key_space(store, prefix, revision):
        rest = kv.key[len(prefix):]
        parts = [part for part in rest.split("/") if part]
        parent, path = "n0", prefix
        for depth, part in enumerate(parts):
            leaf = depth == len(parts) - 1
            path = path + part + ("" if leaf else "/")
            node = ids.get(path)
            if node is None:
                node = ids[path] = f"n{len(ids) + 1}"
                if leaf:
                    label = f"{part}\\nrev {kv.mod_revision} · v{kv.version}" if show_revisions else part
                    graph.node(node, label, style="rounded,filled", fillcolor="#e8f0fe")
                else:
                    graph.node(node, part + "/")
                graph.edge(parent, node)
            parent = node
    return graph


def draw_key_tree(store: Store, prefix: str = "/", revision: int = 0, **options: Any) -> "graphviz.Digraph | None":
    """:func:`key_tree`, checked to render; without ``dot``, print one line and return ``None``."""
    return draw(key_tree, store, prefix, revision, **options)
