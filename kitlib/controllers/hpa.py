"""The HorizontalPodAutoscaler controller: sets a workload's replicas from its Pods' CPU use.

kube-controller-manager's ``pkg/controller/podautoscaler``, for
``autoscaling/v2`` objects with a CPU ``Utilization`` target. Every
``sync_period`` (kube: ``--horizontal-pod-autoscaler-sync-period``, 15 s)
``sync`` (``reconcileAutoscaler``):

1. reads the target through its ``scale`` subresource (``spec.replicas``,
   ``status.selector``), never the workload itself;
2. asks a :class:`MetricsSource` for the CPU each selected Pod uses (kube
   asks metrics-server through the ``metrics.k8s.io`` API), divides by
   what the Pods request, and turns the utilisation into a replica count
   through the :data:`replica_formula` slot (``desired_replicas``: ``ceil(
   pods x utilisation / target)``, unchanged within a 10 % tolerance);
3. stabilises the recommendation (the highest over the last 300 s when
   scaling down, so a dip does not remove Pods), limits the rate (at most
   double, or +4, per period when scaling up), clamps it to
   ``minReplicas..maxReplicas``;
4. writes the new count through ``scale`` and the HPA's status:
   ``currentReplicas``, ``desiredReplicas``, ``currentMetrics``,
   ``lastScaleTime`` and the conditions ``AbleToScale``, ``ScalingActive``
   and ``ScalingLimited`` with kube's reasons.

Simplifications:
- CPU ``Resource`` metrics with a ``Utilization`` or ``AverageValue``
  target only; ``Pods``, ``Object``, ``External`` and ``ContainerResource``
  metrics are ignored (an HPA with none usable reports ``ScalingActive``
  False, ``FailedGetResourceMetric``).
- Unready Pods are not given kube's CPU-initialisation window
  (``--horizontal-pod-autoscaler-cpu-initialization-period``): a Pod not
  Running and Ready is "unready" whatever its age.
- Recommendations and scale events live in the controller's memory, as in
  kube, so a restarted controller forgets its stabilisation window.
- No Events; the scale target's kind is resolved from a fixed table
  (kube uses the RESTMapper).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Protocol

from kitlib.api.meta import deep_copy, key_of, namespace, rfc3339
from kitlib.api.quantity import parse_quantity
from kitlib.api.selectors import Selector, parse_label_selector
from kitlib.client.indexer import NAMESPACE_INDEX
from kitlib.controllers.base import Controller, unwrap
from kitlib.controllers.controller_utils import is_pod_ready
from kitlib.slots import Slot

log = logging.getLogger(__name__)

Obj = dict[str, Any]

SYNC_PERIOD = 15.0  # --horizontal-pod-autoscaler-sync-period
TOLERANCE = 0.1  # --horizontal-pod-autoscaler-tolerance
DOWNSCALE_STABILIZATION = 300.0  # --horizontal-pod-autoscaler-downscale-stabilization
SCALE_UP_LIMIT_FACTOR, SCALE_UP_LIMIT_MINIMUM = 2.0, 4  # scaleUpLimitFactor, scaleUpLimitMinimum

# What the scale subresource is served on, per scaleTargetRef kind (kube asks the RESTMapper).
SCALABLE = {"Deployment": "deployments", "ReplicaSet": "replicasets", "StatefulSet": "statefulsets",
            "ReplicationController": "replicationcontrollers"}


def desired_replicas(current_replicas: int, current_utilisation: float, target_utilisation: float,
                     tolerance: float = TOLERANCE) -> int:
    """The replicas that bring ``current_utilisation`` to ``target_utilisation`` (percentages).

    kube's ``GetResourceReplicas``: the usage ratio is utilisation / target;
    within ``tolerance`` of 1 nothing changes (so noise does not make the
    count flap), else ``ceil(ratio x current_replicas)``.
    """
    ratio = current_utilisation / target_utilisation
    if abs(1.0 - ratio) <= tolerance:
        return current_replicas
    return math.ceil(ratio * current_replicas)


replica_formula = Slot(
    "controllers.hpa.replica_formula",
    desired_replicas,
    doc="(current_replicas, current_utilisation, target_utilisation, tolerance=0.1) -> int: the HPA's replica count.",
)


class MetricsSource(Protocol):
    """Where CPU use comes from: kube's metrics client reading ``metrics.k8s.io`` from metrics-server."""

    def pod_cpu_millicores(self, namespace: str, selector: Selector) -> dict[str, int]:
        """Millicores used now by each running Pod of ``namespace`` the selector matches, by Pod name."""


