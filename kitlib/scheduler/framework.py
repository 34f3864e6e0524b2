"""The scheduling framework's vocabulary: every extension point, status code and result in one file.

kube-scheduler decides where a Pod runs by calling plugins at fixed points of
a *scheduling cycle* (``pkg/scheduler/framework/interface.go``):

    PreFilter -> Filter (each Node) -> [PostFilter if no Node passed]
      -> PreScore -> Score (each feasible Node) -> NormalizeScore -> pick the best
      -> Reserve -> Permit -> PreBind -> Bind -> PostBind

This module declares each point as a small Protocol whose docstring is the
contract a plugin must keep, the :class:`Status` a plugin answers with (an
expected outcome such as "does not fit" is a value, never an exception), the
:class:`CycleState` a plugin uses to pass data from PreFilter to Filter, and
the :class:`Registry` and :class:`Profile` that say which plugins run. The
engine that calls them is :mod:`kitlib.scheduler.runtime`; the plugins live
in :mod:`kitlib.scheduler.plugins`, one module each.

A plugin is any object with a ``NAME`` and the methods of the points it
serves: the framework puts it at every point whose method it has (kube's
``multiPoint``); ``pre_filter_extensions`` and ``score_extensions`` are
optional. Methods take the cycle state first, then the Pod, as kube's do
(without the ``ctx``). ``None`` where a Status is expected means Success,
like a nil ``*Status`` in Go.

Simplifications:
- No QueueSort, PreEnqueue or EnqueueExtensions points here: the scheduling
  queue (``queue.py``) orders and requeues Pods itself.
- Permit may return Wait, but the framework does not park waiting Pods; the
  caller decides what to do with a Wait.
- Plugins are synchronous and run one Node at a time (kube runs Filter and
  Score on 16 goroutines); results are identical, only slower.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Protocol

from kitlib.scheduler.nodeinfo import NodeInfo  # noqa: F401 (re-exported: NodeInfo is part of this vocabulary)

Obj = dict[str, Any]

MAX_NODE_SCORE = 100  # the highest score a Score plugin may give, after NormalizeScore
MIN_NODE_SCORE = 0


class Code(enum.IntEnum):
    """What a plugin's answer means, and so what the scheduler does next (``framework.Code``).

    - ``Success``: the plugin ran and the Pod may proceed (the Node fits, the
      score is valid, the Pod is bound). ``None`` means Success too.
    - ``Error``: something unexpected (a bug, an API error, missing state).
      Never use it for "does not fit": the Pod is retried after back-off
      without waiting for a cluster event.
    - ``Unschedulable``: the Pod does not fit *now*, and evicting other Pods
      might help; PostFilter (preemption) runs for Nodes with this code.
      The reasons say why ("Insufficient cpu").
    - ``UnschedulableAndUnresolvable``: the Pod does not fit and preemption
      cannot change that (wrong node name, an untolerated taint, a node
      selector that does not match). Preemption skips such Nodes.
    - ``Wait``: only from Permit; the Pod waits before binding (gang scheduling).
    - ``Skip``: "nothing to do for this Pod": from PreFilter, the plugin's
      Filter is skipped this cycle; from PreScore, its Score is skipped; from
      Bind, another Bind plugin should bind this Pod.
    - ``Pending``: the cycle succeeded but must wait for something outside the
      scheduler (kube's DRA plugin); no back-off. No plugin here uses it.
    """

    Success = 0
    Error = 1
    Unschedulable = 2
    UnschedulableAndUnresolvable = 3
    Wait = 4
    Skip = 5
    Pending = 6

    def __str__(self) -> str:  # kube prints the name: "Unschedulable"
        return self.name


@dataclass(frozen=True)
class Status:
    """A plugin's answer: a :class:`Code`, the reasons in words, and the plugin that gave it.

    ``Status(Code.Unschedulable, ("Insufficient cpu",))``; the framework fills
    in ``plugin``. ``error`` keeps the exception behind an ``Error`` status.
    """

    code: Code = Code.Success
    reasons: tuple[str, ...] = ()
    plugin: str = ""
    error: BaseException | None = field(default=None, compare=False)

    @classmethod
    def new(cls, code: Code, *reasons: str) -> "Status":
        """``framework.NewStatus(code, reasons...)``."""
        return cls(code, tuple(reasons))

    @classmethod
    def as_error(cls, error: BaseException | str) -> "Status":
        """``framework.AsStatus``: an unexpected failure as an ``Error`` status."""
        exc = error if isinstance(error, BaseException) else RuntimeError(error)
        return cls(Code.Error, (str(exc),), error=exc)

    def with_plugin(self, plugin: str) -> "Status":
        return Status(self.code, self.reasons, plugin, self.error)  # a Status is a value: a new one

    def message(self) -> str:
        """The reasons joined by ``", "``, as ``Status.Message()``."""
        return ", ".join(self.reasons)

    def is_success(self) -> bool:
        return self.code == Code.Success

    def is_wait(self) -> bool:
        return self.code == Code.Wait

    def is_skip(self) -> bool:
        return self.code == Code.Skip

    def is_rejected(self) -> bool:
        """Unschedulable, UnschedulableAndUnresolvable or Pending: "the Pod cannot go here"."""
        return self.code in (Code.Unschedulable, Code.UnschedulableAndUnresolvable, Code.Pending)

    def __str__(self) -> str:
        return self.message()


SUCCESS = Status()


def as_status(status: Status | None) -> Status:
    """A plugin's return value as a Status (``None`` is Success)."""
    return SUCCESS if status is None else status


class CycleState:
    """Scratch space for one Pod's scheduling cycle (``framework.CycleState``).

    PreFilter computes something once (the Pod's requests, its spread
    constraints) and writes it under a key, conventionally
    ``"PreFilter" + plugin name``; Filter reads it for every Node. A value
    with a ``clone()`` method is cloned by :meth:`clone` (preemption tries
    each Node on its own copy); other values are shared and must not change.
    """

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self.get = self._data.get  # get(key, default=None): the dict's own, as plugins call it for every Node
        self.skip_filter_plugins: set[str] = set()
        self.skip_score_plugins: set[str] = set()

    def read(self, key: str) -> Any:
        """The value under ``key``; ``KeyError`` if nobody wrote it (PreFilter did not run)."""
        return self._data[key]

    def write(self, key: str, value: Any) -> None:
        self._data[key] = value

    def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def clone(self) -> "CycleState":
        other = CycleState()
        other._data.update((k, v.clone() if hasattr(v, "clone") else v) for k, v in self._data.items())
        other.skip_filter_plugins = set(self.skip_filter_plugins)
        other.skip_score_plugins = set(self.skip_score_plugins)
        return other


@dataclass(frozen=True)
class PreFilterResult:
    """The Nodes worth filtering, if a PreFilter plugin can tell cheaply; ``None`` means all Nodes."""

    node_names: frozenset[str] | None = None

    def all_nodes(self) -> bool:
        return self.node_names is None

    def merge(self, other: "PreFilterResult | None") -> "PreFilterResult":
        """The intersection: every plugin's narrowing applies (``PreFilterResult.Merge``)."""
        if other is None or other.all_nodes():
            return self
        if self.all_nodes():
            return other
        return PreFilterResult(self.node_names & other.node_names)


@dataclass(frozen=True)
class PostFilterResult:
    """What a PostFilter plugin achieved: the Node nominated for the Pod, and who must go.

    ``nominated_node_name`` is ``None`` to leave the Pod's nomination alone,
    ``""`` to clear it, a name to set ``status.nominatedNodeName``. ``victims``
    are the Pods to delete so the Pod fits there; the caller deletes them.
    """

    nominated_node_name: str | None = None
    victims: tuple[Obj, ...] = ()


@dataclass(slots=True)  # slots: hundreds are made per cycle
class NodeScore:
    """One Node's score from one plugin; NormalizeScore rewrites ``score`` in place."""

    name: str
    score: int


@dataclass(slots=True)  # a value, but not frozen: a frozen dataclass takes 4x as long to build, per plugin per Node
class PluginScore:
    """A plugin's contribution to a Node's total: ``score`` is normalised and weighted; do not change it."""

    name: str
    score: int
    raw: int = 0
    weight: int = 1


@dataclass(slots=True)
class NodePluginScores:
    """A Node, its scores from every plugin, and their sum (``framework.NodePluginScores``)."""

    name: str
    scores: list[PluginScore]
    total_score: int = 0


class NodeToStatus:
    """Why each Node was rejected; Nodes never filtered share ``absent`` (``framework.NodeToStatus``).

    When PreFilter rejects the Pod, or narrows the Nodes, the Nodes it left
    out are not listed one by one: they all have the absent status, which is
    UnschedulableAndUnresolvable unless said otherwise.
    """

    def __init__(self, statuses: Mapping[str, Status] | None = None, absent: Status | None = None) -> None:
        self.statuses: dict[str, Status] = dict(statuses or {})
        self.absent = absent or Status(Code.UnschedulableAndUnresolvable)

    def get(self, node_name: str) -> Status:
        return self.statuses.get(node_name, self.absent)

    def set(self, node_name: str, status: Status) -> None:
        self.statuses[node_name] = status

    def __len__(self) -> int:
        return len(self.statuses)

    def nodes_for_status_code(self, nodes: Iterable[NodeInfo], code: Code) -> list[NodeInfo]:
        """The Nodes (from ``nodes``, in order) whose status, explicit or absent, has ``code``."""
        return [info for info in nodes if self.get(info.name).code == code]


# --- extension points ---------------------------------------------------------------------------------------


class Plugin(Protocol):
    NAME: str  # used in profiles, in Status.plugin and in the registry


class Handle(Protocol):
    """What the framework lends plugins (``framework.Handle``): the snapshot and a way to run filters."""

    rng: Any

    def node_infos(self) -> list[NodeInfo]:
        """Every Node of this cycle's snapshot, in a stable order."""

    def get_node_info(self, name: str) -> NodeInfo | None: ...

    def run_filter_plugins(self, state: CycleState, pod: Obj, node_info: NodeInfo) -> Status: ...

    def run_pre_filter_extension_add_pod(self, state: CycleState, pod: Obj, pod_to_add: Obj,
                                         node_info: NodeInfo) -> Status: ...

    def run_pre_filter_extension_remove_pod(self, state: CycleState, pod: Obj, pod_to_remove: Obj,
                                            node_info: NodeInfo) -> Status: ...


class PreFilterExtensions(Protocol):
    """Incremental updates to PreFilter state while preemption tries removing (or re-adding) Pods."""

    def add_pod(self, state: CycleState, pod: Obj, pod_to_add: Obj, node_info: NodeInfo) -> Status | None: ...

    def remove_pod(self, state: CycleState, pod: Obj, pod_to_remove: Obj, node_info: NodeInfo) -> Status | None: ...


class PreFilterPlugin(Plugin, Protocol):
    def pre_filter(self, state: CycleState, pod: Obj,
                   nodes: list[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        """Called once per cycle, before any Filter. Every PreFilter must succeed or the Pod is rejected.

        May return a :class:`PreFilterResult` naming the only Nodes worth
        filtering; the others count as UnschedulableAndUnresolvable (so no
        preemption there). Returning Skip skips this plugin's Filter for the cycle.
        """

    def pre_filter_extensions(self) -> PreFilterExtensions | None:
        """Optional: the add_pod/remove_pod callbacks, or ``None`` if the state needs no update."""


class FilterPlugin(Plugin, Protocol):
    def filter(self, state: CycleState, pod: Obj, node_info: NodeInfo) -> Status | None:
        """Can ``pod`` run on this Node? Success, Unschedulable, UnschedulableAndUnresolvable or Error.

        Read the Node only from ``node_info``: during preemption it is a copy
        with some Pods removed. Anything but Success excludes the Node.
        """


class PostFilterPlugin(Plugin, Protocol):
    def post_filter(self, state: CycleState, pod: Obj,
                    node_to_status: NodeToStatus) -> tuple[PostFilterResult | None, Status | None]:
        """Called when no Node passed Filter (or PreFilter rejected the Pod).

        Return Success (optionally with a nominated Node) if the Pod can be
        made schedulable, Unschedulable if not, Error on a failure. Skipping
        Nodes whose status is UnschedulableAndUnresolvable is the plugin's job.
        """


class PreScorePlugin(Plugin, Protocol):
    def pre_score(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> Status | None:
        """Called once with the feasible Nodes, before Score. Skip skips this plugin's Score."""


class ScoreExtensions(Protocol):
    def normalize_score(self, state: CycleState, pod: Obj, scores: list[NodeScore]) -> Status | None:
        """Rewrite every Node's score (in place) into ``[0, MAX_NODE_SCORE]``."""


class ScorePlugin(Plugin, Protocol):
    def score(self, state: CycleState, pod: Obj, node_info: NodeInfo) -> tuple[int, Status | None]:
        """Rank one feasible Node; must succeed. Without NormalizeScore it must be in ``[0, 100]``."""

    def score_extensions(self) -> ScoreExtensions | None:
        """Optional: an object with ``normalize_score``, or ``None``."""


class ReservePlugin(Plugin, Protocol):
    def reserve(self, state: CycleState, pod: Obj, node_name: str) -> Status | None:
        """The scheduler has assumed the Pod onto ``node_name``; claim what the plugin tracks.

        On failure the framework calls every Reserve plugin's ``unreserve``.
        """

    def unreserve(self, state: CycleState, pod: Obj, node_name: str) -> None:
        """Undo ``reserve``; must be idempotent and may run without ``reserve`` having run."""


class PermitPlugin(Plugin, Protocol):
    def permit(self, state: CycleState, pod: Obj, node_name: str) -> tuple[Status | None, float]:
        """Approve (Success), deny, or delay (Wait with a timeout in seconds) the binding."""


class PreBindPlugin(Plugin, Protocol):
    def pre_bind(self, state: CycleState, pod: Obj, node_name: str) -> Status | None:
        """Prepare the Node before binding (attach volumes); all must succeed."""


class BindPlugin(Plugin, Protocol):
    def bind(self, state: CycleState, pod: Obj, node_name: str) -> Status | None:
        """Bind the Pod, or return Skip to let the next Bind plugin do it. Error rejects the Pod."""


class PostBindPlugin(Plugin, Protocol):
    def post_bind(self, state: CycleState, pod: Obj, node_name: str) -> None:
        """Informational, after a successful bind (clean-up)."""


# --- configuration ------------------------------------------------------------------------------------------

PluginFactory = Callable[[Mapping[str, Any], Handle], Any]


class Registry(dict):
    """Plugin name -> factory ``(args, handle) -> plugin`` (``runtime.Registry``)."""

    def register(self, name: str, factory: PluginFactory) -> None:
        if name in self:
            raise ValueError(f"a plugin named {name!r} already exists")
        self[name] = factory

    def merge(self, other: Mapping[str, PluginFactory]) -> "Registry":
        merged = Registry(self)
        for name, factory in other.items():
            merged.register(name, factory)
        return merged


@dataclass(frozen=True)
class PluginSpec:
    """One enabled plugin and its score weight (kube's ``multiPoint`` entry)."""

    name: str
    weight: int = 1


@dataclass
class Profile:
    """A scheduler profile: which plugins run, in which order, with which weights and args.

    As with kube's ``multiPoint``, a plugin listed once runs at every
    extension point it implements, in list order. ``percentage_of_nodes_to_score``
    ``None`` or 0 means kube's adaptive percentage.
    """

    plugins: list[PluginSpec]
    plugin_args: dict[str, dict[str, Any]] = field(default_factory=dict)
    scheduler_name: str = "default-scheduler"
    percentage_of_nodes_to_score: int | None = None
