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
