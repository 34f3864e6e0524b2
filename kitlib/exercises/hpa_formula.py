"""Grading scenarios for the exercise ``hpa-formula``: how many replicas a HorizontalPodAutoscaler wants.

The reader writes ``desired_replicas(current_replicas, current_utilisation,
target_utilisation, tolerance)``, the slot
:data:`kitlib.controllers.hpa.replica_formula`: kube's
``ceil(current_replicas x current_utilisation / target_utilisation)``,
except that a ratio within ``tolerance`` of 1 changes nothing. Two cells ask
the function directly; three run the real HPA controller, with the function
installed, over a Deployment on a local cluster whose hollow nodes report
each Pod's CPU use (annotation ``sim.kit.dev/cpu-millicores``, against a
request of 100 millicores, so the number is the utilisation in percent):
load rises, load falls, load stays within the tolerance. Every question the
controller asked is judged against the formula, so a failure names the
numbers and the piece of the formula that was missed.

Simplifications:
- The controller runs every 0.1 s (kube: 15 s) and its scale-down
  stabilisation window is 0.5 s (kube: 300 s), so a scenario takes a few
  seconds; its rate limits (double or +4 per period) stay kube's.
- At exactly the tolerance the formula keeps the count (kube compares with
  ``<=``); the boundary is graded only where the floating-point ratio is
  exact (a tolerance of 0.25 or 0.5), since ``1 - 55/50`` is not quite 0.1.
"""

from __future__ import annotations

import math
import random
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

from kitlib.cluster.local import up
from kitlib.controllers.hpa import HorizontalController, SimulatedMetrics, desired_replicas, replica_formula
from kitlib.exercises.grading import Recorder, quiet_engine

Obj = dict[str, Any]
NAMESPACE = "default"
CPU = "sim.kit.dev/cpu-millicores"
WAIT = 8.0  # real seconds the Deployment may take to reach the count the load asks for
Question = tuple[int, float, float, float]  # current_replicas, current_utilisation, target_utilisation, tolerance


# ---- the formula and its usual mistakes -------------------------------------------------------------------

def _variant(question: Question, *, rounding: Callable[[float], float] = math.ceil, within=lambda d, t: d <= t,
             tolerance_used: bool = True, inverted: bool = False) -> Any:
    current, utilisation, target, tolerance = question
    ratio = target / utilisation if inverted and utilisation else utilisation / target
    if tolerance_used and within(abs(1.0 - ratio), tolerance):
        return current
    return int(rounding(ratio * current))


MISTAKES = [
    ({"rounding": round}, "round UP (math.ceil): 1.2 replicas' worth of load needs 2 Pods, not 1"),
    ({"rounding": math.floor}, "round UP (math.ceil), not down: the extra load needs a Pod of its own"),
    ({"within": lambda d, t: d < t}, "exactly at the tolerance counts as within it (<=): keep current_replicas"),
    ({"tolerance_used": False}, "within the tolerance (|1 - utilisation/target| <= tolerance) keep current_replicas, "
                                "so that noise in the metrics does not make the count flap"),
    ({"inverted": True}, "the ratio is current_utilisation / target_utilisation: busier Pods mean MORE replicas"),
]


def judge(question: Question, answer: Any) -> str | None:
    """What is wrong with ``answer`` to this question, or None."""
    current, utilisation, target, tolerance = question
    asked = (f"desired_replicas(current_replicas={current}, current_utilisation={utilisation}, "
             f"target_utilisation={target}, tolerance={tolerance})")
    if isinstance(answer, bool) or not isinstance(answer, int):
        hint = " (math.ceil returns an int; a float or a round()ed float is not one)" if isinstance(answer, float) else ""
        return f"{asked} returned {answer!r:.40}: return a number of replicas, an int{hint}"
    want = desired_replicas(current, utilisation, target, tolerance)
    if answer == want:
        return None
    for flags, why in MISTAKES:
        try:
            if _variant(question, **flags) == answer:
                return f"{asked} returned {answer}, but the formula gives {want}: {why}"
        except (ZeroDivisionError, OverflowError, ValueError):
            continue
    return (f"{asked} returned {answer}, but the formula gives {want}: ceil(current_replicas x "
            f"current_utilisation / target_utilisation), or current_replicas within the tolerance")


# ---- scenarios: the formula alone ----------------------------------------------------------------------------

def formula(candidate: Callable[..., Any], *, cases: Sequence[Question]) -> None:
    """Each question asked directly, through the slot, as the HPA controller asks it."""
    with replica_formula.installed(candidate):
        for question in cases:
            problem = judge(tuple(question), replica_formula(*question))
            assert problem is None, problem


# ---- scenarios: the real controller over a Deployment ------------------------------------------------------

def _deployment(replicas: int, load: int) -> Obj:
    template = {"metadata": {"labels": {"app": "web"}, "annotations": {CPU: str(load)}},
                "spec": {"containers": [{"name": "main", "image": "busybox",
                                         "resources": {"requests": {"cpu": "100m"}}}]}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "template": template}}


def _hpa(least: int, most: int, target: int) -> Obj:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "minReplicas": least, "maxReplicas": most,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                         "type": "Utilization", "averageUtilization": target}}}]}}


