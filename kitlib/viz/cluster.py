"""The architecture of a running cluster, drawn from what it holds right now.

:func:`architecture` asks a live :class:`~kitlib.cluster.ControlPlane`
what runs: the API server and the resources it serves, the store behind it
and its revision, the Nodes registered, and which of Kubernetes' other
components exist yet. Components the kit has not started are drawn dashed
and grey, labelled with the part of the book that brings them, so the same
picture fills in as the book goes on.

Simplifications:
- One API server and one store: the picture has no load balancer or etcd
  cluster, because the kit runs none (a production control plane has both).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kitlib.apiserver import discovery
from kitlib.viz.dot import draw

if TYPE_CHECKING:
    import graphviz

    from kitlib.cluster import ControlPlane

_LIVE = {"style": "rounded,filled", "fillcolor": "#d4f4dd", "color": "#2e7d32"}
_NOT_YET = {"style": "rounded,dashed", "color": "#9e9e9e", "fontcolor": "#757575"}

# Kubernetes' components the kit does not run yet, and where the book brings each.
LATER = {
    "kube-scheduler": "Part 6",
    "kube-controller-manager": "Part 6",
    "kubelet + container runtime": "Part 5",
    "kube-proxy": "Part 7",
}


def architecture(plane: "ControlPlane") -> "graphviz.Digraph":
    """Clients, the control plane and the nodes of ``plane``, as they are at this moment."""
    import graphviz

    client = plane.client(in_process=True)
    groups = discovery.api_group_list()["groups"]
    resources = sum(len(discovery.api_resource_list(g["name"], g["preferredVersion"]["version"])["resources"])
                    for g in groups) + len(discovery.api_resource_list("", "v1")["resources"])
    revision = plane.store.range("/", prefix=True, limit=1).revision
    nodes = [n["metadata"]["name"] for n in client.nodes().list()["items"]]
    store_kind = "etcd" if plane.store_url.startswith(("etcd://", "http://")) else "embedded store (MVCC + WAL)"

    graph = graphviz.Digraph("cluster", graph_attr={"rankdir": "LR", "nodesep": "0.3", "ranksep": "0.6",
                                                    "fontname": "Helvetica", "fontsize": "11"})
    graph.attr("node", shape="box", fontname="Helvetica", fontsize="10")
    graph.attr("edge", fontname="Helvetica", fontsize="9")
    with graph.subgraph(name="cluster_clients") as clients:
        clients.attr(label="clients", style="dotted")
        for name in ("kubectl", "Python client", "this notebook"):
            clients.node(name, name, **_LIVE)
    with graph.subgraph(name="cluster_master") as master:
        master.attr(label="control plane (the master)", style="rounded")
        master.node("apiserver", f"kube-apiserver\\n{len(groups) + 1} API groups, {resources} resources", **_LIVE)
        master.node("store", f"{store_kind}\\nrevision {revision}", shape="cylinder", style="filled",
                     fillcolor="#d4f4dd", color="#2e7d32")
        for name in ("kube-scheduler", "kube-controller-manager"):
            master.node(name, f"{name}\\n(not yet: {LATER[name]})", **_NOT_YET)
    with graph.subgraph(name="cluster_nodes") as workers:
        workers.attr(label=f"nodes ({len(nodes)} registered)", style="rounded")
        for name in nodes:
            workers.node(f"node/{name}", name, **_LIVE)
        for name in ("kubelet + container runtime", "kube-proxy"):
            workers.node(name, f"{name}\\n(not yet: {LATER[name]})", **_NOT_YET)
    for name in ("kubectl", "Python client", "this notebook"):
        graph.edge(name, "apiserver", label="HTTPS" if name != "this notebook" else "in-process")
    graph.edge("apiserver", "store", label="the only door", penwidth="2")
    for name in LATER:
        graph.edge(name, "apiserver", label="list + watch", style="dashed", color="#9e9e9e")
    return graph


def draw_architecture(plane: "ControlPlane") -> "graphviz.Digraph | None":
    """:func:`architecture`, checked to render; without ``dot``, print one line and return ``None``."""
    return draw(architecture, plane)
