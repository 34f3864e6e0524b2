"""The controller manager: controllers chosen from a registry, run only by the holder of the Lease.

The managers' electors and controllers share one FakeClock, which the tests
move to expire Leases; the API server keeps real time.
"""

from __future__ import annotations

import random

import pytest

from kitlib.api.errors import NotFound
from kitlib.api.meta import parse_rfc3339
from kitlib.client.leaderelection import record_of
from kitlib.clock import FakeClock
from kitlib.controllers.base import Controller
from kitlib.controllers.manager import CONTROLLERS, LEASE_NAME, LEASE_NAMESPACE, ControllerManager, select_controllers
from kitlib.errors import KitError

from .helpers import advance_until, holds_for, owned_pods, replicaset, wait_until


@pytest.fixture
def managers(client, ns):
    """Make managers that watch the test's namespace; no Lease left from an earlier test; all stopped after."""
    try:
        client.resource("leases", namespace=LEASE_NAMESPACE).delete(LEASE_NAME)
    except NotFound:
        pass
    clock = FakeClock()
    made: list[ControllerManager] = []

    def make(identity: str, **options) -> ControllerManager:
        # Only the ReplicaSet controller: these tests are about the manager, not the other controllers.
        options.setdefault("registry", {"replicaset": CONTROLLERS["replicaset"]})
        manager = ControllerManager(client, clock, random.Random(len(made)), identity, namespace=ns, **options)
        made.append(manager)
        return manager

    make.clock = clock
    yield make
    for manager in made:
        manager.stop(release=False)


def lease(client) -> dict:
    return record_of(client.resource("leases", namespace=LEASE_NAMESPACE).get(LEASE_NAME))


@pytest.mark.parametrize(
    "flags, chosen",
    [(("*",), ["alpha", "beta"]), (("*", "-beta"), ["alpha"]), (("beta",), ["beta"]), ((), [])],
    ids=["all", "all-but-one", "just-one", "none"],
)
def test_select_controllers_as_the_controllers_flag(flags, chosen):
    registry = {"alpha": None, "beta": None}
    assert select_controllers(flags, registry) == chosen


def test_unknown_controllers_are_refused():
    with pytest.raises(KitError, match="unknown controller 'nosuchcontroller'"):
        select_controllers(["*", "-nosuchcontroller"], CONTROLLERS)


def test_the_registry_holds_the_controllers_written_so_far():
    assert set(CONTROLLERS) == {"replicaset", "deployment", "nodelifecycle", "garbagecollector", "endpoint", "daemonset",
                                "job", "cronjob", "statefulset", "horizontalpodautoscaling"}


def test_only_the_leader_acts_and_a_standby_takes_over_when_it_dies(client, ns, managers):
    a = managers("cm-a").start()
    wait_until(a.is_leader)
    b = managers("cm-b").start()
    wait_until(lambda: b.elector.get_leader() == "cm-a")
    assert sorted(a.running) == ["replicaset"] and not b.is_leader() and b.running == {}

    rs = client.replicasets(ns).create(replicaset("web", 3))
    wait_until(lambda: len(owned_pods(client, ns, rs)) == 3)

    a.stop(release=False)  # a crash: its controllers are gone, its Lease stays until it expires
    assert not a.is_leader() and a.running == {}
    last = lease(client)
    assert last["holderIdentity"] == "cm-a"
    client.replicasets(ns).patch("web", {"spec": {"replicas": 4}})
    assert holds_for(lambda: len(owned_pods(client, ns, rs)) == 3), "nobody may act while a's Lease is valid"

    advance_until(managers.clock, b.is_leader)
    taken = lease(client)
    assert taken["holderIdentity"] == "cm-b" and taken["leaseTransitions"] == 1
    assert parse_rfc3339(taken["acquireTime"]) - parse_rfc3339(last["renewTime"]) >= 15
    wait_until(lambda: len(owned_pods(client, ns, rs)) == 4)


def test_a_clean_stop_hands_over_at_once(client, ns, managers):
    a = managers("cm-a").start()
    wait_until(a.is_leader)
    b = managers("cm-b").start()
    wait_until(lambda: b.elector.get_leader() == "cm-a")
    a.stop()
    assert lease(client)["holderIdentity"] == ""
    took = advance_until(managers.clock, b.is_leader)
    assert took < 15


def test_a_leader_that_loses_the_lease_stops_its_controllers_and_stands_again(client, ns, managers):
    a = managers("cm-a").start()
    wait_until(a.is_leader)
    first = a.running["replicaset"]
    leases = client.resource("leases", namespace=LEASE_NAMESPACE)
    stolen = leases.get(LEASE_NAME)
    stolen["spec"].update(holderIdentity="intruder", leaseDurationSeconds=20)
    leases.update(stolen)  # someone else holds it now, for 20 s of a's clock
    advance_until(managers.clock, lambda: not a.is_leader())
    assert a.running == {} and first.stopped()
    advance_until(managers.clock, a.is_leader)  # the intruder never renews: a takes the Lease back
    assert a.running["replicaset"] is not first  # controllers are built afresh for each term
    assert lease(client)["holderIdentity"] == "cm-a"


class Broken(Controller):
    name = "broken"

    def sync(self, key: str) -> None:
        pass


def test_without_leader_election_the_controllers_run_at_once(client, ns, managers):
    def broken(ctx):
        raise RuntimeError("cannot build")

    registry = {"replicaset": CONTROLLERS["replicaset"], "broken": broken,
                "noop": lambda ctx: Broken(ctx.client, clock=ctx.clock)}
    manager = managers("solo", leader_elect=False, registry=registry).start()
    assert manager.is_leader() and sorted(manager.running) == ["noop", "replicaset"]  # a broken one is skipped
    rs = client.replicasets(ns).create(replicaset("web", 2))
    wait_until(lambda: len(owned_pods(client, ns, rs)) == 2)
    manager.stop()
    assert manager.running == {} and not manager.is_leader()
