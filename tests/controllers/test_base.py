"""The controller skeleton: the work queue's contract in process_next_work_item, owners, a whole small controller."""

from __future__ import annotations

import logging
import random

import pytest

from kitlib.api.meta import labels, name, namespace
from kitlib.client.indexer import DeletedFinalStateUnknown
from kitlib.clock import FakeClock
from kitlib.controllers.base import Controller

from .helpers import wait_until


class Scripted(Controller):
    """A controller whose sync fails as often as it is told to."""

    name = "scripted"

    def __init__(self, failures: int = 0, **options) -> None:
        super().__init__(None, **options)
        self.failures = failures
        self.synced: list[str] = []

    def sync(self, key: str) -> None:
        self.synced.append(key)
        if self.failures:
            self.failures -= 1
            raise RuntimeError(f"cannot sync {key} yet")


@pytest.mark.parametrize(
    "failures, max_retries, syncs, requeues, dropped",
    [
        (0, 15, 1, 0, False),  # success: forgotten, not queued again
        (1, 15, 2, 0, False),  # one failure: retried after 5 ms on the clock, then forgotten
        (3, 15, 4, 0, False),  # three failures: 5, 10, 20 ms
        (5, 2, 3, 0, True),    # fails more than max_retries: dropped after the third sync, and logged
        (5, None, 6, 0, False),  # max_retries=None: retried until it works
    ],
    ids=["success", "one-failure", "three-failures", "dropped", "no-limit"],
)
def test_process_next_work_item_keeps_the_queue_contract(caplog, failures, max_retries, syncs, requeues, dropped):
    clock = FakeClock()
    controller = Scripted(failures, clock=clock, max_retries=max_retries)
    controller.enqueue("default/web")
    caplog.set_level(logging.WARNING, logger="kitlib.controllers.base")
    for _ in range(10):
        if not len(controller.queue):
            clock.advance(60)  # every back-off on the list is due by now
            if not len(controller.queue):
                break
        assert controller.process_next_work_item()
        assert controller.queue.metrics().processing == 0  # done() was called
    assert controller.synced == ["default/web"] * syncs
    assert controller.queue.num_requeues("default/web") == requeues  # forgotten in the end
    assert ("dropping default/web out of the queue" in caplog.text) == dropped


def test_retries_wait_for_the_back_off_on_the_clock():
    clock = FakeClock()
    controller = Scripted(2, clock=clock)
    controller.enqueue("ns/a")
    assert controller.process_next_work_item()
    assert len(controller.queue) == 0 and controller.queue.metrics().waiting == 1
    clock.advance(0.005)
    assert len(controller.queue) == 1
    assert controller.process_next_work_item()
    clock.advance(0.005)
    assert len(controller.queue) == 0  # the second retry waits 10 ms
    clock.advance(0.005)
    assert len(controller.queue) == 1


def test_enqueue_takes_objects_tombstones_and_keys():
    controller = Scripted()
    pod = {"metadata": {"name": "web-1", "namespace": "default"}}
    controller.enqueue(pod)
    controller.enqueue(DeletedFinalStateUnknown("default/web-2", pod))
    controller.enqueue("default/web-3")
    controller.enqueue(pod)  # de-duplicated
    assert [controller.queue.get()[0] for _ in range(3)] == ["default/web-1", "default/web-2", "default/web-3"]


def test_stop_ends_the_workers_and_leaves_the_rest_of_the_queue():
    controller = Scripted().run(workers=3)
    assert controller.wait_for_sync(2)  # no informers: synced at once
    controller.enqueue("ns/a")
    wait_until(lambda: controller.synced == ["ns/a"])
    controller.stop()
    assert not any(t.is_alive() for t in controller._threads)
    controller.enqueue("ns/b")  # ignored after shut down
    assert controller.synced == ["ns/a"]


# -- a whole controller on the skeleton, against a real API server ------------------------------


class Labeler(Controller):
    """Labels every ConfigMap ``seen=true``; a ConfigMap's changes also wake the ConfigMap that controls it."""

    name = "labeler"
    kind = "ConfigMap"
    api_version = "v1"

    def __init__(self, client, **options) -> None:
        super().__init__(client, **options)
        self.owned: dict[str, str | None] = {}  # updated ConfigMap -> the owner key it enqueued
        self.configmaps = self.informer("configmaps", primary=True)
        self.configmaps.add_event_handler(on_add=self.enqueue, on_update=self.on_update)

    def on_update(self, old, new) -> None:
        self.enqueue(new)
        self.owned[name(new)] = self.enqueue_owner(new)

    def sync(self, key: str) -> None:
        cm = self.configmaps.indexer.get_by_key(key)
        if cm is None or labels(cm).get("seen") == "true":
            return
        self.client.resource("configmaps").patch(name(cm), {"metadata": {"labels": {"seen": "true"}}},
                                                 namespace=namespace(cm))


def configmap(cm_name: str, owner: dict | None = None) -> dict:
    metadata: dict = {"name": cm_name}
    if owner is not None:
        metadata["ownerReferences"] = [owner]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {}}


def test_a_small_controller_reconciles_every_object(client, ns):
    labeler = Labeler(client, namespace=ns, rng=random.Random(1)).run(workers=2)
    try:
        for i in range(5):
            client.resource("configmaps").create(configmap(f"cm-{i}"), namespace=ns)
        wait_until(lambda: all(labels(cm).get("seen") == "true"
                               for cm in client.resource("configmaps").list(ns)["items"])
                   and len(client.resource("configmaps").list(ns)["items"]) >= 5)
    finally:
        labeler.stop()


@pytest.mark.parametrize(
    "ref, resolved",
    [
        ({"kind": "ConfigMap", "apiVersion": "v1", "controller": True}, True),
        ({"kind": "ConfigMap", "apiVersion": "v1", "controller": False}, False),  # an owner, not the controller
        ({"kind": "Secret", "apiVersion": "v1", "controller": True}, False),  # not our kind
        ({"kind": "ConfigMap", "apiVersion": "v1", "controller": True, "uid": "another"}, False),  # same name, not it
    ],
    ids=["controller", "not-controller", "other-kind", "stale-uid"],
)
def test_enqueue_owner_resolves_the_controller_reference(client, ns, ref, resolved):
    parent = client.resource("configmaps").create(configmap("parent"), namespace=ns)
    labeler = Labeler(client, namespace=ns).run(workers=1)
    try:
        wait_until(lambda: labeler.configmaps.indexer.get_by_key(f"{ns}/parent") is not None)
        ref = {"name": "parent", "uid": parent["metadata"]["uid"], **ref}
        child = client.resource("configmaps").create(configmap("child", owner=ref), namespace=ns)
        wait_until(lambda: "child" in labeler.owned)  # the labeler's own patch of the child is an update
        assert labeler.owned["child"] == (f"{ns}/parent" if resolved else None)
        assert labeler.enqueue_owner(DeletedFinalStateUnknown(f"{ns}/child", child)) == labeler.owned["child"]
    finally:
        labeler.stop()
