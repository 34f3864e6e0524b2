"""batch/v1 validation: Jobs and CronJobs.

A Job's Pods run to completion, so its template must restart ``OnFailure``
or ``Never`` (the default ``Always`` is refused with the list of valid
values); its counts are never negative; its selector is generated from its
UID (the registry calls ``generate_job_selector`` first) and, with the
template, frozen once created. A CronJob needs a schedule in the standard
five-field cron syntax, parsed here with the error messages of the
``robfig/cron`` parser kube-controller-manager uses, and a job template
that would make a valid Job. Messages are ``pkg/apis/batch/validation`` of
v1.32.

    >>> schedule_error("*/5 * * *")
    'expected exactly 5 fields, found 4: [*/5 * * *]'
    >>> schedule_error("0 25 * * *")
    'end of range (25) above maximum (23): 25'

Simplifications:
- ``podFailurePolicy`` and ``successPolicy`` rules are not checked beyond
  their interplay with the restart policy and the completion mode;
  ``managedBy`` is not checked.
- A suspended Job that never started may change its template's scheduling
  directives (as in kube); other template changes are refused.
- Status updates: only the counters' signs.
- A ``TZ=`` prefix in a schedule is refused as kube does on create; the
  location it names is not looked up.
"""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kitlib.api.field import FieldError, go_quote, invalid, not_supported, required
from kitlib.api.meta import deep_copy
from kitlib.api.validation import is_dns1123_label, validate_label_selector
from kitlib.api.validation_common import (
    SELECTOR_MISMATCH,
    go_label_selector,
    go_labels,
    immutable,
    nonnegative,
    one_of,
    selector_matches,
)
from kitlib.api.validation_pod import validate_pod_template_spec

Obj = dict[str, Any]
MAX_INDEXED_PARALLELISM = 100000
CONCURRENCY_POLICIES = ["Allow", "Forbid", "Replace"]


# --- cron schedules (robfig/cron v3, ParseStandard) -------------------------------------

_MONTHS = {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())}
_DAYS = {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}
# (minimum, maximum, names) of minute, hour, day of month, month, day of week
_BOUNDS = ((0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, _MONTHS), (0, 6, _DAYS))
_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_DURATION = r"[-+]?((\d+\.?\d*|\.\d+)(ns|us|µs|ms|s|m|h))+"


class _CronError(Exception):
    pass


def _atoi(text: str, expr: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text):
        raise _CronError(f"failed to parse int from {text}: strconv.Atoi: parsing {go_quote(text)}: invalid syntax")
    number = int(text)
    if not -2**63 <= number < 2**63:
        raise _CronError(f"failed to parse int from {text}: strconv.Atoi: parsing {go_quote(text)}: value out of range")
    if number < 0:
        raise _CronError(f"negative number ({number}) not allowed: {text}")
    return number


def _check_range(expr: str, low: int, high: int, names: dict) -> None:
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    if low_high[0] in ("*", "?"):
        start, end = low, high
    else:
        value = lambda text: names.get(text.lower(), None) if text.lower() in names else _atoi(text, expr)
        start = value(low_high[0])
        if len(low_high) > 2:
            raise _CronError(f"too many hyphens: {expr}")
        end = value(low_high[1]) if len(low_high) == 2 else start
    if len(range_and_step) > 2:
        raise _CronError(f"too many slashes: {expr}")
    step = _atoi(range_and_step[1], expr) if len(range_and_step) == 2 else 1
    if len(range_and_step) == 2 and len(low_high) == 1:
        end = high  # "N/step" means "N-max/step"
    if start < low:
        raise _CronError(f"beginning of range ({start}) below minimum ({low}): {expr}")
    if end > high:
        raise _CronError(f"end of range ({end}) above maximum ({high}): {expr}")
    if start > end:
        raise _CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise _CronError(f"step of range should be a positive number: {expr}")


def schedule_error(spec: str) -> str | None:
    """Why ``cron.ParseStandard`` refuses a schedule, or ``None`` if it accepts it."""
    if not spec:
        return "empty spec string"
    if spec.startswith(("TZ=", "CRON_TZ=")) and " " in spec:
        spec = spec[spec.index(" "):].strip()
    if spec.startswith("@"):
        if spec in _DESCRIPTORS:
            return None
        if spec.startswith("@every "):
            text = spec[len("@every "):]
            if text == "0" or re.fullmatch(_DURATION, text):
                return None
            why = "missing unit in duration" if re.fullmatch(r"[-+]?[\d.]+", text) else "invalid duration"
            return f"failed to parse duration {spec}: time: {why} {go_quote(text)}"
        return f"unrecognized descriptor: {spec}"
    fields = spec.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    try:
        for text, (low, high, names) in zip(fields, _BOUNDS):
            for expr in filter(None, text.split(",")):
                _check_range(expr, low, high, names)
    except _CronError as err:
        return str(err)
    return None


