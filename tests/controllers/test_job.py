"""The Job controller against a running cluster whose hollow nodes finish Pods as their annotations say."""

from __future__ import annotations

import itertools

import pytest

from kitlib.cluster.hollow import EXIT_CODE, RUN_SECONDS
from kitlib.controllers.job import TRACKING_FINALIZER, JobController
from tests.controllers.helpers import IMAGE, cluster_with, holds_for, wait_until

_namespaces = itertools.count()


@pytest.fixture(scope="module")
def cluster():
    with cluster_with(JobController, "job", seed=11) as running:
        yield running


@pytest.fixture
def admin(cluster):
    return cluster.client(in_process=True)


@pytest.fixture
def ns(admin):
    name = f"job-{next(_namespaces)}"
    admin.resource("namespaces").create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def _job(name, *, run="0.2", exit_code=0, **spec):
    annotations = {RUN_SECONDS: run, EXIT_CODE: str(exit_code)}
    template = {"metadata": {"annotations": annotations},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": IMAGE}]}}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": {**spec, "template": template}}


def _conditions(job):
    return {c["type"]: (c["status"], c.get("reason"), c.get("message"))
            for c in (job.get("status") or {}).get("conditions") or []}


def _finished(jobs, name):
    def check():
        conditions = _conditions(jobs.get(name))
        return any(conditions.get(t, ("",))[0] == "True" for t in ("Complete", "Failed"))
    return check


CASES = [
    # name, spec, expected final condition, status counts
    ("completions", dict(completions=3, parallelism=2), "Complete", {"succeeded": 3, "failed": 0}),
    ("work queue: no completions", dict(parallelism=2), "Complete", {"succeeded": 2, "failed": 0}),
    ("backoff limit", dict(completions=2, backoffLimit=1, exit_code=1), "Failed", {"succeeded": 0, "failed": 2}),
    ("deadline", dict(completions=2, parallelism=2, activeDeadlineSeconds=1, run="100"), "Failed",
     {"succeeded": 0, "failed": 2}),
]
REASONS = {"Complete": ("CompletionsReached", "Reached expected number of succeeded pods"),
           "Failed": None}


@pytest.mark.parametrize("spec, final, counts", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_job_runs_to_the_end(admin, ns, spec, final, counts):
    jobs = admin.resource("jobs", namespace=ns)
    jobs.create(_job("work", **spec))
    wait_until(_finished(jobs, "work"), 15, "the Job never finished")
    job = jobs.get("work")
    conditions, status = _conditions(job), job["status"]
    assert {k: status.get(k, 0) for k in counts} == counts
    assert status.get("active", 0) == 0 and status.get("terminating", 0) == 0
    assert not (status.get("uncountedTerminatedPods") or {}).get("succeeded")
    assert not (status.get("uncountedTerminatedPods") or {}).get("failed")
    assert status["startTime"]
    interim = "SuccessCriteriaMet" if final == "Complete" else "FailureTarget"
    assert conditions[interim][0] == "True" and conditions[final][0] == "True"
    assert conditions[final][1:] == conditions[interim][1:]
    if final == "Complete":
        assert conditions[final][1:] == REASONS["Complete"] and status["completionTime"]
    elif "backoffLimit" in spec:
        assert conditions[final][1:] == ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
        assert "completionTime" not in status
    else:
        assert conditions[final][1:] == ("DeadlineExceeded", "Job was active longer than specified deadline")
    # Every Pod was counted and released: no tracking finalizer is left behind.
    wait_until(lambda: all(TRACKING_FINALIZER not in (p["metadata"].get("finalizers") or [])
                           for p in admin.pods(ns).list()["items"]), 5, "a tracking finalizer stayed")


def test_pods_carry_the_tracking_finalizer(admin, ns):
    admin.resource("jobs", namespace=ns).create(_job("slow", run="100", completions=1))
    wait_until(lambda: admin.pods(ns).list()["items"], 10, "no Pod")
    pod = admin.pods(ns).list()["items"][0]
    assert TRACKING_FINALIZER in pod["metadata"]["finalizers"]
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "Job"
    assert pod["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "slow"
    wait_until(lambda: (admin.resource("jobs", namespace=ns).get("slow")["status"].get("ready")) == 1, 10,
               "the running Pod was never counted ready")


def test_suspended_job_creates_nothing_until_resumed(admin, ns):
    jobs = admin.resource("jobs", namespace=ns)
    jobs.create(_job("later", completions=1, suspend=True))
    wait_until(lambda: "Suspended" in _conditions(jobs.get("later")), 10, "no Suspended condition")
    assert _conditions(jobs.get("later"))["Suspended"] == ("True", "JobSuspended", "Job suspended")
    assert holds_for(lambda: admin.pods(ns).list()["items"] == [], 0.5)
    assert not jobs.get("later")["status"].get("startTime")
    jobs.patch("later", {"spec": {"suspend": False}}, "merge")
    wait_until(_finished(jobs, "later"), 15, "the resumed Job never finished")
    job = jobs.get("later")
    assert _conditions(job)["Suspended"] == ("False", "JobResumed", "Job resumed")
    assert _conditions(job)["Complete"][0] == "True" and job["status"]["succeeded"] == 1
