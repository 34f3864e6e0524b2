"""The store's pictures show the store's state at each revision, and nothing else.

Each case is a short history of writes (as the book's chapter makes them)
and, for every revision, the key space expected there and the changes that
revision made. The tables, the time-travel widget and the key tree must all
agree with it.
"""

from __future__ import annotations

import html
import json
import random
import re

import pytest

from kitlib.store import Op
from kitlib.store.embedded import EmbeddedStore
from kitlib.viz import dot
from kitlib.viz import store as viz

P = "/registry/pods/default/"

# (name, writes, prefix, {revision: {key: (value, create_revision, mod_revision, version)}},
#  {revision: [change, ...]})
# A write is ("put", key, value), ("delete", key) or ("txn", [(key, value), ...]).
CASES = [
    (
        "empty store",
        [],
        "",
        {1: {}},
        {1: []},
    ),
    (
        "create, update, delete",
        [("put", P + "web-0", "a"), ("put", P + "web-0", "b"), ("delete", P + "web-0")],
        "/registry/",
        {
            1: {},
            2: {P + "web-0": ("a", 2, 2, 1)},
            3: {P + "web-0": ("b", 2, 3, 2)},
            4: {},
        },
        {2: ["created " + P + "web-0"], 3: ["updated " + P + "web-0"], 4: ["deleted " + P + "web-0"]},
    ),
    (
        "a transaction writes two keys at one revision",
        [("put", P + "web-0", "a"), ("txn", [(P + "web-1", "b"), (P + "web-0", "c")])],
        "/registry/",
        {
            2: {P + "web-0": ("a", 2, 2, 1)},
            3: {P + "web-0": ("c", 2, 3, 2), P + "web-1": ("b", 3, 3, 1)},
        },
        {3: ["updated " + P + "web-0", "created " + P + "web-1"]},
    ),
    (
        "a recreated key starts again at version 1 with a new create_revision",
        [("put", "/k", "1"), ("put", "/k", "2"), ("delete", "/k"), ("put", "/k", "3")],
        "/",
        {3: {"/k": ("2", 2, 3, 2)}, 4: {}, 5: {"/k": ("3", 5, 5, 1)}},
        {4: ["deleted /k"], 5: ["created /k"]},
    ),
    (
        "the prefix hides keys outside it, and their revisions show no change",
        [("put", "/registry/pods/a", "1"), ("put", "/registry/services/s", "2"), ("put", "/registry/pods-x", "3")],
        "/registry/pods/",
        {2: {"/registry/pods/a": ("1", 2, 2, 1)}, 3: {"/registry/pods/a": ("1", 2, 2, 1)}, 4: {"/registry/pods/a": ("1", 2, 2, 1)}},
        {2: ["created /registry/pods/a"], 3: [], 4: []},
    ),
]


def build(writes) -> EmbeddedStore:
    store = EmbeddedStore(None, rng=random.Random(0), lessor=False)
    for write in writes:
        if write[0] == "put":
            store.put(write[1], write[2])
        elif write[0] == "delete":
            store.delete(write[1])
        else:
            store.txn([], [Op.put(key, value) for key, value in write[1]])
    return store


@pytest.fixture(params=CASES, ids=[case[0] for case in CASES])
def case(request):
    name, writes, prefix, states, changes = request.param
    store = build(writes)
    yield store, prefix, states, changes
    store.close()


def as_tuples(kvs):
    return {kv.key: (kv.text, kv.create_revision, kv.mod_revision, kv.version) for kv in kvs}


def test_key_space_at_each_revision(case):
    store, prefix, states, _ = case
    for revision, expected in states.items():
        assert as_tuples(viz.key_space(store, prefix, revision)) == expected, revision


def test_changes_at_each_revision(case):
    store, prefix, _, changes = case
    for revision, expected in changes.items():
        assert [str(c) for c in viz.changes_at(store, revision, prefix)] == sorted(expected, key=lambda c: c.split()[1])


def test_table_rows_are_the_key_space(case):
    store, prefix, states, changes = case
    for revision, expected in states.items():
        table = viz.key_space_table(store, prefix, revision)
        live = [row for row in table.rows if not row[0].endswith("(deleted)")]
        assert {row[0]: (row[1], int(row[2]), int(row[3]), int(row[4])) for row in live} == expected
        deleted = {c.split()[1] for c in changes.get(revision, []) if c.startswith("deleted")}
        assert {row[0].split()[0] for row in table.rows if row[0].endswith("(deleted)")} == deleted
        assert table.caption.startswith(f"revision {revision}:")
        text = table.to_text()
        for key in expected:
            assert key in text
        page = table.to_html()
        for key in expected:
            assert html.escape(key) in page


def test_changed_rows_are_highlighted(case):
    store, prefix, states, changes = case
    for revision, expected in changes.items():
        table = viz.key_space_table(store, prefix, revision)
        marked = sorted(table.rows[i][0].split()[0] for i in table.marks)
        assert marked == sorted(c.split()[1] for c in expected)


def test_browser_has_one_page_per_revision_linked_to_the_slider(case):
    store, prefix, states, _ = case
    box = viz.revision_browser(store, prefix)
    slider, stack = box.children
    revisions = list(range(1, store.revision + 1))
    assert list(slider.options) == [str(r) for r in revisions]
    assert len(stack.children) == len(revisions)
    assert slider.index == stack.selected_index == len(revisions) - 1
    for revision, expected in states.items():
        page = stack.children[revisions.index(revision)].value
        assert f"revision {revision}:" in page
        shown = set(re.findall(r"<tr[^>]*><td><code>([^<]*)</code>", page))
        shown = {html.unescape(key) for key in shown if not key.endswith("(deleted)")}
        assert shown == set(expected)