class SimulatedMetrics:
    """A :class:`MetricsSource` over a :class:`~kitlib.cluster.sim.SimulatedCluster`'s ``pod_cpu_usage``.

    The hollow kubelets know their Pods' use (annotation
    ``sim.kit.dev/cpu-millicores``), as a kubelet's cAdvisor does; they
    do not know labels, so the selector is applied by the controller,
    which only keeps the Pods it listed. ``cluster`` may be set after the
    controller starts (the controller manager starts before the nodes);
    until then there are no metrics.
    """

    def __init__(self, cluster: Any = None) -> None:
        self.cluster = cluster

    def pod_cpu_millicores(self, namespace: str, selector: Selector) -> dict[str, int]:
        if self.cluster is None:
            return {}
        prefix = f"{namespace}/"
        return {key[len(prefix):]: cpu for key, cpu in self.cluster.pod_cpu_usage().items() if key.startswith(prefix)}


class NoMetrics:
    """A :class:`MetricsSource` with nothing to report (a cluster without metrics-server)."""

    def pod_cpu_millicores(self, namespace: str, selector: Selector) -> dict[str, int]:
        return {}


class MetricsError(Exception):
    """The replica count could not be computed (kube: the error of ``GetResourceReplicas``)."""


@dataclass
class Recommendation:
    replicas: int
    time: float


def _millicores(text: Any) -> int:
    return int(parse_quantity(str(text)).value * 1000)


def pod_cpu_request(pod: Obj) -> int:
    """The CPU a Pod's containers request, in millicores (``calculatePodRequests``); raises if one has none."""
    total = 0
    for container in (pod.get("spec") or {}).get("containers") or []:
        request = ((container.get("resources") or {}).get("requests") or {}).get("cpu")
        if request is None:
            raise MetricsError(f"missing request for cpu in container {container.get('name')} of Pod "
                               f"{pod['metadata']['name']}")
        total += _millicores(request)
    return total


def cpu_replicas(pods: list[Obj], usage: dict[str, int], current: int, target: int,
                 tolerance: float) -> tuple[int, int, int]:
    """``GetResourceReplicas``: (replicas, utilisation %, average millicores) for these Pods and this use."""
    if not pods:
        raise MetricsError("no pods returned by selector while calculating replica count")
    live = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") != "Failed"]
    ready = [p for p in live if (p.get("status") or {}).get("phase") == "Running" and is_pod_ready(p)]
    unready = [p for p in live if p not in ready]
    measured = {p["metadata"]["name"]: p for p in ready if p["metadata"]["name"] in usage}
    missing = [p for p in ready if p["metadata"]["name"] not in usage]
    if not measured:
        raise MetricsError("did not receive metrics for targeted pods (pods might be unready)")
    requests = {n: pod_cpu_request(p) for n, p in measured.items()}
    for p in unready + missing:
        requests.setdefault(p["metadata"]["name"], pod_cpu_request(p))
    used = sum(usage[n] for n in measured)
    utilisation = int(used * 100 / sum(requests[n] for n in measured)) if sum(requests[n] for n in measured) else 0
    average = used // len(measured)
    ratio = utilisation / target
    if not missing and not (unready and ratio > 1.0):
        return replica_formula(len(measured), utilisation, target, tolerance), utilisation, average
    # Rebalance as kube does: missing Pods count as using their whole request when scaling down and
    # nothing when scaling up; unready Pods count as using nothing, and only when scaling up.
    rebalanced = dict((n, usage[n]) for n in measured)
    for p in missing:
        rebalanced[p["metadata"]["name"]] = requests[p["metadata"]["name"]] if ratio < 1.0 else 0
    if ratio > 1.0:
        for p in unready:
            rebalanced[p["metadata"]["name"]] = 0
    new_util = int(sum(rebalanced.values()) * 100 / sum(requests[n] for n in rebalanced))
    new_ratio = new_util / target
    if abs(1.0 - new_ratio) <= tolerance or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current, utilisation, average  # the rebalance changed the direction: do nothing
    proposed = replica_formula(len(rebalanced), new_util, target, tolerance)
    if (new_ratio < 1.0 and proposed > current) or (new_ratio > 1.0 and proposed < current):
        return current, utilisation, average
    return proposed, utilisation, average


