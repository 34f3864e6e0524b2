"""``kit get/apply/delete/describe/logs`` against a real control plane, output compared with kubectl's.

One control plane serves the module; each test works in a namespace of
its own. The API server runs on a FakeClock, so every AGE cell is ``0s``
and every CreationTimestamp the same, and outputs can be compared exactly.
Commands run through :func:`kitlib.cli.main`, as the ``kit`` command does.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from kitlib.api.meta import rfc3339
from kitlib.cli import main
from kitlib.clock import FakeClock
from kitlib.cluster import ControlPlane

NGINX = Path(__file__).resolve().parents[2] / "book/part04-declarative-api/nginx-deployment.yaml"
WALL = 1_795_000_000.0  # the API server's (fake) time: Wed, 18 Nov 2026 11:06:40 UTC
_names = itertools.count(1)


@pytest.fixture(scope="module")
def plane(tmp_path_factory):
    with ControlPlane(tmp_path_factory.mktemp("kit-kubectl"), clock=FakeClock(wall_start=WALL)) as cluster:
        yield cluster


@pytest.fixture
def ns(plane):
    """A fresh namespace for one test."""
    name = f"t{next(_names)}"
    plane.client().resource("namespaces").create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name




def kit(plane, capsys, *args, ns: str | None = None):
    """Run ``kit ARGS --kubeconfig ...`` in process: (exit code, stdout, stderr); never a traceback."""
    argv = [*args, "--kubeconfig", str(plane.kubeconfig)] + (["-n", ns] if ns else [])
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def setup_objects(plane, ns):
    """The curriculum's Deployment and a labelled ConfigMap in ``ns``."""
    client = plane.client()
    client.apply({**yaml.safe_load(NGINX.read_text()), "metadata": {"name": "nginx-deployment", "namespace": ns}})
    client.apply({"apiVersion": "v1", "kind": "ConfigMap", "data": {"color": "blue"},
                  "metadata": {"name": "settings", "namespace": ns, "labels": {"tier": "web"}}})
    return client


# -- kit get --------------------------------------------------------------------------------

DEPLOYMENTS = ["NAME               READY   UP-TO-DATE   AVAILABLE   AGE",
               "nginx-deployment   0/2     0            0           0s"]
WIDE = ["NAME               READY   UP-TO-DATE   AVAILABLE   AGE   CONTAINERS   IMAGES        SELECTOR",
        "nginx-deployment   0/2     0            0           0s    nginx        nginx:1.7.9   app=nginx"]

# (arguments, the exact lines printed)
GET_TABLES = [
    (["get", "deployments"], DEPLOYMENTS),
    (["get", "deploy", "nginx-deployment"], DEPLOYMENTS),
    (["get", "deployment.apps/nginx-deployment"], DEPLOYMENTS),
    (["get", "deployments", "-o", "wide"], WIDE),
    (["get", "configmaps", "-l", "tier=web"], ["NAME       DATA   AGE", "settings   1      0s"]),
    (["get", "cm", "-l", "tier in (web,db)", "-o", "name"], ["configmap/settings"]),
    (["get", "cm", "--field-selector", "metadata.name=settings", "-o", "name"], ["configmap/settings"]),
    (["get", "deployments,configmaps"], ["NAME                               READY   UP-TO-DATE   AVAILABLE   AGE",
                                         "deployment.apps/nginx-deployment   0/2     0            0           0s",
                                         "",
                                         "NAME                 DATA   AGE",
                                         "configmap/settings   1      0s"]),
    (["get", "deployments,configmaps", "-o", "name"], ["deployment.apps/nginx-deployment", "configmap/settings"]),
    (["get", "deploy/nginx-deployment", "cm/settings", "-o", "name"],
     ["deployment.apps/nginx-deployment", "configmap/settings"]),
]


@pytest.mark.parametrize("args, lines", GET_TABLES, ids=[" ".join(a) for a, _ in GET_TABLES])
def test_get_prints_what_kubectl_prints(plane, ns, capsys, args, lines):
    setup_objects(plane, ns)
    code, out, err = kit(plane, capsys, *args, ns=ns)
    assert (code, err) == (0, "")
    assert out.splitlines() == lines


