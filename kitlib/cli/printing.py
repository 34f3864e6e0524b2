"""How ``kit get`` and ``kit describe`` lay text out: Go's tabwriter, kubectl's tables and fields, JSON and YAML.

kubectl prints everything through Go's ``text/tabwriter``: cells end in a
tab, a column is as wide as its widest cell plus the padding, and a run of
consecutive lines that have a cell in a column (a "column block") shares
one width. :func:`tabwrite` is that algorithm, for ``kit describe``
(padding 2: kubectl describe's ``tabbedString``); :func:`align` is its
simple case for tables, whose rows all have the same cells (minimum width
6, padding 3: kubectl's ``GetNewTabWriter``), widths remembered for ``-w``.

:func:`table_lines` prints a server's ``meta.k8s.io/v1 Table`` as kubectl's
``HumanReadablePrinter`` does: upper-case headers, ``priority > 0`` columns
only with ``-o wide``, a NAMESPACE column first with ``-A`` (read from each
row's PartialObjectMetadata), ``kind.group/`` before names when several
kinds are printed. The describers' shared fields (labels, annotations,
tolerations, taints, times) follow kubectl's ``printLabelsMultiline`` and
its siblings. :func:`to_json` and :func:`to_yaml` are ``-o json`` (4-space
indent, sorted keys, ``<>&`` escaped as Go's encoder does) and ``-o yaml``
(sorted keys, lines folded at 80 columns, quotes and literal blocks for
multi-line strings as go-yaml, behind sigs.k8s.io/yaml, writes), both
without ``managedFields``, which kubectl hides unless ``--show-managed-fields``.

Simplifications:
- Cell widths count characters; Go's tabwriter counts UTF-8 bytes, so a
  cell with non-ASCII text lines up differently.
- YAML is PyYAML's emitter (libyaml's rules, as go-yaml's) with go-yaml's
  choice of quotes; rare strings may still be quoted differently.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any, Iterable

import yaml

from kitlib.api.meta import parse_rfc3339

GET_MIN_WIDTH, GET_PADDING = 6, 3  # kubectl's printers.GetNewTabWriter
DESCRIBE_PADDING = 2  # kubectl describe's tabbedString
MAX_ANNOTATION_LEN = 140  # kubectl's maxAnnotationLen
SKIP_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)

Obj = dict[str, Any]


def tabwrite(lines: Iterable[str], *, minwidth: int = 0, padding: int = DESCRIBE_PADDING) -> list[str]:
    """Go's ``tabwriter.Writer.format``: align tab-separated cells by column blocks; the last cell is not padded."""
    rows = [line.split("\t") for line in lines]
    out: list[str] = []
    widths: list[int] = []

    def write(first: int, end: int) -> None:
        for cells in rows[first:end]:
            out.append("".join(cell.ljust(widths[j]) if j < len(widths) else cell for j, cell in enumerate(cells)))

    def block(first: int, end: int) -> None:
        column, line = len(widths), first
        while line < end:
            if column >= len(rows[line]) - 1:  # no tab-terminated cell in this column on this line
                line += 1
                continue
            write(first, line)  # the lines before the block are done at the current depth
            first, width = line, minwidth
            while line < end and column < len(rows[line]) - 1:
                width = max(width, len(rows[line][column]) + padding)
                line += 1
            widths.append(width)
            block(first, line)
            widths.pop()
            first = line
        write(first, end)

    block(0, len(rows))
    return out