# --- Jobs -------------------------------------------------------------------------------

JOB_LABELS = (("controller-uid", "uid"), ("job-name", "name"),
              ("batch.kubernetes.io/controller-uid", "uid"), ("batch.kubernetes.io/job-name", "name"))


def _generated_selector(job: Obj) -> list[FieldError]:
    """``validateGeneratedSelector``: a generated selector and labels must name this Job (by UID)."""
    spec, meta = job.get("spec") or {}, job.get("metadata") or {}
    if spec.get("manualSelector") or spec.get("selector") is None:
        return []
    errs = [] if meta.get("uid") else [required("metadata.uid")]
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    expected = {key: meta.get(member) or "" for key, member in JOB_LABELS}
    for key, value in expected.items():
        where, why = f"spec.template.metadata.labels[{key}]", f"must be '{value}'"
        if key not in (labels or {}):
            errs.append(required(where, why))
        elif labels[key] != value:
            errs.append(invalid(where, go_labels(labels), why))
    if selector_matches(spec["selector"], expected) is False:
        errs.append(invalid("spec.selector", go_label_selector(spec["selector"]), "`selector` not auto-generated"))
    return errs


def _job_spec(spec: Obj, path: str) -> list[FieldError]:
    """``validateJobSpec``: what a Job and a CronJob's job template share."""
    errs = []
    for key in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished",
                "backoffLimitPerIndex", "maxFailedIndexes"):
        errs += nonnegative(f"{path}.{key}", spec[key]) if spec.get(key) is not None else []
    if spec.get("maxFailedIndexes") is not None and spec.get("backoffLimitPerIndex") is None:
        errs.append(required(f"{path}.backoffLimitPerIndex", "when maxFailedIndexes is specified"))
    mode = spec.get("completionMode")
    if mode is not None and mode not in ("NonIndexed", "Indexed"):
        errs.append(not_supported(f"{path}.completionMode", mode, ["NonIndexed", "Indexed"]))
    if mode == "Indexed":
        if spec.get("completions") is None:
            errs.append(required(f"{path}.completions", "when completion mode is Indexed"))
        if (spec.get("parallelism") or 0) > MAX_INDEXED_PARALLELISM:
            errs.append(invalid(f"{path}.parallelism", spec["parallelism"],
                                f"must be less than or equal to {MAX_INDEXED_PARALLELISM} when completion mode is Indexed"))
    elif mode in (None, "NonIndexed"):
        for key in ("backoffLimitPerIndex", "maxFailedIndexes"):
            if spec.get(key) is not None:
                errs.append(invalid(f"{path}.{key}", spec[key], "requires indexed completion mode"))
        if spec.get("successPolicy") is not None:
            errs.append(invalid(f"{path}.successPolicy", spec["successPolicy"], "requires indexed completion mode"))
    failure_policy, replacement = spec.get("podFailurePolicy"), spec.get("podReplacementPolicy")
    if replacement is not None:
        supported = ["Failed"] if failure_policy is not None else ["Failed", "TerminatingOrFailed"]
        errs += [] if replacement in supported else [not_supported(f"{path}.podReplacementPolicy", replacement, supported)]
    template = spec.get("template") or {}
    errs += validate_pod_template_spec(template, f"{path}.template")
    policy, where = (template.get("spec") or {}).get("restartPolicy") or "", f"{path}.template.spec.restartPolicy"
    if policy in ("Always", ""):  # defaulting fills Always: a Job must say how its Pods end
        errs.append(required(where, 'valid values: "OnFailure", "Never"'))
    elif policy not in ("OnFailure", "Never"):
        errs.append(not_supported(where, policy, ["OnFailure", "Never"]))
    elif failure_policy is not None and policy != "Never":
        errs.append(invalid(where, policy, 'only "Never" is supported when podFailurePolicy is specified'))
    return errs


def validate_job_spec(spec: Obj, path: str = "spec") -> list[FieldError]:
    """``ValidateJobSpec``: the shared rules plus a selector that selects the template's labels."""
    errs = _job_spec(spec, path)
    selector = spec.get("selector")
    errs += [required(f"{path}.selector")] if selector is None else validate_label_selector(selector, f"{path}.selector")
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    if selector_matches(selector, labels) is False:
        errs.append(invalid(f"{path}.template.metadata.labels", go_labels(labels), SELECTOR_MISMATCH))
    return errs


def validate_job(job: Obj) -> list[FieldError]:
    """``ValidateJob`` after the metadata (call ``generate_job_selector`` first, as the registry does)."""
    spec, name = job.get("spec") or {}, (job.get("metadata") or {}).get("name") or ""
    errs = _generated_selector(job) + validate_job_spec(spec)
    completions = spec.get("completions")
    if spec.get("completionMode") == "Indexed" and completions and completions > 0:
        # The last Pod's hostname is <name>-<index>: it has to be a DNS label.
        host = f"{name}-{completions - 1}"
        if is_dns1123_label(host):
            errs.append(invalid("metadata.name", name, f"will not able to create pod with invalid DNS label: {host}"))
    return errs


