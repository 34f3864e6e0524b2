"""The in-tree registry and kube's default profile: the plugins, their order, their weights."""

from __future__ import annotations

import random

from kitlib.scheduler.plugins.registry import DEFAULT_PLUGINS, default_profile, in_tree_registry, new_default_framework

from .helpers import default_framework


def test_default_profile_matches_kube_order_and_weights():
    fwk = default_framework()
    assert [p.NAME for p in fwk.filter_plugins] == ["NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity",
                                                    "NodeResourcesFit", "PodTopologySpread"]
    assert [(p.NAME, fwk.weights[p.NAME]) for p in fwk.score_plugins] == [
        ("TaintToleration", 3), ("NodeAffinity", 2), ("NodeResourcesFit", 1), ("PodTopologySpread", 2),
        ("NodeResourcesBalancedAllocation", 1)]
    assert [p.NAME for p in fwk.post_filter_plugins] == ["DefaultPreemption"]
    assert [p.NAME for p in fwk.bind_plugins] == ["DefaultBinder"]
    assert default_profile().plugins == list(DEFAULT_PLUGINS)


def test_every_default_plugin_is_registered():
    assert [spec.name for spec in DEFAULT_PLUGINS] == [name for name in in_tree_registry()]
    fwk = new_default_framework(random.Random(0))
    assert set(fwk.plugins) == set(in_tree_registry())
