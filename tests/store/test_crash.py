"""SIGKILL at random moments: no acknowledged write is ever lost, the store always restarts."""

from __future__ import annotations

import os

import pytest

from kitlib.store.crash import run_trials

# The acceptance asks for at least 200 trials; KIT_CRASH_TRIALS lets a
# developer run more (or fewer while iterating).
TRIALS = int(os.environ.get("KIT_CRASH_TRIALS", "200"))


@pytest.mark.slow
def test_no_acknowledged_write_is_lost_under_sigkill(tmp_path):
    report = run_trials(tmp_path / "data", TRIALS, seed=20261123)
    assert report.trials == TRIALS
    assert report.restarts == TRIALS, "the store failed to reopen after a crash"
    assert report.lost == [], f"acknowledged writes lost: {report.lost[:10]}"
    assert report.counter_recovered >= report.counter_acknowledged
    # The trials really wrote: a kill that always hit before the first write
    # would prove nothing.
    assert report.acknowledged > TRIALS * 10