class _Autoscaled:
    def __init__(self, cluster: Any, recorder: Recorder) -> None:
        self.cluster, self.recorder = cluster, recorder
        self.client = cluster.client(in_process=True)

    def problems(self) -> None:
        self.recorder.judge_calls(judge, "the HPA controller asked ")

    def replicas(self) -> int:
        return self.client.deployments(NAMESPACE).get("web")["spec"]["replicas"]

    def set_load(self, load: int) -> None:
        """Every Pod of the Deployment now uses ``load`` millicores (``load`` % of its request)."""
        for pod in self.client.pods(NAMESPACE).list(label_selector="app=web")["items"]:
            self.client.pods(NAMESPACE).patch(pod["metadata"]["name"], {"metadata": {"annotations": {CPU: str(load)}}})

    def wait_for(self, want: int, doing: str, hold: float) -> None:
        """Wait until the Deployment has ``want`` replicas and keeps them for ``hold`` real seconds."""
        deadline, since = time.monotonic() + WAIT, None
        while True:
            self.problems()
            if self.replicas() == want:
                since = since or time.monotonic()
                if time.monotonic() - since >= hold:
                    return
            else:
                since = None
            if time.monotonic() > deadline:
                calls = self.recorder.calls
                last = f"; your function's last answer was {calls[-1][1]!r:.30} to {calls[-1][0]}" if calls else (
                    "; the controller never asked your function")
                raise AssertionError(f"{doing}: the Deployment should settle at {want} replicas, but after {WAIT:g} s "
                                     f"it has {self.replicas()}{last}")
            time.sleep(0.01)


@contextmanager
def _autoscaled(candidate: Callable[..., Any], *, replicas: int, load: int, least: int, most: int, target: int,
                tolerance: float) -> Iterator[_Autoscaled]:
    """A Deployment whose Pods use ``load`` % of their CPU request, under our own HPA controller; always taken down."""
    recorder = Recorder(candidate)
    with quiet_engine(), replica_formula.installed(recorder):
        cluster = up(nodes=2, start_delay=0.05, controllers=("deployment", "replicaset"))
        controller = None
        try:
            run = _Autoscaled(cluster, recorder)
            run.client.deployments(NAMESPACE).create(_deployment(replicas, load))
            deadline = time.monotonic() + WAIT
            while len(cluster.sim.pod_cpu_usage()) < replicas:  # every Pod running, so every Pod measured
                assert time.monotonic() < deadline, "the hollow nodes did not start the Pods in time (a slow machine)"
                time.sleep(0.01)
            client = cluster.client(in_process=True, user="system:kube-controller-manager", groups=())
            controller = HorizontalController(client, metrics=SimulatedMetrics(cluster.sim), sync_period=0.1,
                                              tolerance=tolerance, downscale_stabilization=0.5,
                                              namespace=NAMESPACE, rng=random.Random(3)).run()
            run.client.resource("autoscaling/v2", "HorizontalPodAutoscaler").create(_hpa(least, most, target),
                                                                                    namespace=NAMESPACE)
            yield run
            run.problems()
        finally:
            if controller is not None:
                controller.stop()
            cluster.down()


def autoscale(candidate: Callable[..., Any], *, loads: Sequence[tuple[int, int]], replicas: int = 1, least: int = 1,
              most: int = 10, target: int = 50, tolerance: float = 0.1, hold: float = 0.3) -> None:
    """The Deployment starts with ``replicas``; for each ``(load, want)`` every Pod uses ``load`` %, and the
    Deployment must settle at ``want`` replicas (and keep them ``hold`` s). New Pods use the first load."""
    spec = f"target {target} %, minReplicas {least}, maxReplicas {most}, tolerance {tolerance}"
    with _autoscaled(candidate, replicas=replicas, load=loads[0][0], least=least, most=most, target=target,
                     tolerance=tolerance) as run:
        for i, (load, want) in enumerate(loads):
            if i:
                run.set_load(load)
            run.wait_for(want, f"with every Pod at {load} % of its CPU request ({spec})", hold)


# The notebook's test cells, as data: test cell -> [(scenario, parameters, hidden)].
CASES: dict[str, list[tuple[Callable[..., None], dict[str, Any], bool]]] = {
    "test-formula": [
        (formula, {"cases": [(1, 90, 50, 0.1), (3, 100, 50, 0.1), (4, 10, 50, 0.1), (2, 80, 50, 0.1),
                             (10, 30, 80, 0.1)]}, False),
        (formula, {"cases": [(5, 61, 50, 0.1), (7, 20, 70, 0.1), (1, 1000, 50, 0.1), (6, 75, 100, 0.1),
                             (10, 0, 80, 0.1), (3, 151, 75, 0.1)]}, True),
    ],
    "test-tolerance": [
        (formula, {"cases": [(4, 54, 50, 0.1), (4, 46, 50, 0.1), (4, 56, 50, 0.1), (4, 100, 80, 0.25),
                             (4, 60, 80, 0.25)]}, False),
        (formula, {"cases": [(8, 52, 50, 0.1), (3, 150, 100, 0.5), (3, 50, 100, 0.5), (3, 151, 100, 0.5),
                             (6, 40, 50, 0.1), (2, 81, 80, 0.0)]}, True),
    ],
    "test-scale-up": [
        (autoscale, {"loads": [(90, 4)], "most": 4}, False),
        (autoscale, {"loads": [(130, 6)], "replicas": 2, "most": 6, "target": 60}, True),
    ],
    "test-scale-down": [
        (autoscale, {"loads": [(50, 2), (10, 1)], "replicas": 2, "most": 4, "hold": 0.0}, False),
        (autoscale, {"loads": [(40, 3), (20, 2)], "replicas": 3, "most": 6, "target": 40, "hold": 0.0}, True),
    ],
    "test-steady": [
        (autoscale, {"loads": [(54, 3)], "replicas": 3, "hold": 1.0}, False),
        (autoscale, {"loads": [(62, 2)], "replicas": 2, "tolerance": 0.25, "hold": 1.0}, True),
    ],
}
