"""A Deployment's rolling update, drawn step by step from the live cluster.

A rollout is easy to describe and hard to watch: the Deployment controller
moves replicas from the old ReplicaSet to the new one a few at a time, the
ReplicaSet controller makes and deletes Pods, the kubelets start them, and
all of it happens within seconds. :func:`snapshot` reads, at one moment,
what a reader needs to follow it: for each ReplicaSet of the Deployment, its
revision, its desired replica count and its Pods with their readiness. A
list of snapshots taken as the clock moves is then shown three ways:

- :func:`rollout_table`: one line per step (old and new replicas, Pods
  available, and the limits ``maxSurge`` and ``maxUnavailable`` set);
- :func:`plot_rollout`: the same numbers as a step plot (matplotlib);
- :func:`draw_rollout`: every step as a row of Pods, grouped by ReplicaSet
  (graphviz), old Pods grey, new Pods blue, Pods not yet ready hollow.

    steps = [snapshot(client, "nginx-deployment", at=clock.now())]   # doctest: +SKIP

Simplifications:
- A ReplicaSet belongs to the Deployment when its controller reference
  names the Deployment's uid; "new" is the one whose revision annotation
  equals the Deployment's (kube's ``FindNewReplicaSet`` compares Pod
  templates instead, which gives the same answer once the controller has
  synced).
- A Pod counts as available when it is Ready (the chapter's Deployments
  have no ``minReadySeconds``); Pods being deleted are left out, as
  ``kubectl get pods`` soon will.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kitlib.viz.dot import draw

if TYPE_CHECKING:
    import graphviz
    from matplotlib.figure import Figure

REVISION = "deployment.kubernetes.io/revision"
_OLD, _NEW = "#9e9e9e", "#1f77b4"  # grey for the old version, blue for the new one


@dataclass(frozen=True)
class ReplicaSetView:
    """One ReplicaSet at one moment: its name, revision, desired replicas, and its Pods (name, ready)."""

    name: str
    revision: int
    replicas: int
    pods: tuple[tuple[str, bool], ...]
    new: bool

    @property
    def ready(self) -> int:
        return sum(ready for _, ready in self.pods)


@dataclass(frozen=True)
class RolloutStep:
    """A Deployment's ReplicaSets at simulated time ``at``, oldest first."""

    at: float
    replica_sets: tuple[ReplicaSetView, ...] = field(default_factory=tuple)

    @property
    def old(self) -> int:
        """Desired replicas of the old ReplicaSets together."""
        return sum(rs.replicas for rs in self.replica_sets if not rs.new)

    @property
    def new(self) -> int:
        """Desired replicas of the new ReplicaSet."""
        return sum(rs.replicas for rs in self.replica_sets if rs.new)

    @property
    def available(self) -> int:
        return sum(rs.ready for rs in self.replica_sets)

    @property
    def new_available(self) -> int:
        return sum(rs.ready for rs in self.replica_sets if rs.new)


def _ready(pod: dict) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _owned_by(obj: dict, owner_uid: str) -> bool:
    return any(ref.get("controller") and ref.get("uid") == owner_uid
               for ref in obj["metadata"].get("ownerReferences") or [])


def snapshot(client: Any, deployment: str, namespace: str = "default", *, at: float = 0.0) -> RolloutStep:
    """Read ``deployment``'s ReplicaSets and their Pods now; ``at`` labels the step (simulated seconds)."""
    d = client.deployments(namespace).get(deployment)
    current = int((d["metadata"].get("annotations") or {}).get(REVISION, "0"))
    pods = [p for p in client.pods(namespace).list()["items"] if not p["metadata"].get("deletionTimestamp")]
    views = []
    for rs in client.replicasets(namespace).list()["items"]:
        if not _owned_by(rs, d["metadata"]["uid"]):
            continue
        revision = int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
        mine = sorted((p["metadata"]["name"], _ready(p)) for p in pods if _owned_by(p, rs["metadata"]["uid"]))
        if rs["spec"].get("replicas", 0) == 0 and not mine and revision != current:
            continue  # an old ReplicaSet kept for rollbacks, with nothing in it: not part of this picture
        views.append(ReplicaSetView(rs["metadata"]["name"], revision, rs["spec"].get("replicas", 0), tuple(mine),
                                    revision == current))
    return RolloutStep(at, tuple(sorted(views, key=lambda v: v.revision)))


