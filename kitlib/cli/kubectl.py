"""``kit get/apply/delete/describe/logs``: the everyday kubectl commands, for machines without kubectl.

    kit get deployments [-o wide|json|yaml|name] [-l app=web] [-A] [-w]
    kit apply -f nginx-deployment.yaml        # server-side apply, field manager "kit"
    kit delete -f nginx-deployment.yaml       # or: kit delete deployment web
    kit describe deployment nginx-deployment
    kit logs web [-c CONTAINER] [--tail 20] [-f]

Each command talks to the API server through :class:`~kitlib.client.rest.Client`,
as kubectl does through client-go, with the kubeconfig ``--kubeconfig``
names, else ``$KUBECONFIG``, else the ``admin.conf`` of ``kit init``
(:mod:`kitlib.cli.session`). The output is kubectl's: ``kit get``
(:mod:`kitlib.cli.get`) prints the server's Tables as kubectl lays them
out, ``kit describe`` uses kubectl's describers' layout
(:mod:`kitlib.cli.describe`), and a refused request prints kubectl's
``Error from server (NotFound): ...`` line and exits 1. This module holds
the writing commands, ``describe``, ``logs``, and the argument parsers
(:func:`add_commands`, called by the ``kit`` command).

Simplifications:
- ``apply`` is always server-side (``kubectl apply --server-side``); no
  client-side apply with its last-applied annotation, no ``--dry-run``,
  no ``--prune``. ``delete`` does not wait for finalizers.
- ``describe`` finds Events by the object's name, namespace and kind
  (kubectl also matches its uid).
- ``logs -f`` reads the whole log again every second and prints what is
  new (the client's transport reads whole answers, while kubectl keeps one
  response open); it stops when the container has terminated.
- ``logs`` takes a Pod (``NAME`` or ``pod/NAME``), not a workload.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from kitlib.api.errors import APIError, NotFound
from kitlib.cli import describe as describing
from kitlib.cli.get import cmd_get
from kitlib.cli.manifests import load
from kitlib.cli.printing import kind_prefix
from kitlib.cli.session import connect, exits_as_kubectl, server_error, targets
from kitlib.client.rest import ALL_NAMESPACES, Client, ResourceClient
from kitlib.errors import KitError

FOLLOW_INTERVAL = 1.0  # seconds between two reads of a followed log


# -- kit apply / kit delete -----------------------------------------------------------------


@exits_as_kubectl
def cmd_apply(args: argparse.Namespace) -> int:
    manifests = load(args.filename, args.namespace)  # every document checked before anything is sent
    failed = False
    with connect(args) as client:
        for m in manifests:
            obj = m.obj
            if m.resource.namespaced and not obj["metadata"].get("namespace"):
                obj = {**obj, "metadata": {**obj["metadata"], "namespace": client.namespace}}
            try:
                client.apply(obj, force=args.force_conflicts)
            except APIError as err:  # as kubectl: report it, go on with the other objects, exit 1
                server_error(err)
                failed = True
                continue
            # kubectl says so even when nothing changed: server-side apply does not tell it apart.
            print(f"{kind_prefix(m.resource.kind, m.resource.group)}/{m.name} serverside-applied")
    return 1 if failed else 0


@exits_as_kubectl
def cmd_delete(args: argparse.Namespace) -> int:
    if args.filename and args.resource:
        raise KitError("give either -f FILE or TYPE NAME..., not both")
    if not args.filename and not args.resource:
        raise KitError("say what to delete: `kit delete TYPE NAME...` or `kit delete -f FILE`")
    manifests = load(args.filename, args.namespace) if args.filename else []
    failed = False
    with connect(args) as client:
        doomed: list[tuple[ResourceClient, str, str | None]] = []
        for m in manifests:
            doomed.append((client.resource(m.resource.api_version, m.resource.kind), m.name, m.namespace))
        if args.resource:
            for rc, names in targets(client, args.resource, args.names)[0]:
                if args.selector:
                    names = [o["metadata"]["name"] for o in rc.list(label_selector=args.selector).get("items") or []]
                elif not names:
                    raise KitError("resource(s) were provided, but no name was specified (or use -l SELECTOR)")
                doomed += [(rc, name, None) for name in names]
        for rc, name, namespace in doomed:
            try:
                rc.delete(name, namespace)
            except NotFound as err:
                if not args.ignore_not_found:
                    server_error(err)
                    failed = True
                continue
            print(f'{kind_prefix(rc.resource.kind, rc.resource.group)} "{name}" deleted')
    return 1 if failed else 0


# -- kit describe / kit logs ----------------------------------------------------------------


@exits_as_kubectl
def cmd_describe(args: argparse.Namespace) -> int:
    with connect(args) as client:
        found, _ = targets(client, args.resource, args.names)
        events = client.resource("v1", "Event")
        outputs, errors = [], []
        for rc, names in found:
            objects = [] if names else rc.list(label_selector=args.selector).get("items") or []
            for name in names:
                try:
                    objects.append(rc.get(name))
                except NotFound as err:  # as kubectl: describe the others, then say what was missing
                    errors.append(err)
            for obj in objects:
                obj.setdefault("kind", rc.resource.kind)
                meta = obj["metadata"]
                about = [f"involvedObject.name={meta['name']}", f"involvedObject.kind={rc.resource.kind}"]
                if rc.resource.namespaced:
                    about.append(f"involvedObject.namespace={meta.get('namespace', '')}")
                listed = events.list(meta.get("namespace") or ALL_NAMESPACES, field_selector=",".join(about))
                outputs.append("\n".join(describing.describe(obj, listed.get("items") or [], client)))
        if outputs:
            print("\n\n\n".join(outputs))  # kubectl leaves two empty lines between two objects
        for err in errors:
            server_error(err)
        if not outputs and not errors:
            namespaced = all(rc.resource.namespaced for rc, _ in found)
            print(f"No resources found in {client.namespace} namespace." if namespaced else "No resources found",
                  file=sys.stderr)
    return 1 if errors else 0


def _default_container(pod: dict) -> str:
    """kubectl's choice when no -c is given: the default-container annotation, else the first, said on stderr."""
    names = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
    chosen = ((pod.get("metadata") or {}).get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
    if len(names) > 1:
        chosen = chosen if chosen in names else names[0]
        print(f'Defaulted container "{chosen}" out of: {", ".join(names)}', file=sys.stderr)
    return chosen or (names[0] if names else "")


def _container_done(client: Client, pod: str, container: str) -> bool:
    statuses = (client.pods().get(pod).get("status") or {}).get("containerStatuses") or []
    return any(s.get("name") == container and "terminated" in (s.get("state") or {}) for s in statuses)


@exits_as_kubectl
def cmd_logs(args: argparse.Namespace) -> int:
    kind, _, name = args.pod.rpartition("/")
    if kind not in ("", "pod", "pods", "po"):
        raise KitError(f"kit logs reads a Pod's log: give POD or pod/POD, not {args.pod!r}")
    with connect(args) as client:
        container = args.container or _default_container(client.pods().get(name))
        path = client.pods().path(None, name, "log")
        query = {k: v for k, v in (("container", container),
                                   ("tailLines", str(args.tail) if args.tail is not None and args.tail >= 0 else ""))
                 if v}
        if not args.follow:
            print(client.transport.request("GET", path, query=query, accept="text/plain").body
                  .decode("utf-8", "replace"), end="")
            return 0
        query.pop("tailLines", None)
        tail = args.tail if args.tail is not None and args.tail >= 0 else None
        seen = -1
        while True:
            log = client.transport.request("GET", path, query=query, accept="text/plain").body
            if seen < 0:  # the first read: the last --tail lines, or all of it
                lines = log.splitlines(keepends=True)
                new = b"".join(lines if tail is None else lines[max(0, len(lines) - tail):])
            else:
                new = log[seen:] if len(log) >= seen else log  # shorter: the container started over
            sys.stdout.write(new.decode("utf-8", "replace"))
            sys.stdout.flush()
            seen = len(log)
            if _container_done(client, name, container):
                return 0
            time.sleep(FOLLOW_INTERVAL)


# -- the parsers ------------------------------------------------------------------------------


def add_commands(commands: Any) -> None:
    """Add get, apply, delete, describe and logs to the ``kit`` command's subparsers."""
    cluster = argparse.ArgumentParser(add_help=False)
    cluster.add_argument("--kubeconfig", help="the kubeconfig to use (default: $KUBECONFIG, else the admin.conf "
                                              "of `kit init` in $KIT_HOME or ~/.kit)")
    cluster.add_argument("-n", "--namespace", help="the namespace (default: the kubeconfig's, else default)")

    def selector(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("-l", "--selector", default="", help="a label selector, e.g. app=web or 'tier in (web,db)'")

    get = commands.add_parser("get", parents=[cluster], help="list objects, as kubectl get")
    get.add_argument("resource", help="TYPE (deployments, deploy, deployment.apps), TYPE1,TYPE2, all, or TYPE/NAME")
    get.add_argument("names", nargs="*", help="only these objects")
    get.add_argument("-o", "--output", choices=("wide", "json", "yaml", "name"), help="the output format")
    selector(get)
    get.add_argument("--field-selector", default="", help="a field selector, e.g. metadata.name=web")
    get.add_argument("-A", "--all-namespaces", action="store_true", help="list across every namespace")
    get.add_argument("-w", "--watch", action="store_true", help="then print every change, until Ctrl-C")
    get.set_defaults(func=cmd_get)

    apply = commands.add_parser("apply", parents=[cluster], help="create or update objects from manifests "
                                                                  "(server-side apply, as kubectl apply --server-side)")
    apply.add_argument("-f", "--filename", action="append", required=True, help="a file, a folder, or - for stdin")
    apply.add_argument("--force-conflicts", action="store_true", help="take over fields another manager owns")
    apply.set_defaults(func=cmd_apply)

    delete = commands.add_parser("delete", parents=[cluster], help="delete objects, by file or by name")
    delete.add_argument("resource", nargs="?", help="TYPE, TYPE1,TYPE2 or TYPE/NAME")
    delete.add_argument("names", nargs="*")
    delete.add_argument("-f", "--filename", action="append", help="delete what these manifests describe")
    selector(delete)
    delete.add_argument("--ignore-not-found", action="store_true", help="no error for an object already gone")
    delete.set_defaults(func=cmd_delete)

    describe = commands.add_parser("describe", parents=[cluster], help="an object and its events, as kubectl describe")
    describe.add_argument("resource", help="TYPE or TYPE/NAME")
    describe.add_argument("names", nargs="*", help="the objects (default: every one)")
    selector(describe)
    describe.set_defaults(func=cmd_describe)

    logs = commands.add_parser("logs", parents=[cluster], help="what a Pod's container printed")
    logs.add_argument("pod", help="POD or pod/POD")
    logs.add_argument("-c", "--container", help="the container (needed when the Pod has several)")
    logs.add_argument("--tail", type=int, help="only the last N lines")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until Ctrl-C")
    logs.set_defaults(func=cmd_logs)
