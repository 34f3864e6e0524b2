"""Leader election over a Lease, against a real API server, with the electors on a FakeClock.

The electors' threads wait on the fake clock; the tests move it a step at a
time and give the threads a moment of real time to act after each step
(:func:`advance_until`), so expiry and retries happen in simulated seconds.
"""

from __future__ import annotations

import itertools
import random
import threading
import time

import pytest

from kitlib.api.meta import parse_rfc3339
from kitlib.client.leaderelection import LeaderElector, record_of
from kitlib.clock import FakeClock
from kitlib.cluster.controlplane import ControlPlane
from kitlib.errors import KitError

NAMESPACE = "kube-system"
_names = itertools.count()


def wait_until(predicate, timeout: float = 5.0) -> bool:
    """Poll ``predicate`` every 10 ms of real time; False if ``timeout`` real seconds pass first."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def advance_until(clock: FakeClock, predicate, *, step: float = 1.0, limit: float = 60.0,
                  settle: float = 0.02) -> float:
    """Advance ``clock`` by ``step`` until ``predicate`` holds; the simulated seconds it took.

    After each step the electors get up to ``settle`` real seconds to act.
    """
    start = clock.now()
    while not wait_until(predicate, settle):
        if clock.now() - start >= limit:
            raise AssertionError(f"condition not met within {limit} simulated seconds")
        clock.advance(step)
    return clock.now() - start


@pytest.fixture(scope="module")
def plane():
    with ControlPlane(store="memory://") as running:
        yield running


@pytest.fixture
def client(plane):
    return plane.client(in_process=True)


@pytest.fixture
def lease_name():
    return f"lease-{next(_names)}"


class Candidate:
    """An elector and what its callbacks said."""

    def __init__(self, client, lease_name: str, identity: str, clock: FakeClock, seed: int) -> None:
        self.events: list[str] = []
        self.leaders: list[str] = []
        self.lock = threading.Lock()
        self.elector = LeaderElector(
            client, NAMESPACE, lease_name, identity, clock,
            on_started_leading=lambda: self._event("started"),
            on_stopped_leading=lambda: self._event("stopped"),
            on_new_leader=self.leaders.append,
            rng=random.Random(seed),
        )

    def _event(self, what: str) -> None:
        with self.lock:
            self.events.append(what)

    def leading(self) -> bool:
        with self.lock:
            return bool(self.events) and self.events[-1] == "started"


@pytest.fixture
def candidates(client, lease_name):
    clock = FakeClock()
    made: list[Candidate] = []

    def make(identity: str) -> Candidate:
        candidate = Candidate(client, lease_name, identity, clock, seed=len(made))
        made.append(candidate)
        return candidate

    make.clock = clock
    yield make
    for candidate in made:
        candidate.elector.stop(release=False)


def lease(client, name: str) -> dict:
    return record_of(client.resource("leases", namespace=NAMESPACE).get(name))


@pytest.mark.parametrize(
    "lease_duration, renew_deadline, retry_period, message",
    [
        (10, 10, 2, "lease_duration must be greater than renew_deadline"),
        (15, 2, 2, "renew_deadline must be greater than retry_period"),
        (15, 10, 0, "retry_period must be greater than zero"),
    ],
    ids=["duration-not-above-deadline", "deadline-below-jittered-retry", "no-retry-period"],
)
def test_timing_is_checked_as_client_go_does(client, lease_duration, renew_deadline, retry_period, message):
    with pytest.raises(KitError, match=message):
        LeaderElector(client, NAMESPACE, "x", "me", FakeClock(), lease_duration=lease_duration,
                      renew_deadline=renew_deadline, retry_period=retry_period)


def test_one_of_two_candidates_wins_and_keeps_the_lease(client, lease_name, candidates):
    a, b = candidates("a"), candidates("b")
    a.elector.start()
    b.elector.start()
    assert wait_until(lambda: a.leading() or b.leading())
    leader, standby = (a, b) if a.leading() else (b, a)
    record = lease(client, lease_name)
    assert record["holderIdentity"] == leader.elector.identity
    assert record["leaseDurationSeconds"] == 15 and record["leaseTransitions"] == 0
    assert record["acquireTime"].endswith("Z") and "." in record["acquireTime"]  # MicroTime
    # 25 simulated seconds, far past the lease duration: the leader keeps renewing, the standby waits.
    advance_until(candidates.clock, lambda: candidates.clock.now() >= 25)
    assert leader.leading() and not standby.leading()
    assert leader.elector.is_leader() and not standby.elector.is_leader()
    renewed = lease(client, lease_name)
    assert renewed["holderIdentity"] == leader.elector.identity and renewed["leaseTransitions"] == 0
    assert renewed["acquireTime"] == record["acquireTime"]
    assert parse_rfc3339(renewed["renewTime"]) > parse_rfc3339(record["renewTime"])
    assert standby.leaders == [leader.elector.identity]


def test_standby_takes_over_only_after_the_lease_expires(client, lease_name, candidates):
    a = candidates("a")
    a.elector.start()
    assert wait_until(a.leading)
    b = candidates("b")
    b.elector.start()
    assert wait_until(lambda: b.leaders == ["a"])
    a.elector.stop(release=False)  # a crash: no release, the record stays "a"'s
    last = lease(client, lease_name)
    assert last["holderIdentity"] == "a"
    advance_until(candidates.clock, b.leading)
    taken = lease(client, lease_name)
    assert taken["holderIdentity"] == "b" and taken["leaseTransitions"] == 1
    waited = parse_rfc3339(taken["acquireTime"]) - parse_rfc3339(last["renewTime"])
    assert waited >= 15, f"b took the lease {waited} s after a's last renewal, before it expired"
    assert b.leaders == ["a", "b"]


def test_release_hands_over_at_once(client, lease_name, candidates):
    a = candidates("a")
    a.elector.start()
    assert wait_until(a.leading)
    b = candidates("b")
    b.elector.start()
    assert wait_until(lambda: b.leaders == ["a"])
    a.elector.stop()  # steps down, then releases
    assert a.events == ["started", "stopped"]
    released = lease(client, lease_name)
    assert released["holderIdentity"] == "" and released["leaseDurationSeconds"] == 1
    took = advance_until(candidates.clock, b.leading)
    assert took <= 2 * 2.2 + 1, "a standby retries within retry_period * (1 + 1.2): it must not wait for expiry"
    assert lease(client, lease_name)["leaseTransitions"] == 1


def test_transitions_are_counted(client, lease_name, candidates):
    a, b, c = candidates("a"), candidates("b"), candidates("c")
    a.elector.start()
    assert wait_until(a.leading)
    b.elector.start()
    c.elector.start()
    holders = ["a"]
    for step in range(2):
        current = {"a": a, "b": b, "c": c}[holders[-1]]
        current.elector.stop(release=step == 0)  # a releases; its successor crashes
        advance_until(candidates.clock, lambda: lease(client, lease_name)["holderIdentity"] not in ("", holders[-1]))
        holders.append(lease(client, lease_name)["holderIdentity"])
    assert len(set(holders)) == 3
    assert lease(client, lease_name)["leaseTransitions"] == 2


def test_a_leader_that_cannot_renew_steps_down_after_the_renew_deadline(client, lease_name, candidates):
    a = candidates("a")
    a.elector.start()
    assert wait_until(a.leading)
    leases = client.resource("leases", namespace=NAMESPACE)
    stolen = leases.get(lease_name)
    stolen["spec"]["holderIdentity"] = "intruder"
    stolen["spec"]["leaseDurationSeconds"] = 3600
    leases.update(stolen)  # a's next write conflicts, and its reads show a valid lease held by someone else
    stolen_at = candidates.clock.now()
    advance_until(candidates.clock, lambda: not a.leading())
    assert candidates.clock.now() - stolen_at >= 10  # it kept trying for its whole renew deadline
    assert a.events == ["started", "stopped"]
    assert not a.elector.is_leader() and a.leaders == ["a", "intruder"]
    assert lease(client, lease_name)["holderIdentity"] == "intruder"  # nothing to release: not ours


class RacingReads:
    """A Lease client whose ``get`` lets someone else write right after the read: b's copy is stale at once."""

    def __init__(self, leases, race) -> None:
        self.leases, self.race = leases, race

    def get(self, name):
        obj = self.leases.get(name)
        self.race()
        return obj

    def __getattr__(self, attr):
        return getattr(self.leases, attr)


def test_of_two_writes_from_one_read_the_second_conflicts(client, lease_name):
    clock = FakeClock()
    a = LeaderElector(client, NAMESPACE, lease_name, "a", clock)
    b = LeaderElector(client, NAMESPACE, lease_name, "b", clock)
    assert a.try_acquire_or_renew()
    clock.advance(20)  # expired on a's clock, but b sees this record for the first time: it starts counting now
    assert not b.try_acquire_or_renew()
    clock.advance(16)  # now expired on b's clock too
    b.leases = RacingReads(b.leases, race=a.try_acquire_or_renew)  # a renews between b's read and b's write
    assert not b.try_acquire_or_renew()  # b's update carries the resourceVersion it read: 409 Conflict
    record = lease(client, lease_name)
    assert record["holderIdentity"] == "a" and record["leaseTransitions"] == 0
    assert not b.is_leader()