def test_browser_links_run_in_the_browser():
    """The slider drives the stack through jslink (JavaScript), not a Python callback."""
    from ipywidgets.widgets.widget_link import Link

    store = build([("put", "/a", "1"), ("put", "/b", "2")])
    box = viz.revision_browser(store, "/")
    slider, stack = box.children
    assert isinstance(box.link, Link)
    assert (box.link.source, box.link.target) == ((slider, "index"), (stack, "selected_index"))
    store.close()


def test_browser_starts_at_the_compaction_point():
    store = build([("put", "/a", str(i)) for i in range(5)])  # revisions 2..6
    store.compact(4)
    box = viz.revision_browser(store, "/")
    slider, stack = box.children
    assert list(slider.options) == ["4", "5", "6"]
    assert "revision 4: updated /a" in stack.children[0].value
    assert [str(c) for c in viz.changes_at(store, 4, "/")] == ["updated /a"]
    store.close()


def test_browser_refuses_an_empty_range():
    store = build([])
    with pytest.raises(ValueError, match="no revisions"):
        viz.revision_browser(store, "/", first=3, last=2)
    store.close()


def test_key_tree_has_a_leaf_per_key_with_its_revisions(case):
    store, prefix, states, _ = case
    graph = viz.key_tree(store, prefix or "/")
    source = graph.source
    now = states.get(store.revision, as_tuples(viz.key_space(store, prefix or "/")))
    for key, (_, _, mod, version) in now.items():
        leaf = key.rstrip("/").rsplit("/", 1)[-1]
        assert f"{leaf}\\nrev {mod} · v{version}" in source
    leaves = re.findall(r"rev \d+ · v\d+", source)
    assert len(leaves) == len(now)


POD = {"kind": "Pod", "metadata": {"name": "web-0"}, "spec": {"nodeName": "node-1"}, "status": {"phase": "Running"}}


@pytest.mark.parametrize(
    "value, width, summary, shown",
    [
        (b'{"kind": "Pod"}', 48, False, '{"kind": "Pod"}'),
        (b'{\n  "kind":   "Pod"\n}', 48, False, '{ "kind": "Pod" }'),
        (b"x" * 60, 10, False, "x" * 9 + "…"),
        (b"\xff\xfe", 48, False, "<2 bytes>"),
        (b"", 48, False, ""),
        (json.dumps(POD).encode(), 48, True, "Pod Running on node-1"),
        (json.dumps(POD).encode(), 8, True, "Pod Run…"),
        (b'{"kind": "Pod", "status": {"phase": "Pending"}}', 48, True, "Pod Pending"),
        (b'{"kind": "Node", "metadata": {"name": "node-1"}}', 48, True, "Node"),
        (b'{"data": {"mode": "blue"}}', 48, True, '{"data": {"mode": "blue"}}'),  # no kind: as it is
        (b'["kind"]', 48, True, '["kind"]'),
        (b"not json", 48, True, "not json"),
        (b'{"kind": 7}', 48, True, '{"kind": 7}'),
    ],
)
def test_values_are_one_short_line(value, width, summary, shown):
    assert viz.show_value(value, width, summary=summary) == shown


def test_draw_key_tree_without_dot_prints_one_line(monkeypatch, capsys):
    store = build([("put", "/a/b", "1")])
    monkeypatch.setattr(dot.shutil, "which", lambda name: None)
    assert viz.draw_key_tree(store, "/") is None
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [viz.DOT_MISSING]
    store.close()


@pytest.mark.skipif(not viz.dot_available(), reason="graphviz's dot is not installed")
def test_draw_key_tree_renders_svg():
    store = build([("put", "/registry/pods/default/web-0", "1")])
    graph = viz.draw_key_tree(store, "/registry/")
    assert graph is not None
    svg = graph.pipe(format="svg").decode()
    assert "web&#45;0" in svg and "pods/" in svg and "rev 2 · v1" in svg
    store.close()


def test_event_lines():
    store = build([])
    events = []
    with store.watch("/", prefix=True) as watch:
        store.put("/registry/pods/default/web-0", "a")
        store.put("/registry/pods/default/web-0", "b")
        store.delete("/registry/pods/default/web-0")
        events = [watch.get(timeout=1) for _ in range(3)]
    lines = [viz.event_line(e, strip="/registry/") for e in events]
    assert lines == [
        "rev   2  PUT     pods/default/web-0  (created)",
        "rev   3  PUT     pods/default/web-0  (version 2)",
        "rev   4  DELETE  pods/default/web-0  (deleted)",
    ]
    store.close()


@pytest.mark.parametrize("with_lease", [False, True], ids=["no lease", "a key with a lease"])
def test_lease_column_only_when_a_key_has_a_lease(with_lease):
    store = build([("put", "/a", "1")])
    lease = store.lease_grant(30) if with_lease else None
    store.put("/b", "2", lease=lease.id if lease else 0)
    table = viz.key_space_table(store, "/")
    assert ("lease" in table.columns) == with_lease
    if with_lease:
        rows = {row[0]: row[table.columns.index("lease")] for row in table.rows}
        assert rows == {"/a": "-", "/b": f"{lease.id:x}"}
    store.close()
