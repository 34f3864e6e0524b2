"""The ``kit`` command: the kit's operator entry point, like ``kubeadm`` and ``kubectl`` together.

    kit init [--port 6443]           start a control plane in the background (kubeadm init)
    kit up --simulated [--nodes 3]   a whole cluster in the background: scheduler, controllers, nodes
    kit status                       is it running, where, and what it holds
    kit down [--purge]               stop it (and remove its data)
    kit get/apply/delete/describe/logs  the everyday kubectl commands, for machines without kubectl
    kit doctor                       what this machine can run, and what to install
    kit store ls DIR [PREFIX]        the keys in a store's data directory
    kit store crash-trials DIR       kill a writing store with SIGKILL, recover, check

The control plane keeps its state in ``$KIT_HOME`` (default ``~/.kit``);
``kit init`` prints the kubeconfig to give kubectl. Every expected failure
(a port in use, a missing binary, a store already open, a broken manifest)
prints one line saying what to do, never a traceback.

Simplifications:
- ``kit up`` has simulated nodes only; ``kit join`` (real nodes) arrives
  with the kubelet.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from pathlib import Path

from kitlib import __version__
from kitlib.errors import KitError

# (what, how to check, what to install when it is missing, what needs it)
_TOOLS = [
    ("dot", "graphviz", "the pictures in the book"),
    ("etcd", "etcd-server", "the store's etcd backend and its benchmark"),
    ("busybox", "busybox-static", "container images (a later chapter)"),
    ("ip", "iproute2", "network namespaces (a later chapter)"),
    ("chromium", "chromium", "the website test"),
    ("kubectl", "kubectl (from Kubernetes' own packages)", "driving the kit with the real kubectl"),
]


def _cgroup_layout() -> str:
    if Path("/sys/fs/cgroup/cgroup.controllers").exists():
        return "v2 (unified)"
    if Path("/sys/fs/cgroup/unified").is_dir():
        return "hybrid (v1 controllers, v2 at /sys/fs/cgroup/unified)"
    if Path("/sys/fs/cgroup/memory").is_dir():
        return "v1"
    return "none found"


def cmd_doctor(args: argparse.Namespace) -> int:
    print(f"kit {__version__} on Python {sys.version.split()[0]}")
    root = os.geteuid() == 0
    print(f"{'ok' if root else 'no':>4}  root: {'yes' if root else 'no: chapters on namespaces and networks need sudo'}")
    print(f"{'ok':>4}  cgroups: {_cgroup_layout()}")
    missing = []
    for binary, package, purpose in _TOOLS:
        path = shutil.which(binary) or (f"/usr/sbin/{binary}" if os.access(f"/usr/sbin/{binary}", os.X_OK) else None)
        print(f"{'ok' if path else 'no':>4}  {binary}: {path or 'missing, needed for ' + purpose}")
        if not path:
            missing.append(package)
    if missing:
        print(f"to install what is missing: sudo apt-get install {' '.join(p for p in missing if ' ' not in p)}")
    return 0


def cmd_store_ls(args: argparse.Namespace) -> int:
    from kitlib.store.embedded import EmbeddedStore

    if not Path(args.data_dir).is_dir():
        raise KitError(f"{args.data_dir} is not a directory: give the data directory of an embedded store")
    with EmbeddedStore(Path(args.data_dir), lessor=False) as store:
        result = store.range(args.prefix, prefix=True, revision=args.revision)
        print(f"revision {result.revision}, {result.count} keys under {args.prefix!r}")
        for kv in result.kvs:
            value = kv.value.decode("utf-8", "replace")
            if len(value) > 60:
                value = value[:57] + "..."
            print(f"{kv.key}  (created {kv.create_revision}, modified {kv.mod_revision}, version {kv.version})  {value}")
    return 0


def cmd_store_crash_trials(args: argparse.Namespace) -> int:
    from kitlib.store.crash import run_trials

    report = run_trials(Path(args.data_dir), args.trials, seed=args.seed)
    print(report.summary())
    for key in report.lost:
        print(f"LOST {key}")
    return 0 if report.ok else 1


def _data_dir(args: argparse.Namespace) -> Path:
    from kitlib.cluster.kubeadm import default_data_dir

    return Path(args.data_dir) if getattr(args, "data_dir", None) else default_data_dir()


def cmd_init(args: argparse.Namespace) -> int:
    from kitlib.cluster.kubeadm import init

    state = init(_data_dir(args), port=args.port, store=args.store)
    print(f"control plane running at {state['url']} (pid {state['pid']})")
    print("to use it with kubectl:")
    print(f"  export KUBECONFIG={state['kubeconfig']}")
    print("  kubectl get namespaces")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from kitlib.cluster.kubeadm import init

    if not args.simulated:
        raise KitError("only simulated nodes exist so far: `kit up --simulated --nodes N` "
                       "(nodes with real containers come with the kubelet)")
    if args.nodes < 1:
        raise KitError("--nodes must be at least 1")
    state = init(_data_dir(args), port=args.port, store=args.store, nodes=args.nodes)
    print(f"cluster running at {state['url']} with {args.nodes} simulated nodes (pid {state['pid']})")
    print("to use it with kubectl:")
    print(f"  export KUBECONFIG={state['kubeconfig']}")
    print("  kubectl get nodes")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from kitlib.cluster.kubeadm import read_state

    data_dir = _data_dir(args)
    state = read_state(data_dir)
    if state is None:
        print(f"no control plane is running from {data_dir}: `kit init` starts one")
        return 3  # as `systemctl status` does for a stopped unit
    print(f"control plane: running (pid {state['pid']}) at {state['url']}")
    print(f"store:         {state['store']}")
    print(f"kubeconfig:    {state['kubeconfig']}")
    try:
        from kitlib.client.rest import Client

        client = Client.from_kubeconfig(state["kubeconfig"])
        for plural in ("namespaces", "nodes", "pods", "deployments"):
            count = len(client.resource(plural).list(namespace="")["items"]) if plural != "namespaces" else \
                len(client.resource(plural).list()["items"])
            print(f"{plural + ':':<15}{count}")
    except KitError as err:
        print(f"API server:    not answering ({err})")
        return 1
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from kitlib.cluster.kubeadm import down

    print(down(_data_dir(args), purge=args.purge))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kit", description="A Kubernetes that runs in a textbook.")
    parser.add_argument("--version", action="version", version=f"kit {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the engine does")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    init = commands.add_parser("init", help="start a control plane in the background (like kubeadm init)")
    init.add_argument("--port", type=int, default=6443, help="the API server's port (default 6443)")
    init.add_argument("--store", help="a store URL instead of the data directory (e.g. etcd://127.0.0.1:2379)")
    init.add_argument("--data-dir", help="where the cluster keeps its state (default $KIT_HOME or ~/.kit)")
    init.set_defaults(func=cmd_init)
    up = commands.add_parser("up", help="start a whole cluster in the background: control plane, scheduler, "
                                         "controllers and nodes")
    up.add_argument("--simulated", action="store_true", help="simulated nodes (hollow kubelets, no containers)")
    up.add_argument("--nodes", type=int, default=3, help="how many nodes (default 3)")
    up.add_argument("--port", type=int, default=6443, help="the API server's port (default 6443)")
    up.add_argument("--store", help="a store URL instead of the data directory (e.g. etcd://127.0.0.1:2379)")
    up.add_argument("--data-dir", help="where the cluster keeps its state (default $KIT_HOME or ~/.kit)")
    up.set_defaults(func=cmd_up)
    status = commands.add_parser("status", help="is the control plane running, and what does it hold")
    status.add_argument("--data-dir", help="the cluster's data directory (default $KIT_HOME or ~/.kit)")
    status.set_defaults(func=cmd_status)
    down = commands.add_parser("down", help="stop the background control plane")
    down.add_argument("--purge", action="store_true", help="also remove its data (like kubeadm reset)")
    down.add_argument("--data-dir", help="the cluster's data directory (default $KIT_HOME or ~/.kit)")
    down.set_defaults(func=cmd_down)

    from kitlib.cli.kubectl import add_commands
    add_commands(commands)

    doctor = commands.add_parser("doctor", help="what this machine can run, and what to install")
    doctor.set_defaults(func=cmd_doctor)

    store = commands.add_parser("store", help="look at and test the embedded store")
    store_commands = store.add_subparsers(dest="store_command", metavar="COMMAND")
    ls = store_commands.add_parser("ls", help="list the keys in a data directory")
    ls.add_argument("data_dir")
    ls.add_argument("prefix", nargs="?", default="/")
    ls.add_argument("--revision", type=int, default=0, help="read the key space as it was at this revision")
    ls.set_defaults(func=cmd_store_ls)
    crash = store_commands.add_parser("crash-trials", help="SIGKILL a writing store and check nothing acknowledged is lost")
    crash.add_argument("data_dir")
    crash.add_argument("--trials", type=int, default=20)
    crash.add_argument("--seed", type=int, default=0)
    crash.set_defaults(func=cmd_store_crash_trials)
    store.set_defaults(func=lambda args: store.print_help() or 2)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KitError as err:
        print(f"kit: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
