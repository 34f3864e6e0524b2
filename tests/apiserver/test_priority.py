"""The Priority admission plugin: PriorityClass names become spec.priority."""

from __future__ import annotations

import pytest

from kitlib.api.errors import Forbidden
from kitlib.cluster import ControlPlane


@pytest.fixture(scope="module")
def client():
    with ControlPlane(store="memory://") as plane:
        c = plane.client(in_process=True)
        c.resource("priorityclasses").create({"metadata": {"name": "high"}, "value": 1000})
        c.resource("priorityclasses").create({"metadata": {"name": "polite"}, "value": 500, "preemptionPolicy": "Never"})
        yield c


def pod(name, **spec):
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


@pytest.mark.parametrize(
    "spec, priority, policy",
    [
        ({}, 0, "PreemptLowerPriority"),
        ({"priorityClassName": "high"}, 1000, "PreemptLowerPriority"),
        ({"priorityClassName": "polite"}, 500, "Never"),
        ({"priorityClassName": "system-node-critical"}, 2000001000, "PreemptLowerPriority"),
    ],
    ids=["none", "high", "never-preempts", "system"],
)
def test_priority_comes_from_the_class(client, spec, priority, policy):
    name = f"p-{spec.get('priorityClassName', 'none')}"
    created = client.pods().create(pod(name, **spec))
    assert (created["spec"]["priority"], created["spec"]["preemptionPolicy"]) == (priority, policy)


def test_an_unknown_class_is_refused(client):
    with pytest.raises(Forbidden) as err:
        client.pods().create(pod("lost", priorityClassName="nope"))
    assert str(err.value) == 'pods "lost" is forbidden: no PriorityClass with name nope was found'


def test_a_global_default_applies_to_pods_without_a_class(client):
    client.resource("priorityclasses").create({"metadata": {"name": "everyone"}, "value": 7, "globalDefault": True})
    try:
        created = client.pods().create(pod("defaulted"))
        assert (created["spec"]["priorityClassName"], created["spec"]["priority"]) == ("everyone", 7)
    finally:
        client.resource("priorityclasses").delete("everyone")
