"""The in-tree plugin registry and kube-scheduler's default profile.

``in_tree_registry()`` maps each plugin's name to its class (a class is its
own factory: ``Class(args, handle)``), as ``plugins.NewInTreeRegistry``.
``default_profile()`` lists them in the order of kube's default
``multiPoint`` set (``pkg/scheduler/apis/config/v1/default_plugins.go``),
with its Score weights:

=================================  ======
plugin                             weight
=================================  ======
NodeUnschedulable                  --
NodeName                           --
TaintToleration                    3
NodeAffinity                       2
NodeResourcesFit (LeastAllocated)  1
PodTopologySpread                  2
DefaultPreemption                  --
NodeResourcesBalancedAllocation    1
DefaultBinder                      --
=================================  ======

The order matters: a Node rejected by several Filter plugins reports the
first, so an untolerated taint is reported before a lack of CPU.

An out-of-tree plugin joins as in kube-scheduler (``app.WithPlugin``): merge
its factory into the registry and list it in the profile. To take over an
in-tree plugin's job at one extension point only, as a profile's
``plugins.filter.disabled`` does, :func:`disable_extension_point` hides that
plugin's method for that point and keeps the others.

Simplifications:
- kube's default set also has SchedulingGates, PrioritySort (the queue does
  both here), NodePorts, VolumeRestrictions, NodeVolumeLimits, VolumeBinding,
  VolumeZone, InterPodAffinity (weight 2) and ImageLocality (weight 1),
  not written yet; no system-default topology spreading.
"""

from __future__ import annotations

import random
import re
from typing import Any, Callable

from kitlib.scheduler.framework import PluginFactory, PluginSpec, Profile, Registry
from kitlib.scheduler.plugins import balanced_allocation, default_binder, default_preemption, node_affinity, \
    node_name, node_resources_fit, node_unschedulable, pod_topology_spread, taint_toleration
from kitlib.scheduler.plugins.default_binder import Binder
from kitlib.scheduler.runtime import Framework

DEFAULT_PLUGINS = (
    PluginSpec(node_unschedulable.NAME),
    PluginSpec(node_name.NAME),
    PluginSpec(taint_toleration.NAME, 3),
    PluginSpec(node_affinity.NAME, 2),
    PluginSpec(node_resources_fit.NAME, 1),
    PluginSpec(pod_topology_spread.NAME, 2),
    PluginSpec(default_preemption.NAME),
    PluginSpec(balanced_allocation.NAME, 1),
    PluginSpec(default_binder.NAME),
)


def in_tree_registry() -> Registry:
    """Every plugin of :mod:`kitlib.scheduler.plugins` by name."""
    registry = Registry()
    for name, factory in (
        (node_unschedulable.NAME, node_unschedulable.NodeUnschedulable),
        (node_name.NAME, node_name.NodeName),
        (taint_toleration.NAME, taint_toleration.TaintToleration),
        (node_affinity.NAME, node_affinity.NodeAffinity),
        (node_resources_fit.NAME, node_resources_fit.Fit),
        (pod_topology_spread.NAME, pod_topology_spread.PodTopologySpread),
        (default_preemption.NAME, default_preemption.DefaultPreemption),
        (balanced_allocation.NAME, balanced_allocation.BalancedAllocation),
        (default_binder.NAME, default_binder.DefaultBinder),
    ):
        registry.register(name, factory)
    return registry


def default_profile(binder: Binder | None = None, pdb_lister: Callable[[], list[dict]] | None = None,
                    percentage_of_nodes_to_score: int | None = None) -> Profile:
    """kube's default profile: NodeResourcesFit with LeastAllocated on cpu and memory, weight 1 each."""
    args: dict[str, dict[str, Any]] = {
        node_resources_fit.NAME: {"scoringStrategy": {"type": "LeastAllocated",
                                                      "resources": [{"name": "cpu", "weight": 1},
                                                                    {"name": "memory", "weight": 1}]}},
        balanced_allocation.NAME: {"resources": [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}]},
        default_binder.NAME: {"binder": binder},
        default_preemption.NAME: {"pdb_lister": pdb_lister},
    }
    return Profile(list(DEFAULT_PLUGINS), args, percentage_of_nodes_to_score=percentage_of_nodes_to_score)


def new_default_framework(rng: random.Random, binder: Binder | None = None,
                          pdb_lister: Callable[[], list[dict]] | None = None) -> Framework:
    """A :class:`Framework` running :func:`default_profile` with the in-tree plugins."""
    return Framework(default_profile(binder, pdb_lister), in_tree_registry(), rng)


class _WithoutMethod:
    """A plugin seen without one extension point's method; every other attribute is the plugin's own."""

    def __init__(self, plugin: Any, method: str) -> None:
        self._plugin, self._method = plugin, method

    def __getattr__(self, attr: str) -> Any:
        if attr == self._method:
            raise AttributeError(f"{self._plugin.NAME}.{attr} is disabled in this profile")
        return getattr(self._plugin, attr)


def disable_extension_point(registry: Registry, point: str, *names: str) -> Registry:
    """A copy of ``registry`` whose plugins ``names`` no longer run at ``point`` (kube's ``plugins.<point>.disabled``).

    ``disable_extension_point(in_tree_registry(), "Filter", "TaintToleration")``
    keeps TaintToleration's Score but drops its Filter, so an out-of-tree
    Filter plugin can take its place. The framework puts a plugin at every
    point whose method it has; hiding the method is how this says "not here".
    """
    method = re.sub(r"(?<!^)([A-Z])", r"_\1", point).lower()  # "PreFilter" -> "pre_filter"
    copy = Registry(registry)
    for name in names:
        if name not in registry:
            raise ValueError(f"cannot disable {point} of {name!r}: no such plugin in the registry")
        factory: PluginFactory = registry[name]
        copy[name] = lambda args, handle, factory=factory: _WithoutMethod(factory(args, handle), method)
    return copy
