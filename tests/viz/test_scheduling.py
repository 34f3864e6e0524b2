"""The pod-creation picture follows one live Pod: each step is drawn done, not yet, or failed."""

from __future__ import annotations

import pytest

from kitlib.clock import FakeClock
from kitlib.cluster import up
from kitlib.viz import dot
from kitlib.viz import scheduling as viz


@pytest.fixture(scope="module")
def cluster():
    with up(nodes=2, seed=0, clock=FakeClock(wall_start=1_767_225_600.0)) as running:
        running.settle()
        yield running


def pod(name: str, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "main", "image": "nginx:1.7.9"}], **spec}}


# A Pod's spec -> clock seconds to let pass -> what the picture must say.
CASES = [
    ("bound", {}, 0, ["4. Binding to node-", "6. status: Pending\\n(container not running yet)"]),
    ("running", {}, 5, ["4. Binding to node-", "6. status: Running", "Pod IP "]),
    ("nowhere", {"nodeSelector": {"disktype": "none"}}, 0,
     ["4. Event FailedScheduling:", "0/2 nodes are available", "5. watch\\n(not yet)"]),
    ("other-scheduler", {"schedulerName": "nobody"}, 0, ["4. Binding\\n(not yet)", "\tscheduler [label=nobody"]),
]


@pytest.mark.parametrize("name, spec, seconds, expected", CASES, ids=[c[0] for c in CASES])
def test_the_picture_says_how_far_the_pod_got(cluster, name, spec, seconds, expected):
    cluster.client().pods().create(pod(name, **spec))
    cluster.settle()
    if seconds:
        cluster.advance(seconds)
    source = viz.pod_creation_flow(cluster.client(), name).source
    missing = [text for text in expected if text not in source]
    assert not missing, f"{missing} not in\n{source}"


def test_without_dot_one_line_is_printed(cluster, monkeypatch, capsys):
    monkeypatch.setattr(dot.shutil, "which", lambda name: None)
    assert viz.draw_pod_creation_flow(cluster.client(), "bound") is None
    assert capsys.readouterr().out.strip() == dot.DOT_MISSING
