"""The DaemonSet controller: where a daemon Pod may run (tables), then against a running cluster."""

from __future__ import annotations

import itertools

import pytest

from kitlib.controllers.daemonset import (
    REVISION_HASH,
    DaemonSetsController,
    daemon_pod_tolerations,
    node_should_run_daemon_pod,
    pin_to_node,
    target_node,
)
from tests.controllers.helpers import IMAGE, cluster_with, wait_until


def _node(name="n1", labels=None, taints=None):
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def _taint(key, effect):
    return {"key": key, "effect": effect}


SSD = {"nodeSelector": {"disk": "ssd"}}
AFFINITY = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}]}}}}

PLACEMENT_CASES = [
    ("any node", _node(), {}, (True, True)),
    ("nodeSelector matches", _node(labels={"disk": "ssd"}), SSD, (True, True)),
    ("nodeSelector does not match", _node(labels={"disk": "hdd"}), SSD, (False, False)),
    ("affinity matches", _node(labels={"zone": "b"}), AFFINITY, (True, True)),
    ("affinity does not match", _node(labels={"zone": "c"}), AFFINITY, (False, False)),
    ("pinned by matchFields elsewhere", _node("n2"), {"affinity": pin_to_node(None, "n1")}, (False, False)),
    ("not-ready NoExecute: tolerated by every daemon Pod",
     _node(taints=[_taint("node.kubernetes.io/not-ready", "NoExecute")]), {}, (True, True)),
    ("unschedulable: tolerated", _node(taints=[_taint("node.kubernetes.io/unschedulable", "NoSchedule")]), {},
     (True, True)),
    ("not-ready NoSchedule: not tolerated (only its NoExecute is)",
     _node(taints=[_taint("node.kubernetes.io/not-ready", "NoSchedule")]), {}, (False, True)),
    ("a user's NoSchedule taint: no new Pod, the running one stays",
     _node(taints=[_taint("dedicated", "NoSchedule")]), {}, (False, True)),
    ("a user's NoExecute taint: the Pod goes", _node(taints=[_taint("dedicated", "NoExecute")]), {}, (False, False)),
    ("tolerated by the template", _node(taints=[_taint("dedicated", "NoExecute")]),
     {"tolerations": [{"key": "dedicated", "operator": "Exists"}]}, (True, True)),
    ("PreferNoSchedule does not matter", _node(taints=[_taint("dedicated", "PreferNoSchedule")]), {}, (True, True)),
    ("network-unavailable: only hostNetwork Pods tolerate it",
     _node(taints=[_taint("node.kubernetes.io/network-unavailable", "NoSchedule")]), {}, (False, True)),
    ("network-unavailable, hostNetwork", _node(taints=[_taint("node.kubernetes.io/network-unavailable",
                                                                "NoSchedule")]), {"hostNetwork": True}, (True, True)),
]


@pytest.mark.parametrize("node, spec, expected", [c[1:] for c in PLACEMENT_CASES], ids=[c[0] for c in PLACEMENT_CASES])
def test_node_should_run_daemon_pod(node, spec, expected):
    assert node_should_run_daemon_pod(node, spec) == expected


def test_tolerations_added_once():
    mine = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
            "tolerationSeconds": 5}
    tolerations = daemon_pod_tolerations({"tolerations": [mine]})
    assert tolerations[0] == mine and len(tolerations) == 6
    assert sum(t["key"] == "node.kubernetes.io/unreachable" for t in tolerations) == 1


def test_pin_to_node_replaces_required_terms_keeps_preferred():
    preferred = [{"weight": 1, "preference": {"matchExpressions": [{"key": "a", "operator": "Exists"}]}}]
    affinity = {"nodeAffinity": {**AFFINITY["affinity"]["nodeAffinity"],
                                 "preferredDuringSchedulingIgnoredDuringExecution": preferred}}
    pinned = pin_to_node(affinity, "node-0002")
    assert pinned["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] == preferred
    assert target_node({"spec": {"affinity": pinned}}) == "node-0002"
    assert affinity == {"nodeAffinity": {**AFFINITY["affinity"]["nodeAffinity"],
                                         "preferredDuringSchedulingIgnoredDuringExecution": preferred}}


# -- against a running cluster -----------------------------------------------------------------------

_namespaces = itertools.count()


@pytest.fixture(scope="module")
def cluster():
    with cluster_with(DaemonSetsController, "daemonset", seed=5) as running:
        yield running


@pytest.fixture
def admin(cluster):
    return cluster.client(in_process=True)


@pytest.fixture
def ns(admin):
    name = f"ds-{next(_namespaces)}"
    admin.resource("namespaces").create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def _daemonset(name, node_selector=None, image=IMAGE):
    spec = {"containers": [{"name": "main", "image": image}]}
    if node_selector:
        spec["nodeSelector"] = node_selector
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}


