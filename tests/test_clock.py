"""The FakeClock: time moves only when told, and it remembers the moments components wait for."""

from __future__ import annotations

import threading

import pytest

from kitlib.client.workqueue import DelayingQueue, real_seconds_until
from kitlib.clock import FakeClock


@pytest.mark.parametrize("noted,now,want", [
    ([], 0.0, None),
    ([5.0, 2.0, 9.0], 0.0, 2.0),
    ([5.0, 2.0, 9.0], 2.0, 5.0),        # a passed moment is forgotten
    ([5.0, 5.0], 0.0, 5.0),             # a poll loop noting the same moment twice
    ([1.0], 3.0, None),
])
def test_next_expected_is_the_soonest_moment_still_ahead(noted, now, want):
    clock = FakeClock()
    for moment in noted:
        clock.expect(moment)
    clock.advance(now)
    assert clock.next_expected() == want


def test_a_moment_in_the_past_is_not_noted():
    clock = FakeClock(start=10.0)
    clock.expect(4.0)
    assert clock.next_expected() is None


@pytest.mark.parametrize("how", ["sleep", "poll", "add_after"])
def test_what_waits_on_the_clock_tells_it_when(how):
    clock = FakeClock()
    if how == "sleep":
        sleeper = threading.Thread(target=clock.sleep, args=(7.0,), daemon=True)
        sleeper.start()
        while clock.next_expected() is None:
            threading.Event().wait(0.001)
    elif how == "poll":
        assert real_seconds_until(clock, 7.0) > 0
    else:
        DelayingQueue("q", clock=clock).add_after("key", 7.0)
    assert clock.next_expected() == 7.0
    clock.advance(7.0)
    if how == "sleep":
        sleeper.join(2)
        assert not sleeper.is_alive()
    assert clock.next_expected() is None
