"""Server-side printing: the Table kubectl get renders, cell for cell as Kubernetes' printers."""

from __future__ import annotations

import pytest

from kitlib.api.errors import BadRequest
from kitlib.api.meta import rfc3339, rfc3339_micro
from kitlib.apiserver.resources import RESOURCES, lookup
from kitlib.apiserver.table import format_endpoints, human_duration, to_table

NOW = 1_800_000_000.0  # the caller's clock; no test reads the system clock
MIN, HOUR, DAY, YEAR = 60, 3600, 86400, 365 * 86400


def ago(seconds: float) -> str:
    return rfc3339(NOW - seconds)


def meta(name="x", age=30, **extra):
    return {"name": name, "namespace": "default", "creationTimestamp": ago(age), **extra}


# (seconds, HumanDuration): each boundary of duration.HumanDuration and its neighbour.
DURATIONS = [
    (-5, "<invalid>"), (-2, "<invalid>"), (-1.9, "0s"), (-1, "0s"), (0, "0s"), (59, "59s"),
    (119, "119s"), (120, "2m"), (121, "2m1s"), (9 * MIN + 59, "9m59s"), (10 * MIN, "10m"), (10 * MIN + 30, "10m"),
    (3 * HOUR - 1, "179m"), (3 * HOUR, "3h"), (3 * HOUR + 5 * MIN, "3h5m"), (8 * HOUR - 1, "7h59m"),
    (8 * HOUR, "8h"), (48 * HOUR - 1, "47h"), (2 * DAY, "2d"), (2 * DAY + 5 * HOUR, "2d5h"),
    (8 * DAY - 1, "7d23h"), (8 * DAY, "8d"), (2 * YEAR - 1, "729d"), (2 * YEAR, "2y"),
    (2 * YEAR + 10 * DAY, "2y10d"), (8 * YEAR - 1, "7y364d"), (8 * YEAR, "8y"), (20 * YEAR, "20y"),
]


@pytest.mark.parametrize("seconds, text", DURATIONS, ids=[t for _, t in DURATIONS])
def test_human_duration_boundaries(seconds, text):
    assert human_duration(seconds) == text


def running(name="app", ready=True, restarts=0, last_finished=None):
    status = {"name": name, "ready": ready, "restartCount": restarts, "state": {"running": {"startedAt": ago(600)}}}
    if last_finished is not None:
        status["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": ago(last_finished)}}
    return status


def pod(containers=1, phase="Running", statuses=(), init=(), init_statuses=(), deleting=False, reason=None,
        conditions=(), **spec):
    metadata = meta("web-0", age=5 * HOUR)
    if deleting:
        metadata["deletionTimestamp"] = ago(5)
    status = {"phase": phase, "containerStatuses": list(statuses), "conditions": list(conditions),
              "initContainerStatuses": list(init_statuses)}
    if reason:
        status["reason"] = reason
    return {
        "metadata": metadata,
        "spec": {"containers": [{"name": f"c{i}", "image": "busybox"} for i in range(containers)],
                 "initContainers": list(init), **spec},
        "status": status,
    }


