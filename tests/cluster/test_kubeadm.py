"""``kit init`` / ``kit status`` / ``kit down``: a control plane in the background, and the messages around it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

from kitlib.cluster import ControlPlane
from kitlib.cluster.kubeadm import STATE, read_state


def kit(home, *args):
    env = {**os.environ, "KIT_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "kitlib.cli", *args], capture_output=True, text=True, env=env,
                          timeout=60)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_init_status_down_and_resume(tmp_path):
    home, port = tmp_path / "kit", free_port()
    try:
        started = kit(home, "init", "--port", str(port))
        assert started.returncode == 0, started.stderr
        assert f"export KUBECONFIG={home / 'admin.conf'}" in started.stdout
        again = kit(home, "init", "--port", str(port))
        assert again.returncode == 1 and "already running" in again.stderr and "Traceback" not in again.stderr
        if shutil.which("kubectl"):
            ns = subprocess.run(["kubectl", "--kubeconfig", str(home / "admin.conf"), "create", "namespace", "kept"],
                                capture_output=True, text=True, timeout=30)
            assert ns.returncode == 0, ns.stderr
        status = kit(home, "status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert f"https://127.0.0.1:{port}" in status.stdout and "namespaces:" in status.stdout
        stopped = kit(home, "down")
        assert "stopped the control plane" in stopped.stdout and "data stays" in stopped.stdout
        assert kit(home, "status").returncode == 3
        # A second init resumes the same data, as a rebooted control-plane node does.
        assert kit(home, "init", "--port", str(port)).returncode == 0
        if shutil.which("kubectl"):
            got = subprocess.run(["kubectl", "--kubeconfig", str(home / "admin.conf"), "get", "namespace", "kept",
                                  "-o", "name"], capture_output=True, text=True, timeout=30)
            assert got.stdout.strip() == "namespace/kept", got.stderr
    finally:
        purged = kit(home, "down", "--purge")
    assert "removed" in purged.stdout and not home.exists()


def test_init_on_a_port_in_use_says_what_to_do(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = kit(tmp_path / "kit", "init", "--port", str(busy.getsockname()[1]))
    assert result.returncode == 1
    assert "is in use" in result.stderr and "--port" in result.stderr and "Traceback" not in result.stderr


def test_down_with_nothing_running(tmp_path):
    result = kit(tmp_path / "kit", "down")
    assert result.returncode == 0 and "no control plane was running" in result.stdout


def test_a_stale_state_record_is_not_a_running_cluster(tmp_path):
    (tmp_path / STATE).write_text(json.dumps({"pid": 2**22 + 12345, "url": "https://127.0.0.1:1"}))
    assert read_state(tmp_path) is None


def test_control_plane_in_one_line_with_a_temporary_directory():
    with ControlPlane() as plane:
        data_dir = plane.data_dir
        assert plane.kubeconfig.exists() and plane.url.startswith("https://127.0.0.1:")
    assert not data_dir.exists()
