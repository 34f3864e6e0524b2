"""The scheduler cache (``kitlib.scheduler.cache``): assumed Pods, confirmation, expiry, snapshots."""

from __future__ import annotations

import pytest

from kitlib.clock import FakeClock
from kitlib.scheduler.cache import Cache, CacheError

from .helpers import node, pod


def bound(name: str, node_name: str, cpu: str = "1", **extra) -> dict:
    return pod(name, cpu=cpu, node_name=node_name, **extra)


def requested(cache: Cache) -> dict[str, int]:
    return {info.name: info.requested.milli_cpu for info in cache.snapshot()}


# Each row: the calls made, in order, then the millicores counted per node and the assumed pods.
# ("advance", s) moves the clock; pods: p1 is 1 cpu assumed/bound on n1 unless said.
P1 = bound("p1", "n1")
P1_ON_N2 = bound("p1", "n2")

CASES = [
    ("assumed pods count at once", [("assume", P1)], {"n1": 1000, "n2": 0}, ["default/p1"]),
    ("the informer confirms an assumed pod", [("assume", P1), ("finish", P1), ("add", P1)], {"n1": 1000, "n2": 0}, []),
    ("confirmation may come before finish_binding",
     [("assume", P1), ("add", P1), ("finish", P1), ("advance", 10_000)], {"n1": 1000, "n2": 0}, []),
    ("a forgotten pod frees its room", [("assume", P1), ("forget", P1)], {"n1": 0, "n2": 0}, []),
    ("bound elsewhere: the informer wins", [("assume", P1), ("add", P1_ON_N2)], {"n1": 0, "n2": 1000}, []),
    ("an unconfirmed pod expires after the TTL",
     [("assume", P1), ("finish", P1), ("advance", 30)], {"n1": 0, "n2": 0}, []),
    ("not before the TTL", [("assume", P1), ("finish", P1), ("advance", 29)], {"n1": 1000, "n2": 0}, ["default/p1"]),
    ("no expiry while binding is still under way", [("assume", P1), ("advance", 100)], {"n1": 1000, "n2": 0},
     ["default/p1"]),
    ("a bound pod is removed on delete", [("add", P1), ("remove", P1)], {"n1": 0, "n2": 0}, []),
    ("an update replaces the pod", [("add", P1), ("add", bound("p1", "n1", cpu="2"))], {"n1": 2000, "n2": 0}, []),
]


@pytest.mark.parametrize("calls, want, assumed", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_assumed_pod_life_cycle(calls, want, assumed):
    clock = FakeClock()
    cache = Cache(clock, ttl=30)
    cache.add_node(node("n1"))
    cache.add_node(node("n2"))
    for call, arg in calls:
        if call == "advance":
            clock.advance(arg)
        else:
            {"assume": cache.assume_pod, "finish": cache.finish_binding, "forget": cache.forget_pod,
             "add": cache.add_pod, "remove": cache.remove_pod}[call](arg)
    assert requested(cache) == want
    assert cache.assumed_pods() == assumed


def test_contract_violations():
    cache = Cache(FakeClock())
    cache.add_node(node("n1"))
    cache.assume_pod(P1)
    with pytest.raises(CacheError, match="can't be assumed"):
        cache.assume_pod(P1)
    with pytest.raises(CacheError, match="wasn't assumed"):
        cache.forget_pod(bound("other", "n1"))


def test_ttl_zero_never_expires():
    clock = FakeClock()
    cache = Cache(clock, ttl=0)
    cache.add_node(node("n1"))
    cache.assume_pod(P1)
    cache.finish_binding(P1)
    clock.advance(1e9)
    assert cache.assumed_pods() == ["default/p1"] and requested(cache) == {"n1": 1000}


def test_pods_before_their_node_and_node_removal():
    cache = Cache(FakeClock())
    cache.add_pod(bound("early", "n1"))
    assert cache.snapshot() == []  # no Node object yet: not schedulable
    cache.add_node(node("n1", cpu="8"))
    [info] = cache.snapshot()
    assert (info.name, info.requested.milli_cpu, info.allocatable.milli_cpu) == ("n1", 1000, 8000)
    cache.add_node(node("n1", cpu="16"))  # an update keeps the pods
    assert cache.snapshot()[0].allocatable.milli_cpu == 16000 and cache.pods_on("n1") == ["default/early"]
    cache.remove_node(node("n1"))
    assert cache.snapshot() == [] and cache.pods_on("n1") == ["default/early"]
    cache.remove_pod(bound("early", "n1"))
    assert cache.pods_on("n1") == [] and len(cache) == 0


def test_a_snapshot_does_not_move_with_the_cache():
    cache = Cache(FakeClock())
    cache.add_node(node("n1"))
    cache.add_node(node("n0"))
    snap = cache.snapshot()
    cache.assume_pod(P1)
    assert [i.name for i in snap] == ["n0", "n1"]  # sorted by name
    assert [i.requested.milli_cpu for i in snap] == [0, 0]
    assert [i.requested.milli_cpu for i in cache.snapshot()] == [0, 1000]


# Each row: changes made between two snapshots, then the second snapshot's (name, millicores) in order.
# A snapshot swaps in only the changed Nodes' clones when no Node came or went, and re-sorts when one did.
SNAPSHOT_UPDATES = [
    ("a pod lands: only its node changes", [("assume", P1)], [("n0", 0), ("n1", 1000), ("n2", 0)]),
    ("a node joins in the middle", [("node", "n05")], [("n0", 0), ("n05", 0), ("n1", 0), ("n2", 0)]),
    ("a node leaves", [("remove_node", "n1")], [("n0", 0), ("n2", 0)]),
    ("a node leaves and another takes a pod", [("remove_node", "n0"), ("assume", P1)], [("n1", 1000), ("n2", 0)]),
    ("a pod's node is not known yet", [("assume", bound("p9", "n9"))], [("n0", 0), ("n1", 0), ("n2", 0)]),
    ("then the node arrives", [("assume", bound("p9", "n9")), ("node", "n9")],
     [("n0", 0), ("n1", 0), ("n2", 0), ("n9", 1000)]),
]


@pytest.mark.parametrize("name,changes,want", SNAPSHOT_UPDATES, ids=[r[0] for r in SNAPSHOT_UPDATES])
def test_snapshot_follows_the_cache(name, changes, want):
    cache = Cache(FakeClock())
    for n in ("n2", "n0", "n1"):
        cache.add_node(node(n))
    first = cache.snapshot()
    for op, arg in changes:
        {"assume": cache.assume_pod, "node": lambda n: cache.add_node(node(n)),
         "remove_node": lambda n: cache.remove_node(node(n))}[op](arg)
    assert [(i.name, i.requested.milli_cpu) for i in cache.snapshot()] == want
    assert [(i.name, i.requested.milli_cpu) for i in first] == [("n0", 0), ("n1", 0), ("n2", 0)]
