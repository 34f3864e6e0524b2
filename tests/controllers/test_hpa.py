"""The HorizontalPodAutoscaler controller: the replica formula, stabilisation and rate limits, and a live cluster."""

from __future__ import annotations

import random

import pytest

from kitlib.clock import FakeClock
from kitlib.cluster.local import up
from kitlib.controllers import hpa as hpa_module
from kitlib.controllers.hpa import HorizontalController, MetricsError, SimulatedMetrics, cpu_replicas, desired_replicas

from .helpers import wait_until

# (current replicas, utilisation %, target %, expected): kube's GetResourceReplicas on ready Pods.
FORMULA = [
    (1, 90, 50, 2),     # 1.8 -> 2
    (3, 100, 50, 6),    # doubles
    (4, 10, 50, 1),     # 0.8 -> 1
    (4, 54, 50, 4),     # within the 10 % tolerance: unchanged
    (4, 46, 50, 4),
    (4, 56, 50, 5),     # just outside: ceil(4.48)
    (10, 0, 80, 0),     # idle: the formula says 0, minReplicas clamps it later
]


@pytest.mark.parametrize("current,utilisation,target,expected", FORMULA)
def test_desired_replicas(current, utilisation, target, expected):
    assert desired_replicas(current, utilisation, target) == expected
    assert hpa_module.replica_formula(current, utilisation, target) == expected


def test_replica_formula_is_a_slot():
    with hpa_module.replica_formula.installed(lambda *args, **kw: 42):
        assert cpu_replicas([_pod("a")], {"a": 90}, 1, 50, 0.1)[0] == 42
    assert cpu_replicas([_pod("a")], {"a": 90}, 1, 50, 0.1)[0] == 2


def _pod(name, cpu="100m", phase="Running", ready=True):
    resources = {"requests": {"cpu": cpu}} if cpu else {}
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "main", "resources": resources}]},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


# (pods, usage, current, target, expected replicas, expected utilisation)
CPU_CASES = [
    ([_pod("a"), _pod("b")], {"a": 100, "b": 100}, 2, 50, 4, 100),
    ([_pod("a"), _pod("b")], {"a": 50, "b": 50}, 2, 50, 2, 50),
    ([_pod("a", "200m"), _pod("b")], {"a": 100, "b": 50}, 2, 50, 2, 50),
    # b has no metrics yet: scaling down, it counts as using its whole request, so no scale-down at all.
    ([_pod("a"), _pod("b")], {"a": 10}, 2, 50, 2, 10),
    # b is unready: scaling up, it counts as using nothing (a: 200 %, rebalanced 100 % -> 4 replicas).
    ([_pod("a"), _pod("b", phase="Pending", ready=False)], {"a": 200}, 2, 50, 4, 200),
]


@pytest.mark.parametrize("pods,usage,current,target,replicas,utilisation", CPU_CASES)
def test_cpu_replicas(pods, usage, current, target, replicas, utilisation):
    got, util, _ = cpu_replicas(pods, usage, current, target, 0.1)
    assert (got, util) == (replicas, utilisation)


@pytest.mark.parametrize("pods,usage,message", [
    ([], {}, "no pods returned by selector"),
    ([_pod("a")], {}, "did not receive metrics"),
    ([_pod("a", cpu="")], {"a": 10}, "missing request for cpu in container main of Pod a"),
])
def test_cpu_replicas_errors(pods, usage, message):
    with pytest.raises(MetricsError, match=message):
        cpu_replicas(pods, usage, 1, 50, 0.1)


@pytest.fixture
def controller(client):
    return HorizontalController(client, clock=FakeClock(), rng=random.Random(1))


def _conditions(conditions):
    return {c["type"]: (c["status"], c["reason"]) for c in conditions}


# (current, proposals one per 15 s, spec, expected desired each time)
NORMALIZE = [
    # Scale-down waits out the 300 s window: the highest recommendation in it wins.
    (5, [5, 2, 2], {}, [5, 5, 5]),
    # Scale-up is at once, but at most double or +4 per 15 s.
    (1, [20], {}, [5]),
    (10, [40], {}, [20]),
    # Clamped to the range.
    (3, [50], {"maxReplicas": 4}, [4]),
    (3, [0], {"minReplicas": 2, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}}}, [2]),
]


@pytest.mark.parametrize("current,proposals,spec,expected", NORMALIZE)
def test_normalize(controller, current, proposals, spec, expected):
    spec = {"minReplicas": 1, "maxReplicas": 100, **spec}
    got = []
    for proposal in proposals:
        got.append(controller.normalize("ns/h", spec, current, proposal, [], "now"))
        controller.clock.advance(15)
    assert got == expected


def test_stabilisation_window_passes(controller):
    spec = {"minReplicas": 1, "maxReplicas": 10}
    assert controller.normalize("ns/h", spec, 6, 6, [], "t") == 6
    controller.clock.advance(100)
    assert controller.normalize("ns/h", spec, 6, 2, [], "t") == 6  # 6 is still in the window
    controller.clock.advance(201)
    conditions = []
    assert controller.normalize("ns/h", spec, 6, 2, conditions, "t") == 2  # only 2s left in it
    assert _conditions(conditions)["ScalingLimited"] == ("False", "DesiredWithinRange")


