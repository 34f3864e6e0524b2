"""ControllerExpectations: expect, observe, satisfied, expiry on the clock, deletions counted once by key."""

from __future__ import annotations

import pytest

from kitlib.clock import FakeClock
from kitlib.controllers.expectations import EXPECTATIONS_TIMEOUT, ControllerExpectations

KEY = "default/web"


@pytest.mark.parametrize(
    "steps, satisfied",
    [
        ([], True),  # nothing ever expected: a new controller acts at once
        ([("expect_creations", 3)], False),
        ([("expect_creations", 3)] + [("creation_observed",)] * 2, False),
        ([("expect_creations", 3)] + [("creation_observed",)] * 3, True),
        ([("expect_creations", 1)] + [("creation_observed",)] * 2, True),  # seen more than expected: still fine
        ([("expect_deletions", ["default/a", "default/b"]), ("deletion_observed", "default/a")], False),
        ([("expect_deletions", ["default/a", "default/b"]), ("deletion_observed", "default/a"),
          ("deletion_observed", "default/a")], False),  # the same Pod seen going twice counts once
        ([("expect_deletions", ["default/a", "default/b"]), ("deletion_observed", "default/a"),
          ("deletion_observed", "default/b")], True),
        ([("expect_deletions", ["default/a"]), ("deletion_observed", "default/other")], False),  # not ours to count
        ([("expect_creations", 3), ("delete_expectations",)], True),  # the ReplicaSet is gone
        ([("expect_creations", 3), ("lower_expectations", 3, 0)], True),  # creations that failed
    ],
    ids=["none", "expected", "partly-seen", "all-seen", "seen-more", "one-of-two-deleted", "deleted-twice",
         "both-deleted", "someone-elses", "deleted-expectations", "lowered"],
)
def test_satisfied_expectations(steps, satisfied):
    expectations = ControllerExpectations(FakeClock())
    for name, *args in steps:
        getattr(expectations, name)(KEY, *args)
    assert expectations.satisfied_expectations(KEY) is satisfied


def test_expectations_expire_after_the_timeout_on_the_clock():
    clock = FakeClock()
    expectations = ControllerExpectations(clock)
    expectations.expect_creations(KEY, 2)  # and the watch events never come
    clock.advance(EXPECTATIONS_TIMEOUT)
    assert not expectations.satisfied_expectations(KEY)
    clock.advance(0.001)
    assert expectations.satisfied_expectations(KEY)


def test_expectations_are_per_controller():
    expectations = ControllerExpectations(FakeClock())
    expectations.expect_creations("default/a", 1)
    assert expectations.satisfied_expectations("default/b")
    assert not expectations.satisfied_expectations("default/a")
    assert expectations.get("default/a").add == 1 and expectations.get("default/b") is None
