"""``kit init``, ``kit status``, ``kit down``: a control plane that outlives the shell, as kubeadm leaves one.

``kubeadm init`` turns a machine into a control-plane node: it writes
certificates and an admin kubeconfig, starts etcd and kube-apiserver as
long-running processes, and returns. :func:`init` does the same with a
:class:`~kitlib.cluster.controlplane.ControlPlane` run by a background
Python process (:func:`serve`). Its state lives in the data directory
(``$KIT_HOME``, by default ``~/.kit``): the store, the certificates,
``admin.conf``, ``kit.json`` (the process and its address) and
``control-plane.log``.

A second ``kit init`` while one runs says so; a ``kit init`` after
``kit down`` starts again on the same data, like a rebooted control-plane
node (``kit down --purge`` removes the data instead, like ``kubeadm reset``).

Simplifications:
- One process holds the whole control plane (kubeadm runs each component
  as a static Pod); it logs to a file instead of the journal.
- The background process freezes what survives a full garbage collection
  (``gc.freeze``): a reference cycle that becomes garbage after surviving
  one is never freed. Objects without cycles are freed as always.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from kitlib.cluster.controlplane import DEFAULT_PORT, ControlPlane
from kitlib.errors import KitError

STATE, LOG = "kit.json", "control-plane.log"
READY_TIMEOUT = 30.0


def default_data_dir() -> Path:
    return Path(os.environ.get("KIT_HOME") or Path.home() / ".kit")


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie (exited, not yet reaped by its parent) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        os.waitpid(pid, os.WNOHANG)  # our own child (kit init from this process): reap it if it exited
    except ChildProcessError:
        pass  # not our child
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False  # gone meanwhile
    return state != "Z"


def read_state(data_dir: Path) -> dict[str, Any] | None:
    """The running control plane's record, or None (no record, or its process is gone)."""
    try:
        state = json.loads((data_dir / STATE).read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and _alive(int(state.get("pid", 0))) else None


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def init(data_dir: Path, *, port: int = DEFAULT_PORT, store: str | None = None, nodes: int = 0) -> dict[str, Any]:
    """Start the control plane in the background and wait until it answers; its state record.

    With ``nodes``, the whole cluster: the scheduler, the controller manager
    and that many simulated nodes too (``kit up --simulated``).
    """
    running = read_state(data_dir)
    if running:
        raise KitError(f"a control plane is already running from {data_dir} (pid {running['pid']}, {running['url']}); "
                       "`kit down` stops it")
    if not _port_free("127.0.0.1", port):
        raise KitError(f"port {port} on 127.0.0.1 is in use: stop what uses it (`ss -ltnp 'sport = :{port}'` "
                       f"shows it) or choose another port with `kit init --port N`")
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / STATE).unlink(missing_ok=True)
    command = [sys.executable, "-m", "kitlib.cluster.kubeadm", "serve", str(data_dir), str(port)]
    if store:
        command += ["--store", store]
    if nodes:
        command += ["--nodes", str(nodes)]
    with open(data_dir / LOG, "ab") as log_file:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                   start_new_session=True, cwd=data_dir)
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise KitError(f"the control plane stopped at start: {_last_line(data_dir / LOG)} "
                           f"(the whole log is in {data_dir / LOG})")
        state = read_state(data_dir)
        if state:
            return state
        time.sleep(0.05)
    process.terminate()
    raise KitError(f"the control plane did not answer within {READY_TIMEOUT:.0f} s; see {data_dir / LOG}")


def _last_line(path: Path) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def serve(data_dir: Path, port: int, store: str | None = None, nodes: int = 0) -> int:
    """The background process: run the control plane (and, with ``nodes``, the whole cluster) until SIGTERM or SIGINT."""
    import logging

    from kitlib.cluster.local import LocalCluster

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        if nodes:
            cluster = LocalCluster(nodes, data_dir=data_dir, store=store, port=port).up()
            plane, stop_all = cluster.plane, cluster.down
        else:
            plane = ControlPlane(data_dir, store=store, port=port).start()
            stop_all = plane.stop
    except KitError as err:
        print(f"kit: {err}", flush=True)
        return 1
    # Everything made while starting (modules, the schemas, the bootstrap objects) lives as long as the
    # process, and so, mostly, does what survives a full collection (the store's contents). Moved out
    # of the garbage collector's sight, none of it is walked again by the next full collection, which
    # otherwise paused every request for 15-30 ms now and then, longer as the store grew.
    gc.freeze()
    gc.callbacks.append(lambda phase, info: gc.freeze() if phase == "stop" and info["generation"] == 2 else None)
    state = {"pid": os.getpid(), "url": plane.url, "port": plane.apiserver.port, "kubeconfig": str(plane.kubeconfig),
             "store": plane.store_url, "nodes": nodes, "started": time.time()}
    tmp = data_dir / (STATE + ".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(data_dir / STATE)  # written whole, so a reader never sees half a record
    try:
        stop.wait()
    finally:
        (data_dir / STATE).unlink(missing_ok=True)
        stop_all()
    return 0


def down(data_dir: Path, *, purge: bool = False, timeout: float = 10.0) -> str:
    """Stop the background control plane (its data stays unless ``purge``); what was done, in words."""
    state = read_state(data_dir)
    said = "no control plane was running"
    if state:
        pid = int(state["pid"])
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)  # the store's log makes this safe: nothing acknowledged is lost
        said = f"stopped the control plane (pid {pid})"
    if purge and data_dir.exists():
        shutil.rmtree(data_dir)
        said += f"; removed {data_dir}"
    elif data_dir.exists():
        said += f"; its data stays in {data_dir} (`kit init` resumes it, `kit down --purge` removes it)"
    return said


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m kitlib.cluster.kubeadm", description="the background process of kit init/up")
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("port", type=int)
    parser.add_argument("--store")
    parser.add_argument("--nodes", type=int, default=0)
    args = parser.parse_args()
    sys.exit(serve(args.data_dir, args.port, args.store, args.nodes))