def cell_text(cell: Any) -> str:
    """A Table cell as Go's ``fmt.Sprint`` prints it (``true``, not ``True``; nothing for null)."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, str):
        # kubectl cuts a cell at its first line break and marks the cut (cellBreakChars).
        for i, char in enumerate(cell):
            if char in "\f\n\r":
                return cell[:i] + "..."
        return cell
    return str(cell)


def kind_prefix(kind: str, group: str) -> str:
    """``deployment.apps`` or ``configmap``: how kubectl names a kind in ``-o name`` and in NAME cells."""
    return f"{kind.lower()}.{group}" if group else kind.lower()


def table_lines(table: Obj, *, wide: bool = False, with_namespace: bool = False, kind: str = "",
                headers: bool = True) -> list[list[str]]:
    """The header and rows of a Table as cells (kubectl's ``decorateTable`` + ``printTable``); no rows, no header."""
    columns = table.get("columnDefinitions") or []
    shown = [i for i, column in enumerate(columns) if wide or not column.get("priority")]
    name_column = next((i for i, c in enumerate(columns) if c.get("format") == "name" and c.get("type") == "string"),
                       -1) if kind else -1
    lines: list[list[str]] = []
    rows = table.get("rows") or []
    if headers and rows:
        lines.append((["NAMESPACE"] if with_namespace else []) + [columns[i]["name"].upper() for i in shown])
    for row in rows:
        cells = row.get("cells") or []
        line = [cell_text(cells[i]) if i < len(cells) else "" for i in shown]
        if name_column in shown:
            line[shown.index(name_column)] = f"{kind}/{line[shown.index(name_column)]}"
        if with_namespace:
            line.insert(0, ((row.get("object") or {}).get("metadata") or {}).get("namespace", ""))
        lines.append(line)
    return lines


def align(lines: list[list[str]], widths: list[int] | None = None) -> list[str]:
    """Table cells as kubectl's get tabwriter lays them out (every row of a Table has the same cells).

    ``widths``, kept by the caller between calls, is tabwriter's
    ``RememberWidths``: rows printed later (``-w``) are padded to the widths
    of those before them, or widen them. The last cell is never padded.
    """
    widths = [] if widths is None else widths
    for cells in lines:
        for j, cell in enumerate(cells[:-1]):
            need = max(GET_MIN_WIDTH, len(cell) + GET_PADDING)
            if j >= len(widths):
                widths.append(need)
            widths[j] = max(widths[j], need)
    return ["".join(cell.ljust(widths[j]) for j, cell in enumerate(cells[:-1])) + (cells[-1] if cells else "")
            for cells in lines]


# -- kubectl describe's fields --------------------------------------------------------


def timestamp(value: str | None) -> str:
    """``time.RFC1123Z`` in local time (``Mon, 23 Nov 2026 14:24:06 +0000``), as metav1.Time prints."""
    if not value:
        return "<unset>"
    return time.strftime("%a, %d %b %Y %H:%M:%S %z", time.localtime(parse_rfc3339(value)))


def multiline(title: str, entries: list[str]) -> list[str]:
    """``printLabelsMultiline``: the first entry beside the title, the rest below it, one per line."""
    if not entries:
        return [f"{title}:\t<none>"]
    return [f"{title}:\t{entries[0]}"] + [f"\t{entry}" for entry in entries[1:]]


def labels_lines(title: str, labels: dict | None) -> list[str]:
    return multiline(title, [f"{k}={v}" for k, v in sorted((labels or {}).items())])


def annotations_lines(title: str, annotations: dict | None) -> list[str]:
    """``printAnnotationsMultiline``: long or multi-line values go below their key, cut at 140 characters."""
    keys = sorted(k for k in (annotations or {}) if k not in SKIP_ANNOTATIONS)
    if not keys:
        return [f"{title}:\t<none>"]
    lines, prefix = [], f"{title}:\t"
    for key in keys:
        value = str(annotations[key]).removesuffix("\n")
        if len(value) + len(key) + 2 > MAX_ANNOTATION_LEN or "\n" in value:
            lines.append(f"{prefix}{key}:")
            limit = MAX_ANNOTATION_LEN - 2
            lines += [f"\t  {s[:limit] + '...' if len(s) > limit else s}" for s in value.split("\n")]
        else:
            lines.append(f"{prefix}{key}: {value}")
        prefix = "\t"
    return lines


def tolerations_lines(title: str, tolerations: list[dict] | None) -> list[str]:
    entries = []
    for t in tolerations or []:
        text = t.get("key", "") + (f"={t['value']}" if t.get("value") else "") + (
            f":{t['effect']}" if t.get("effect") else "")
        if t.get("operator") == "Exists" and not t.get("value"):
            text += " op=Exists" if t.get("key") or t.get("effect") else "op=Exists"
        if t.get("tolerationSeconds") is not None:
            text += f" for {t['tolerationSeconds']}s"
        entries.append(text)
    return multiline(title, entries)


def taints_lines(taints: list[dict] | None) -> list[str]:
    return multiline("Taints", [t.get("key", "") + (f"={t['value']}" if t.get("value") else "") + f":{t.get('effect', '')}"
                                 for t in taints or []])


# -- -o json / -o yaml ---------------------------------------------------------------


def printable(obj: Obj) -> Obj:
    """The object as ``kubectl get -o yaml`` shows it: without ``metadata.managedFields``, items too."""
    obj = copy.deepcopy(obj)
    for item in [obj, *(obj.get("items") or [] if isinstance(obj.get("items"), list) else [])]:
        if isinstance(item, dict) and isinstance(item.get("metadata"), dict):
            item["metadata"].pop("managedFields", None)
    return obj


def as_list(items: list[Obj]) -> Obj:
    """Several objects as kubectl prints them: a ``v1 List`` with an empty resourceVersion."""
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def to_json(obj: Any) -> str:
    """``json.MarshalIndent(obj, "", "    ")``: Go sorts map keys and escapes ``<``, ``>`` and ``&`` for HTML."""
    text = json.dumps(obj, indent=4, sort_keys=True, ensure_ascii=False)
    # Inside JSON these characters occur only in strings, where the escapes mean the same.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class _GoStyleDumper(yaml.SafeDumper):
    """PyYAML's safe dumper writing strings as go-yaml does: double quotes, ``|`` blocks for multi-line text."""

    def choose_scalar_style(self):  # noqa: ANN201 (PyYAML's hook)
        style = super().choose_scalar_style()
        # go-yaml double-quotes a string that would read back as another type ("yes", "0123", "");
        # one that only cannot be plain ("a: b", " x") gets single quotes in both.
        return '"' if style == "'" and not self.event.implicit[0] else style


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


_GoStyleDumper.add_representer(str, _represent_str)


def to_yaml(obj: Any) -> str:
    """The object as ``kubectl get -o yaml`` writes it (without the final newline)."""
    return yaml.dump(obj, Dumper=_GoStyleDumper, sort_keys=True, default_flow_style=False,
                     allow_unicode=True).rstrip("\n")
