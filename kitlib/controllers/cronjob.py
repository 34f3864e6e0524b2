"""The CronJob controller: creates a Job from ``jobTemplate`` at each time a cron schedule names.

kube-controller-manager's ``pkg/controller/cronjob`` (the v2 controller,
``ControllerV2``). For each CronJob, ``sync`` (``syncCronJob``):

1. brings ``status.active`` up to date from the Jobs it controls: a
   finished Job (condition ``Complete`` or ``Failed``) leaves it, and a
   completed one moves ``lastSuccessfulTime``;
2. unless ``suspend``, finds the most recent schedule time that has not
   been started (after ``lastScheduleTime``, or the CronJob's creation),
   skips it if it is older than ``startingDeadlineSeconds``, honours
   ``concurrencyPolicy`` (Allow; Forbid: not while a Job is active;
   Replace: delete the active ones first), and creates the Job
   ``<cronjob>-<scheduled time in minutes since the epoch>``, so the same
   time can never make two Jobs;
3. deletes the oldest finished Jobs beyond ``successfulJobsHistoryLimit``
   and ``failedJobsHistoryLimit``;
4. puts its key back on the queue for the next schedule time, on the
   controller's clock (kube: ``nextScheduleTimeDuration``, +100 ms).

Schedules are the standard five fields (minute hour day-of-month month
day-of-week, with ``*``, ``,``, ``-``, ``/`` and names), or ``@hourly``,
``@daily``... (robfig/cron's ``ParseStandard``), evaluated in ``timeZone``
(UTC when absent, where kube uses the controller manager's local zone).

Simplifications:
- No ``@every`` schedules and no ``TZ=`` prefix (the API server refuses
  new ones too); a schedule kube would reject is logged and not retried.
- No Events (``MissSchedule``, ``TooManyMissedTimes``,
  ``SuccessfulCreate``, ``SawCompletedJob``); logged instead.
- Jobs are not adopted by labels: only a controller reference links a Job
  to its CronJob, as in kube.
"""

from __future__ import annotations

import datetime as _dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from kitlib.api.errors import AlreadyExists, Conflict, NotFound
from kitlib.api.meta import (
    controller_of,
    deep_copy,
    key_of,
    name,
    namespace,
    owner_reference,
    parse_rfc3339,
    rfc3339,
    uid,
)
from kitlib.api.validation_batch import schedule_error
from kitlib.client.indexer import NAMESPACE_INDEX
from kitlib.controllers.base import Controller

log = logging.getLogger(__name__)

Obj = dict[str, Any]

SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
TOO_MANY_MISSED = 100  # kube logs (and emits TooManyMissedTimes) past this many missed start times
REQUEUE_SLACK = 0.1  # nextScheduleTimeDuration adds 100 ms so the time has surely passed

_NAMES = [
    {}, {}, {},
    {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())},
    {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())},
]
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
DESCRIPTORS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
               "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}


class Schedule:
    """A parsed cron schedule: the set of allowed values per field, and where the next time is."""

    def __init__(self, spec: str) -> None:
        spec = DESCRIPTORS.get(spec.strip(), spec)
        if why := schedule_error(spec):
            raise ValueError(f"unparseable schedule {spec!r}: {why}")
        if spec.startswith("@"):
            raise ValueError(f"schedule {spec!r} is not supported by the kit")
        fields = spec.split()
        self.sets = [self._field(text, low, high, names) for text, (low, high), names in zip(fields, _BOUNDS, _NAMES)]
        # robfig/cron: if either day field is "*" both must match; else either may (cron(8)'s rule).
        self.any_day = fields[2].startswith(("*", "?")) or fields[4].startswith(("*", "?"))

    @staticmethod
    def _field(text: str, low: int, high: int, names: dict) -> set[int]:
        values: set[int] = set()
        for expr in text.split(","):
            span, _, step = expr.partition("/")
            value = lambda t: names[t.lower()] if t.lower() in names else int(t)
            if span in ("*", "?"):
                start, end = low, high
            else:
                first, _, last = span.partition("-")
                start = value(first)
                end = value(last) if last else (high if step else start)
            values.update(range(start, end + 1, int(step) if step else 1))
        return values

    def _day_matches(self, day: _dt.datetime) -> bool:
        dom, dow = day.day in self.sets[2], (day.isoweekday() % 7) in self.sets[4]
        return (dom and dow) if self.any_day else (dom or dow)

    def next(self, after: _dt.datetime) -> _dt.datetime | None:
        """The first scheduled time strictly after ``after`` (an aware datetime), or None within 5 years."""
        t = after.replace(second=0, microsecond=0) + _dt.timedelta(minutes=1)
        limit = after.year + 5
        while t.year <= limit:
            if t.month not in self.sets[3]:
                t = (t.replace(day=1, hour=0, minute=0) + _dt.timedelta(days=32)).replace(day=1)
            elif not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + _dt.timedelta(days=1)
            elif t.hour not in self.sets[1]:
                t = t.replace(minute=0) + _dt.timedelta(hours=1)
            elif t.minute not in self.sets[0]:
                t += _dt.timedelta(minutes=1)
            else:
                return t
        return None