def test_scale_up_limit_condition(controller):
    conditions = []
    controller.normalize("ns/h", {"minReplicas": 1, "maxReplicas": 50}, 2, 30, conditions, "t")
    assert _conditions(conditions)["ScalingLimited"] == ("True", "ScaleUpLimit")
    controller.normalize("ns/h", {"minReplicas": 1, "maxReplicas": 3}, 2, 30, conditions, "t")
    assert _conditions(conditions)["ScalingLimited"] == ("True", "TooManyReplicas")


# -- a live cluster: Deployment, hollow nodes reporting CPU, the HPA beside it --------------------

def _deployment(name, cpu_use):
    template = {"metadata": {"labels": {"app": name}, "annotations": {"sim.kit.dev/cpu-millicores": str(cpu_use)}},
                "spec": {"containers": [{"name": "main", "image": "busybox",
                                         "resources": {"requests": {"cpu": "100m"}}}]}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": template}}


def _hpa(name, target, *, least=1, most=4, utilisation=50):
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": name},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                     "minReplicas": least, "maxReplicas": most,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                         "type": "Utilization", "averageUtilization": utilisation}}}]}}


@pytest.fixture(scope="module")
def cluster():
    running = up(nodes=3, start_delay=0.05, controllers=("*", "-horizontalpodautoscaling"))  # this test runs its own
    yield running
    running.down()


def test_scales_a_deployment_up_and_down(cluster):
    admin = cluster.client(in_process=True)
    deployments, hpas = admin.deployments("default"), admin.resource("autoscaling/v2", "HorizontalPodAutoscaler")
    deployments.create(_deployment("web", 90))
    hpas.create(_hpa("web", "web"), namespace="default")
    client = cluster.client(in_process=True, user="system:kube-controller-manager", groups=())
    controller = HorizontalController(client, metrics=SimulatedMetrics(cluster.sim), sync_period=0.1,
                                      downscale_stabilization=0.5, namespace="default", rng=random.Random(3)).run()
    try:
        # 90 % of the request against a 50 % target: 1 -> 2 -> 4 (the maximum).
        wait_until(lambda: deployments.get("web")["spec"]["replicas"] == 4, 15, "never scaled up to 4")
        status = hpas.get("web", namespace="default")["status"]
        assert status["desiredReplicas"] == 4 and "lastScaleTime" in status
        wait_until(lambda: _conditions(hpas.get("web", namespace="default")["status"]["conditions"]).get(
            "ScalingLimited") == ("True", "TooManyReplicas"), 10)
        # The load drops: every Pod now uses 10 % of its request.
        wait_until(lambda: len(cluster.sim.pod_cpu_usage()) >= 4, 10)
        for pod in admin.pods("default").list(label_selector="app=web")["items"]:
            admin.pods("default").patch(pod["metadata"]["name"],
                                        {"metadata": {"annotations": {"sim.kit.dev/cpu-millicores": "10"}}})
        wait_until(lambda: deployments.get("web")["spec"]["replicas"] == 1, 15, "never scaled down to 1")
        status = hpas.get("web", namespace="default")["status"]
        assert status["currentMetrics"][0]["resource"]["current"]["averageUtilization"] <= 10
        assert _conditions(status["conditions"])["ScalingActive"] == ("True", "ValidMetricFound")
    finally:
        controller.stop()


def test_pods_without_requests(cluster):
    admin = cluster.client(in_process=True)
    deployment = _deployment("norequest", 50)
    deployment["spec"]["template"]["spec"]["containers"][0]["resources"] = {}
    admin.deployments("default").create(deployment)
    hpas = admin.resource("autoscaling/v2", "HorizontalPodAutoscaler")
    hpas.create(_hpa("norequest", "norequest"), namespace="default")
    client = cluster.client(in_process=True, user="system:kube-controller-manager", groups=())
    controller = HorizontalController(client, metrics=SimulatedMetrics(cluster.sim), sync_period=0.1,
                                      namespace="default", rng=random.Random(3)).run()
    try:
        def failing():
            conditions = (hpas.get("norequest", namespace="default").get("status") or {}).get("conditions") or []
            return any(c["type"] == "ScalingActive" and c["status"] == "False" and c["reason"] ==
                       "FailedGetResourceMetric" and "missing request for cpu" in c["message"] for c in conditions)
        wait_until(failing, 10, "ScalingActive never became False for the missing request")
        conditions = hpas.get("norequest", namespace="default")["status"]["conditions"]
        assert "missing request for cpu" in next(c["message"] for c in conditions if c["type"] == "ScalingActive")
        assert admin.deployments("default").get("norequest")["spec"]["replicas"] == 1
    finally:
        controller.stop()
