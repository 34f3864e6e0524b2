"""The architecture picture is drawn from the live control plane."""

from __future__ import annotations

import pytest

from kitlib.cluster import ControlPlane
from kitlib.viz import cluster as viz
from kitlib.viz import dot


@pytest.fixture(scope="module")
def plane():
    with ControlPlane(store="memory://") as running:
        yield running


def test_the_picture_shows_what_runs_and_what_does_not_yet(plane):
    source = viz.architecture(plane).source
    revision = plane.store.range("/", prefix=True, limit=1).revision
    assert f"revision {revision}" in source and "the only door" in source
    assert "nodes (0 registered)" in source
    for component, part in viz.LATER.items():
        assert f"{component}\\n(not yet: {part})" in source


def test_registered_nodes_appear(plane):
    plane.client(in_process=True).nodes().create({"metadata": {"name": "node-1"}})
    assert "nodes (1 registered)" in viz.architecture(plane).source


def test_without_dot_one_line_is_printed(plane, monkeypatch, capsys):
    monkeypatch.setattr(dot.shutil, "which", lambda name: None)
    assert viz.draw_architecture(plane) is None
    assert capsys.readouterr().out.strip() == dot.DOT_MISSING