WAITING_BACKOFF = {"name": "app", "ready": False, "restartCount": 5, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                   "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(5 * MIN)}}}
COMPLETED = {"name": "app", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
EXIT_NO_REASON = {"name": "app", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 137}}}
INIT_WAITING = {"name": "init", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}
INIT_DONE = {"name": "init", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
INIT_FAILED = {"name": "init", "restartCount": 2, "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}
SIDECAR = {"name": "proxy", "restartPolicy": "Always"}
SIDECAR_STARTED = {"name": "proxy", "restartCount": 0, "started": True, "ready": True, "state": {"running": {}}}

# (id, pod, READY, STATUS, RESTARTS)
POD_ROWS = [
    ("running", pod(statuses=[running()]), "1/1", "Running", "0"),
    ("two-one-ready", pod(2, statuses=[running("c0"), running("c1", ready=False)]), "1/2", "Running", "0"),
    ("pending", pod(phase="Pending"), "0/1", "Pending", "0"),
    ("container-creating", pod(phase="Pending", statuses=[{"name": "app", "state": {"waiting": {"reason": "ContainerCreating"}}}]),
     "0/1", "ContainerCreating", "0"),
    ("crashloop-restarts-ago", pod(statuses=[WAITING_BACKOFF]), "0/1", "CrashLoopBackOff", "5 (5m ago)"),
    ("restarts-without-finish-time", pod(statuses=[running(restarts=3)]), "1/1", "Running", "3"),
    ("restarts-latest-of-two", pod(2, statuses=[running("c0", restarts=1, last_finished=3 * HOUR),
                                                running("c1", restarts=2, last_finished=90)]), "2/2", "Running", "3 (90s ago)"),
    ("completed", pod(phase="Succeeded", statuses=[COMPLETED]), "0/1", "Completed", "0"),
    ("exit-code", pod(phase="Failed", statuses=[EXIT_NO_REASON]), "0/1", "ExitCode:137", "0"),
    ("completed-but-one-running-ready", pod(2, statuses=[COMPLETED | {"name": "c1"}, running("c0")],
                                            conditions=[{"type": "Ready", "status": "True"}]), "1/2", "Running", "0"),
    ("completed-but-one-running-notready", pod(2, statuses=[COMPLETED | {"name": "c1"}, running("c0")]), "1/2", "NotReady", "0"),
    ("terminating", pod(statuses=[running()], deleting=True), "1/1", "Terminating", "0"),
    ("terminating-finished-stays", pod(phase="Succeeded", statuses=[COMPLETED], deleting=True), "0/1", "Completed", "0"),
    ("node-lost", pod(statuses=[running()], deleting=True, reason="NodeLost"), "1/1", "Unknown", "0"),
    ("evicted", pod(phase="Failed", reason="Evicted"), "0/1", "Evicted", "0"),
    ("init-running", pod(phase="Pending", init=[{"name": "init"}], init_statuses=[INIT_WAITING]), "0/1", "Init:0/1", "0"),
    ("init-error", pod(phase="Pending", init=[{"name": "init"}], init_statuses=[INIT_FAILED]), "0/1", "Init:Error", "2"),
    ("init-done", pod(init=[{"name": "init"}], init_statuses=[INIT_DONE], statuses=[running()]), "1/1", "Running", "0"),
    ("sidecar-counts", pod(init=[SIDECAR], init_statuses=[SIDECAR_STARTED], statuses=[running()]), "2/2", "Running", "0"),
    ("scheduling-gated", pod(phase="Pending", conditions=[{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]),
     "0/1", "SchedulingGated", "0"),
]


@pytest.mark.parametrize("obj, ready, status, restarts", [r[1:] for r in POD_ROWS], ids=[r[0] for r in POD_ROWS])
def test_pod_ready_status_restarts(obj, ready, status, restarts):
    cells = to_table(lookup("", "v1", "pods"), [obj], now_wall=NOW)["rows"][0]["cells"]
    assert cells[:5] == ["web-0", ready, status, restarts, "5h"]


def test_pod_wide_columns_and_completed_condition():
    obj = pod(phase="Succeeded", statuses=[COMPLETED], nodeName="node-1", readinessGates=[{"conditionType": "x/ok"}],
              conditions=[{"type": "x/ok", "status": "True"}])
    obj["status"]["podIPs"] = [{"ip": "10.244.1.5"}]
    row = to_table(lookup("", "v1", "pods"), [obj], now_wall=NOW)["rows"][0]
    assert row["cells"][5:] == ["10.244.1.5", "node-1", "<none>", "1/1"]
    assert row["conditions"][0]["type"] == "Completed" and row["conditions"][0]["reason"] == "Succeeded"
    bare = to_table(lookup("", "v1", "pods"), [pod()], now_wall=NOW)["rows"][0]
    assert bare["cells"][5:] == ["<none>", "<none>", "<none>", "<none>"] and "conditions" not in bare


def node(ready="True", unschedulable=False, labels=None, addresses=()):
    conditions = [] if ready is None else [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": ready}]
    return {
        "metadata": {"name": "node-1", "creationTimestamp": ago(3 * DAY), "labels": labels or {}},
        "spec": {"unschedulable": unschedulable},
        "status": {"conditions": conditions, "addresses": list(addresses),
                   "nodeInfo": {"kubeletVersion": "v1.32.0-kit", "osImage": "Debian 12", "kernelVersion": "6.1.0",
                                "containerRuntimeVersion": "kit://0.1"}},
    }


NODE_ROWS = [
    ("ready", node(), "Ready", "<none>"),
    ("not-ready", node(ready="False"), "NotReady", "<none>"),
    ("unknown-status-is-notready", node(ready="Unknown"), "NotReady", "<none>"),
    ("no-condition", node(ready=None), "Unknown", "<none>"),
    ("cordoned", node(unschedulable=True), "Ready,SchedulingDisabled", "<none>"),
    ("control-plane", node(labels={"node-role.kubernetes.io/control-plane": ""}), "Ready", "control-plane"),
    ("roles-sorted", node(labels={"node-role.kubernetes.io/worker": "", "kubernetes.io/role": "edge",
                                  "node-role.kubernetes.io/": ""}), "Ready", "edge,worker"),
]


@pytest.mark.parametrize("obj, status, roles", [r[1:] for r in NODE_ROWS], ids=[r[0] for r in NODE_ROWS])
def test_node_status_and_roles(obj, status, roles):
    cells = to_table(lookup("", "v1", "nodes"), [obj], now_wall=NOW)["rows"][0]["cells"]
    assert cells[:5] == ["node-1", status, roles, "3d", "v1.32.0-kit"]


def test_node_wide_columns():
    obj = node(addresses=[{"type": "Hostname", "address": "node-1"}, {"type": "InternalIP", "address": "10.0.0.2"}])
    cells = to_table(lookup("", "v1", "nodes"), [obj], now_wall=NOW)["rows"][0]["cells"]
    assert cells[5:] == ["10.0.0.2", "<none>", "Debian 12", "6.1.0", "kit://0.1"]


TEMPLATE = {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}, {"name": "log", "image": "busybox"}]}}
SELECTOR = {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}]}