def rollout_table(steps: list[RolloutStep], replicas: int, max_surge: int, max_unavailable: int) -> str:
    """One line per step, with the two limits the Deployment controller keeps to."""
    lines = [f"{'t':>4}  {'old RS':>6}  {'new RS':>6}  {'Pods':>4}  {'available':>9}  {'new/ready':>10}",
             f"{'':>4}  {'':>6}  {'':>6}  {'<=' + str(replicas + max_surge):>4}  "
             f"{'>=' + str(replicas - max_unavailable):>9}  {'':>10}"]
    for step in steps:
        pods = sum(len(rs.pods) for rs in step.replica_sets)
        share = f"{step.new_available}/{step.available}" if step.available else "-"
        lines.append(f"{step.at:>3.0f}s  {step.old:>6}  {step.new:>6}  {pods:>4}  {step.available:>9}  {share:>10}")
    return "\n".join(lines)


def plot_rollout(steps: list[RolloutStep], replicas: int, max_surge: int, max_unavailable: int) -> "Figure":
    """The steps as a step plot: old and new replicas, Pods available, and the two limits as dashed lines."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 2.8))
    axes = figure.subplots()
    times = [step.at for step in steps]
    axes.step(times, [s.old for s in steps], where="post", color=_OLD, label="old ReplicaSet")
    axes.step(times, [s.new for s in steps], where="post", color=_NEW, label="new ReplicaSet")
    axes.step(times, [s.available for s in steps], where="post", color="#2e7d32", linestyle=":", label="available")
    axes.axhline(replicas + max_surge, color="#c62828", linestyle="--", linewidth=0.8)
    axes.axhline(replicas - max_unavailable, color="#c62828", linestyle="--", linewidth=0.8)
    axes.text(times[0], replicas + max_surge + 0.1, "replicas + maxSurge", fontsize=8, color="#c62828")
    axes.text(times[0], replicas - max_unavailable + 0.1, "replicas - maxUnavailable", fontsize=8, color="#c62828")
    axes.set_xlabel("simulated seconds")
    axes.set_ylabel("Pods")
    axes.set_ylim(-0.3, replicas + max_surge + 1)
    axes.legend(loc="center right", fontsize=8)
    figure.tight_layout()
    return figure


def _row(step: RolloutStep) -> str:
    # An HTML-like graphviz label: one cell per ReplicaSet, one coloured dot per Pod (hollow: not ready yet).
    cells = []
    for rs in step.replica_sets:
        colour = _NEW if rs.new else _OLD
        dots = "".join(f'<FONT COLOR="{colour}">{"&#9679;" if ready else "&#9675;"}</FONT>' for _, ready in rs.pods)
        cells.append(f'<TD BGCOLOR="white">{rs.name}<BR/>rev {rs.revision}, {rs.replicas} wanted<BR/>'
                     f'{dots or "-"}</TD>')
    return f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="4"><TR><TD>t={step.at:.0f}s</TD>{"".join(cells)}</TR></TABLE>>'


def rollout_graph(steps: list[RolloutStep]) -> "graphviz.Digraph":
    """Each step as one row of ReplicaSets and their Pods, top to bottom in time."""
    import graphviz

    graph = graphviz.Digraph("rollout", graph_attr={"rankdir": "TB", "nodesep": "0.1", "ranksep": "0.15"},
                             node_attr={"shape": "plaintext", "fontname": "Helvetica", "fontsize": "10"},
                             edge_attr={"style": "invis"})
    for i, step in enumerate(steps):
        graph.node(f"step{i}", _row(step))
        if i:
            graph.edge(f"step{i - 1}", f"step{i}")
    return graph


def draw_rollout(steps: list[RolloutStep]) -> "graphviz.Digraph | None":
    """:func:`rollout_graph`, or one line saying what to install when graphviz's ``dot`` is missing."""
    return draw(rollout_graph, steps)
