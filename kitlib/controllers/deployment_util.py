"""What the Deployment controller knows about ReplicaSets, revisions, fenceposts and conditions.

kube-controller-manager keeps these in ``pkg/controller/deployment/util``
(``deployment_util.go``): pure functions over the JSON-shaped objects, so
they can be tested (and taught) without an API server:

- :func:`compute_hash`: the ``pod-template-hash`` that names a
  Deployment's ReplicaSet for one Pod template;
- :func:`find_new_replica_set`, :func:`find_old_replica_sets`: which of a
  Deployment's ReplicaSets runs its current template;
- :func:`resolve_fenceposts`, :func:`max_surge`, :func:`max_unavailable`:
  ``maxSurge`` rounds up, ``maxUnavailable`` rounds down;
- :func:`new_rs_new_replicas`, :func:`get_proportion`: how far a rolling
  update and a proportional scale may go;
- :func:`set_new_replica_set_annotations`: ``revision``,
  ``revision-history``, ``desired-replicas``, ``max-replicas``;
- :func:`set_condition`, :func:`new_condition`, :func:`deployment_complete`,
  :func:`deployment_progressing`, :func:`deployment_timed_out`.

They never modify their arguments except where the name says ``set_``,
and callers pass copies there.

Simplifications:
- kube hashes the template with FNV-32a over Go's ``DeepHashObject``
  (``spew``'s printing of the Go struct), which cannot be reproduced outside
  Go; here FNV-32a runs over the template's canonical JSON (sorted keys, no
  spaces). The hash is then rendered exactly as kube renders it (the
  decimal digits through ``rand.SafeEncodeString``), so names look like
  kube's (``nginx-deployment-6b8c7d9f45``) but are not the same strings.
- Templates are compared as JSON after dropping the hash label and empty
  maps and lists (kube's ``apiequality.Semantic.DeepEqual`` on typed structs).
- Percentages are parsed as kube's ``GetScaledValueFromIntOrPercent``; a
  malformed string counts as 0 instead of failing the sync (validation
  refuses it first).
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any, Iterable, Sequence

from kitlib.api.meta import annotations, deep_copy, name, parse_rfc3339, rfc3339, uid

Obj = dict[str, Any]

UNIQUE_LABEL = "pod-template-hash"  # apps.DefaultDeploymentUniqueLabelKey
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
MAX_REV_HISTORY_LENGTH_IN_CHARS = 2000  # the controller's maxRevHistoryLengthInChars
# Annotations a Deployment does not pass on to its ReplicaSets (annotationsToSkip).
_SKIP_ANNOTATIONS = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO})

# Condition types and reasons, as kube spells them (deployment_util.go).
AVAILABLE, PROGRESSING, REPLICA_FAILURE = "Available", "Progressing", "ReplicaFailure"
MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
MINIMUM_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"
NEW_RS_REASON = "NewReplicaSetCreated"
FOUND_NEW_RS_REASON = "FoundNewReplicaSet"
FAILED_RS_CREATE_REASON = "ReplicaSetCreateError"
RS_UPDATED_REASON = "ReplicaSetUpdated"
NEW_RS_AVAILABLE_REASON = "NewReplicaSetAvailable"
TIMED_OUT_REASON = "ProgressDeadlineExceeded"
PAUSED_REASON = "DeploymentPaused"
RESUMED_REASON = "DeploymentResumed"

_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # rand.SafeEncodeString: no vowels, no look-alikes
MAX_INT32 = 2**31 - 1


# -- the pod-template hash ---------------------------------------------------------------


def safe_encode_string(text: str) -> str:
    """kube's ``rand.SafeEncodeString``: each byte mapped into an alphabet without vowels (no bad words)."""
    return "".join(_SAFE_ALPHABET[b % len(_SAFE_ALPHABET)] for b in text.encode())


def compute_hash(template: Obj, collision_count: int | None = None) -> str:
    """The ``pod-template-hash`` of ``template`` (``controller.ComputeHash``).

    FNV-32a over the template (see Simplifications), then, after a name
    collision, over ``collision_count`` as 8 little-endian bytes, so the
    next ReplicaSet name differs; the number's decimal digits are encoded
    with :func:`safe_encode_string`.
    """
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += struct.pack("<I", collision_count & 0xFFFFFFFF) + b"\0\0\0\0"
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return safe_encode_string(str(value))


