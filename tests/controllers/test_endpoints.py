"""The Endpoints controller: the subsets a Service's Pods give (tables), then against a running cluster."""

from __future__ import annotations


import pytest

from kitlib.api.errors import NotFound
from kitlib.controllers.endpoints import (
    HEADLESS_LABEL,
    TRIGGER_TIME_ANNOTATION,
    EndpointsController,
    desired_subsets,
    find_port,
)
from tests.controllers.helpers import IMAGE, cluster_with, holds_for, wait_until


def _pod(name, ip="", *, ready=True, phase="Running", policy="Always", node="node-0001", ports=None, deleting=False,
         uid=None):
    meta = {"name": name, "namespace": "ns", "uid": uid or f"uid-{name}", "labels": {"app": "web"}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    status = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if ip:
        status["podIP"] = ip
    return {"metadata": meta, "status": status,
            "spec": {"nodeName": node, "restartPolicy": policy,
                     "containers": [{"name": "main", "image": IMAGE, "ports": ports or []}]}}


def _service(ports, *, publish=False, cluster_ip="10.96.0.10"):
    spec = {"selector": {"app": "web"}, "ports": ports, "clusterIP": cluster_ip}
    if publish:
        spec["publishNotReadyAddresses"] = True
    return {"metadata": {"name": "web", "namespace": "ns"}, "spec": spec}


def _addr(name, ip):
    return {"ip": ip, "nodeName": "node-0001",
            "targetRef": {"kind": "Pod", "namespace": "ns", "name": name, "uid": f"uid-{name}"}}


HTTP = {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}
HTTP_PORT = {"name": "http", "port": 8080, "protocol": "TCP"}
NAMED = {"name": "web", "port": 80, "targetPort": "web", "protocol": "TCP"}

SUBSET_CASES = [
    ("ready and not ready, sorted by IP",
     _service([HTTP]), [_pod("b", "10.0.0.9"), _pod("a", "10.0.0.10"), _pod("c", "10.0.0.2", ready=False)],
     [{"addresses": [_addr("a", "10.0.0.10"), _addr("b", "10.0.0.9")],  # as bytes: "10.0.0.10" < "10.0.0.9"
       "notReadyAddresses": [_addr("c", "10.0.0.2")], "ports": [HTTP_PORT]}]),
    ("no IP yet: left out", _service([HTTP]), [_pod("a")], []),
    ("publishNotReadyAddresses: every Pod with an IP is ready",
     _service([HTTP], publish=True), [_pod("a", "10.0.0.1", ready=False)],
     [{"addresses": [_addr("a", "10.0.0.1")], "ports": [HTTP_PORT]}]),
    ("terminating: out, unless publishNotReadyAddresses",
     _service([HTTP]), [_pod("a", "10.0.0.1", deleting=True)], []),
    ("a finished Never Pod is out; a failed OnFailure one stays (not ready)",
     _service([HTTP]), [_pod("a", "10.0.0.1", phase="Succeeded", policy="Never", ready=False),
                        _pod("b", "10.0.0.2", phase="Failed", policy="OnFailure", ready=False)],
     [{"notReadyAddresses": [_addr("b", "10.0.0.2")], "ports": [HTTP_PORT]}]),
    ("named targetPort: resolved per Pod; a Pod without it is left out of that port",
     _service([NAMED]), [_pod("a", "10.0.0.1", ports=[{"name": "web", "containerPort": 9000, "protocol": "TCP"}]),
                         _pod("b", "10.0.0.2")],
     [{"addresses": [_addr("a", "10.0.0.1")], "ports": [{"name": "web", "port": 9000, "protocol": "TCP"}]}]),
    ("ports with different addresses: two subsets",
     _service([HTTP, NAMED]), [_pod("a", "10.0.0.1", ports=[{"name": "web", "containerPort": 9000}]),
                               _pod("b", "10.0.0.2")],
     [{"addresses": [_addr("a", "10.0.0.1"), _addr("b", "10.0.0.2")], "ports": [HTTP_PORT]},
      {"addresses": [_addr("a", "10.0.0.1")], "ports": [{"name": "web", "port": 9000, "protocol": "TCP"}]}]),
    ("headless without ports: addresses only", _service([], cluster_ip="None"), [_pod("a", "10.0.0.1")],
     [{"addresses": [_addr("a", "10.0.0.1")]}]),
    ("not headless without ports: nothing", _service([]), [_pod("a", "10.0.0.1")], []),
]


@pytest.mark.parametrize("service, pods, expected", [c[1:] for c in SUBSET_CASES], ids=[c[0] for c in SUBSET_CASES])
def test_desired_subsets(service, pods, expected):
    assert desired_subsets(service, pods) == expected


@pytest.mark.parametrize("target, expected", [(8080, 8080), ("8080", 8080), ("web", 9000), ("udp", None),
                                              ("missing", None)])
def test_find_port(target, expected):
    pod = _pod("a", ports=[{"name": "web", "containerPort": 9000}, {"name": "udp", "containerPort": 53,
                                                                    "protocol": "UDP"}])
    assert find_port(pod, {"port": 80, "targetPort": target, "protocol": "TCP"}) == expected


# -- against a running cluster -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    with cluster_with(EndpointsController, "endpoint", seed=3) as running:
        yield running


@pytest.fixture
def admin(cluster):
    return cluster.client(in_process=True)


def _endpoints(admin, name, ns="default"):
    try:
        return admin.resource("endpoints").get(name, namespace=ns)
    except NotFound:
        return None


def _ips(endpoints, field="addresses"):
    return sorted(a["ip"] for s in (endpoints or {}).get("subsets") or [] for a in s.get(field) or [])


def test_endpoints_follow_pods_and_service(admin):
    pods = admin.pods("default")
    for i in range(2):
        pods.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"web-{i}", "labels": {"app": "web"}},
                     "spec": {"containers": [{"name": "main", "image": IMAGE,
                                              "ports": [{"name": "http", "containerPort": 8080}]}]}})
    admin.services("default").create({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "labels": {"tier": "front"}},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}})
    wait_until(lambda: len(_ips(_endpoints(admin, "web"))) == 2, 10, "both Pods never became addresses")
    endpoints = _endpoints(admin, "web")
    assert endpoints["metadata"]["labels"] == {"tier": "front"}
    assert endpoints["subsets"][0]["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    ref = endpoints["subsets"][0]["addresses"][0]["targetRef"]
    assert ref["kind"] == "Pod" and ref["name"].startswith("web-") and ref["uid"]
    assert all(a["nodeName"].startswith("node-") for a in endpoints["subsets"][0]["addresses"])

    pods.delete("web-0")
    wait_until(lambda: len(_ips(_endpoints(admin, "web"))) == 1, 10, "a deleted Pod stayed an address")

    admin.services("default").delete("web")
    wait_until(lambda: _endpoints(admin, "web") is None, 10, "the Endpoints outlived their Service")


def test_service_without_selector_is_left_alone(admin):
    admin.services("default").create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "external"},
                                      "spec": {"ports": [{"port": 5432}]}})
    admin.resource("endpoints").create({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "external"},
                                        "subsets": [{"addresses": [{"ip": "192.0.2.7"}], "ports": [{"port": 5432}]}]})
    admin.services("default").patch("external", {"metadata": {"labels": {"touched": "yes"}}}, "merge")
    assert holds_for(lambda: _ips(_endpoints(admin, "external")) == ["192.0.2.7"], 0.5)
    assert _ips(_endpoints(admin, "external")) == ["192.0.2.7"]


def test_headless_service_gets_the_label(admin):
    admin.services("default").create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
                                      "spec": {"clusterIP": "None", "selector": {"app": "db"}}})
    wait_until(lambda: _endpoints(admin, "db") is not None, 10, "no Endpoints for a headless Service")
    endpoints = _endpoints(admin, "db")
    assert endpoints["metadata"]["labels"] == {HEADLESS_LABEL: ""}
    # A new Service's first Endpoints carry its creation as the change that triggered them (TriggerTimeTracker).
    assert endpoints["metadata"]["annotations"][TRIGGER_TIME_ANNOTATION].startswith(
        admin.services("default").get("db")["metadata"]["creationTimestamp"][:19])