def _condition(conditions: list[Obj], kind: str, status: bool, reason: str, message: str, now: str) -> None:
    """``setCondition``: lastTransitionTime moves only when the status changes."""
    value = "True" if status else "False"
    for c in conditions:
        if c["type"] == kind:
            if c["status"] != value:
                c["lastTransitionTime"] = now
            c.update(status=value, reason=reason, message=message)
            return
    conditions.append({"type": kind, "status": value, "lastTransitionTime": now, "reason": reason, "message": message})


class HorizontalController(Controller):
    """kube's ``HorizontalController``: HPAs and Pods in, ``scale`` writes and HPA status out."""

    name = "horizontalpodautoscaling"
    kind = "HorizontalPodAutoscaler"
    api_version = "autoscaling/v2"

    def __init__(self, client, *, metrics: MetricsSource | None = None, sync_period: float = SYNC_PERIOD,
                 tolerance: float = TOLERANCE, downscale_stabilization: float = DOWNSCALE_STABILIZATION,
                 **options: Any) -> None:
        super().__init__(client, **options)
        self.metrics = metrics or NoMetrics()
        self.sync_period, self.tolerance = sync_period, tolerance
        self.downscale_stabilization = downscale_stabilization
        self.recommendations: dict[str, list[Recommendation]] = {}
        self.scale_events: dict[str, list[tuple[float, int]]] = {}  # key -> (time, replica change)
        self.hpas = self.informer(("autoscaling/v2", "HorizontalPodAutoscaler"), primary=True)
        self.hpas.add_event_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                                    on_delete=self.delete_hpa)
        self.pods = self.informer(("v1", "Pod"))  # kube's podLister: which Pods the selector picks, their requests

    def delete_hpa(self, obj: Obj) -> None:
        key = key_of(unwrap(obj))
        self.recommendations.pop(key, None)
        self.scale_events.pop(key, None)
        self.enqueue(key)

    def sync(self, key: str) -> None:
        hpa = self.hpas.indexer.get_by_key(key)
        if hpa is None:
            self.recommendations.pop(key, None)
            self.scale_events.pop(key, None)
            return
        try:
            self.reconcile(deep_copy(hpa))
        finally:
            # kube's queue re-adds every HPA after each sync: a fixed-interval resync, even after an error.
            self.enqueue_after(key, self.sync_period)

    def reconcile(self, hpa: Obj) -> None:
        """``reconcileAutoscaler``: one look at the metrics, at most one write of ``scale``."""
        key, ns = key_of(hpa), namespace(hpa)
        spec, status = hpa.get("spec") or {}, deep_copy(hpa.get("status") or {})
        conditions = status.setdefault("conditions", [])
        now_wall = self.clock.wall()
        stamp = rfc3339(now_wall)
        ref = spec.get("scaleTargetRef") or {}
        resource = SCALABLE.get(ref.get("kind", ""))
        try:
            if resource is None:
                raise LookupError(f"unable to determine resource for scale target reference: kind {ref.get('kind')!r}")
            scale = self.client.resource(resource).get_scale(ref.get("name", ""), namespace=ns)
        except Exception as err:  # noqa: BLE001 (reported in status, then retried)
            _condition(conditions, "AbleToScale", False, "FailedGetScale",
                       f"the HPA controller was unable to get the target's current scale: {err}", stamp)
            self.write_status(hpa, status)
            raise
        _condition(conditions, "AbleToScale", True, "SucceededGetScale",
                   "the HPA controller was able to get the target's current scale", stamp)
        current = (scale.get("spec") or {}).get("replicas", 0)
        least, most = spec.get("minReplicas", 1), spec.get("maxReplicas", 1)
        status["currentReplicas"] = (scale.get("status") or {}).get("replicas", 0)
        desired, metric_error = 0, None
        if current == 0 and least != 0:
            # kube: a target scaled to zero by hand is left alone.
            _condition(conditions, "ScalingActive", False, "ScalingDisabled",
                       "scaling is disabled since the replica count of the target is zero", stamp)
        elif current > most or current < least:
            desired = most if current > most else least  # outside the range: back inside it, no metrics needed
            _condition(conditions, "ScalingActive", True, "ScalingActive", "the HPA controller is able to scale", stamp)
            _condition(conditions, "ScalingLimited", True, "TooManyReplicas" if current > most else "TooFewReplicas",
                       "the desired replica count is more than the maximum replica count" if current > most
                       else "the desired replica count is less than the minimum replica count", stamp)
        else:
            try:
                proposal, metrics = self.compute_replicas(hpa, scale, current)
            except Exception as err:  # noqa: BLE001 (reported in status, then retried)
                metric_error = err
                _condition(conditions, "ScalingActive", False, "FailedGetResourceMetric",
                           f"the HPA was unable to compute the replica count: {err}", stamp)
                status["desiredReplicas"] = current
                self.write_status(hpa, status)
                raise
            status["currentMetrics"] = metrics
            _condition(conditions, "ScalingActive", True, "ValidMetricFound",
                       "the HPA was able to successfully calculate a replica count from cpu resource utilization "
                       "(percentage of request)", stamp)
            desired = self.normalize(key, spec, current, proposal, conditions, stamp)
        if desired != current and metric_error is None and not (current == 0 and least != 0):
            try:
                scale = deep_copy(scale)
                scale["spec"]["replicas"] = desired
                self.client.resource(resource).update_scale(ref["name"], scale, namespace=ns)
            except Exception as err:  # noqa: BLE001 (reported in status, then retried)
                _condition(conditions, "AbleToScale", False, "FailedUpdateScale",
                           f"the HPA controller was unable to update the target scale: {err}", stamp)
                self.write_status(hpa, status)
                raise
            _condition(conditions, "AbleToScale", True, "SucceededRescale",
                       f"the HPA controller was able to update the target scale to {desired}", stamp)
            self.scale_events.setdefault(key, []).append((self.clock.now(), desired - current))
            status["lastScaleTime"] = stamp
            log.info("HPA %s: scaled %s %s from %d to %d", key, ref.get("kind"), ref.get("name"), current, desired)
        status["desiredReplicas"] = desired
        self.write_status(hpa, status)

    def compute_replicas(self, hpa: Obj, scale: Obj, current: int) -> tuple[int, list[Obj]]:
        """The replicas the CPU metric asks for, and ``status.currentMetrics`` (``computeReplicasForMetrics``)."""
        ns = namespace(hpa)
        selector_text = (scale.get("status") or {}).get("selector") or ""
        if not selector_text:
            raise MetricsError("selector is required")  # kube: InvalidSelector
        selector = parse_label_selector(selector_text)
        for metric in (hpa.get("spec") or {}).get("metrics") or []:
            resource = metric.get("resource") or {}
            if metric.get("type") != "Resource" or resource.get("name") != "cpu":
                continue
            target = resource.get("target") or {}
            pods = [p for p in self.pods.indexer.by_index(NAMESPACE_INDEX, ns)
                    if selector.matches(p["metadata"].get("labels"))]
            usage = self.metrics.pod_cpu_millicores(ns, selector)
            if target.get("type") == "AverageValue":
                # GetRawResourceReplicas: the usage against an absolute per-Pod value.
                ready = [p for p in pods if p["metadata"]["name"] in usage]
                if not ready:
                    raise MetricsError("did not receive metrics for targeted pods (pods might be unready)")
                average = sum(usage[p["metadata"]["name"]] for p in ready) // len(ready)
                replicas = replica_formula(len(ready), average, _millicores(target.get("averageValue")), self.tolerance)
                return replicas, [{"type": "Resource", "resource": {"name": "cpu", "current": {
                    "averageValue": f"{average}m"}}}]
            replicas, utilisation, average = cpu_replicas(pods, usage, current, target.get("averageUtilization", 80),
                                                          self.tolerance)
            return replicas, [{"type": "Resource", "resource": {"name": "cpu", "current": {
                "averageUtilization": utilisation, "averageValue": f"{average}m"}}}]
        raise MetricsError("no cpu Resource metric with a Utilization or AverageValue target")

    def normalize(self, key: str, spec: Obj, current: int, proposal: int, conditions: list[Obj], stamp: str) -> int:
        """Stabilise, rate-limit and clamp a recommendation (``normalizeDesiredReplicas[WithBehaviors]``)."""
        now, behavior = self.clock.now(), spec.get("behavior") or {}
        up, down = behavior.get("scaleUp") or {}, behavior.get("scaleDown") or {}
        up_window = up.get("stabilizationWindowSeconds", 0)
        down_window = down.get("stabilizationWindowSeconds", self.downscale_stabilization)
        history = [r for r in self.recommendations.get(key, [])
                   if r.time > now - max(up_window, down_window, self.downscale_stabilization)]
        # The highest recommendation of the down window and the lowest of the up window bound the change,
        # so a short dip (or spike) does not move the count: kube's stabilizeRecommendationWithBehaviors.
        up_bound = min([proposal] + [r.replicas for r in history if r.time > now - up_window])
        down_bound = max([proposal] + [r.replicas for r in history if r.time > now - down_window])
        stabilised = min(max(current, up_bound), down_bound)
        self.recommendations[key] = history + [Recommendation(proposal, now)]

        least, most = spec.get("minReplicas", 1), spec.get("maxReplicas", 1)
        up_limit = self.rate_limit(key, current, up, now, increase=True)
        down_limit = self.rate_limit(key, current, down, now, increase=False)
        desired, reason, message = stabilised, "DesiredWithinRange", "the desired count is within the acceptable range"
        if stabilised > current and stabilised > min(most, up_limit):
            desired = min(most, up_limit)
            reason, message = (("ScaleUpLimit", "the desired replica count is increasing faster than the maximum "
                                "scale rate") if up_limit < most else
                               ("TooManyReplicas", "the desired replica count is more than the maximum replica count"))
        elif stabilised < current and stabilised < max(least, down_limit):
            desired = max(least, down_limit)
            reason, message = (("ScaleDownLimit", "the desired replica count is decreasing faster than the maximum "
                                "scale rate") if down_limit > least else
                               ("TooFewReplicas", "the desired replica count is less than the minimum replica count"))
        elif stabilised < least:
            desired, reason = least, "TooFewReplicas"
            message = "the desired replica count is less than the minimum replica count"
        elif stabilised > most:
            desired, reason = most, "TooManyReplicas"
            message = "the desired replica count is more than the maximum replica count"
        _condition(conditions, "ScalingLimited", reason != "DesiredWithinRange", reason, message, stamp)
        return desired

    def rate_limit(self, key: str, current: int, rules: Obj, now: float, *, increase: bool) -> int:
        """The most (fewest) replicas the policies allow now (``calculateScale{Up,Down}LimitWithScalingRules``).

        Without a ``behavior``, kube's defaults: up to double or +4 (the
        larger) per 15 s period, and down to any count.
        """
        policies = rules.get("policies") or (
            [{"type": "Pods", "value": SCALE_UP_LIMIT_MINIMUM, "periodSeconds": 15},
             {"type": "Percent", "value": int((SCALE_UP_LIMIT_FACTOR - 1) * 100), "periodSeconds": 15}] if increase
            else [{"type": "Percent", "value": 100, "periodSeconds": 15}])
        select = rules.get("selectPolicy", "Max")
        if select == "Disabled":
            return current
        limits = []
        for policy in policies:
            # The replicas at the start of the policy's period: what was added (removed) since is undone.
            changes = sum(c for t, c in self.scale_events.get(key, []) if t > now - policy.get("periodSeconds", 15))
            start = current - changes
            value = policy.get("value", 0)
            if increase:
                limits.append(start + value if policy.get("type") == "Pods" else math.ceil(start * (1 + value / 100)))
            else:
                limits.append(start - value if policy.get("type") == "Pods" else math.ceil(start * (1 - value / 100)))
        pick = max if (select == "Max") == increase else min
        limit = pick(limits)
        return max(limit, current) if increase else min(limit, current)

    def write_status(self, hpa: Obj, status: Obj) -> None:
        if status == (hpa.get("status") or {}):
            return
        hpa["status"] = status
        self.client.resource("autoscaling/v2", "HorizontalPodAutoscaler").update_status(hpa)
