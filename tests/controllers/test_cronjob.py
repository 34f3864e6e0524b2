"""The CronJob controller: cron schedules, and Jobs made on a FakeClock against a real API server."""

from __future__ import annotations

import datetime as dt
import itertools
import random

import pytest

from kitlib.api.meta import rfc3339
from kitlib.clock import FakeClock
from kitlib.cluster.controlplane import ControlPlane
from kitlib.controllers.cronjob import CronJobController, Schedule, job_name, scheduled_times

from .helpers import holds_for, wait_until

UTC = dt.timezone.utc
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a Thursday

# (schedule, after, expected next)
NEXT = [
    ("*/5 * * * *", dt.datetime(2026, 1, 1, 0, 0, tzinfo=UTC), dt.datetime(2026, 1, 1, 0, 5, tzinfo=UTC)),
    ("*/5 * * * *", dt.datetime(2026, 1, 1, 0, 3, 59, tzinfo=UTC), dt.datetime(2026, 1, 1, 0, 5, tzinfo=UTC)),
    ("@hourly", dt.datetime(2026, 1, 1, 0, 0, tzinfo=UTC), dt.datetime(2026, 1, 1, 1, 0, tzinfo=UTC)),
    ("@daily", dt.datetime(2026, 1, 1, 0, 0, tzinfo=UTC), dt.datetime(2026, 1, 2, 0, 0, tzinfo=UTC)),
    ("@weekly", dt.datetime(2026, 1, 1, 0, 0, tzinfo=UTC), dt.datetime(2026, 1, 4, 0, 0, tzinfo=UTC)),
    ("@yearly", dt.datetime(2026, 1, 1, 0, 0, tzinfo=UTC), dt.datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
    ("*/15 9-17 * * mon-fri", dt.datetime(2026, 1, 2, 17, 50, tzinfo=UTC), dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC)),
    # Both day fields restricted: the 13th OR a Friday (cron(8)'s rule).
    ("0 0 13 * 5", dt.datetime(2026, 1, 2, 0, 0, tzinfo=UTC), dt.datetime(2026, 1, 9, 0, 0, tzinfo=UTC)),
    ("0 0 31 * *", dt.datetime(2026, 2, 1, 0, 0, tzinfo=UTC), dt.datetime(2026, 3, 31, 0, 0, tzinfo=UTC)),
    ("30 2 * JAN,jul *", dt.datetime(2026, 1, 31, 3, 0, tzinfo=UTC), dt.datetime(2026, 7, 1, 2, 30, tzinfo=UTC)),
]


@pytest.mark.parametrize("spec,after,expected", NEXT)
def test_next(spec, after, expected):
    assert Schedule(spec).next(after) == expected


@pytest.mark.parametrize("spec", ["", "* * * *", "61 * * * *", "@every 5m", "@sometimes"])
def test_bad_schedules(spec):
    with pytest.raises(ValueError):
        Schedule(spec)


def test_time_zone():
    tokyo = dt.timezone(dt.timedelta(hours=9))
    got = Schedule("0 9 * * *").next(dt.datetime(2026, 1, 1, 0, 0, tzinfo=UTC).astimezone(tokyo))
    assert got.astimezone(UTC) == dt.datetime(2026, 1, 2, 0, 0, tzinfo=UTC)  # 09:00 in Tokyo is midnight UTC


@pytest.mark.parametrize("earliest,now,latest,count", [
    (START, START + 299, None, 0),
    (START, START + 300, START + 300, 1),
    (START, START + 3599, START + 3300, 11),
    (START - 86400 * 30, START, START, None),  # a month of missed times: the most recent, quickly; "many"
])
def test_scheduled_times(earliest, now, latest, count):
    got_latest, got_count = scheduled_times(Schedule("*/5 * * * *"), earliest, now, UTC)
    assert got_latest == latest
    assert got_count == count if count is not None else got_count > 100


def test_job_name():
    assert job_name({"metadata": {"name": "backup"}}, START + 300) == f"backup-{int(START // 60) + 5}"


# -- against an API server on a FakeClock ----------------------------------------------------------

_ns = itertools.count()


@pytest.fixture(scope="module")
def plane():
    with ControlPlane(store="memory://", clock=FakeClock(wall_start=START)) as running:
        yield running


@pytest.fixture
def env(plane):
    admin = plane.client(in_process=True)
    ns = f"cron-{next(_ns)}"
    admin.resource("namespaces").create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    client = plane.client(in_process=True, user="system:kube-controller-manager", groups=())
    controllers = []

    def start():
        controller = CronJobController(client, clock=plane.clock, rng=random.Random(5), namespace=ns).run()
        assert controller.wait_for_sync(5)
        controllers.append(controller)
        return controller

    yield admin, ns, start
    for controller in controllers:
        controller.stop()


def cronjob(name, schedule="*/5 * * * *", **spec):
    template = {"spec": {"template": {"spec": {"restartPolicy": "Never",
                                               "containers": [{"name": "main", "image": "busybox"}]}}}}
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {"schedule": schedule, "jobTemplate": template, **spec}}


def jobs(admin, ns):
    return sorted(j["metadata"]["name"] for j in admin.resource("batch/v1", "Job").list(namespace=ns)["items"])


def finish(admin, ns, name, how="Complete", clock=None):
    now = rfc3339(clock.wall()) if clock else rfc3339(START)
    status = {"startTime": now, "conditions": [{"type": how, "status": "True", "lastTransitionTime": now}]}
    if how == "Complete":
        status["completionTime"] = now
    admin.resource("batch/v1", "Job").patch(name, {"status": status}, "merge", namespace=ns, subresource="status")


