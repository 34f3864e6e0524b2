"""The real kubectl against a kit control plane, with nothing but the kubeconfig it wrote.

No ``--validate=false``, no ``--insecure-skip-tls-verify``: what works here
works as on any cluster. The script is one table, run in order, because
each command builds on the one before (create, then apply a change, then
label, scale, describe, delete); a failure names the step.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from kitlib.cluster import ControlPlane

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed on this machine")

NGINX = Path(__file__).resolve().parents[2] / "book/part04-declarative-api/nginx-deployment.yaml"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with ControlPlane(tmp_path_factory.mktemp("kubectl")) as plane:
        yield plane


def kubectl(cluster, *args, check=True, stdin=None):
    result = subprocess.run(["kubectl", "--kubeconfig", str(cluster.kubeconfig), *args], input=stdin,
                            capture_output=True, text=True, timeout=60)
    if check:
        assert result.returncode == 0, f"kubectl {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
    return result


def manifests(tmp_path):
    """The files the script applies: the curriculum's Deployment, and a ConfigMap in two versions."""
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "labels": {"tier": "web"}},
              "data": {"color": "blue"}}
    (tmp_path / "cm-v1.yaml").write_text(yaml.safe_dump(config))
    config["data"] = {"color": "green", "size": "large"}
    (tmp_path / "cm-v2.yaml").write_text(yaml.safe_dump(config))
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "nginx"},
               "spec": {"selector": {"app": "nginx"}, "ports": [{"port": 80, "targetPort": 80}]}}
    (tmp_path / "svc.yaml").write_text(yaml.safe_dump(service))
    (tmp_path / "typo.yaml").write_text(NGINX.read_text().replace("replicas:", "replicaz:"))
    return tmp_path


# (arguments, text the output must contain). "{dir}" is the folder of manifests.
SCRIPT = [
    (["version"], "Server Version: v1.32"),
    (["api-resources"], "deployments"),
    (["api-resources", "--api-group=apps", "-o", "name"], "deployments.apps"),
    (["create", "-f", str(NGINX)], "deployment.apps/nginx-deployment created"),
    (["get", "deployments", "-o", "wide"], "nginx:1.7.9"),
    (["get", "deployment", "nginx-deployment", "-o", "yaml"], "replicas: 2"),
    (["get", "deployment", "nginx-deployment", "-o", "jsonpath={.spec.template.spec.containers[0].name}"], "nginx"),
    (["apply", "-f", "{dir}/cm-v1.yaml"], "configmap/settings created"),
    (["apply", "-f", "{dir}/cm-v1.yaml"], "configmap/settings unchanged"),
    (["apply", "-f", "{dir}/cm-v2.yaml"], "configmap/settings configured"),
    (["get", "configmap", "settings", "-o", "jsonpath={.data.color}/{.data.size}"], "green/large"),
    (["apply", "--server-side", "-f", "{dir}/svc.yaml"], "service/nginx serverside-applied"),
    (["get", "service", "nginx", "-o", "jsonpath={.metadata.managedFields[0].manager}"], "kubectl"),
    (["label", "deployment", "nginx-deployment", "tier=web"], "deployment.apps/nginx-deployment labeled"),
    (["get", "deployments,configmaps", "-l", "tier=web", "-o", "name"], "deployment.apps/nginx-deployment"),
    (["get", "configmaps", "-l", "tier in (web,db)", "-o", "name"], "configmap/settings"),
    (["get", "configmaps", "--field-selector", "metadata.name=settings", "-o", "name"], "configmap/settings"),
    (["scale", "deployment", "nginx-deployment", "--replicas=3"], "deployment.apps/nginx-deployment scaled"),
    (["get", "deployment", "nginx-deployment", "-o", "jsonpath={.spec.replicas}"], "3"),
    (["describe", "deployment", "nginx-deployment"], "Replicas:"),
    (["explain", "deployment.spec.replicas"], "FIELD: replicas <integer>"),
    (["delete", "-f", str(NGINX)], 'deployment.apps "nginx-deployment" deleted'),
    (["delete", "configmap", "settings"], 'configmap "settings" deleted'),
]


def test_the_kubectl_script(cluster, tmp_path):
    folder = manifests(tmp_path)
    for step, (args, expected) in enumerate(SCRIPT, 1):
        args = [a.replace("{dir}", str(folder)) for a in args]
        result = kubectl(cluster, *args, check=False)
        output = result.stdout + result.stderr
        assert result.returncode == 0 and expected in output, (
            f"step {step}: kubectl {' '.join(args)} (exit {result.returncode}) should print {expected!r}:\n{output}")


def test_kubectl_validates_against_the_servers_schema(cluster, tmp_path):
    folder = manifests(tmp_path)
    result = kubectl(cluster, "create", "-f", str(folder / "typo.yaml"), check=False)
    assert result.returncode != 0
    assert 'unknown field "spec.replicaz"' in result.stderr


def test_kubectl_reports_server_errors_as_kubernetes_does(cluster):
    result = kubectl(cluster, "get", "pod", "nope", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == 'Error from server (NotFound): pods "nope" not found'
    result = kubectl(cluster, "create", "-f", "-", check=False, stdin=json.dumps(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "Bad_Name"}, "spec": {"containers": []}}))
    assert result.returncode == 1 and "is invalid" in result.stderr


@pytest.mark.parametrize(
    "args, created",
    [
        (["namespace", "team-a"], "namespace/team-a created"),
        (["configmap", "generated", "--from-literal=a=b"], "configmap/generated created"),
        (["deployment", "gen", "--image=nginx:1.7.9", "--replicas=2"], "deployment.apps/gen created"),
    ],
    ids=["namespace", "configmap", "deployment"],
)
def test_kubectl_generators_send_protobuf_which_the_server_reads(cluster, args, created):
    assert created in kubectl(cluster, "create", *args).stdout


def test_kubectl_generators_of_kinds_without_a_protobuf_table_say_what_to_do(cluster):
    result = kubectl(cluster, "create", "priorityclass", "high", "--value=1000", check=False)
    assert result.returncode == 1 and "--dry-run=client -o yaml" in result.stderr, result.stderr


def test_kubectl_get_watch_prints_changes_as_they_happen(cluster):
    watcher = subprocess.Popen(["kubectl", "--kubeconfig", str(cluster.kubeconfig), "get", "configmaps", "-w",
                                "--output-watch-events", "--watch-only"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(watcher.stdout), daemon=True)
    reader.start()
    try:
        time.sleep(1.0)  # kubectl lists, then opens the watch
        kubectl(cluster, "create", "-f", "-", stdin=json.dumps(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "watched"}, "data": {"a": "b"}}))
        kubectl(cluster, "delete", "configmap", "watched")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("DELETED" in line for line in lines):
            time.sleep(0.1)
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)
    events = [line.split()[:2] for line in lines if "watched" in line]
    assert ["ADDED", "watched"] in events and ["DELETED", "watched"] in events, lines
