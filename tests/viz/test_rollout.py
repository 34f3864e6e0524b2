"""The rollout pictures: a snapshot of a Deployment's ReplicaSets, the table, the plot and the graph."""

from __future__ import annotations

import pytest

from kitlib.viz import dot
from kitlib.viz import rollout as viz


def _meta(name, uid, owner=None, revision=None):
    md = {"name": name, "uid": uid}
    if owner:
        md["ownerReferences"] = [{"controller": True, "uid": owner}]
    if revision is not None:
        md["annotations"] = {viz.REVISION: str(revision)}
    return md


def _pod(name, owner, ready=True, deleting=False):
    md = _meta(name, f"uid-{name}", owner)
    if deleting:
        md["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": md, "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


class _Items:
    def __init__(self, items):
        self.items = items

    def list(self):
        return {"items": self.items}

    def get(self, name):
        return next(i for i in self.items if i["metadata"]["name"] == name)


class FakeClient:
    """Just what snapshot() reads: one Deployment, its ReplicaSets (one stray), their Pods."""

    def __init__(self):
        self.d = [{"metadata": _meta("web", "d1", revision=2)}]
        self.rs = [
            {"metadata": _meta("web-old", "rs1", "d1", 1), "spec": {"replicas": 1}},
            {"metadata": _meta("web-new", "rs2", "d1", 2), "spec": {"replicas": 2}},
            {"metadata": _meta("web-ancient", "rs0", "d1", 0), "spec": {"replicas": 0}},  # history only
            {"metadata": _meta("other", "rs9", "d9", 1), "spec": {"replicas": 5}},  # another Deployment's
        ]
        self.p = [_pod("web-old-a", "rs1"), _pod("web-old-b", "rs1", deleting=True),
                  _pod("web-new-a", "rs2"), _pod("web-new-b", "rs2", ready=False), _pod("x", "rs9")]

    def deployments(self, ns):
        return _Items(self.d)

    def replicasets(self, ns):
        return _Items(self.rs)

    def pods(self, ns):
        return _Items(self.p)


def test_snapshot_reads_the_deployments_replica_sets_only():
    step = viz.snapshot(FakeClient(), "web", at=4)
    assert [(rs.name, rs.revision, rs.replicas, rs.new) for rs in step.replica_sets] == [
        ("web-old", 1, 1, False), ("web-new", 2, 2, True)]
    assert step.replica_sets[1].pods == (("web-new-a", True), ("web-new-b", False))
    assert (step.old, step.new, step.available, step.new_available) == (1, 2, 2, 1)


def _step(at, old, new, old_ready, new_ready):
    def view(name, revision, replicas, ready, is_new):
        pods = tuple((f"{name}-{i}", i < ready) for i in range(replicas))
        return viz.ReplicaSetView(name, revision, replicas, pods, is_new)
    return viz.RolloutStep(at, (view("old", 1, old, old_ready, False), view("new", 2, new, new_ready, True)))


STEPS = [_step(0, 2, 1, 2, 0), _step(1, 1, 2, 1, 1), _step(2, 0, 2, 0, 2)]


@pytest.mark.parametrize("line, expected", [
    (2, "  0s       2       1     3          2         0/2"),
    (3, "  1s       1       2     3          2         1/2"),
    (4, "  2s       0       2     2          2         2/2"),
])
def test_table_lines(line, expected):
    table = viz.rollout_table(STEPS, replicas=2, max_surge=1, max_unavailable=0)
    assert table.splitlines()[line] == expected
    assert "<=3" in table.splitlines()[1] and ">=2" in table.splitlines()[1]


def test_plot_has_the_three_lines_and_two_limits():
    figure = viz.plot_rollout(STEPS, replicas=2, max_surge=1, max_unavailable=0)
    axes = figure.axes[0]
    assert [line.get_label() for line in axes.get_lines()][:3] == ["old ReplicaSet", "new ReplicaSet", "available"]
    assert len(axes.get_lines()) == 5


def test_graph_has_a_row_per_step():
    source = viz.rollout_graph(STEPS).source
    assert source.count("<TABLE") == 3 and "rev 2, 2 wanted" in source and "t=1s" in source


def test_without_dot_one_line_is_printed(monkeypatch, capsys):
    monkeypatch.setattr(dot.shutil, "which", lambda name: None)
    assert viz.draw_rollout(STEPS) is None
    assert capsys.readouterr().out.strip() == dot.DOT_MISSING
