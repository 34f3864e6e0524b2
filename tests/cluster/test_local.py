"""A whole local cluster: the curriculum's Deployment, applied with the real kubectl, ends with two Running Pods."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kitlib.cluster import up

NGINX = Path(__file__).resolve().parents[2] / "book/part04-declarative-api/nginx-deployment.yaml"
needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed on this machine")


def wait_until(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not true within {timeout} s")


@needs_kubectl
def test_nginx_deployment_ends_with_two_running_pods():
    with up(nodes=3) as cluster:
        def kubectl(*args):
            result = subprocess.run(["kubectl", "--kubeconfig", str(cluster.kubeconfig), *args],
                                    capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, result.stderr
            return result.stdout

        assert "deployment.apps/nginx-deployment created" in kubectl("apply", "-f", str(NGINX))

        def running():
            pods = json.loads(kubectl("get", "pods", "-l", "app=nginx", "-o", "json"))["items"]
            return [p for p in pods if p["status"].get("phase") == "Running"] if len(pods) == 2 else []

        pods = wait_until(running)
        assert len(pods) == 2 and all(p["spec"]["nodeName"].startswith("node-") for p in pods)
        assert "successfully rolled out" in kubectl("rollout", "status", "deployment/nginx-deployment", "--timeout=20s")
        # The scheduler said where, and why there, in the Pod's events.
        events = json.loads(kubectl("get", "events", "-o", "json"))["items"]
        assert {e["reason"] for e in events} >= {"Scheduled"}


def test_kit_up_simulated_and_down(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "KIT_HOME": str(tmp_path / "kit")}

    def kit(*args):
        return subprocess.run([sys.executable, "-m", "kitlib.cli", *args], capture_output=True, text=True, env=env,
                              timeout=60)

    try:
        started = kit("up", "--simulated", "--nodes", "2", "--port", str(port))
        assert started.returncode == 0, started.stderr
        assert "with 2 simulated nodes" in started.stdout
        status = kit("status")
        assert "nodes:         2" in status.stdout, status.stdout
    finally:
        assert "stopped" in kit("down", "--purge").stdout


def test_kit_up_without_simulated_says_what_exists(tmp_path):
    result = subprocess.run([sys.executable, "-m", "kitlib.cli", "up"], capture_output=True, text=True,
                            env={**os.environ, "KIT_HOME": str(tmp_path)}, timeout=60)
    assert result.returncode == 1 and "--simulated" in result.stderr and "Traceback" not in result.stderr


# ---- a simulation on a FakeClock: settle, advance, replay, a node dies ------------------------------------

WALL_START = 1_767_225_600.0
TOLERATION_SECONDS = 20  # instead of the default 300 s, so a dead node's Pods go after 50 + 20 simulated seconds


def deployment(name: str, replicas: int, cpu: str) -> dict:
    tolerations = [{"key": f"node.kubernetes.io/{t}", "operator": "Exists", "effect": "NoExecute",
                    "tolerationSeconds": TOLERATION_SECONDS} for t in ("not-ready", "unreachable")]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"tolerations": tolerations,
                                           "containers": [{"name": "main", "image": "nginx:1.7.9",
                                                           "resources": {"requests": {"cpu": cpu}}}]}}}}


def placements(client) -> list[tuple[str, str, str]]:
    pods = client.pods("default").list()["items"]
    return sorted((p["metadata"]["name"], p["spec"].get("nodeName", ""), p["status"].get("phase", "")) for p in pods)


def node_failure_scenario(seed: int) -> dict:
    """Two Deployments on four hollow nodes; node-0002 stops heartbeating; what the cluster looks like at each step."""
    from kitlib.clock import FakeClock

    seen: dict = {}
    with up(nodes=4, seed=seed, clock=FakeClock(wall_start=WALL_START)) as cluster:
        client = cluster.client(in_process=True)
        client.deployments("default").create(deployment("web", 6, "100m"))
        client.deployments("default").create(deployment("api", 4, "300m"))
        assert cluster.settle(), "the cluster did not settle"
        seen["settled"] = placements(client)
        cluster.advance(10)
        seen["running"] = placements(client)
        cluster.sim.fail_node("node-0002")
        cluster.advance(50 + TOLERATION_SECONDS + 10)
        seen["healed"] = placements(client)
        seen["node"] = client.nodes().get("node-0002")
    return seen


@pytest.fixture(scope="module")
def two_runs():
    return node_failure_scenario(7), node_failure_scenario(7)


def test_settle_creates_and_binds_but_time_stands_still(two_runs):
    settled = two_runs[0]["settled"]
    assert len(settled) == 10
    assert all(node.startswith("node-") and phase == "Pending" for _, node, phase in settled), settled


def test_the_same_seed_replays_the_same_placements(two_runs):
    first, second = two_runs
    for step in ("settled", "running", "healed"):
        assert first[step] == second[step], f"the runs differ after {step!r}"


def test_pods_of_a_dead_node_are_rescheduled_on_the_others(two_runs):
    seen = two_runs[0]
    assert [p for p in seen["running"] if p[1] == "node-0002"], "the scenario must put Pods on node-0002"
    assert all(phase == "Running" for _, _, phase in seen["running"])
    healed = seen["healed"]
    assert len(healed) == 10 and all(phase == "Running" for _, _, phase in healed), healed
    assert not [p for p in healed if p[1] == "node-0002"], healed
    replaced = {name for name, _, _ in seen["running"]} - {name for name, _, _ in healed}
    assert replaced == {name for name, node, _ in seen["running"] if node == "node-0002"}
    node = seen["node"]
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "Unknown"
    assert {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"} in [
        {k: t[k] for k in ("key", "effect")} for t in node["spec"].get("taints") or []]


def test_advance_needs_a_fake_clock():
    from kitlib.errors import KitError

    with up(nodes=1) as cluster:
        with pytest.raises(KitError, match="FakeClock"):
            cluster.advance(1)
        assert cluster.settle()