def _pods(admin, ns):
    return [p for p in admin.pods(ns).list()["items"] if not p["metadata"].get("deletionTimestamp")]


def _running_nodes(admin, ns):
    return sorted(p["spec"].get("nodeName", "") for p in _pods(admin, ns) if p["status"].get("phase") == "Running")


def test_one_pod_per_node_and_status(admin, ns):
    ds = admin.resource("daemonsets", namespace=ns).create(_daemonset("agent"))
    wait_until(lambda: _running_nodes(admin, ns) == ["node-0001", "node-0002", "node-0003"], 10,
               "no Running daemon Pod on every node")
    for pod in _pods(admin, ns):
        assert target_node(pod) == pod["spec"]["nodeName"]  # the scheduler honoured the pin
        assert pod["metadata"]["ownerReferences"][0]["uid"] == ds["metadata"]["uid"]
        assert any(t["key"] == "node.kubernetes.io/unreachable" for t in pod["spec"]["tolerations"])

    def status():
        return admin.resource("daemonsets", namespace=ns).get("agent").get("status") or {}
    wait_until(lambda: status().get("numberAvailable") == 3, 10, f"status never caught up: {status()}")
    assert {k: status().get(k) for k in ("desiredNumberScheduled", "currentNumberScheduled", "numberReady",
                                         "updatedNumberScheduled", "numberMisscheduled", "observedGeneration")} == {
        "desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 3, "updatedNumberScheduled": 3,
        "numberMisscheduled": 0, "observedGeneration": 1}


def test_node_selector_new_and_removed_nodes(admin, ns):
    nodes = admin.nodes()
    nodes.patch("node-0001", {"metadata": {"labels": {"ds-test": ns}}}, "merge")
    admin.resource("daemonsets", namespace=ns).create(_daemonset("picky", {"ds-test": ns}))
    wait_until(lambda: _running_nodes(admin, ns) == ["node-0001"], 10, "the labelled node got no Pod")

    nodes.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"extra-{ns}", "labels": {"ds-test": ns}}})
    wait_until(lambda: sorted(target_node(p) for p in _pods(admin, ns)) == ["extra-" + ns, "node-0001"], 10,
               "a new matching node got no Pod")
    nodes.delete(f"extra-{ns}")
    wait_until(lambda: [target_node(p) for p in _pods(admin, ns)] == ["node-0001"], 10,
               "the Pod of a deleted node stayed")

    nodes.patch("node-0001", {"metadata": {"labels": {"ds-test": None}}}, "merge")
    wait_until(lambda: _pods(admin, ns) == [], 10, "a node that no longer matches kept its Pod")


def test_rolling_update_replaces_every_pod(admin, ns):
    daemonsets = admin.resource("daemonsets", namespace=ns)
    daemonsets.create(_daemonset("roll"))
    # Wait until the controller itself has seen every Pod available: an old Pod it still believes
    # unavailable is replaced at once, whatever maxUnavailable says (kube's rollingUpdate does the same).
    wait_until(lambda: (daemonsets.get("roll").get("status") or {}).get("numberAvailable") == 3, 10,
               "the first version never became available")
    old_hash = _pods(admin, ns)[0]["metadata"]["labels"][REVISION_HASH]
    daemonsets.patch("roll", {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx"}]}}}},
                     "strategic")
    seen_running = []

    def done():
        pods = _pods(admin, ns)
        seen_running.append(len([p for p in pods if p["status"].get("phase") == "Running"]))
        return (len(pods) == 3 and all(p["metadata"]["labels"][REVISION_HASH] != old_hash
                                       and p["status"].get("phase") == "Running" for p in pods))
    wait_until(done, 15, "the rollout never finished")
    assert min(seen_running) >= 2  # maxUnavailable: 1
    wait_until(lambda: (daemonsets.get("roll").get("status") or {}).get("updatedNumberScheduled") == 3, 10)
    assert daemonsets.get("roll")["status"]["observedGeneration"] == 2
