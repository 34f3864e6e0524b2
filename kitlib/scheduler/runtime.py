"""The framework runtime: a profile's plugins, called at each extension point for one Pod.

:class:`Framework` builds every plugin a :class:`~kitlib.scheduler.framework.Profile`
names (from a :class:`~kitlib.scheduler.framework.Registry`), sorts each into
the extension points it implements, and runs them with kube-scheduler's rules
(``pkg/scheduler/framework/runtime/framework.go``):

- PreFilter: all run; Skip drops that plugin's Filter for the cycle;
  UnschedulableAndUnresolvable stops at once; results narrowing the Nodes
  are intersected, and an empty intersection rejects the Pod.
- Filter: plugins run in order and the first that does not say Success
  decides, so a Node's reported reason comes from the earliest plugin.
- PostFilter: the first Success wins; otherwise the reasons are gathered.
- Score: each plugin scores every Node, then normalises its own list, then
  each score is checked against ``[0, 100]`` and multiplied by the plugin's weight.
- Reserve/Permit/PreBind/Bind/PostBind: in order, stopping at a failure;
  Bind plugins may Skip to let the next one bind.

The framework is also the plugins' :class:`~kitlib.scheduler.framework.Handle`:
the caller sets the cycle's Node snapshot with :meth:`Framework.set_snapshot`,
and preemption uses :meth:`Framework.run_filter_plugins` to try a Node
without some Pods.

Simplifications:
- No nominated Pods in Filter (``RunFilterPluginsWithNominatedPods`` also
  counts higher-priority Pods nominated to the Node); no metrics, no extenders.
- Permit's Wait is returned to the caller; there is no waiting-Pods map.
"""

from __future__ import annotations

import logging
import random
from typing import Any, Callable, Iterable

from kitlib.errors import KitError
from kitlib.scheduler.framework import (
    MAX_NODE_SCORE,
    MIN_NODE_SCORE,
    SUCCESS,
    Code,
    CycleState,
    NodePluginScores,
    NodeScore,
    NodeToStatus,
    PluginScore,
    PostFilterResult,
    PreFilterResult,
    Profile,
    Registry,
    Status,
    as_status,
)
from kitlib.scheduler.nodeinfo import NodeInfo

log = logging.getLogger(__name__)
Obj = dict[str, Any]


# Extension point -> the method that puts a plugin there (the Protocols in framework.py).
_POINTS = {"PreFilter": "pre_filter", "Filter": "filter", "PostFilter": "post_filter", "PreScore": "pre_score",
           "Score": "score", "Reserve": "reserve", "Permit": "permit", "PreBind": "pre_bind", "Bind": "bind",
           "PostBind": "post_bind"}


class FrameworkError(KitError, ValueError):
    """A profile that cannot be built: an unknown plugin name or bad arguments."""