_SCHEDULING = ("nodeSelector", "tolerations", "schedulingGates")


def validate_job_update(new: Obj, old: Obj) -> list[FieldError]:
    """``ValidateJobSpecUpdate``: selector, template (and completions, unless elastic) are frozen."""
    spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    errs = validate_job_spec(spec)
    completions = spec.get("completions")
    if spec.get("completionMode") != "Indexed":
        errs += immutable("spec.completions", completions, old_spec.get("completions"))
    elif completions is not None and completions != old_spec.get("completions") and completions != spec.get("parallelism"):
        errs.append(invalid("spec.completions", completions, "can only be modified in tandem with spec.parallelism"))
    selector = spec.get("selector")
    errs += immutable("spec.selector", selector, old_spec.get("selector"), go_label_selector(selector))
    template, old_template = spec.get("template") or {}, deep_copy(old_spec.get("template") or {})
    if old_spec.get("suspend") and not (old.get("status") or {}).get("startTime"):
        # A suspended Job that never ran may still be steered (Kueue relies on it).
        old_meta, meta, tspec = old_template.setdefault("metadata", {}), template.get("metadata") or {}, template.get("spec") or {}
        old_spec_t = old_template.setdefault("spec", {})
        for key in ("labels", "annotations"):
            old_meta[key] = meta.get(key)
        for key in _SCHEDULING:
            old_spec_t[key] = tspec.get(key)
        affinity = dict(old_spec_t.get("affinity") or {})
        affinity["nodeAffinity"] = (tspec.get("affinity") or {}).get("nodeAffinity")
        old_spec_t["affinity"] = {k: v for k, v in affinity.items() if v is not None} or None
    errs += immutable("spec.template", template, old_template)
    for key in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy"):
        errs += immutable(f"spec.{key}", spec.get(key), old_spec.get(key))
    return errs


def validate_job_status(new: Obj, old: Obj) -> list[FieldError]:
    status = new.get("status") or {}
    return [e for key in ("active", "succeeded", "failed", "ready", "terminating")
            for e in nonnegative(f"status.{key}", status.get(key, 0))]


# --- CronJobs ---------------------------------------------------------------------------


def _time_zone(zone: Any, path: str) -> list[FieldError]:
    if zone is None:
        return []
    if zone == "":
        return [invalid(path, zone, "timeZone must be nil or non-empty string")]
    if zone.lower() == "local":
        return [invalid(path, zone, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")]
    try:
        ZoneInfo(zone)
        return []
    except (ZoneInfoNotFoundError, ValueError):
        return [invalid(path, zone, f"unknown time zone {zone}")]


def validate_cron_job(cj: Obj, old: Obj | None = None) -> list[FieldError]:
    """``validateCronJobSpec`` (and, on create, the 52-character name limit)."""
    spec, old_spec = cj.get("spec") or {}, (old or {}).get("spec") or {}
    schedule, errs = spec.get("schedule") or "", []
    if not schedule:
        errs.append(required("spec.schedule"))
    else:
        if why := schedule_error(schedule):
            errs.append(invalid("spec.schedule", schedule, why))
        tz_allowed = "TZ" in (old_spec.get("schedule") or "")
        if tz_allowed and "TZ" in schedule and spec.get("timeZone") is not None:
            errs.append(invalid("spec.schedule", schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
        elif not tz_allowed and "TZ" in schedule:
            errs.append(invalid("spec.schedule", schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
    if spec.get("startingDeadlineSeconds") is not None:
        errs += nonnegative("spec.startingDeadlineSeconds", spec["startingDeadlineSeconds"])
    if old is None or spec.get("timeZone") != old_spec.get("timeZone"):
        errs += _time_zone(spec.get("timeZone"), "spec.timeZone")
    errs += one_of(spec.get("concurrencyPolicy") or "", "spec.concurrencyPolicy", CONCURRENCY_POLICIES)
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    errs += _job_spec(job_spec, "spec.jobTemplate.spec")
    if job_spec.get("selector") is not None:  # the Job controller generates it from the new Job's UID
        errs.append(invalid("spec.jobTemplate.spec.selector", go_label_selector(job_spec["selector"]),
                            "`selector` will be auto-generated"))
    if job_spec.get("manualSelector"):
        errs.append(not_supported("spec.jobTemplate.spec.manualSelector", True, ["nil", "false"]))
    for key in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        errs += nonnegative(f"spec.{key}", spec[key]) if spec.get(key) is not None else []
    name = (cj.get("metadata") or {}).get("name") or ""
    if old is None and len(name) > 52:
        # Jobs are named <cronjob>-<11 digits of schedule time>, and a Job's name must fit 63 characters.
        errs.append(invalid("metadata.name", name, "must be no more than 52 characters"))
    return errs
