"""What several plugins share: taints against tolerations, and kube's default score normalisation.

A **taint** on a Node (``key=value:Effect``) repels Pods; a **toleration** on
a Pod lets it ignore a matching taint. The rules are
``Toleration.ToleratesTaint`` in ``k8s.io/api/core/v1``:

- a toleration with an effect matches only that effect (empty: every effect);
- with a key, only that key (empty key with ``Exists``: every taint);
- ``Exists`` ignores the value; ``Equal`` (the default) needs the same value.

``NoSchedule`` and ``NoExecute`` taints keep new Pods off (Filter);
``PreferNoSchedule`` only lowers the Node's score (Score).

Score arithmetic copies Go's: :func:`go_round` is ``math.Round``.

:func:`default_normalize_score` is ``helper.DefaultNormalizeScore``: scale
every score so the highest becomes 100 (or, reversed, the highest becomes 0).

Simplifications:
- The ``Lt``/``Gt`` toleration operators (alpha in kube 1.35) are not supported.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable

from kitlib.scheduler.framework import NodeScore

Obj = dict[str, Any]

NO_SCHEDULE, PREFER_NO_SCHEDULE, NO_EXECUTE = "NoSchedule", "PreferNoSchedule", "NoExecute"
TAINT_NODE_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"


def tolerates_taint(toleration: Obj, taint: Obj) -> bool:
    """Whether one toleration matches one taint (``Toleration.ToleratesTaint``)."""
    if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
        return False
    if toleration.get("key") and toleration.get("key") != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"  # an empty operator means Equal
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return operator == "Exists"


def tolerations_tolerate_taint(tolerations: Iterable[Obj], taint: Obj) -> bool:
    return any(tolerates_taint(toleration, taint) for toleration in tolerations)


def do_not_schedule_taints(taint: Obj) -> bool:
    """The taints Filter enforces: NoSchedule and NoExecute (``DoNotScheduleTaintsFilterFunc``)."""
    return taint.get("effect") in (NO_SCHEDULE, NO_EXECUTE)


def find_matching_untolerated_taint(taints: Iterable[Obj], tolerations: Iterable[Obj],
                                    include: Callable[[Obj], bool]) -> Obj | None:
    """The first taint (in the Node's order) that ``include`` selects and no toleration matches."""
    tolerations = list(tolerations)
    for taint in taints:
        if include(taint) and not tolerations_tolerate_taint(tolerations, taint):
            return taint
    return None


def pod_tolerations(pod: Obj) -> list[Obj]:
    return (pod.get("spec") or {}).get("tolerations") or []


def default_normalize_score(max_priority: int, reverse: bool, scores: list[NodeScore]) -> None:
    """Scale ``scores`` in place to ``[0, max_priority]`` by the highest one (``DefaultNormalizeScore``).

    ``reverse`` flips the scale (the highest raw score becomes 0). If every
    score is 0, they stay 0, or all become ``max_priority`` when reversed.
    """
    max_count = max((node.score for node in scores), default=0)
    if max_count <= 0:
        if reverse:
            for node in scores:
                node.score = max_priority
        return
    for node in scores:
        score = max_priority * node.score // max_count  # non-negative, so // is Go's truncation
        node.score = max_priority - score if reverse else score


def go_round(x: float) -> int:
    """Go's ``math.Round``: halves round away from zero (Python's ``round`` rounds them to even)."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))