@pytest.mark.parametrize("args, kind, names", [
    (["get", "deployment", "nginx-deployment", "-o", "json"], "Deployment", ["nginx-deployment"]),
    (["get", "deployment", "nginx-deployment", "-o", "yaml"], "Deployment", ["nginx-deployment"]),
    (["get", "deployments", "-o", "json"], "List", ["nginx-deployment"]),
    (["get", "deployments,configmaps", "-o", "yaml"], "List", ["nginx-deployment", "settings"]),
    (["get", "secrets", "-o", "json"], "List", []),
], ids=["one-json", "one-yaml", "list-json", "two-kinds-yaml", "empty-list"])
def test_get_json_and_yaml_give_the_object_or_a_list(plane, ns, capsys, args, kind, names):
    setup_objects(plane, ns)
    code, out, _ = kit(plane, capsys, *args, ns=ns)
    assert code == 0
    document = json.loads(out) if "json" in args else yaml.safe_load(out)
    assert document["kind"] == kind
    items = document["items"] if kind == "List" else [document]
    assert [item["metadata"]["name"] for item in items] == names
    if kind == "List":
        assert document["apiVersion"] == "v1" and document["metadata"] == {"resourceVersion": ""}
    assert all("managedFields" not in item["metadata"] for item in items)  # hidden, as kubectl hides them
    if "json" in args:
        assert out.startswith('{\n    "apiVersion"')  # 4-space indent, sorted keys


def test_get_all_namespaces_adds_a_namespace_column(plane, ns, capsys):
    setup_objects(plane, ns)
    code, out, _ = kit(plane, capsys, "get", "configmaps", "-A")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["NAMESPACE", "NAME", "DATA", "AGE"]
    assert [ns, "settings", "1", "0s"] in [line.split() for line in lines[1:]]
    code, out, _ = kit(plane, capsys, "get", "namespaces", "-A")  # cluster-scoped: no NAMESPACE column
    assert out.splitlines()[0].split() == ["NAME", "STATUS", "AGE"]


@pytest.mark.parametrize("args, code, stdout, stderr", [
    (["get", "deployments"], 0, "", "No resources found in {ns} namespace.\n"),
    (["get", "deployments", "-o", "name"], 0, "", ""),
    (["get", "deployments", "-A", "-l", "nothing=here"], 0, "", "No resources found\n"),
    (["get", "deployment", "web"], 1, "", 'Error from server (NotFound): deployments.apps "web" not found\n'),
    (["get", "widgets"], 1, "", 'kit: the server doesn\'t have a resource type "widgets"\n'),
    (["get", "cm", "-l", "tier in ("], 1, "", None),
    (["get", "cm", "x", "-l", "a=b"], 1, "", "kit: name cannot be provided when a selector is specified\n"),
], ids=["empty", "empty-name", "empty-all-namespaces", "not-found", "unknown-type", "bad-selector", "name-and-selector"])
def test_get_empty_and_failing(plane, ns, capsys, args, code, stdout, stderr):
    got, out, err = kit(plane, capsys, *args, ns=ns)
    assert (got, out) == (code, stdout)
    if stderr is None:
        assert err.startswith("Error from server (BadRequest): ") and len(err.splitlines()) == 1
    else:
        assert err == stderr.format(ns=ns)


def test_get_prints_the_found_objects_and_an_error_for_the_missing_one(plane, ns, capsys):
    setup_objects(plane, ns)
    code, out, err = kit(plane, capsys, "get", "deployments", "nope", "nginx-deployment", ns=ns)
    assert code == 1 and out.splitlines() == DEPLOYMENTS
    assert err == 'Error from server (NotFound): deployments.apps "nope" not found\n'