def service(kind, ports, **spec):
    return {"metadata": meta("web", age=10 * MIN), "spec": {"type": kind, "clusterIPs": ["10.96.0.10"], "ports": ports, **spec}}


# (plural, group, object, expected cells): one row per printer.
ROWS = [
    ("deployments", "apps", {"metadata": meta("web"), "spec": {"replicas": 3, "selector": SELECTOR, "template": TEMPLATE},
                             "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}},
     ["web", "2/3", 3, 2, "30s", "web,log", "nginx:1.27,busybox", "app=web,tier in (a,b)"]),
    ("replicasets", "apps", {"metadata": meta("web-5d4f"), "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                                                                    "template": TEMPLATE}, "status": {"replicas": 2}},
     ["web-5d4f", 2, 2, 0, "30s", "web,log", "nginx:1.27,busybox", "app=web"]),
    ("replicationcontrollers", "", {"metadata": meta("rc"), "spec": {"replicas": 1, "selector": {"app": "web"}, "template": TEMPLATE},
                                    "status": {"replicas": 1, "readyReplicas": 1}},
     ["rc", 1, 1, 1, "30s", "web,log", "nginx:1.27,busybox", "app=web"]),
    ("daemonsets", "apps", {"metadata": meta("proxy"), "spec": {"selector": {"matchLabels": {"k": "p"}},
                                                                "template": {"spec": {"containers": [{"name": "p", "image": "kp"}],
                                                                                      "nodeSelector": {"os": "linux"}}}},
                            "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                                       "updatedNumberScheduled": 3, "numberAvailable": 2}},
     ["proxy", 3, 3, 2, 3, 2, "os=linux", "30s", "p", "kp", "k=p"]),
    ("statefulsets", "apps", {"metadata": meta("db"), "spec": {"replicas": 3, "template": TEMPLATE}, "status": {"readyReplicas": 1}},
     ["db", "1/3", "30s", "web,log", "nginx:1.27,busybox"]),
    ("jobs", "batch", {"metadata": meta("pi", age=5 * MIN), "spec": {"completions": 1, "template": TEMPLATE},
                       "status": {"succeeded": 1, "startTime": ago(5 * MIN), "completionTime": ago(4 * MIN - 12),
                                  "conditions": [{"type": "Complete", "status": "True"}]}},
     ["pi", "Complete", "1/1", "72s", "5m", "web,log", "nginx:1.27,busybox", "<none>"]),
    ("jobs", "batch", {"metadata": meta("par"), "spec": {"parallelism": 3, "template": TEMPLATE}, "status": {"startTime": ago(20)}},
     ["par", "Running", "0/1 of 3", "20s", "30s", "web,log", "nginx:1.27,busybox", "<none>"]),
    ("cronjobs", "batch", {"metadata": meta("tick"), "spec": {"schedule": "*/5 * * * *", "suspend": False,
                                                              "jobTemplate": {"spec": {"template": TEMPLATE}}},
                           "status": {"active": [{"name": "tick-1"}], "lastScheduleTime": ago(65)}},
     ["tick", "*/5 * * * *", "<none>", "False", 1, "65s", "30s", "web,log", "nginx:1.27,busybox", "<none>"]),
    ("services", "", service("ClusterIP", [{"port": 80, "protocol": "TCP"}], selector={"app": "web"}),
     ["web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP", "10m", "app=web"]),
    ("services", "", service("NodePort", [{"port": 80, "protocol": "TCP"}, {"port": 443, "nodePort": 30443, "protocol": "TCP"}]),
     ["web", "NodePort", "10.96.0.10", "<none>", "80/TCP,443:30443/TCP", "10m", "<none>"]),
    ("services", "", service("LoadBalancer", [{"port": 53, "protocol": "UDP"}]),
     ["web", "LoadBalancer", "10.96.0.10", "<pending>", "53/UDP", "10m", "<none>"]),
    ("services", "", service("ExternalName", [], externalName="db.example.com", clusterIPs=[]),
     ["web", "ExternalName", "<none>", "db.example.com", "<none>", "10m", "<none>"]),
    ("namespaces", "", {"metadata": meta("kube-system", age=2 * DAY), "status": {"phase": "Active"}},
     ["kube-system", "Active", "2d"]),
    ("configmaps", "", {"metadata": meta("cfg"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}, ["cfg", 3, "30s"]),
    ("secrets", "", {"metadata": meta("tok"), "type": "Opaque", "data": {"t": "eA=="}}, ["tok", "Opaque", 1, "30s"]),
    ("serviceaccounts", "", {"metadata": meta("default")}, ["default", 0, "30s"]),
    ("leases", "coordination.k8s.io", {"metadata": meta("node-1"), "spec": {"holderIdentity": "node-1"}}, ["node-1", "node-1", "30s"]),
    ("horizontalpodautoscalers", "autoscaling",
     {"metadata": meta("web"), "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 5,
                                        "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                                            "type": "Utilization", "averageUtilization": 80}}}]},
      "status": {"currentReplicas": 2, "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {
          "averageUtilization": 40}}}]}},
     ["web", "Deployment/web", "cpu: 40%/80%", "1", 5, 2, "30s"]),
    ("horizontalpodautoscalers", "autoscaling", {"metadata": meta("h"), "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "w"},
                                                                                 "maxReplicas": 3}},
     ["h", "Deployment/w", "<none>", "<unset>", 3, 0, "30s"]),
    ("priorityclasses", "scheduling.k8s.io", {"metadata": meta("high"), "value": 1000, "globalDefault": False},
     ["high", 1000, False, "30s", "PreemptLowerPriority"]),
    ("rolebindings", "rbac.authorization.k8s.io",
     {"metadata": meta("read"), "roleRef": {"kind": "ClusterRole", "name": "view"},
      "subjects": [{"kind": "User", "name": "alice"}, {"kind": "Group", "name": "devs"},
                   {"kind": "ServiceAccount", "name": "ci", "namespace": "build"}, {"kind": "User", "name": "bob"}]},
     ["read", "ClusterRole/view", "30s", "alice, bob", "devs", "build/ci"]),
    ("clusterroles", "rbac.authorization.k8s.io", {"metadata": {"name": "view", "creationTimestamp": "2026-01-02T03:04:05Z"}},
     ["view", "2026-01-02T03:04:05Z"]),
    ("roles", "rbac.authorization.k8s.io", {"metadata": {"name": "r"}}, ["r", ""]),
]


