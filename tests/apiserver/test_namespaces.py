"""Deleting a Namespace takes its contents with it; while it goes, nothing new gets in."""

from __future__ import annotations

import pytest

from kitlib.api.errors import Forbidden, NotFound
from kitlib.cluster import ControlPlane


@pytest.fixture()
def client():
    with ControlPlane(store="memory://") as plane:
        yield plane.client(in_process=True)


def test_a_namespace_is_emptied_then_removed(client):
    client.resource("namespaces").create({"metadata": {"name": "team"}})
    assert client.resource("serviceaccounts").get("default", "team")  # made with the namespace
    client.resource("configmaps").create({"metadata": {"name": "c"}}, "team")
    deleted = client.resource("namespaces").delete("team")
    assert deleted["status"]["phase"] == "Terminating"
    for plural, name in (("configmaps", "c"), ("serviceaccounts", "default")):
        with pytest.raises(NotFound):
            client.resource(plural).get(name, "team")
    with pytest.raises(NotFound):
        client.resource("namespaces").get("team")


def test_content_with_finalizers_keeps_the_namespace_terminating(client):
    client.resource("namespaces").create({"metadata": {"name": "slow"}})
    client.resource("configmaps").create({"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}, "slow")
    client.resource("namespaces").delete("slow")
    assert client.resource("namespaces").get("slow")["status"]["phase"] == "Terminating"
    with pytest.raises(Forbidden) as err:
        client.resource("configmaps").create({"metadata": {"name": "new"}}, "slow")
    assert "because it is being terminated" in str(err.value)


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public"])
def test_system_namespaces_cannot_be_deleted(client, name):
    with pytest.raises(Forbidden) as err:
        client.resource("namespaces").delete(name)
    assert "this namespace may not be deleted" in str(err.value)
