"""Pods and Nodes as the API serves them, built in one line each, for the scheduler's tables.

    node("n1", cpu="4", memory="8Gi", labels={"zone": "a"}, taints=[taint("k", "v")])
    pod("web", cpu="500m", priority=10, node_name="n1")

Only the fields a test gives are set, so a table row shows what matters.
"""

from __future__ import annotations

import random
from typing import Any

from kitlib.scheduler.framework import CycleState, PluginSpec, Profile
from kitlib.scheduler.nodeinfo import NodeInfo, node_infos
from kitlib.scheduler.plugins.registry import in_tree_registry, new_default_framework
from kitlib.scheduler.runtime import Framework

CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def node(name: str, cpu: str = "4", memory: str = "8Gi", pods: str = "110", labels: dict | None = None,
         taints: list | None = None, unschedulable: bool = False, extra: dict | None = None) -> dict:
    """A Ready Node with ``status.allocatable`` and the hostname label kubelet sets."""
    allocatable = {"cpu": cpu, "memory": memory, "pods": pods, **(extra or {})}
    spec: dict[str, Any] = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": spec, "status": {"allocatable": allocatable, "capacity": dict(allocatable)}}


def taint(key: str, value: str = "", effect: str = "NoSchedule") -> dict:
    return {"key": key, **({"value": value} if value else {}), "effect": effect}


def pod(name: str, cpu: str | None = None, memory: str | None = None, namespace: str = "default",
        node_name: str | None = None, priority: int | None = None, labels: dict | None = None,
        start: str | None = None, **spec: Any) -> dict:
    """A Pod with one container requesting ``cpu``/``memory``; ``spec`` adds fields (tolerations=...)."""
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    container: dict[str, Any] = {"name": "c", "image": "busybox"}
    if requests:
        container["resources"] = {"requests": requests}
    body: dict[str, Any] = {"containers": [container], **spec}
    if node_name:
        body["nodeName"] = node_name
    if priority is not None:
        body["priority"] = priority
    obj = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}",
                        "labels": dict(labels or {})},
           "spec": body, "status": {"phase": "Running" if node_name else "Pending"}}
    if start:
        obj["status"]["startTime"] = start
    return obj


def info(n: dict, *pods: dict) -> NodeInfo:
    return NodeInfo.of(n, pods)


def infos(nodes: list[dict], pods: list[dict] = ()) -> list[NodeInfo]:
    return node_infos(nodes, pods)


def framework_of(*plugins: Any, weights: dict[str, int] | None = None, rng: random.Random | None = None,
                 args: dict | None = None) -> Framework:
    """A framework running these plugin instances (or in-tree plugin names) in this order."""
    registry = in_tree_registry()
    specs = []
    for plugin in plugins:
        if isinstance(plugin, str):
            specs.append(PluginSpec(plugin, (weights or {}).get(plugin, 1)))
            continue
        registry[plugin.NAME] = lambda _args, _handle, plugin=plugin: plugin
        specs.append(PluginSpec(plugin.NAME, (weights or {}).get(plugin.NAME, 1)))
    return Framework(Profile(specs, dict(args or {})), registry, rng or random.Random(0))


def default_framework(seed: int = 0, **kwargs: Any) -> Framework:
    return new_default_framework(random.Random(seed), **kwargs)


def run_filter(plugin: Any, p: dict, node_info: NodeInfo, nodes: list[NodeInfo] | None = None):
    """PreFilter (if the plugin has one) then Filter, through a one-plugin framework: the final Status."""
    fwk = framework_of(plugin)
    fwk.set_snapshot(nodes if nodes is not None else [node_info])
    state = CycleState()
    _, status, _ = fwk.run_pre_filter(state, p)
    if not status.is_success():
        return status
    return fwk.run_filter(state, p, node_info)


def run_score(plugin: Any, p: dict, nodes: list[NodeInfo], all_nodes: list[NodeInfo] | None = None) -> dict[str, int]:
    """PreScore, Score and NormalizeScore (weight 1) over ``nodes``: {node name: score}."""
    fwk = framework_of(plugin)
    fwk.set_snapshot(all_nodes if all_nodes is not None else nodes)
    state = CycleState()
    status = fwk.run_pre_score(state, p, nodes)
    assert status.is_success(), status
    if plugin.NAME in state.skip_score_plugins:
        return {n.name: None for n in nodes}
    scores, status = fwk.run_scores(state, p, nodes)
    assert status.is_success(), status
    return {s.name: s.total_score for s in scores}
