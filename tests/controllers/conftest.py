"""One control plane (memory store) per test module; a namespace per test; controllers stopped after each."""

from __future__ import annotations

import itertools
import random

import pytest

from kitlib.cluster.controlplane import ControlPlane
from kitlib.controllers.replicaset import ReplicaSetController

_namespaces = itertools.count()


@pytest.fixture(scope="module")
def plane():
    with ControlPlane(store="memory://") as running:
        yield running


@pytest.fixture
def client(plane):
    return plane.client(in_process=True)


@pytest.fixture
def ns(client):
    """A fresh namespace, so tests sharing the module's control plane never see each other's objects."""
    name = f"test-{next(_namespaces)}"
    client.resource("namespaces").create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


@pytest.fixture
def start_rs_controller(client, ns):
    """Start a ReplicaSet controller watching the test's namespace; every one is stopped after the test."""
    started = []

    def start(**options):
        options.setdefault("rng", random.Random(7))
        options.setdefault("resync_period", 0.5)
        controller = ReplicaSetController(client, namespace=ns, **options)
        started.append(controller)
        controller.run()
        assert controller.wait_for_sync(5)
        return controller

    yield start
    for controller in started:
        controller.stop()
