"""batch/v1 validation: Jobs, CronJobs and their cron schedules, as kube v1.32 words it."""

from __future__ import annotations

import pytest

from kitlib.api.validate import validate
from kitlib.api.validation_batch import schedule_error

from .manifests import CRON_JOB, DELETE, JOB, build, edit, stored

VALID_VALUES = 'Required value: valid values: "OnFailure", "Never"'


def _errors(obj: dict, old: dict | None = None, subresource: str = "") -> list[str]:
    return [str(e) for e in validate(obj, namespaced=True, old=old, subresource=subresource)]


JOB_CASES = [
    ("valid", {}, []),
    ("default restart policy", {"spec.template.spec.restartPolicy": DELETE},
     [f"spec.template.spec.restartPolicy: {VALID_VALUES}"]),
    ("always", {"spec.template.spec.restartPolicy": "Always"}, [f"spec.template.spec.restartPolicy: {VALID_VALUES}"]),
    ("negative counts", {"spec.parallelism": -1, "spec.completions": -2, "spec.backoffLimit": -1},
     ["spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
      "spec.completions: Invalid value: -2: must be greater than or equal to 0",
      "spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0"]),
    ("deadline", {"spec.activeDeadlineSeconds": -5},
     ["spec.activeDeadlineSeconds: Invalid value: -5: must be greater than or equal to 0"]),
    ("completion mode", {"spec.completionMode": "Ordered"},
     ['spec.completionMode: Unsupported value: "Ordered": supported values: "NonIndexed", "Indexed"']),
    ("indexed without completions", {"spec.completionMode": "Indexed", "spec.parallelism": 2},
     ["spec.completions: Required value: when completion mode is Indexed"]),
    ("per-index limit needs indexed", {"spec.backoffLimitPerIndex": 1},
     ["spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode"]),
    ("pod failure policy needs Never", {"spec.template.spec.restartPolicy": "OnFailure",
                                        "spec.podFailurePolicy": {"rules": []}},
     ['spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy '
      "is specified"]),
    ("replacement policy", {"spec.podReplacementPolicy": "Sometimes"},
     ['spec.podReplacementPolicy: Unsupported value: "Sometimes": supported values: "Failed", "TerminatingOrFailed"']),
    ("template", {"spec.template.spec.containers[0].image": DELETE},
     ["spec.template.spec.containers[0].image: Required value"]),
    ("indexed pod hostnames", {"metadata.name": "j" * 62, "spec.completionMode": "Indexed", "spec.completions": 10},
     [f'metadata.name: Invalid value: "{"j" * 62}": will not able to create pod with invalid DNS label: {"j" * 62}-9']),
]


@pytest.mark.parametrize("changes,expected", [c[1:] for c in JOB_CASES], ids=[c[0] for c in JOB_CASES])
def test_job(changes, expected):
    assert _errors(build(JOB, changes)) == expected


def test_manual_selector_must_select_the_template():
    job = build(JOB, {"spec.manualSelector": True, "spec.selector": {"matchLabels": {"app": "pi"}}})
    assert _errors(job) == [
        'spec.template.metadata.labels: Invalid value: map[string]string(nil): `selector` does not match template `labels`']
    job = build(JOB, {"spec.manualSelector": True, "spec.selector": {"matchLabels": {"app": "pi"}},
                      "spec.template.metadata.labels.app": "pi"})
    assert _errors(job) == []


def test_generated_selector_must_name_this_job():
    job = build(JOB)
    job["spec"]["template"]["metadata"]["labels"]["job-name"] = "other"
    assert _errors(job) == [
        'spec.template.metadata.labels[job-name]: Invalid value: map[string]string{"batch.kubernetes.io/controller-uid":'
        '"6a1e-uid", "batch.kubernetes.io/job-name":"pi", "controller-uid":"6a1e-uid", "job-name":"other"}: must be \'pi\'']
    job = build(JOB)
    del job["metadata"]["uid"]  # validated after the selector was generated but without a UID: nothing matches
    labels = ('map[string]string{"batch.kubernetes.io/controller-uid":"6a1e-uid", "batch.kubernetes.io/job-name":"pi", '
              '"controller-uid":"6a1e-uid", "job-name":"pi"}')
    assert _errors(job) == [
        "metadata.uid: Required value",
        f"spec.template.metadata.labels[controller-uid]: Invalid value: {labels}: must be ''",
        f"spec.template.metadata.labels[batch.kubernetes.io/controller-uid]: Invalid value: {labels}: must be ''",
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"batch.kubernetes.io/controller-uid":'
        '"6a1e-uid"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` not auto-generated']


