"""Grading scenarios for the exercise ``rolling-update``: the arithmetic of one RollingUpdate step.

The reader writes ``rolling_step(replicas, max_surge, max_unavailable,
new_replicas, old_replicas, available)``, the slot
:data:`kitlib.controllers.rollout.rolling_step`: how many replicas the
Deployment controller may add to the new ReplicaSet now, and how many it
may take from the old ones, so that all ReplicaSets together never want
more than ``replicas + maxSurge`` Pods and never fewer than ``replicas -
maxUnavailable`` stay available. Percentages resolve as kube's
``ResolveFenceposts``: surge rounds up, unavailable rounds down, and if both
come to 0 unavailable becomes 1.

Two cells ask the function directly (fenceposts, then the step). Three run
a real rollout on a local cluster (API server, scheduler, the Deployment
and ReplicaSet controllers, hollow nodes that start Pods): a Deployment
changes its image, and while the controller moves Pods the scenario
watches that the ReplicaSets never want more than ``replicas + surge``
Pods, that no step leaves fewer than ``replicas - unavailable`` available,
and that the rollout completes. Every question the controller asked is judged
against the rule, so a failure names the numbers and the piece of the
rule that was missed.

Simplifications:
- The scale-down answer is compared after capping it at ``old_replicas``
  (the controller never removes more than the old ReplicaSets have).
- The controller still removes unhealthy old replicas by itself first
  (kube's ``cleanupUnhealthyReplicas``), with the engine's fenceposts.
- Availability is judged as the controller sees it, in the ReplicaSets'
  status, at every question it asks: a Pod that an old ReplicaSet is
  already deleting still counts there for a moment (as in kube), so the
  ready Pods themselves may dip below the minimum for a few milliseconds.
  The ReplicaSets' wanted total is watched live.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

from kitlib.cluster.local import up
from kitlib.controllers.controller_utils import is_pod_active, is_pod_ready
from kitlib.controllers.deployment_util import resolve_fenceposts
from kitlib.controllers.rollout import reference_rolling_step, rolling_step
from kitlib.exercises.grading import Recorder, quiet_engine

Obj = dict[str, Any]
NAMESPACE = "default"
WAIT = 8.0  # real seconds a rollout may take
Step = tuple[int, Any, Any, int, int, int]  # replicas, max_surge, max_unavailable, new, old, available


# ---- the rule and its usual mistakes ---------------------------------------------------------------------

def _scaled(value: Any, total: int, rounding: Callable[[float], float]) -> int:
    if isinstance(value, str) and value.endswith("%"):
        return int(rounding(int(value[:-1]) * total / 100))
    return int(value or 0)


def _variant(step: Step, *, surge_round=math.ceil, unavailable_round=math.floor, fencepost=True, cap_new=True,
             count_old=True, use_available=True) -> tuple[int, int]:
    """The rule, or (with a flag changed) one of its usual mistakes."""
    replicas, max_surge, max_unavailable, new, old, available = step
    surge = _scaled(max_surge, replicas, surge_round)
    unavailable = _scaled(max_unavailable, replicas, unavailable_round)
    if fencepost and surge == 0 and unavailable == 0:
        unavailable = 1
    unavailable = min(unavailable, replicas)
    room = replicas + surge - (new + old if count_old else new)
    up_ = max(0, min(room, replicas - new) if cap_new else room)
    have = available if use_available else new + old
    down = max(0, min(old, have - (replicas - unavailable)))
    return up_, down


MISTAKES = [
    ({"surge_round": math.floor}, "maxSurge as a percentage rounds UP (math.ceil): 25% of 3 replicas is a surge of 1"),
    ({"surge_round": round}, "maxSurge as a percentage rounds UP (math.ceil), not to the nearest"),
    ({"unavailable_round": math.ceil}, "maxUnavailable as a percentage rounds DOWN (math.floor): 25% of 3 is 0"),
    ({"unavailable_round": round}, "maxUnavailable as a percentage rounds DOWN (math.floor), not to the nearest"),
    ({"fencepost": False}, "when maxSurge and maxUnavailable both resolve to 0 the rollout could never move, so "
                           "maxUnavailable becomes 1"),
    ({"cap_new": False}, "the new ReplicaSet never needs more than `replicas`: add at most replicas - new_replicas"),
    ({"count_old": False}, "the surge limits ALL ReplicaSets together: new_replicas + old_replicas + what you add "
                           "stays within replicas + maxSurge"),
    ({"use_available": False}, "remove old replicas only while `available` Pods (not replicas) stay at least "
                               "replicas - maxUnavailable: a Pod that is not ready yet serves nothing"),
]


def judge(step: Step, answer: Any) -> str | None:
    """What is wrong with ``answer`` to this step, or None."""
    replicas, max_surge, max_unavailable, new, old, available = step
    asked = (f"rolling_step(replicas={replicas}, max_surge={max_surge!r}, max_unavailable={max_unavailable!r}, "
             f"new_replicas={new}, old_replicas={old}, available={available})")
    if not isinstance(answer, (tuple, list)) or len(answer) != 2 or not all(
            isinstance(n, int) and not isinstance(n, bool) for n in answer):
        return f"{asked} returned {answer!r:.60}: return two ints, (scale_up, scale_down)"
    want = reference_rolling_step(*step)
    got = (answer[0], min(answer[1], old))
    if got == want:
        return None
    if min(answer) < 0:
        return f"{asked} returned {tuple(answer)}: both numbers count replicas to add or remove, never negative"
    for flags, why in MISTAKES:
        if _variant(step, **flags) == got:
            return f"{asked} returned {tuple(answer)}, but the rule gives {want}: {why}"
    part = "scale_up" if got[0] != want[0] else "scale_down"
    return f"{asked} returned {tuple(answer)}, but the rule gives {want} (look at {part})"


# ---- scenarios: the function alone ------------------------------------------------------------------------

def steps(candidate: Callable[..., Any], *, cases: Sequence[Step]) -> None:
    """Each step asked directly, through the slot, as the Deployment controller asks it."""
    with rolling_step.installed(candidate):
        for step in cases:
            problem = judge(tuple(step), rolling_step(*step))
            assert problem is None, problem


# ---- scenarios: a real rollout ------------------------------------------------------------------------------

def _deployment(replicas: int, max_surge: Any, max_unavailable: Any) -> Obj:
    labels = {"app": "web"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxSurge": max_surge, "maxUnavailable": max_unavailable}},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "main", "image": "nginx:1.7.9"}]}}}}


class _Rollout:
    def __init__(self, cluster: Any, recorder: Recorder) -> None:
        self.client, self.recorder = cluster.client(in_process=True), recorder

    def problems(self) -> None:
        self.recorder.judge_calls(judge, "during the rollout the Deployment controller asked ")

    def counts(self, image: str) -> tuple[int, int, int]:
        """(replicas the new ReplicaSet wants, replicas the old ones want, ready Pods)."""
        new = old = 0
        for rs in self.client.replicasets(NAMESPACE).list()["items"]:
            if rs["spec"]["template"]["spec"]["containers"][0]["image"] == image:
                new += rs["spec"]["replicas"]
            else:
                old += rs["spec"]["replicas"]
        ready = sum(1 for p in self.client.pods(NAMESPACE).list()["items"] if is_pod_active(p) and is_pod_ready(p))
        return new, old, ready

    def rolled_out(self) -> bool:
        d = self.client.deployments(NAMESPACE).get("web")
        st, want = d.get("status") or {}, d["spec"]["replicas"]
        return (st.get("observedGeneration", 0) >= d["metadata"]["generation"] and st.get("updatedReplicas", 0)
                == want and st.get("replicas", 0) == want and st.get("availableReplicas", 0) == want)


@contextmanager
def _cluster(candidate: Callable[..., Any]) -> Iterator[_Rollout]:
    recorder = Recorder(candidate)
    with quiet_engine(), rolling_step.installed(recorder):
        cluster = up(nodes=2, start_delay=0.05, controllers=("deployment", "replicaset"))
        try:
            run = _Rollout(cluster, recorder)
            yield run
            run.problems()
        finally:
            cluster.down()


def rollout(candidate: Callable[..., Any], *, replicas: int, max_surge: Any, max_unavailable: Any) -> None:
    """A Deployment of ``replicas`` rolls out, then changes its image; the second rollout is watched step by step."""
    surge = resolve_fenceposts(max_surge, max_unavailable, replicas)[0]
    spec = f"replicas {replicas}, maxSurge {max_surge!r}, maxUnavailable {max_unavailable!r}"
    with _cluster(candidate) as run:
        run.client.deployments(NAMESPACE).create(_deployment(replicas, max_surge, max_unavailable))
        _wait(run, run.rolled_out, f"the first rollout of a Deployment with {spec}", "nginx:1.7.9")
        run.client.deployments(NAMESPACE).patch("web", {"spec": {"template": {"spec": {"containers": [
            {"name": "main", "image": "nginx:1.9.1"}]}}}})
        seen: list[tuple[int, int, int]] = []

        def done() -> bool:
            new, old, ready = run.counts("nginx:1.9.1")
            if not seen or seen[-1] != (new, old, ready):
                seen.append((new, old, ready))
            assert new + old <= replicas + surge, (
                f"during the rollout ({spec}) the ReplicaSets wanted {new} new + {old} old Pods, more than "
                f"replicas + maxSurge = {replicas + surge}; the steps so far (new, old, ready): {seen}")
            return new == replicas and old == 0 and run.rolled_out()

        _wait(run, done, f"changing the image of a Deployment with {spec}", "nginx:1.9.1", seen)


def _wait(run: _Rollout, predicate: Callable[[], bool], doing: str, image: str,
          seen: list[tuple[int, int, int]] | None = None) -> None:
    deadline = time.monotonic() + WAIT
    while True:
        run.problems()
        if predicate():
            return
        if time.monotonic() > deadline:
            new, old, ready = run.counts(image)
            calls = run.recorder.calls
            last = f"; your function's last answer was {calls[-1][1]!r:.40} to {calls[-1][0]}" if calls else ""
            steps_seen = f" (steps seen, as (new, old, ready): {seen})" if seen else ""
            raise AssertionError(f"{doing}: the rollout did not finish within {WAIT:g} s; it stopped at new "
                                 f"{new}, old {old}, ready {ready}{steps_seen}{last}")
        time.sleep(0.005)


# The notebook's test cells, as data: test cell -> [(scenario, parameters, hidden)].
CASES: dict[str, list[tuple[Callable[..., None], dict[str, Any], bool]]] = {
    "test-fenceposts": [
        (steps, {"cases": [(4, "25%", "25%", 0, 4, 4), (10, "25%", "25%", 0, 10, 10), (3, "25%", "25%", 0, 3, 3),
                           (3, 0, "25%", 0, 3, 3)]}, False),
        (steps, {"cases": [(5, "10%", "10%", 0, 5, 5), (10, "15%", 0, 2, 8, 10), (3, 0, 0, 1, 2, 3),
                           (7, "50%", "50%", 0, 7, 7), (1, "100%", "100%", 1, 1, 1)]}, True),
    ],
    "test-step": [
        (steps, {"cases": [(4, 1, 1, 0, 4, 4), (4, 1, 1, 1, 4, 4), (4, 1, 1, 1, 3, 4), (4, 1, 1, 4, 1, 3),
                           (4, 1, 1, 4, 0, 4)]}, False),
        (steps, {"cases": [(5, 2, 0, 2, 5, 5), (5, 2, 0, 2, 5, 7), (6, 0, 2, 0, 6, 6), (6, 0, 2, 2, 4, 4),
                           (3, 3, 0, 3, 3, 3), (2, 1, 0, 2, 1, 1)]}, True),
    ],
    "test-rollout-default": [
        (rollout, {"replicas": 4, "max_surge": "25%", "max_unavailable": "25%"}, False),
        (rollout, {"replicas": 6, "max_surge": "25%", "max_unavailable": "25%"}, True),
    ],
    "test-rollout-no-unavailable": [
        (rollout, {"replicas": 3, "max_surge": 1, "max_unavailable": 0}, False),
        (rollout, {"replicas": 4, "max_surge": "50%", "max_unavailable": 0}, True),
    ],
    "test-rollout-no-surge": [
        (rollout, {"replicas": 3, "max_surge": 0, "max_unavailable": 1}, False),
        (rollout, {"replicas": 3, "max_surge": 0, "max_unavailable": "10%"}, True),
    ],
}
