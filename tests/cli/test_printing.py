"""kubectl's layout rules: Go's tabwriter, Table decoration, and go-yaml's and Go's JSON encoder's choices."""

from __future__ import annotations

import pytest

from kitlib.cli.printing import align, cell_text, printable, table_lines, tabwrite, to_json, to_yaml

# (lines, minwidth, padding, what Go's tabwriter prints)
TABWRITER = [
    (["NAME\tAGE", "web\t0s"], 6, 3, ["NAME   AGE", "web    0s"]),
    (["A\tB", "1\t2"], 6, 3, ["A     B", "1     2"]),  # minwidth 6 beats "A" + padding 3
    (["Labels:\ta=b", "\tc=d"], 0, 2, ["Labels:  a=b", "         c=d"]),  # a continuation line
    # A line without a tab ends a column block: each block has its own width.
    (["Name:\tx", "Pod Template:", "  Labels:\tapp=nginx", "Events:\t<none>"], 0, 2,
     ["Name:  x", "Pod Template:", "  Labels:  app=nginx", "Events:    <none>"]),
    # A second column exists only where lines have a second tab-terminated cell.
    (["Port:\thttp\t80/TCP", "TargetPort:\t8080/TCP"], 0, 2, ["Port:        http  80/TCP", "TargetPort:  8080/TCP"]),
    (["a\tb\t", "ccc\td\t"], 0, 1, ["a   b ", "ccc d "]),  # an empty last cell: the one before is padded
]


@pytest.mark.parametrize("lines, minwidth, padding, expected", TABWRITER,
                         ids=["table", "minwidth", "continuation", "blocks", "nested", "trailing-tab"])
def test_tabwrite_is_gos_tabwriter(lines, minwidth, padding, expected):
    assert tabwrite(lines, minwidth=minwidth, padding=padding) == expected


TABLE = {
    "kind": "Table",
    "columnDefinitions": [
        {"name": "Name", "type": "string", "format": "name", "priority": 0},
        {"name": "Ready", "type": "string", "format": "", "priority": 0},
        {"name": "Nominated Node", "type": "string", "format": "", "priority": 1},
    ],
    "rows": [
        {"cells": ["web-0", "1/1", None], "object": {"metadata": {"name": "web-0", "namespace": "prod"}}},
        {"cells": ["web-1", "0/1", "node-2"], "object": {"metadata": {"name": "web-1", "namespace": "prod"}}},
    ],
}


@pytest.mark.parametrize("options, expected", [
    ({}, ["NAME    READY", "web-0   1/1", "web-1   0/1"]),
    ({"wide": True}, ["NAME    READY   NOMINATED NODE", "web-0   1/1     ", "web-1   0/1     node-2"]),
    ({"with_namespace": True}, ["NAMESPACE   NAME    READY", "prod        web-0   1/1", "prod        web-1   0/1"]),
    ({"kind": "pod"}, ["NAME        READY", "pod/web-0   1/1", "pod/web-1   0/1"]),
    ({"headers": False}, ["web-0   1/1", "web-1   0/1"]),
], ids=["default", "wide", "all-namespaces", "with-kind", "no-headers"])
def test_table_as_kubectl_prints_it(options, expected):
    assert align(table_lines(TABLE, **options)) == expected


def test_an_empty_table_prints_nothing_and_widths_are_remembered():
    assert table_lines({**TABLE, "rows": []}) == []
    widths: list[int] = []
    assert align([["NAME", "AGE"], ["a", "1s"]], widths) == ["NAME   AGE", "a      1s"]
    assert align([["a-much-longer-name", "2s"]], widths) == ["a-much-longer-name   2s"]  # -w: a wider row widens
    assert align([["b", "3s"]], widths) == ["b                    3s"]


@pytest.mark.parametrize("cell, text", [
    (None, ""), (True, "true"), (False, "false"), (3, "3"), ("a\nb", "a..."), ("plain", "plain"),
])
def test_cells_print_as_go_prints_them(cell, text):
    assert cell_text(cell) == text


@pytest.mark.parametrize("value, written", [
    ("plain", "plain"),
    ("yes", '"yes"'),          # would read back as a bool: go-yaml double-quotes it
    ("0123", '"0123"'),
    ("", '""'),
    ("2001-12-14", '"2001-12-14"'),
    ("a: b", "'a: b'"),        # only cannot be plain: single quotes, in both
    (" lead", "' lead'"),
    ("line one\nline two\n", "|\n  line one\n  line two"),
    ("a\nb", "|-\n  a\n  b"),
    ("héllo ✓", "héllo ✓"),
], ids=lambda v: repr(v)[:20])
def test_yaml_quotes_as_go_yaml(value, written):
    assert to_yaml({"k": value}) == f"k: {written}"


def test_yaml_sorts_keys_and_does_not_indent_lists():
    assert to_yaml({"b": [{"y": 1, "x": 2}], "a": 1}) == "a: 1\nb:\n- x: 2\n  y: 1"


def test_json_escapes_html_as_go_does():
    assert to_json({"b": "<&>", "a": "é"}) == '{\n    "a": "é",\n    "b": "\\u003c\\u0026\\u003e"\n}'


def test_printable_hides_managed_fields_and_copies():
    obj = {"kind": "List", "items": [{"metadata": {"name": "a", "managedFields": [{"manager": "kit"}]}}],
           "metadata": {"managedFields": []}}
    assert printable(obj) == {"kind": "List", "items": [{"metadata": {"name": "a"}}], "metadata": {}}
    assert obj["items"][0]["metadata"]["managedFields"] == [{"manager": "kit"}]