def test_job_updates():
    old = stored(JOB)
    assert _errors(edit(old, {"spec.suspend": True, "spec.parallelism": 3}), old) == []
    errors = _errors(edit(old, {"spec.template.spec.containers[0].image": "perl:5"}), old)
    assert len(errors) == 1 and errors[0].startswith('spec.template: Invalid value: {"metadata":{"labels":')
    assert errors[0].endswith('"restartPolicy":"Never","schedulerName":"default-scheduler","securityContext":{},'
                              '"terminationGracePeriodSeconds":30}}: field is immutable')
    assert _errors(edit(old, {"spec.completions": 3}), old) == ["spec.completions: Invalid value: 3: field is immutable"]
    assert _errors(edit(old, {"spec.selector.matchLabels.extra": "x"}), old)[-1] == (
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"batch.kubernetes.io/controller-uid":'
        '"6a1e-uid", "extra":"x"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable')


def test_suspended_job_that_never_ran_may_be_steered():
    old = stored(JOB, {"spec.suspend": True})
    assert _errors(edit(old, {"spec.template.spec.nodeSelector": {"pool": "gpu"}}), old) == []
    assert _errors(edit(old, {"spec.template.spec.containers[0].image": "perl:5"}), old)[0].startswith(
        "spec.template: Invalid value:")


def test_job_status():
    old = stored(JOB)
    assert _errors(edit(old, {"status": {"active": -1}}), old, subresource="status") == [
        "status.active: Invalid value: -1: must be greater than or equal to 0"]


CRON_CASES = [
    ("valid", {}, []),
    ("every minute, names", {"spec.schedule": "0 9 * jan-jun MON-FRI"}, []),
    ("descriptor", {"spec.schedule": "@hourly"}, []),
    ("no schedule", {"spec.schedule": DELETE}, ["spec.schedule: Required value"]),
    ("four fields", {"spec.schedule": "*/5 * * *"},
     ['spec.schedule: Invalid value: "*/5 * * *": expected exactly 5 fields, found 4: [*/5 * * *]']),
    ("hour 24", {"spec.schedule": "0 24 * * *"},
     ['spec.schedule: Invalid value: "0 24 * * *": end of range (24) above maximum (23): 24']),
    ("time zone in schedule", {"spec.schedule": "CRON_TZ=UTC 0 * * * *"},
     ['spec.schedule: Invalid value: "CRON_TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead']),
    ("time zone", {"spec.timeZone": "Mars/Olympus"},
     ['spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus']),
    ("known time zone", {"spec.timeZone": "Europe/Paris"}, []),
    ("concurrency", {"spec.concurrencyPolicy": "Sometimes"},
     ['spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"']),
    ("job template restart policy", {"spec.jobTemplate.spec.template.spec.restartPolicy": DELETE},
     [f"spec.jobTemplate.spec.template.spec.restartPolicy: {VALID_VALUES}"]),
    ("job template selector", {"spec.jobTemplate.spec.selector": {"matchLabels": {"a": "b"}}},
     ['spec.jobTemplate.spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"a":"b"}, '
      "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` will be auto-generated"]),
    ("history limits", {"spec.successfulJobsHistoryLimit": -1},
     ["spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0"]),
    ("long name", {"metadata.name": "c" * 53},
     [f'metadata.name: Invalid value: "{"c" * 53}": must be no more than 52 characters']),
]


@pytest.mark.parametrize("changes,expected", [c[1:] for c in CRON_CASES], ids=[c[0] for c in CRON_CASES])
def test_cron_job(changes, expected):
    assert _errors(build(CRON_JOB, changes)) == expected


def test_cron_job_update_skips_the_name_limit():
    old = stored(CRON_JOB, {"metadata.name": "c" * 53})
    assert _errors(edit(old, {"spec.suspend": True}), old) == []


# (schedule, robfig/cron's complaint or None)
SCHEDULES = [
    ("*/5 * * * *", None),
    ("0,30 8-18/2 1,15 */3 sun", None),
    ("? * * * *", None),
    ("@every 90m", None),
    ("", "empty spec string"),
    ("* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"),
    ("60 * * * *", "end of range (60) above maximum (59): 60"),
    ("0 0 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("* * * * 7", "end of range (7) above maximum (6): 7"),
    ("5-3 * * * *", "beginning of range (5) beyond end of range (3): 5-3"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
    ("1/2/3 * * * *", "too many slashes: 1/2/3"),
    ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
    ("* * * foo *", 'failed to parse int from foo: strconv.Atoi: parsing "foo": invalid syntax'),
    ("@weekdays", "unrecognized descriptor: @weekdays"),
    ("@every 5", 'failed to parse duration @every 5: time: missing unit in duration "5"'),
]


@pytest.mark.parametrize("schedule,error", SCHEDULES, ids=[s or "empty" for s, _ in SCHEDULES])
def test_schedule(schedule, error):
    assert schedule_error(schedule) == error