class Framework:
    """One profile's plugins, ready to run; also the Handle the plugins were built with."""

    def __init__(self, profile: Profile, registry: Registry, rng: random.Random | None = None) -> None:
        self.profile = profile
        self.rng = rng if rng is not None else random.Random()
        self._snapshot: list[NodeInfo] = []
        self._by_name: dict[str, NodeInfo] | None = {}
        self.plugins: dict[str, Any] = {}
        self.weights: dict[str, int] = {}
        for spec in profile.plugins:
            factory = registry.get(spec.name)
            if factory is None:
                raise FrameworkError(f"plugin {spec.name!r} is not in the registry: known {sorted(registry)}")
            try:
                self.plugins[spec.name] = factory(profile.plugin_args.get(spec.name, {}), self)
            except (ValueError, TypeError) as err:
                raise FrameworkError(f"initializing plugin {spec.name!r}: {err}") from err
            self.weights[spec.name] = spec.weight or 1  # kube: a score plugin's weight 0 means 1
        ordered = [self.plugins[spec.name] for spec in profile.plugins]
        # As kube's multiPoint: a plugin joins every extension point whose method it has.
        points = {point: [p for p in ordered if callable(getattr(p, method, None))] for point, method in _POINTS.items()}
        self.pre_filter_plugins = points["PreFilter"]
        self.filter_plugins = points["Filter"]
        self.post_filter_plugins = points["PostFilter"]
        self.pre_score_plugins = points["PreScore"]
        self.score_plugins = points["Score"]
        self.reserve_plugins = points["Reserve"]
        self.permit_plugins = points["Permit"]
        self.pre_bind_plugins = points["PreBind"]
        self.bind_plugins = points["Bind"]
        self.post_bind_plugins = points["PostBind"]

    # --- the Handle --------------------------------------------------------------------------------------

    def set_snapshot(self, node_infos: Iterable[NodeInfo]) -> None:
        """The Nodes this cycle sees (kube: ``Cache.UpdateSnapshot`` at the start of each cycle)."""
        self._snapshot = list(node_infos)
        # Built on first use: most cycles never look a Node up by name (a nominated Pod or preemption
        # does), and building it costs O(nodes) per cycle (kube's Snapshot keeps its map up to date).
        self._by_name = None

    def node_infos(self) -> list[NodeInfo]:
        return list(self._snapshot)

    def get_node_info(self, name: str) -> NodeInfo | None:
        if self._by_name is None:
            self._by_name = {info.name: info for info in self._snapshot}
        return self._by_name.get(name)

    # --- PreFilter and Filter ----------------------------------------------------------------------------

    def run_pre_filter(self, state: CycleState, pod: Obj) -> tuple[PreFilterResult | None, Status, set[str]]:
        """Run every PreFilter plugin (``RunPreFilterPlugins``).

        Returns the merged result (``None``: all Nodes), the status (not
        Success: the cycle stops here), and the plugins that narrowed the Nodes.
        """
        result: PreFilterResult | None = None
        narrowing: set[str] = set()
        skip: set[str] = set()
        returned = SUCCESS
        nodes = self.node_infos()
        for plugin in self.pre_filter_plugins:
            plugin_result, status = plugin.pre_filter(state, pod, nodes)
            status = as_status(status)
            if status.is_skip():
                skip.add(plugin.NAME)
                continue
            if not status.is_success():
                status = status.with_plugin(plugin.NAME)
                if status.code == Code.UnschedulableAndUnresolvable:
                    return None, status, set()
                if status.code == Code.Unschedulable:
                    # Keep going: preemption may still run, and it needs every PreFilter's state (kube #119770).
                    returned = status
                    continue
                return None, _error(f"running PreFilter plugin {plugin.NAME!r}", status, plugin.NAME), set()
            if plugin_result is not None and not plugin_result.all_nodes():
                narrowing.add(plugin.NAME)
            result = plugin_result if result is None else result.merge(plugin_result)
            if result is not None and not result.all_nodes() and not result.node_names:
                names = sorted(narrowing)
                message = (f"node(s) didn't satisfy plugin {names[0]}" if len(names) == 1
                           else f"node(s) didn't satisfy plugin(s) {go_list(names)} simultaneously")
                return result, Status.new(Code.UnschedulableAndUnresolvable, message), narrowing
        state.skip_filter_plugins = skip
        return result, returned, narrowing

    def filter_runner(self, state: CycleState, pod: Obj) -> Callable[[NodeInfo], Status]:
        """:meth:`run_filter` for one cycle's many Nodes: the plugins PreFilter kept, looked up once, not per Node."""
        skip = state.skip_filter_plugins
        filters = tuple((plugin.NAME, plugin.filter) for plugin in self.filter_plugins if plugin.NAME not in skip)

        def run(node_info: NodeInfo) -> Status:
            for plugin_name, filter_ in filters:
                status = filter_(state, pod, node_info)
                if status is not None and status.code:  # None or Code.Success (0): the Node passes
                    if not status.is_rejected():
                        # Filter plugins should not return anything but Success or a rejection.
                        return _error(f"running {plugin_name!r} filter plugin", status, plugin_name)
                    return status.with_plugin(plugin_name)
            return SUCCESS

        return run

    def run_filter(self, state: CycleState, pod: Obj, node_info: NodeInfo) -> Status:
        """Run the Filter plugins on one Node; the first non-Success status, with its plugin, or Success."""
        return self.filter_runner(state, pod)(node_info)

    run_filter_plugins = run_filter  # the Handle's name for it, as in kube

    def run_filter_each(self, state: CycleState, pod: Obj, node_info: NodeInfo) -> dict[str, Status | None]:
        """Every Filter plugin's own verdict on one Node (``None``: skipped this cycle), for explaining."""
        verdicts: dict[str, Status | None] = {}
        for plugin in self.filter_plugins:
            if plugin.NAME in state.skip_filter_plugins:
                verdicts[plugin.NAME] = None
            else:
                verdicts[plugin.NAME] = as_status(plugin.filter(state, pod, node_info)).with_plugin(plugin.NAME)
        return verdicts

    def run_pre_filter_extension_add_pod(self, state: CycleState, pod: Obj, pod_to_add: Obj,
                                         node_info: NodeInfo) -> Status:
        return self._run_extension("add_pod", state, pod, pod_to_add, node_info)

    def run_pre_filter_extension_remove_pod(self, state: CycleState, pod: Obj, pod_to_remove: Obj,
                                            node_info: NodeInfo) -> Status:
        return self._run_extension("remove_pod", state, pod, pod_to_remove, node_info)

    def _run_extension(self, method: str, state: CycleState, pod: Obj, other: Obj, node_info: NodeInfo) -> Status:
        for plugin in self.pre_filter_plugins:
            extensions = _optional(plugin, "pre_filter_extensions")
            if extensions is None or plugin.NAME in state.skip_filter_plugins:
                continue
            status = as_status(getattr(extensions, method)(state, pod, other, node_info))
            if not status.is_success():
                return _error(f"running {method} on PreFilter plugin {plugin.NAME!r}", status, plugin.NAME)
        return SUCCESS

    # --- PostFilter ----------------------------------------------------------------------------------------

    def run_post_filter(self, state: CycleState, pod: Obj,
                        node_to_status: NodeToStatus) -> tuple[PostFilterResult | None, Status]:
        """Run PostFilter plugins until one succeeds (``RunPostFilterPlugins``)."""
        result: PostFilterResult | None = None
        reasons: list[str] = []
        rejector = ""
        for plugin in self.post_filter_plugins:
            plugin_result, status = plugin.post_filter(state, pod, node_to_status)
            status = as_status(status)
            if status.is_success():
                return plugin_result, status
            if status.code == Code.UnschedulableAndUnresolvable:
                return plugin_result, status.with_plugin(plugin.NAME)
            if not status.is_rejected():
                return None, _error(f"running PostFilter plugin {plugin.NAME!r}", status, plugin.NAME)
            if plugin_result is not None and plugin_result.nominated_node_name is not None:
                result = plugin_result
            reasons.extend(status.reasons)
            rejector = rejector or plugin.NAME
        return result, Status(Code.Unschedulable, tuple(reasons), rejector)

    # --- PreScore and Score ----------------------------------------------------------------------------------

    def run_pre_score(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> Status:
        """Run PreScore plugins; Skip drops that plugin's Score for the cycle, anything else is an error."""
        skip: set[str] = set()
        for plugin in self.pre_score_plugins:
            status = as_status(plugin.pre_score(state, pod, nodes))
            if status.is_skip():
                skip.add(plugin.NAME)
            elif not status.is_success():
                return _error(f"running PreScore plugin {plugin.NAME!r}", status, plugin.NAME)
        state.skip_score_plugins = skip
        return SUCCESS

    def run_scores(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> tuple[list[NodePluginScores], Status]:
        """Score every Node with every Score plugin, normalise, weight and sum (``RunScorePlugins``).

        Returns one :class:`NodePluginScores` per Node, in ``nodes`` order;
        each :class:`PluginScore` keeps the raw score and the weight too.
        Plugin by plugin, as kube's loops are: a column of scores per plugin, NodeScore
        objects only for the plugins that normalise (the others need none).
        """
        plugins = [p for p in self.score_plugins if p.NAME not in state.skip_score_plugins]
        names = [info.name for info in nodes]
        columns: list[tuple[str, int, list[int], list[int]]] = []  # (plugin, weight, raw, normalised)
        for plugin in plugins:
            score = plugin.score
            raw: list[int] = []
            append = raw.append
            for info in nodes:
                value, status = score(state, pod, info)
                if status is not None and status.code:  # anything but Success
                    return [], _error(f"plugin {plugin.NAME!r} failed", status, plugin.NAME)
                append(int(value))
            final = raw
            extensions = _optional(plugin, "score_extensions")
            if extensions is not None:
                scores = [NodeScore(name, value) for name, value in zip(names, raw)]
                status = as_status(extensions.normalize_score(state, pod, scores))
                if not status.is_success():
                    return [], _error(f"plugin {plugin.NAME!r} failed", status, plugin.NAME)
                final = [node_score.score for node_score in scores]
            columns.append((plugin.NAME, self.weights[plugin.NAME], raw, final))
        if any(column and (min(column) < MIN_NODE_SCORE or max(column) > MAX_NODE_SCORE)
               for _, _, _, column in columns):
            return [], _invalid_score(columns, len(nodes))
        if not columns:
            return [NodePluginScores(name, [], 0) for name in names], SUCCESS
        weighted = [final if weight == 1 else [value * weight for value in final] for _, weight, _, final in columns]
        totals = map(sum, zip(*weighted))
        return [_ColumnScores(name, total, columns, i) for i, (name, total) in enumerate(zip(names, totals))], SUCCESS

    # --- Reserve to PostBind ---------------------------------------------------------------------------------

    def run_reserve(self, state: CycleState, pod: Obj, node_name: str) -> Status:
        """Reserve in order; on the first failure the caller must call :meth:`run_unreserve`."""
        for plugin in self.reserve_plugins:
            status = as_status(plugin.reserve(state, pod, node_name))
            if not status.is_success():
                if status.is_rejected():
                    return status.with_plugin(plugin.NAME)
                return _error(f"running Reserve plugin {plugin.NAME!r}", status, plugin.NAME)
        return SUCCESS

    def run_unreserve(self, state: CycleState, pod: Obj, node_name: str) -> None:
        """Unreserve in reverse order (kube unwinds the Reserve plugins last to first)."""
        for plugin in reversed(self.reserve_plugins):
            if callable(getattr(plugin, "unreserve", None)):
                plugin.unreserve(state, pod, node_name)

    def run_permit(self, state: CycleState, pod: Obj, node_name: str) -> tuple[Status, float]:
        """Permit in order: a rejection stops; any Wait makes the result Wait with the shortest timeout."""
        wait: float | None = None
        waiting: list[str] = []
        for plugin in self.permit_plugins:
            status, timeout = plugin.permit(state, pod, node_name)
            status = as_status(status)
            if status.is_wait():
                wait = timeout if wait is None else min(wait, timeout)
                waiting.append(plugin.NAME)
            elif not status.is_success():
                if status.is_rejected():
                    return status.with_plugin(plugin.NAME), 0.0
                return _error(f"running Permit plugin {plugin.NAME!r}", status, plugin.NAME), 0.0
        if wait is not None:
            return Status.new(Code.Wait, f"one or more plugins asked to wait: {go_list(waiting)}"), wait
        return SUCCESS, 0.0

    def run_pre_bind(self, state: CycleState, pod: Obj, node_name: str) -> Status:
        for plugin in self.pre_bind_plugins:
            status = as_status(plugin.pre_bind(state, pod, node_name))
            if not status.is_success():
                if status.is_rejected():
                    return status.with_plugin(plugin.NAME)
                return _error(f"running PreBind plugin {plugin.NAME!r}", status, plugin.NAME)
        return SUCCESS

    def run_bind(self, state: CycleState, pod: Obj, node_name: str) -> Status:
        """The first Bind plugin that does not Skip binds; Skip if none took the Pod."""
        if not self.bind_plugins:
            return Status.new(Code.Skip)
        status = Status.new(Code.Skip)
        for plugin in self.bind_plugins:
            status = as_status(plugin.bind(state, pod, node_name))
            if status.is_skip():
                continue
            if not status.is_success():
                if status.is_rejected():
                    return status.with_plugin(plugin.NAME)
                return _error(f"running Bind plugin {plugin.NAME!r}", status, plugin.NAME)
            return status
        return status

    def run_post_bind(self, state: CycleState, pod: Obj, node_name: str) -> None:
        for plugin in self.post_bind_plugins:
            plugin.post_bind(state, pod, node_name)


class _ColumnScores(NodePluginScores):
    """A Node's :class:`NodePluginScores` whose per-plugin list is built when read.

    Selecting a host needs only the totals; the per-plugin :class:`PluginScore`
    objects (one per plugin per Node, hundreds per cycle) are for explaining a
    decision, so they are made from the plugins' score columns on demand.
    """

    __slots__ = ("_columns", "_index")

    def __init__(self, name: str, total: int, columns: list[tuple[str, int, list[int], list[int]]],
                 index: int) -> None:
        # Not the dataclass __init__: it would assign ``scores``, which is computed here.
        self.name, self.total_score, self._columns, self._index = name, total, columns, index

    @property  # type: ignore[override]
    def scores(self) -> list[PluginScore]:
        i = self._index
        return [PluginScore(plugin, final[i] * weight, raw[i], weight) for plugin, weight, raw, final in self._columns]


def _optional(plugin: Any, method: str) -> Any:
    """``plugin.method()`` if the plugin has it (PreFilterExtensions, ScoreExtensions), else None."""
    getter = getattr(plugin, method, None)
    return getter() if callable(getter) else None


def _invalid_score(columns: list[tuple[str, int, list[int], list[int]]], num_nodes: int) -> Status:
    """The Error for the first out-of-range score, Node by Node then plugin by plugin."""
    for i in range(num_nodes):
        for plugin, _, _, final in columns:
            if not MIN_NODE_SCORE <= final[i] <= MAX_NODE_SCORE:
                return Status.as_error(
                    f"plugin {plugin!r} returns an invalid score {final[i]}, it should in the range of "
                    f"[{MIN_NODE_SCORE}, {MAX_NODE_SCORE}] after normalizing").with_plugin(plugin)
    return SUCCESS  # not reached: the caller saw an invalid score


def _error(context: str, status: Status, plugin: str) -> Status:
    """An unexpected status as an Error carrying ``context: message`` (kube wraps with ``%w``)."""
    error = Status.as_error(f"{context}: {status.message()}")
    log.debug("unexpected status from plugin %s: %s", plugin, error.message())
    return Status(Code.Error, error.reasons, plugin, status.error or error.error)


def go_list(names: list[str]) -> str:
    """A string list as Go's ``%v`` prints it: ``[A B]``."""
    return "[" + " ".join(names) + "]"