def _without_hash(template: Obj | None) -> Obj:
    def prune(value: Any) -> Any:
        if isinstance(value, dict):
            pruned = {k: prune(v) for k, v in value.items()}
            return {k: v for k, v in pruned.items() if v not in ({}, [], None)}
        if isinstance(value, list):
            return [prune(v) for v in value]
        return value
    copy = deep_copy(template or {})
    ((copy.get("metadata") or {}).get("labels") or {}).pop(UNIQUE_LABEL, None)
    return prune(copy)


def equal_ignore_hash(t1: Obj | None, t2: Obj | None) -> bool:
    """Whether two Pod templates are the same but for the ``pod-template-hash`` label (``EqualIgnoreHash``)."""
    return _without_hash(t1) == _without_hash(t2)


# -- lists of ReplicaSets ------------------------------------------------------------------


def replicas(obj: Obj | None) -> int:
    """``spec.replicas`` (1 when unset, as the API server defaults it)."""
    value = ((obj or {}).get("spec") or {}).get("replicas")
    return 1 if value is None else value


def status_count(obj: Obj | None, field: str) -> int:
    return ((obj or {}).get("status") or {}).get(field) or 0


def creation_key(rs: Obj) -> tuple[float, str]:
    """``ReplicaSetsByCreationTimestamp``: older first, then by name."""
    stamp = (rs.get("metadata") or {}).get("creationTimestamp")
    return (parse_rfc3339(stamp) if stamp else 0.0, name(rs))


def revision(rs: Obj) -> int:
    """The ``deployment.kubernetes.io/revision`` of a ReplicaSet, 0 if missing or malformed."""
    try:
        return int(annotations(rs).get(REVISION, "0"))
    except ValueError:
        return 0


def max_revision(replica_sets: Iterable[Obj]) -> int:
    return max((revision(rs) for rs in replica_sets), default=0)


def by_size(replica_sets: Iterable[Obj], newer_first: bool) -> list[Obj]:
    """Largest first; ties newest first (``ReplicaSetsBySizeNewer``) or oldest first (``...SizeOlder``)."""
    ordered = sorted(replica_sets, key=creation_key, reverse=newer_first)
    return sorted(ordered, key=replicas, reverse=True)  # stable: keeps the tie order


def active(replica_sets: Iterable[Obj | None]) -> list[Obj]:
    """The ReplicaSets that want Pods (``FilterActiveReplicaSets``)."""
    return [rs for rs in replica_sets if rs is not None and replicas(rs) > 0]


def spec_replicas(replica_sets: Iterable[Obj | None]) -> int:
    """``GetReplicaCountForReplicaSets``: what they want, not what they have."""
    return sum(replicas(rs) for rs in replica_sets if rs is not None)


def status_replicas(replica_sets: Iterable[Obj | None], field: str = "replicas") -> int:
    """The sum of one ``status`` count (``GetActualReplicaCount...``, ``...Ready...``, ``...Available...``)."""
    return sum(status_count(rs, field) for rs in replica_sets if rs is not None)