def active(admin, ns, name):
    return [r["name"] for r in (admin.resource("batch/v1", "CronJob").get(name, namespace=ns).get("status") or {})
            .get("active") or []]


def settle(admin, ns, name, count, controller):
    """Wait for the CronJob's status to list ``count`` active Jobs, and for the controller's caches to hold that
    status and those Jobs: the next schedule time must be judged on them, not on a cache a write behind."""
    def cached_active():
        cached = controller.cronjobs.indexer.get_by_key(f"{ns}/{name}") or {}
        return len((cached.get("status") or {}).get("active") or [])

    wait_until(lambda: len(active(admin, ns, name)) == count and len(jobs(admin, ns)) >= count
               and cached_active() == count and len(controller.jobs.indexer.by_index("namespace", ns)) >= count, 5,
               f"{name}: active never reached {count}")


def to_next_five_minutes(clock):
    """Advance the clock to just past the next multiple of five minutes (a */5 schedule time)."""
    clock.advance(300 - (clock.wall() % 300) + 1)


def test_creates_a_job_at_each_schedule_time(plane, env):
    admin, ns, start = env
    clock = plane.clock
    cronjobs = admin.resource("batch/v1", "CronJob")
    created = cronjobs.create(cronjob("tick"), namespace=ns)
    start()
    assert holds_for(lambda: jobs(admin, ns) == [], 0.2)  # nothing due yet
    to_next_five_minutes(clock)
    first = f"tick-{int(clock.wall() // 300 * 5)}"
    wait_until(lambda: jobs(admin, ns) == [first], 5, f"no Job {first}: {jobs(admin, ns)}")
    job = admin.resource("batch/v1", "Job").get(first, namespace=ns)
    owner = job["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("CronJob", created["metadata"]["uid"], True)
    assert "batch.kubernetes.io/cronjob-scheduled-timestamp" in job["metadata"]["annotations"]
    wait_until(lambda: active(admin, ns, "tick") == [first])
    assert cronjobs.get("tick", namespace=ns)["status"]["lastScheduleTime"] == rfc3339(clock.wall() // 300 * 300)
    # Allow: the next time starts another Job while the first still runs; finishing it clears it from active.
    to_next_five_minutes(clock)
    wait_until(lambda: len(jobs(admin, ns)) == 2, 5)
    finish(admin, ns, first, clock=clock)
    wait_until(lambda: active(admin, ns, "tick") != [first] and len(active(admin, ns, "tick")) == 1, 5)
    assert cronjobs.get("tick", namespace=ns)["status"]["lastSuccessfulTime"] == rfc3339(clock.wall())


def test_forbid_waits_for_the_running_job(plane, env):
    admin, ns, start = env
    clock = plane.clock
    admin.resource("batch/v1", "CronJob").create(cronjob("solo", concurrencyPolicy="Forbid"), namespace=ns)
    controller = start()
    to_next_five_minutes(clock)
    settle(admin, ns, "solo", 1, controller)
    to_next_five_minutes(clock)
    assert holds_for(lambda: len(jobs(admin, ns)) == 1, 0.3)
    finish(admin, ns, jobs(admin, ns)[0], clock=clock)
    # The missed time is retried (no startingDeadlineSeconds): a new Job once the first is done.
    wait_until(lambda: len(jobs(admin, ns)) == 2, 5)


def test_replace_deletes_the_running_job(plane, env):
    admin, ns, start = env
    clock = plane.clock
    admin.resource("batch/v1", "CronJob").create(cronjob("swap", concurrencyPolicy="Replace"), namespace=ns)
    controller = start()
    to_next_five_minutes(clock)
    settle(admin, ns, "swap", 1, controller)
    first = jobs(admin, ns)
    to_next_five_minutes(clock)
    try:
        wait_until(lambda: len(jobs(admin, ns)) == 1 and jobs(admin, ns) != first, 5)
    except AssertionError:
        left = [(j["metadata"]["name"], j["metadata"].get("deletionTimestamp"))
                for j in admin.resource("batch/v1", "Job").list(namespace=ns)["items"]]
        raise AssertionError(f"the running Job was not replaced: {left}") from None


@pytest.mark.parametrize("spec", [{"suspend": True}, {"startingDeadlineSeconds": 30}])
def test_nothing_starts(plane, env, spec):
    admin, ns, start = env
    clock = plane.clock
    admin.resource("batch/v1", "CronJob").create(cronjob("idle", **spec), namespace=ns)
    to_next_five_minutes(clock)
    clock.advance(60)  # the controller starts a minute late: past a 30 s deadline
    start()
    assert holds_for(lambda: jobs(admin, ns) == [], 0.3)


def test_history_limits(plane, env):
    admin, ns, start = env
    clock = plane.clock
    admin.resource("batch/v1", "CronJob").create(
        cronjob("hist", successfulJobsHistoryLimit=1, failedJobsHistoryLimit=1), namespace=ns)
    controller = start()
    for i, how in enumerate(["Complete", "Complete", "Failed", "Failed"]):
        to_next_five_minutes(clock)
        settle(admin, ns, "hist", 1, controller)
        finish(admin, ns, active(admin, ns, "hist")[0], how, clock=clock)
        settle(admin, ns, "hist", 0, controller)
        clock.advance(1)
    to_next_five_minutes(clock)
    # One Complete and one Failed kept (the newest of each), plus the Job just started.
    wait_until(lambda: len(jobs(admin, ns)) == 3, 5, f"jobs: {jobs(admin, ns)}")
