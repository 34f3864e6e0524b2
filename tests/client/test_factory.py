"""The shared informer factory: one informer per resource, namespace and selectors, for everyone who asks."""

from __future__ import annotations

import pytest

from kitlib.client.factory import SharedInformerFactory
from kitlib.client.indexer import NODE_NAME_INDEX, node_name_index
from kitlib.client.informer import wait_for_cache_sync
from kitlib.cluster.controlplane import ControlPlane


@pytest.fixture(scope="module")
def plane():
    with ControlPlane(store="memory://") as running:
        yield running


@pytest.fixture
def factory(plane):
    made = SharedInformerFactory(plane.client(in_process=True))
    yield made
    made.stop()


# Two requests, and whether they get the same informer.
REQUESTS = [
    ("same resource, two spellings", (("v1", "Pod"),), ("pods",), True),
    ("another namespace", (("v1", "Pod"), "a"), (("v1", "Pod"), "b"), False),
    ("a cluster-scoped resource ignores the namespace", (("v1", "Node"), "a"), (("v1", "Node"),), True),
    ("another resource", (("v1", "Pod"),), (("v1", "Service"),), False),
]


@pytest.mark.parametrize("first,second,same", [r[1:] for r in REQUESTS], ids=[r[0] for r in REQUESTS])
def test_informers_are_shared_by_resource_and_namespace(factory, first, second, same):
    assert (factory.informer(*first) is factory.informer(*second)) is same


def test_selectors_make_another_informer(factory):
    plain = factory.informer(("v1", "Pod"))
    assert factory.informer(("v1", "Pod"), field_selector="spec.nodeName=n1") is not plain
    assert factory.informer(("v1", "Pod"), field_selector="spec.nodeName=n1") is \
        factory.informer(("v1", "Pod"), field_selector="spec.nodeName=n1")


def test_indexers_join_the_shared_cache(factory):
    pods = factory.informer(("v1", "Pod"))
    factory.informer(("v1", "Pod"), indexers={NODE_NAME_INDEX: node_name_index})
    factory.informer(("v1", "Pod"), indexers={NODE_NAME_INDEX: node_name_index})  # the same index again: fine
    assert set(pods.indexer.indexers()) >= {"namespace", NODE_NAME_INDEX}
    with pytest.raises(ValueError, match="another function"):
        factory.informer(("v1", "Pod"), indexers={NODE_NAME_INDEX: lambda obj: []})


def test_start_runs_each_informer_once(plane, factory):
    pods = factory.informer(("v1", "Pod"))
    factory.start()
    factory.start()  # again, after a late request: only the new one starts
    services = factory.informer(("v1", "Service"))
    factory.start()
    assert wait_for_cache_sync(pods, services, timeout=5)


def test_the_controller_manager_watches_pods_once(plane):
    from kitlib.controllers.manager import ControllerManager

    manager = ControllerManager(plane.client(in_process=True), leader_elect=False).start()
    try:
        informers = manager.context.informers.informers()
        plurals = [inf.name for inf in informers]
        assert plurals.count("shared-pods") == 1 and len(plurals) == len(set(plurals))
        assert len(manager.running) == len(manager.enabled) > 5
    finally:
        manager.stop()