def test_get_watch_prints_changes_until_ctrl_c(plane, ns):
    client = setup_objects(plane, ns)
    watcher = subprocess.Popen([sys.executable, "-m", "kitlib.cli", "get", "configmaps", "-w", "-n", ns,
                                "--kubeconfig", str(plane.kubeconfig)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    guard = threading.Timer(60, watcher.kill)
    guard.start()
    try:
        assert watcher.stdout.readline().split() == ["NAME", "DATA", "AGE"]
        assert watcher.stdout.readline().split() == ["settings", "1", "0s"]
        client.resource("configmaps").create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "later"}},
                                             namespace=ns)
        # Aligned with the rows before it; its AGE is counted by this machine's clock, not the (fake) server's.
        assert watcher.stdout.readline().startswith("later      0      ")
        client.resource("configmaps").delete("later", namespace=ns)
        assert watcher.stdout.readline().split()[:2] == ["later", "0"]  # kubectl prints the deleted row too
        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(timeout=30) == 130
        assert watcher.stderr.read() == ""  # quietly: no traceback
    finally:
        guard.cancel()
        watcher.kill()
        watcher.wait()


# -- kit apply -------------------------------------------------------------------------------

MULTI = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: one}
data: {a: "1"}
---
# a comment-only document and an empty one are skipped
---
{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "two"}},
  {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
   "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}]}
"""


def test_apply_the_curriculum_deployment_twice(plane, ns, capsys):
    for _ in range(2):  # unchanged the second time, and still "serverside-applied", as kubectl says
        code, out, err = kit(plane, capsys, "apply", "-f", str(NGINX), ns=ns)
        assert (code, out, err) == (0, "deployment.apps/nginx-deployment serverside-applied\n", "")
    deployment = plane.client().deployments(ns).get("nginx-deployment")
    assert deployment["spec"]["replicas"] == 2
    assert [f["manager"] for f in deployment["metadata"]["managedFields"]] == ["kit"]


def test_apply_multi_document_file_and_stdin(plane, ns, capsys, tmp_path, monkeypatch):
    (tmp_path / "app.yaml").write_text(MULTI)
    code, out, _ = kit(plane, capsys, "apply", "-f", str(tmp_path / "app.yaml"), ns=ns)
    assert code == 0 and out.splitlines() == ["configmap/one serverside-applied", "configmap/two serverside-applied",
                                              "service/web serverside-applied"]
    assert plane.client().resource("configmaps").get("one", namespace=ns)["data"] == {"a": "1"}
    monkeypatch.setattr("sys.stdin", io.StringIO(NGINX.read_text()))
    code, out, _ = kit(plane, capsys, "apply", "-f", "-", ns=ns)
    assert (code, out) == (0, "deployment.apps/nginx-deployment serverside-applied\n")


def test_apply_a_folder_and_a_conflict(plane, ns, capsys, tmp_path):
    (tmp_path / "a.yaml").write_text(NGINX.read_text())
    (tmp_path / "b.json").write_text(json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}))
    (tmp_path / "notes.txt").write_text("not a manifest")
    code, out, _ = kit(plane, capsys, "apply", "-f", str(tmp_path), ns=ns)
    assert out.splitlines() == ["deployment.apps/nginx-deployment serverside-applied", "configmap/c serverside-applied"]
    # Another manager takes spec.replicas; kit's apply of a different value then conflicts, unless forced.
    plane.client().deployments(ns).patch("nginx-deployment", {"apiVersion": "apps/v1", "kind": "Deployment",
                                          "metadata": {"name": "nginx-deployment"}, "spec": {"replicas": 5}},
                                         "apply", field_manager="someone-else", force=True)
    code, out, err = kit(plane, capsys, "apply", "-f", str(tmp_path / "a.yaml"), ns=ns)
    assert code == 1 and out == "" and len(err.splitlines()) == 1
    assert err.startswith("Error from server (Conflict): ") and "--force-conflicts" in err
    code, out, _ = kit(plane, capsys, "apply", "-f", str(tmp_path / "a.yaml"), "--force-conflicts", ns=ns)
    assert code == 0 and plane.client().deployments(ns).get("nginx-deployment")["spec"]["replicas"] == 2


VALID = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n---\n"

# (the file after a valid first document, what the one line says after "kit: FILE: ")
BROKEN = [
    ("kind: ConfigMap\nmetadata: {name: b\n", "document 2: YAML syntax error (line 7, column 1): expected ',' or '}'"),
    ("kind: ConfigMap\nmetadata: {name: b}\n", "document 2: the ConfigMap has no apiVersion"),
    ("apiVersion: v1\nmetadata: {name: b}\n", "document 2: the object has no kind"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", "document 2: the ConfigMap has no metadata.name"),
    ("apiVersion: v1\nkind: ConfigMap\n", "document 2: the ConfigMap has no metadata.name"),
    ("apiVersion: v1\nkind: Deployment\nmetadata: {name: b}\n",
     'document 2: no kind "Deployment" in version "v1" (Deployment is served as apps/v1)'),
    ("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: b}\n",
     'document 2: no kind "Widget" in version "example.com/v1"'),
    ("- just\n- a list\n", "document 2: expected an object"),
    ("apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap}\n",
     "document 2, List item 1: the ConfigMap has no metadata.name"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: elsewhere}\n",
     'document 2: the namespace of ConfigMap "b" is "elsewhere", not "{ns}" as -n says'),
]


@pytest.mark.parametrize("rest, message", BROKEN, ids=[
    "syntax", "no-apiVersion", "no-kind", "no-name", "no-metadata", "wrong-version", "unknown-kind", "not-a-mapping",
    "list-item", "namespace-mismatch"])
def test_broken_manifest_is_one_line_and_applies_nothing(plane, ns, capsys, tmp_path, rest, message):
    broken = tmp_path / "broken.yaml"
    broken.write_text(VALID + rest)
    code, out, err = kit(plane, capsys, "apply", "-f", str(broken), ns=ns)
    assert (code, out) == (1, "")
    assert len(err.splitlines()) == 1 and err.startswith(f"kit: {broken}: " + message.replace("{ns}", ns))
    assert plane.client().resource("configmaps").list(namespace=ns)["items"] == []  # not even the valid one
    code, _, err = kit(plane, capsys, "delete", "-f", str(broken), ns=ns)
    assert code == 1 and err.startswith(f"kit: {broken}: ")


@pytest.mark.parametrize("args, message", [
    (["apply", "-f", "/nonexistent/app.yaml"], "kit: /nonexistent/app.yaml: no such file or folder"),
    (["apply", "-f", "{empty}"], "kit: {empty}: no objects in it"),
], ids=["missing-file", "empty-file"])
def test_apply_of_nothing(plane, ns, capsys, tmp_path, args, message):
    (tmp_path / "empty.yaml").write_text("# nothing\n")
    args = [a.replace("{empty}", str(tmp_path / "empty.yaml")) for a in args]
    code, out, err = kit(plane, capsys, *args, ns=ns)
    assert (code, out, err) == (1, "", message.replace("{empty}", str(tmp_path / "empty.yaml")) + "\n")


# -- kit delete -------------------------------------------------------------------------------


def test_delete_by_file_and_by_name(plane, ns, capsys, tmp_path):
    setup_objects(plane, ns)
    code, out, _ = kit(plane, capsys, "delete", "-f", str(NGINX), ns=ns)
    assert (code, out) == (0, 'deployment.apps "nginx-deployment" deleted\n')
    code, out, err = kit(plane, capsys, "delete", "-f", str(NGINX), ns=ns)
    assert (code, out) == (1, "")
    assert err == 'Error from server (NotFound): deployments.apps "nginx-deployment" not found\n'
    assert kit(plane, capsys, "delete", "-f", str(NGINX), "--ignore-not-found", ns=ns)[:2] == (0, "")
    code, out, err = kit(plane, capsys, "delete", "configmap", "settings", "gone", ns=ns)
    assert (code, out) == (1, 'configmap "settings" deleted\n')
    assert err == 'Error from server (NotFound): configmaps "gone" not found\n'
    assert plane.client().resource("configmaps").list(namespace=ns)["items"] == []


@pytest.mark.parametrize("args, message", [
    (["delete", "configmaps"], "kit: resource(s) were provided, but no name was specified (or use -l SELECTOR)"),
    (["delete"], "kit: say what to delete: `kit delete TYPE NAME...` or `kit delete -f FILE`"),
], ids=["no-name", "nothing"])
def test_delete_needs_a_name(plane, ns, capsys, args, message):
    assert kit(plane, capsys, *args, ns=ns) == (1, "", message + "\n")


def test_delete_by_selector(plane, ns, capsys):
    setup_objects(plane, ns)
    code, out, _ = kit(plane, capsys, "delete", "cm", "-l", "tier=web", ns=ns)
    assert (code, out) == (0, 'configmap "settings" deleted\n')


# -- kit describe ------------------------------------------------------------------------------

DESCRIBE_DEPLOYMENT = """\
Name:                   nginx-deployment
Namespace:              {ns}
CreationTimestamp:      Wed, 18 Nov 2026 11:06:40 +0000
Labels:                 <none>
Annotations:            <none>
Selector:               app=nginx
Replicas:               2 desired | 0 updated | 0 total | 0 available | 0 unavailable
StrategyType:           RollingUpdate
MinReadySeconds:        0
RollingUpdateStrategy:  25% max unavailable, 25% max surge
Pod Template:
  Labels:  app=nginx
  Containers:
   nginx:
    Image:         nginx:1.7.9
    Port:          80/TCP
    Host Port:     0/TCP
    Environment:   <none>
    Mounts:        <none>
  Volumes:         <none>
  Node-Selectors:  <none>
  Tolerations:     <none>
Events:            <none>
"""

DESCRIBE_CONFIGMAP = """\
Name:         settings
Namespace:    {ns}
Labels:       tier=web
Annotations:  <none>

Data
====
color:
----
blue


BinaryData
====

Events:
  Type     Reason   Age   From      Message
  ----     ------   ----  ----      -------
  Warning  Changed  3h    kit-test  the color changed
"""


def event(ns: str, name: str, kind: str, about: str, reason: str, ago: float) -> dict:
    stamp = rfc3339(time.time() - ago)
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": ns},
            "involvedObject": {"apiVersion": "v1", "kind": kind, "name": about, "namespace": ns},
            "reason": reason, "message": "the color changed", "type": "Warning", "source": {"component": "kit-test"},
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1}


@pytest.mark.parametrize("args, expected", [
    (["describe", "deployment", "nginx-deployment"], DESCRIBE_DEPLOYMENT),
    (["describe", "configmap/settings"], DESCRIBE_CONFIGMAP),
], ids=["deployment", "configmap"])
def test_describe_as_kubectl(plane, ns, capsys, utc, args, expected):
    client = setup_objects(plane, ns)
    events = client.resource("v1", "Event")
    events.create(event(ns, "settings.1", "ConfigMap", "settings", "Changed", 3 * 3600 + 1), namespace=ns)
    events.create(event(ns, "other.1", "ConfigMap", "other", "Elsewhere", 10), namespace=ns)  # not about it
    events.create(event(ns, "settings.2", "Secret", "settings", "SameName", 10), namespace=ns)  # another kind
    code, out, err = kit(plane, capsys, *args, ns=ns)
    assert (code, err) == (0, "")
    assert out == expected.format(ns=ns)


def test_describe_generic_kind_and_missing_object(plane, ns, capsys):
    plane.client().resource("serviceaccounts").create(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}, "automountServiceAccountToken": False},
        namespace=ns)
    code, out, _ = kit(plane, capsys, "describe", "sa", "robot", ns=ns)
    assert code == 0 and "Name:" in out and "Automount Service Account Token:  False" in out
    assert out.rstrip().endswith("Events:                           <none>")
    code, out, err = kit(plane, capsys, "describe", "deployment", "web", ns=ns)
    assert (code, out, err) == (1, "", 'Error from server (NotFound): deployments.apps "web" not found\n')


# -- kit logs -------------------------------------------------------------------------------------

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
       "spec": {"containers": [{"name": "app", "image": "busybox"}, {"name": "side", "image": "busybox"}]}}


@pytest.mark.parametrize("args, stderr", [
    (["logs", "web", "-c", "app"], "Error from server (BadRequest): pod web does not have a host assigned\n"),
    (["logs", "pod/web"], 'Defaulted container "app" out of: app, side\n'
                          "Error from server (BadRequest): pod web does not have a host assigned\n"),
    (["logs", "web", "-c", "nope"], "Error from server (BadRequest): container nope is not valid for pod web\n"),
    (["logs", "gone"], 'Error from server (NotFound): pods "gone" not found\n'),
    (["logs", "deploy/web"], "kit: kit logs reads a Pod's log: give POD or pod/POD, not 'deploy/web'\n"),
], ids=["no-host", "default-container", "bad-container", "no-pod", "not-a-pod"])
def test_logs_errors_are_one_line(plane, ns, capsys, args, stderr):
    plane.client().pods(ns).create(POD)
    assert kit(plane, capsys, *args, ns=ns) == (1, "", stderr)


class FakeKubelet:
    """What a kubelet offers the API server for ``kubectl logs``: each container's log, and the tail of it."""

    def __init__(self, text: str) -> None:
        self.text = text.encode()

    def logs(self, namespace, pod, container, *, follow=False, tail_lines=None, timestamps=False, previous=False):
        lines = self.text.splitlines(keepends=True)
        return iter(lines[len(lines) - tail_lines:] if tail_lines is not None else lines)


@pytest.mark.parametrize("args, stdout", [
    (["logs", "web", "-c", "app"], "one\ntwo\nthree\n"),
    (["logs", "web", "-c", "side", "--tail", "2"], "two\nthree\n"),
    (["logs", "web", "-c", "app", "--tail", "0"], ""),
    (["logs", "web", "-c", "app", "-f"], "one\ntwo\nthree\n"),  # the container has ended: -f stops
    (["logs", "web", "-c", "app", "-f", "--tail", "1"], "three\n"),
], ids=["all", "tail", "tail-0", "follow", "follow-tail"])
def test_logs_are_printed_as_they_are(plane, ns, capsys, args, stdout):
    client = plane.client()
    client.pods(ns).create(POD)
    node = f"node-{ns}"
    client.transport.request("POST", client.pods(ns).path(ns, "web", "binding"), body=json.dumps(
        {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "web"}, "target": {"kind": "Node", "name": node}}
    ).encode())
    pod = client.pods(ns).get("web")
    pod["status"] = {"phase": "Succeeded", "containerStatuses": [
        {"name": name, "ready": False, "restartCount": 0, "image": "busybox", "imageID": "",
         "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}} for name in ("app", "side")]}
    client.pods(ns).update_status(pod)
    plane.apiserver.handler.node_logs.register(node, FakeKubelet("one\ntwo\nthree\n"))
    try:
        assert kit(plane, capsys, *args, ns=ns) == (0, stdout, "")
    finally:
        plane.apiserver.handler.node_logs.unregister(node)


# -- without a cluster, and beside the real kubectl ---------------------------------------------------


@pytest.mark.parametrize("kubeconfig", ["", "{tmp}/nowhere/config"], ids=["unset", "missing-file"])
def test_no_cluster_is_one_line(tmp_path, kubeconfig):
    env = {**os.environ, "KIT_HOME": str(tmp_path / "home"), "KUBECONFIG": kubeconfig.format(tmp=tmp_path)}
    result = subprocess.run([sys.executable, "-m", "kitlib.cli", "get", "ns"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("kit: no cluster: `kit init` starts one (or pass --kubeconfig)")
    assert len(result.stderr.splitlines()) == 1


def test_stopped_server_is_one_line(tmp_path, capsys):
    stopped = ControlPlane(tmp_path).start()
    stopped.stop()  # admin.conf stays; nothing answers at its address
    code, out, err = kit(stopped, capsys, "get", "pods")
    assert (code, out) == (1, "")
    assert err.startswith("kit: cannot reach the API server at https://127.0.0.1:") and len(err.splitlines()) == 1


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed on this machine")
@pytest.mark.parametrize("args", [
    ["get", "deployments", "-o", "wide"],
    ["get", "deployments,configmaps"],
    ["get", "services", "-o", "wide"],
    ["get", "configmap", "settings", "-o", "yaml"],
    ["get", "deployments", "-o", "json"],
], ids=lambda args: " ".join(args[1:]))
def test_same_output_as_kubectl(plane, ns, capsys, args):
    client = setup_objects(plane, ns)
    client.services(ns).create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                "spec": {"selector": {"app": "nginx"}, "ports": [{"port": 80, "name": "http"}]}})
    real = subprocess.run(["kubectl", "--kubeconfig", str(plane.kubeconfig), "-n", ns, *args], capture_output=True,
                          text=True, timeout=60)
    assert real.returncode == 0, real.stderr
    code, out, _ = kit(plane, capsys, *args, ns=ns)
    assert code == 0
    assert out.splitlines() == real.stdout.splitlines()