def scheduled_times(schedule: Schedule, earliest: float, now: float, zone: _dt.tzinfo) -> tuple[float | None, int]:
    """(the most recent schedule time in ``(earliest, now]``, how many there were): ``mostRecentScheduleTime``.

    Past 1,000 times the count is a lower bound (the walk skips to the last week).
    """
    t = _dt.datetime.fromtimestamp(earliest, zone)
    latest, count = None, 0
    while (t := schedule.next(t)) is not None and t.timestamp() <= now:
        latest, count = t.timestamp(), count + 1
        if count == TOO_MANY_MISSED * 10 and now - 7 * 86400 > t.timestamp():
            # Thousands missed (a CronJob suspended for months): only the most recent matters, as in
            # kube, so skip to the last week instead of walking every minute since.
            t = _dt.datetime.fromtimestamp(now - 7 * 86400, zone)
    return latest, count


def job_name(cronjob: Obj, scheduled: float) -> str:
    """``getJobName``: the CronJob's name and the scheduled time in minutes since the epoch."""
    return f"{name(cronjob)}-{int(scheduled // 60)}"


def job_finished(job: Obj) -> str:
    """``Complete`` or ``Failed`` when the Job has that condition True (``IsJobFinished``), else ''."""
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return c["type"]
    return ""