def find_new_replica_set(deployment: Obj, replica_sets: Sequence[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template is the Deployment's (``FindNewReplicaSet``).

    Oldest: if a hash collision ever made two, the older one has the Pods.
    """
    template = (deployment.get("spec") or {}).get("template")
    for rs in sorted(replica_sets, key=creation_key):
        if equal_ignore_hash((rs.get("spec") or {}).get("template"), template):
            return rs
    return None


def find_old_replica_sets(deployment: Obj, replica_sets: Sequence[Obj]) -> list[Obj]:
    """Every ReplicaSet but the new one (``FindOldReplicaSets``' ``allOldRSs``)."""
    new = find_new_replica_set(deployment, replica_sets)
    return [rs for rs in replica_sets if new is None or uid(rs) != uid(new)]


# -- fenceposts ------------------------------------------------------------------------------


def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """``intstr.GetScaledValueFromIntOrPercent``: an int as is, ``"25%"`` of ``total`` rounded up or down."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.endswith("%"):
        return 0
    try:
        percent = int(text[:-1])
    except ValueError:
        return 0
    return math.ceil(percent * total / 100) if round_up else math.floor(percent * total / 100)


def _rolling(deployment: Obj) -> Obj | None:
    strategy = (deployment.get("spec") or {}).get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return None
    return strategy.get("rollingUpdate") or {}


def resolve_fenceposts(max_surge_value: Any, max_unavailable_value: Any, desired: int) -> tuple[int, int]:
    """(surge, unavailable) for ``desired`` replicas (``ResolveFenceposts``).

    Surge rounds up and unavailable rounds down, so a rollout neither
    stalls nor drops below what was asked; if both resolve to zero (10% of
    3 is 0.3), unavailable becomes 1 in case quota forbids a surge.
    """
    surge = scaled_value(max_surge_value, desired, True)
    unavailable = scaled_value(max_unavailable_value, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(deployment: Obj) -> int:
    rolling = _rolling(deployment)
    if rolling is None:
        return 0
    return resolve_fenceposts(rolling.get("maxSurge"), rolling.get("maxUnavailable"), replicas(deployment))[0]


def max_unavailable(deployment: Obj) -> int:
    rolling = _rolling(deployment)
    if rolling is None or replicas(deployment) == 0:
        return 0
    unavailable = resolve_fenceposts(rolling.get("maxSurge"), rolling.get("maxUnavailable"), replicas(deployment))[1]
    return min(unavailable, replicas(deployment))


def new_rs_new_replicas(deployment: Obj, all_rss: Sequence[Obj | None], new_rs: Obj) -> int:
    """How many replicas the new ReplicaSet may have now (``NewRSNewReplicas``).

    RollingUpdate: as many as keep every ReplicaSet's total within
    ``replicas + maxSurge``; Recreate: all of them (the old ones are gone).
    """
    if _rolling(deployment) is None:
        return replicas(deployment)
    max_total = replicas(deployment) + max_surge(deployment)
    current = spec_replicas(all_rss)
    if current >= max_total:
        return replicas(new_rs)
    return replicas(new_rs) + min(max_total - current, replicas(deployment) - replicas(new_rs))


def find_active_or_latest(new_rs: Obj | None, old_rss: Sequence[Obj]) -> Obj | None:
    """The only ReplicaSet with replicas, or the newest if none has any; None if several have (``FindActiveOrLatest``)."""
    if new_rs is None and not old_rss:
        return None
    olds = sorted(old_rss, key=creation_key, reverse=True)
    wanting = active(olds + [new_rs])
    if not wanting:
        return new_rs if new_rs is not None else olds[0]
    return wanting[0] if len(wanting) == 1 else None


def is_saturated(deployment: Obj, rs: Obj | None) -> bool:
    """The new ReplicaSet has all the Deployment's replicas, all available (``IsSaturated``)."""
    if rs is None:
        return False
    want = replicas(deployment)
    return (annotations(rs).get(DESIRED_REPLICAS) == str(want) and status_count(rs, "availableReplicas") == want
            and replicas(rs) == want)


def _round_half_away(value: float) -> int:
    return int(math.copysign(math.floor(abs(value) + 0.5), value))  # Go's math.Round, not banker's rounding


def get_proportion(rs: Obj, deployment: Obj, to_add: int, added: int) -> int:
    """This ReplicaSet's share of a scale by ``to_add`` of which ``added`` is done (``GetProportion``).

    Its share is its size times the ratio of the new ``replicas +
    maxSurge`` to the one it was sized for (its ``max-replicas``
    annotation), never more than what remains to add or remove.
    """
    if replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    if replicas(deployment) == 0:
        fraction = -replicas(rs)  # scaling to zero: all of it
    else:
        max_now = replicas(deployment) + max_surge(deployment)
        try:
            before = int(annotations(rs).get(MAX_REPLICAS, ""))
        except ValueError:
            before = 0
        if before == 0:
            before = status_count(deployment, "replicas")  # annotation lost: fall back to the current size
        if before == 0:
            return 0
        fraction = _round_half_away(replicas(rs) * max_now / before) - replicas(rs)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


# -- annotations -----------------------------------------------------------------------------


def set_replicas_annotations(rs: Obj, desired: int, max_replicas: int) -> bool:
    """Record the Deployment size this ReplicaSet was scaled for; whether anything changed."""
    notes = rs.setdefault("metadata", {}).setdefault("annotations", {})
    changed = False
    for key, value in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(max_replicas))):
        if notes.get(key) != value:
            notes[key] = value
            changed = True
    return changed


def replicas_annotations_need_update(rs: Obj, desired: int, max_replicas: int) -> bool:
    notes = annotations(rs)
    return notes.get(DESIRED_REPLICAS) != str(desired) or notes.get(MAX_REPLICAS) != str(max_replicas)


def set_new_replica_set_annotations(deployment: Obj, rs: Obj, new_revision: str, exists: bool) -> bool:
    """Copy the Deployment's annotations, bump the revision, keep a revision history (``SetNewReplicaSetAnnotations``).

    A ReplicaSet that already had a revision and gets a higher one is an
    old template coming back (a rollback): its former revisions are kept in
    ``revision-history``, within 2000 characters.
    """
    notes = rs.setdefault("metadata", {}).setdefault("annotations", {})
    changed = False
    for key, value in annotations(deployment).items():  # copyDeploymentAnnotationsToReplicaSet
        if key not in _SKIP_ANNOTATIONS and notes.get(key) != value:
            notes[key] = value
            changed = True
    old_text = notes.get(REVISION)
    try:
        old, new = int(old_text or "0"), int(new_revision)
    except ValueError:
        return changed
    if old < new:
        notes[REVISION] = new_revision
        changed = True
        if old_text is not None:
            history = notes.get(REVISION_HISTORY, "")
            revisions = history.split(",") if history else []
            while revisions and len(",".join(revisions + [old_text])) > MAX_REV_HISTORY_LENGTH_IN_CHARS:
                revisions.pop(0)
            notes[REVISION_HISTORY] = ",".join(revisions + [old_text])
    if not exists and set_replicas_annotations(rs, replicas(deployment), replicas(deployment) + max_surge(deployment)):
        changed = True
    return changed


# -- conditions and progress -------------------------------------------------------------------


def new_condition(type_: str, status: str, reason: str, message: str, now_wall: float) -> Obj:
    stamp = rfc3339(now_wall)
    return {"type": type_, "status": status, "lastUpdateTime": stamp, "lastTransitionTime": stamp,
            "reason": reason, "message": message}


def get_condition(status: Obj, type_: str) -> Obj | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == type_), None)


