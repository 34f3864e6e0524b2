"""What every kubectl-like ``kit`` command shares: the kubeconfig, the client, the arguments, the error line.

kubectl finds its cluster through ``--kubeconfig``, else ``$KUBECONFIG``;
``kit`` adds a last choice, the ``admin.conf`` that ``kit init`` wrote in
``$KIT_HOME`` (default ``~/.kit``), and says in one line when there is no
cluster at all. Its arguments name objects as kubectl's do (``deployments``,
``deploy,cm``, ``all``, ``deploy/web``), resolved by :func:`targets`. A
request the API server refuses ends the command with kubectl's own line,
``Error from server (NotFound): deployments.apps "web" not found``, and exit
code 1 (:func:`exits_as_kubectl`).

Simplifications:
- One kubeconfig file, its current context (no ``--context``, ``--user``,
  ``--server``); only the first file of ``$KUBECONFIG``.
- Resource names come from the kit's own resource table, not discovery.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path
from typing import Callable

from kitlib.api.errors import APIError, Conflict
from kitlib.apiserver.resources import RESOURCES
from kitlib.client.rest import Client, ResourceClient
from kitlib.errors import KitError

Targets = list[tuple[ResourceClient, list[str]]]


def kubeconfig_path(args: argparse.Namespace) -> Path:
    """``--kubeconfig``, else the first file of ``$KUBECONFIG``, else ``<kit data dir>/admin.conf``."""
    from kitlib.cluster.kubeadm import default_data_dir  # here: kubeadm loads the API server and its PKI

    if args.kubeconfig:
        path = Path(args.kubeconfig).expanduser()
    else:
        listed = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
        path = Path(listed[0]).expanduser() if listed else default_data_dir() / "admin.conf"
    if not path.is_file():
        raise KitError(f"no cluster: `kit init` starts one (or pass --kubeconfig); there is no kubeconfig at {path}")
    return path


def connect(args: argparse.Namespace) -> Client:
    client = Client.from_kubeconfig(kubeconfig_path(args))
    if args.namespace:
        client.namespace = args.namespace
    return client


def server_error(err: APIError) -> None:
    """kubectl's one line for a refused request: ``Error from server (NotFound): ...``."""
    message = " ".join(str(err.message).split())  # one line, even for a multi-line Status message
    if isinstance(err, Conflict) and "--force-conflicts" not in message and message.startswith("Apply failed"):
        message += "; to take these fields over, apply again with --force-conflicts"
    print(f"Error from server ({err.reason or err.code}): {message}", file=sys.stderr)


def exits_as_kubectl(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Failures end a command as kubectl's do: one line and exit code 1, never a traceback.

    A request the server refuses prints kubectl's ``Error from server`` line.
    A reader that stops early (``kit get pods | head -1``) closes the pipe:
    the rest of the output goes nowhere, quietly, as in kubectl.
    """
    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except APIError as err:
            server_error(err)
            return 1
        except BrokenPipeError:
            # Python's advice: point stdout at /dev/null, or the flush at exit fails again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
    return run


# -- what the arguments name -----------------------------------------------------------


def targets(client: Client, resource: str, names: list[str]) -> tuple[Targets, bool]:
    """(resource, names) in the order asked, and whether several kinds were asked for (kubectl then prints kinds).

    ``deployments``, ``deploy,cm``, ``all`` (the "all" category), or ``TYPE/NAME`` arguments.
    """
    found: dict[str, tuple[ResourceClient, list[str]]] = {}

    def add(kind: str, name: str | None = None) -> None:
        chosen = [client.resource(r.api_version, r.kind) for r in RESOURCES if "all" in r.categories] \
            if kind == "all" else [client.resource(kind)]
        for rc in chosen:
            entry = found.setdefault(rc.resource.group_resource, (rc, []))
            if name:
                entry[1].append(name)

    if "/" in resource:
        for arg in [resource, *names]:
            kind, _, name = arg.partition("/")
            if not kind or not name:
                raise KitError(f"{arg!r} is not TYPE/NAME: give every object as TYPE/NAME, or TYPE then names")
            add(kind, name)
        return list(found.values()), len(found) > 1
    if any("/" in name for name in names):
        raise KitError("there is no need to give a resource type as a separate argument when passing arguments "
                       "in resource/name form (e.g. 'kit get resource/<name>', not 'kit get resource resource/<name>')")
    for kind in filter(None, resource.split(",")):
        add(kind)
    for rc, listed in found.values():
        listed.extend(names)
    return list(found.values()), "," in resource or resource == "all"
