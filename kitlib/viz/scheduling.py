"""The life of one Pod from creation to Running, drawn from what the cluster says about it now.

:func:`pod_creation_flow` reads a live Pod, the Events about it and the Node
it is bound to, and draws the request path the curriculum traces: a client
creates the Pod, the API server stores it, the scheduler (watching) finds
it without a node and writes a Binding, the kubelet (watching) sees it bound
and reports it running. Each arrow carries its step number and what the
cluster recorded for that step (the node chosen, the Event's reason, the
phase and IP the kubelet posted). Steps that have not happened yet are
dashed and grey, and a scheduling failure is drawn in red with the
scheduler's own message, so drawing the same Pod twice shows how far it got.

Simplifications:
- The picture is rebuilt from the Pod's current state and its Events, not
  from a recording of the watch: it shows which steps are done, not when,
  and a step undone later (a Pod evicted and rescheduled) is drawn as it
  is now.
- One client, one API server, one store: the arrows follow the kit's
  single control plane.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

from kitlib.viz.dot import draw

if TYPE_CHECKING:
    import graphviz

    from kitlib.client.rest import Client

_DONE = {"color": "#2e7d32", "fontcolor": "#1b5e20", "penwidth": "1.5"}
_NOT_YET = {"style": "dashed", "color": "#9e9e9e", "fontcolor": "#757575"}
_FAILED = {"color": "#c62828", "fontcolor": "#b71c1c", "penwidth": "1.5"}
_BOX = {"shape": "box", "style": "rounded,filled", "fillcolor": "#f5f5f5", "color": "#616161"}


def _latest_event(events: list[dict], reason: str) -> dict | None:
    found = [e for e in events if e.get("reason") == reason]
    # lastTimestamp has one-second resolution: the count breaks ties between repeats of one Event.
    return max(found, key=lambda e: (e.get("lastTimestamp") or "", e.get("count") or 0), default=None)


def flow_facts(client: "Client", name: str, namespace: str = "default") -> dict[str, Any]:
    """What the cluster holds about each step for Pod ``namespace/name``, as plain values."""
    pod = client.pods(namespace).get(name)
    events = [e for e in client.resource("v1", "Event", namespace=namespace).list()["items"]
              if (e.get("involvedObject") or {}).get("uid") == pod["metadata"].get("uid")]
    scheduled, failed = _latest_event(events, "Scheduled"), _latest_event(events, "FailedScheduling")
    status = pod.get("status") or {}
    return {
        "pod": name,
        "scheduler": (pod.get("spec") or {}).get("schedulerName") or "default-scheduler",
        "node": (pod.get("spec") or {}).get("nodeName") or "",
        "scheduled": scheduled.get("message", "") if scheduled else "",
        "failed": failed.get("message", "") if failed else "",
        "phase": status.get("phase") or "Pending",
        "pod_ip": status.get("podIP") or "",
        "started": any("running" in (c.get("state") or {}) for c in status.get("containerStatuses") or []),
    }


def pod_creation_flow(client: "Client", name: str, namespace: str = "default") -> "graphviz.Digraph":
    """The numbered steps from ``create`` to ``Running`` for one Pod, coloured by how far it got."""
    import graphviz

    facts = flow_facts(client, name, namespace)
    node, bound, running = facts["node"], bool(facts["node"]), facts["started"]
    graph = graphviz.Digraph("pod_flow", graph_attr={"rankdir": "LR", "nodesep": "0.5", "ranksep": "1.1",
                                                    "fontname": "Helvetica", "fontsize": "11"})
    graph.attr("node", fontname="Helvetica", fontsize="10", **_BOX)
    graph.attr("edge", fontname="Helvetica", fontsize="9")
    graph.node("client", "client\\n(kubectl, a program)")
    graph.node("apiserver", "kube-apiserver")
    graph.node("store", "store\\n(etcd)", shape="cylinder", style="filled")
    graph.node("scheduler", facts["scheduler"])
    graph.node("kubelet", f"kubelet\\non {node}" if bound else "kubelet\\n(no node yet)")

    graph.edge("client", "apiserver", f"1. create Pod {name}", **_DONE)
    graph.edge("apiserver", "store", "2. stored: Pending,\\nno nodeName", **_DONE)
    graph.edge("apiserver", "scheduler", "3. watch: a Pod\\nwith no node", **_DONE)
    if bound:
        label = f"4. Binding to {node}\\n+ Event Scheduled"
        graph.edge("scheduler", "apiserver", label, **_DONE)
    elif facts["failed"]:
        message = "\\n".join(textwrap.wrap(facts["failed"], 48))
        graph.edge("scheduler", "apiserver", f"4. Event FailedScheduling:\\n{message}", **_FAILED)
    else:
        graph.edge("scheduler", "apiserver", "4. Binding\\n(not yet)", **_NOT_YET)
    graph.edge("apiserver", "kubelet", f"5. watch: a Pod\\nbound to {node}" if bound else "5. watch\\n(not yet)",
               **(_DONE if bound else _NOT_YET))
    if running:
        label = f"6. status: {facts['phase']}\\nPod IP {facts['pod_ip']}"
    elif bound:
        label = f"6. status: {facts['phase']}\\n(container not running yet)"
    else:
        label = "6. status\\n(not yet)"
    graph.edge("kubelet", "apiserver", label, **(_DONE if running else _NOT_YET))
    return graph


def draw_pod_creation_flow(client: "Client", name: str, namespace: str = "default") -> "graphviz.Digraph | None":
    """:func:`pod_creation_flow`, checked to render; without ``dot``, print one line and return ``None``."""
    return draw(pod_creation_flow, client, name, namespace)