def set_condition(status: Obj, condition: Obj) -> None:
    """Replace the condition of its type unless status and reason are unchanged (``SetDeploymentCondition``).

    The transition time stays when only the reason changes.
    """
    current = get_condition(status, condition["type"])
    if current is not None and current.get("status") == condition["status"] \
            and current.get("reason") == condition["reason"]:
        return
    condition = dict(condition)
    if current is not None and current.get("status") == condition["status"]:
        condition["lastTransitionTime"] = current.get("lastTransitionTime")
    remove_condition(status, condition["type"])
    status["conditions"] = list(status.get("conditions") or []) + [condition]


def remove_condition(status: Obj, type_: str) -> None:
    kept = [c for c in status.get("conditions") or [] if c.get("type") != type_]
    if kept:
        status["conditions"] = kept
    else:
        status.pop("conditions", None)


def has_progress_deadline(deployment: Obj) -> bool:
    deadline = (deployment.get("spec") or {}).get("progressDeadlineSeconds")
    return deadline is not None and deadline != MAX_INT32


def deployment_complete(deployment: Obj, status: Obj) -> bool:
    """Every replica updated and available, and the newest spec observed (``DeploymentComplete``)."""
    want = replicas(deployment)
    return (status.get("updatedReplicas", 0) == want and status.get("replicas", 0) == want
            and status.get("availableReplicas", 0) == want
            and status.get("observedGeneration", 0) >= (deployment.get("metadata") or {}).get("generation", 0))


def deployment_progressing(deployment: Obj, new_status: Obj) -> bool:
    """More updated, ready or available replicas, or fewer old ones, than last time (``DeploymentProgressing``)."""
    old = deployment.get("status") or {}
    old_olds = old.get("replicas", 0) - old.get("updatedReplicas", 0)
    new_olds = new_status.get("replicas", 0) - new_status.get("updatedReplicas", 0)
    return (new_status.get("updatedReplicas", 0) > old.get("updatedReplicas", 0) or new_olds < old_olds
            or new_status.get("readyReplicas", 0) > old.get("readyReplicas", 0)
            or new_status.get("availableReplicas", 0) > old.get("availableReplicas", 0))


def deployment_timed_out(deployment: Obj, new_status: Obj, now_wall: float) -> bool:
    """No progress for ``progressDeadlineSeconds`` since the Progressing condition's ``lastUpdateTime``."""
    if not has_progress_deadline(deployment):
        return False
    condition = get_condition(new_status, PROGRESSING)
    if condition is None or condition.get("reason") == NEW_RS_AVAILABLE_REASON:
        return False  # a finished rollout does not time out
    if condition.get("reason") == TIMED_OUT_REASON:
        return True
    since = parse_rfc3339(condition["lastUpdateTime"]) if condition.get("lastUpdateTime") else now_wall
    return since + deployment["spec"]["progressDeadlineSeconds"] < now_wall