class CronJobController(Controller):
    """kube's CronJob ``ControllerV2``: CronJobs and Jobs in, Jobs and CronJob status out."""

    name = "cronjob"
    kind = "CronJob"
    api_version = "batch/v1"

    def __init__(self, client, **options: Any) -> None:
        super().__init__(client, **options)
        self.cronjobs = self.informer(("batch/v1", "CronJob"), primary=True)
        self.cronjobs.add_event_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new))
        self.jobs = self.informer(("batch/v1", "Job"))
        self.jobs.add_event_handler(on_add=self.enqueue_owner, on_update=lambda old, new: self.enqueue_owner(new),
                                    on_delete=self.enqueue_owner)

    def sync(self, key: str) -> None:
        cached = self.cronjobs.indexer.get_by_key(key)
        if cached is None or (cached.get("metadata") or {}).get("deletionTimestamp"):
            return  # gone, or going: the garbage collector deletes its Jobs
        cj = deep_copy(cached)
        jobs = [j for j in self.jobs.indexer.by_index(NAMESPACE_INDEX, namespace(cj))
                if (controller_of(j) or {}).get("uid") == uid(cj)]
        status = cj.setdefault("status", {})
        before = deep_copy(status)
        self.track_active(cj, jobs)
        requeue = self.schedule(cj, jobs)
        self.cleanup_finished(cj, jobs)
        if status != before:
            cronjobs = self.client.resource("batch/v1", "CronJob")
            try:
                cronjobs.update_status(cj)
            except Conflict:
                # Our cache was behind our own last write: put this status on the newest version once
                # (what we did this sync is already done); a second conflict is retried, rate-limited.
                fresh = cronjobs.get(name(cj), namespace=namespace(cj))
                fresh["status"] = status
                cronjobs.update_status(fresh)
        if requeue is not None:
            self.enqueue_after(key, requeue)

    def track_active(self, cj: Obj, jobs: list[Obj]) -> None:
        """Keep ``status.active`` to the Jobs still running (the first half of ``syncCronJob``)."""
        status = cj["status"]
        by_uid = {uid(j): j for j in jobs}
        active = []
        for ref in status.get("active") or []:
            job = by_uid.get(ref.get("uid"))
            if job is None or job_finished(job):
                continue  # deleted, or finished (seen below)
            active.append(ref)
        known = {ref.get("uid") for ref in active}
        for job in jobs:
            finished = job_finished(job)
            if not finished and uid(job) not in known:
                active.append(self.reference(job))  # ours but not listed: a status write was lost
            if finished == "Complete":
                done = (job.get("status") or {}).get("completionTime")
                last = status.get("lastSuccessfulTime")
                if done and (last is None or parse_rfc3339(done) > parse_rfc3339(last)):
                    status["lastSuccessfulTime"] = done
        if active:
            status["active"] = active
        else:
            status.pop("active", None)

    @staticmethod
    def reference(job: Obj) -> Obj:
        md = job["metadata"]
        return {"kind": "Job", "namespace": md.get("namespace", ""), "name": md["name"], "uid": md.get("uid", ""),
                "apiVersion": "batch/v1", "resourceVersion": md.get("resourceVersion", "")}

    def schedule(self, cj: Obj, jobs: list[Obj]) -> float | None:
        """Start the Job of the most recent unmet schedule time if allowed; seconds until the next one."""
        spec, status, key = cj.get("spec") or {}, cj["status"], key_of(cj)
        try:
            schedule = Schedule(spec.get("schedule", ""))
            zone = ZoneInfo(spec["timeZone"]) if spec.get("timeZone") else _dt.timezone.utc
        except Exception as err:  # noqa: BLE001 (the user's to fix: an update of the CronJob brings it back)
            log.error("CronJob %s: %s", key, err)
            return None
        now = self.clock.wall()
        next_time = schedule.next(_dt.datetime.fromtimestamp(now, zone))
        requeue = next_time.timestamp() - now + REQUEUE_SLACK if next_time is not None else None
        if spec.get("suspend"):
            return None  # kube does not requeue a suspended CronJob: resuming it is an update
        last = status.get("lastScheduleTime")
        earliest = parse_rfc3339(last) if last else parse_rfc3339(cj["metadata"]["creationTimestamp"])
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None:
            earliest = max(earliest, now - deadline)  # times older than the deadline are not even counted
        scheduled, missed = scheduled_times(schedule, earliest, now, zone)
        if scheduled is None:
            return requeue
        if missed > TOO_MANY_MISSED:
            log.warning("CronJob %s: too many missed start times (%d); starting the most recent", key, missed)
        if deadline is not None and scheduled + deadline < now:
            log.info("CronJob %s: missed the schedule at %s (startingDeadlineSeconds)", key, rfc3339(scheduled))
            return requeue
        wanted = job_name(cj, scheduled)
        if any(ref.get("name") == wanted for ref in status.get("active") or []) or \
                (last and parse_rfc3339(last) == scheduled):
            status["lastScheduleTime"] = rfc3339(scheduled)  # started already (a lost status write is made good)
            return requeue
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and status.get("active"):
            # kube leaves lastScheduleTime alone, so the time is retried until its deadline passes.
            log.info("CronJob %s: not starting %s: a prior Job is still running (Forbid)", key, wanted)
            return requeue
        if policy == "Replace":
            for ref in status.get("active") or []:
                try:
                    self.client.resource("batch/v1", "Job").delete(ref["name"], namespace=namespace(cj),
                                                                   propagation_policy="Background")
                    log.info("CronJob %s: deleted active Job %s (Replace)", key, ref["name"])
                except NotFound:
                    pass
            status.pop("active", None)
        job = self.job_from_template(cj, wanted, scheduled, zone)
        try:
            created = self.client.resource("batch/v1", "Job").create(job, namespace=namespace(cj))
            log.info("CronJob %s: created Job %s for %s", key, wanted, rfc3339(scheduled))
        except AlreadyExists:
            created = self.client.resource("batch/v1", "Job").get(wanted, namespace=namespace(cj))
            if (controller_of(created) or {}).get("uid") != uid(cj):
                log.error("CronJob %s: Job %s exists and is not ours", key, wanted)
                return requeue
        if not job_finished(created):
            status.setdefault("active", []).append(self.reference(created))
        status["lastScheduleTime"] = rfc3339(scheduled)
        return requeue

    def job_from_template(self, cj: Obj, job_name_: str, scheduled: float, zone: _dt.tzinfo) -> Obj:
        """``getJobFromTemplate2``: the template's labels, annotations and spec, a controller reference."""
        template = (cj.get("spec") or {}).get("jobTemplate") or {}
        meta = template.get("metadata") or {}
        annotations = dict(meta.get("annotations") or {})
        annotations[SCHEDULED_TIMESTAMP] = _dt.datetime.fromtimestamp(scheduled, zone).isoformat()
        return {"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": job_name_, "labels": dict(meta.get("labels") or {}), "annotations": annotations,
                             "ownerReferences": [owner_reference(cj, api_version=self.api_version, kind=self.kind)]},
                "spec": deep_copy(template.get("spec") or {})}

    def cleanup_finished(self, cj: Obj, jobs: list[Obj]) -> None:
        """Delete the oldest finished Jobs beyond the history limits (``cleanupFinishedJobs``)."""
        spec = cj.get("spec") or {}
        for kind, limit in (("Complete", spec.get("successfulJobsHistoryLimit")),
                            ("Failed", spec.get("failedJobsHistoryLimit"))):
            if limit is None:
                continue
            finished = sorted((j for j in jobs if job_finished(j) == kind),
                              key=lambda j: ((j.get("status") or {}).get("startTime") or
                                             j["metadata"].get("creationTimestamp", ""), j["metadata"]["name"]))
            for job in finished[:max(0, len(finished) - limit)]:
                try:
                    self.client.resource("batch/v1", "Job").delete(name(job), namespace=namespace(job),
                                                                   propagation_policy="Background")
                    log.info("CronJob %s: deleted finished Job %s (history limit %d)", key_of(cj), name(job), limit)
                except NotFound:
                    pass