@pytest.mark.parametrize("plural, group, obj, cells", [r[:4] for r in ROWS],
                         ids=[f"{r[0]}-{i}" for i, r in enumerate(ROWS)])
def test_printer_cells(plural, group, obj, cells):
    resource = next(r for r in RESOURCES if (r.group, r.plural) == (group, plural))
    table = to_table(resource, [obj], now_wall=NOW)
    assert table["rows"][0]["cells"] == cells
    assert len(table["columnDefinitions"]) == len(cells), "one column per cell"


# (endpoints subsets, ENDPOINTS cell)
ENDPOINTS = [
    ([], "<none>"),
    ([{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}]}], "10.0.0.1:80,10.0.0.2:80"),
    ([{"addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 6)], "ports": [{"port": 80}]}],
     "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more..."),
    ([{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}, {"port": 443}]},
      {"addresses": [{"ip": "10.0.0.2"}, {"ip": "10.0.0.3"}], "ports": [{"port": 80}]}],
     "10.0.0.1:80,10.0.0.1:443,10.0.0.2:80 + 1 more..."),
    ([{"addresses": [{"ip": "10.0.0.7"}]}], "10.0.0.7"),  # headless, no ports
    ([{"notReadyAddresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}], ""),
    ([{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}], "[fd00::1]:80"),
]


@pytest.mark.parametrize("subsets, text", ENDPOINTS)
def test_endpoints_cell(subsets, text):
    assert format_endpoints({"subsets": subsets}) == text


# (event fields, LAST SEEN, OBJECT, SOURCE, FIRST SEEN, COUNT)
EVENTS = [
    ({"firstTimestamp": ago(10 * MIN), "lastTimestamp": ago(30), "count": 4, "involvedObject": {"kind": "Pod", "name": "web-0"},
      "source": {"component": "kubelet", "host": "node-1"}}, "30s", "pod/web-0", "kubelet, node-1", "10m", 4),
    # events.k8s.io style: no first/last timestamps, only eventTime; no count means one.
    ({"eventTime": rfc3339_micro(NOW - 45), "involvedObject": {"kind": "Node"}, "reportingComponent": "kit-scheduler"},
     "45s", "node", "kit-scheduler", "45s", 1),
    ({"firstTimestamp": ago(HOUR), "series": {"count": 7, "lastObservedTime": rfc3339_micro(NOW - 5)},
      "involvedObject": {"kind": "Deployment", "name": "web"}}, "5s", "deployment/web", "", "60m", 7),
]


@pytest.mark.parametrize("fields, last, target, source, first, count", EVENTS)
def test_event_cells(fields, last, target, source, first, count):
    event = {"metadata": meta("web-0.17a"), "type": "Normal", "reason": "Started", "message": " Started container \n", **fields}
    cells = to_table(lookup("", "v1", "events"), [event], now_wall=NOW)["rows"][0]["cells"]
    assert cells == [last, "Normal", "Started", target, "", source, "Started container", first, count, "web-0.17a"]


def test_column_definitions_carry_priority_for_wide():
    columns = to_table(lookup("", "v1", "pods"), [], now_wall=NOW)["columnDefinitions"]
    assert [c["name"] for c in columns if c["priority"] == 0] == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert [c["name"] for c in columns if c["priority"] == 1] == ["IP", "Node", "Nominated Node", "Readiness Gates"]
    assert columns[0] == {"name": "Name", "type": "string", "format": "name", "description": columns[0]["description"],
                          "priority": 0}
    assert all(c["format"] == "" for c in columns[1:])


@pytest.mark.parametrize("policy, expected", [
    ("Metadata", {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta("cfg")}),
    ("Object", {"metadata": meta("cfg"), "data": {}}),
    ("None", None),
])
def test_include_object(policy, expected):
    table = to_table(lookup("", "v1", "configmaps"), [{"metadata": meta("cfg"), "data": {}}], now_wall=NOW,
                     include_object=policy, list_metadata={"resourceVersion": "42", "continue": "abc"})
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "42", "continue": "abc"}
    assert table["rows"][0].get("object") == expected


def test_include_object_rejects_unknown_policy():
    with pytest.raises(BadRequest, match="includeObject"):
        to_table(lookup("", "v1", "configmaps"), [], now_wall=NOW, include_object="Everything")


def test_every_served_kind_prints_as_many_cells_as_columns():
    # A printer whose cells and columns disagree breaks kubectl's rendering of every row.
    for resource in RESOURCES:
        table = to_table(resource, [{"metadata": meta("x")}], now_wall=NOW)
        assert len(table["rows"][0]["cells"]) == len(table["columnDefinitions"]), resource.kind


def test_age_is_unknown_without_creation_timestamp_and_counts_from_callers_clock():
    namespaces = lookup("", "v1", "namespaces")
    assert to_table(namespaces, [{"metadata": {"name": "a"}}], now_wall=NOW)["rows"][0]["cells"][2] == "<unknown>"
    obj = {"metadata": meta("a", age=90)}
    assert to_table(namespaces, [obj], now_wall=NOW)["rows"][0]["cells"][2] == "90s"
    assert to_table(namespaces, [obj], now_wall=NOW + 3 * HOUR)["rows"][0]["cells"][2] == "3h1m"
