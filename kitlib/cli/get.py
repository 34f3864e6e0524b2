"""``kit get``: objects as kubectl prints them, from the API server's own Tables.

Since Kubernetes 1.11 kubectl does not format objects itself: it asks the
server for a ``meta.k8s.io/v1 Table`` (``Accept: application/json;as=Table``)
and lays the cells out (:mod:`kitlib.cli.printing`). ``kit get`` does the
same, so its columns are the server's printers (:mod:`kitlib.apiserver.printers`).
``-o json|yaml`` prints the object, or a ``v1 List`` of several, ``-o name``
``deployment.apps/web``; ``-w`` prints the current objects, then a row per
change until Ctrl-C.

Simplifications:
- Lists come in one request (kubectl pages by 500); no ``-o jsonpath`` or
  ``custom-columns``, ``-L``, ``--show-labels``, ``--sort-by``.
- ``-w`` builds its rows with the kit's printers from the watched objects,
  ages by this machine's clock: the client's watch asks for JSON events
  (``Transport.stream`` takes no ``Accept``), never for Table events.
"""

from __future__ import annotations

import argparse
import sys
import time

from kitlib.api.errors import NotFound, from_status
from kitlib.apiserver.table import to_table
from kitlib.cli.printing import align, as_list, kind_prefix, printable, table_lines, to_json, to_yaml
from kitlib.cli.session import Targets, connect, exits_as_kubectl, server_error, targets
from kitlib.client.rest import ALL_NAMESPACES, ResourceClient
from kitlib.errors import KitError

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"  # what kubectl get asks for (server-side printing)


def _query(args: argparse.Namespace, name: str = "") -> dict[str, str]:
    fields = ",".join(filter(None, [args.field_selector, f"metadata.name={name}" if name else ""]))
    return {k: v for k, v in (("labelSelector", args.selector), ("fieldSelector", fields)) if v}


def get_table(rc: ResourceClient, namespace: str | None, name: str = "", query: dict | None = None) -> dict:
    """The server's Table of one object or a list (a server without Tables gets one built here)."""
    path = rc.path(namespace, name) if name else rc.path(namespace, collection=True)
    answer = rc.client.transport.request("GET", path, query=query or None, accept=TABLE).json()
    if answer.get("kind") != "Table":
        answer = to_table(rc.resource, [answer] if name else answer.get("items") or [], now_wall=time.time(),
                          list_metadata=None if name else answer.get("metadata"))
    return answer


# -- kit get -------------------------------------------------------------------------------


@exits_as_kubectl
def cmd_get(args: argparse.Namespace) -> int:
    with connect(args) as client:
        found, several_kinds = targets(client, args.resource, args.names)
        if args.selector and any(names for _, names in found):
            raise KitError("name cannot be provided when a selector is specified")
        if args.all_namespaces and any(names for _, names in found):
            raise KitError("a resource cannot be retrieved by name across all namespaces")
        namespace = ALL_NAMESPACES if args.all_namespaces else None
        if args.watch:
            return watch(found, namespace, args)
        if args.output in ("json", "yaml", "name"):
            return _print_objects(found, namespace, args)
        printed, errors = False, []
        for rc, names in found:
            table: dict | None = None
            for name in names or [""]:
                try:
                    got = get_table(rc, namespace, name, None if name else _query(args))
                except NotFound as err:
                    errors.append(err)
                    continue
                if table is None:
                    table = got
                else:
                    table["rows"] += got.get("rows") or []
            with_kind = kind_prefix(rc.resource.kind, rc.resource.group) if several_kinds else ""
            lines = table_lines(table or {}, wide=args.output == "wide",
                                with_namespace=args.all_namespaces and rc.resource.namespaced, kind=with_kind)
            if lines:
                if printed:
                    print()  # kubectl separates the tables of different kinds by a blank line
                print("\n".join(align(lines)))
                printed = True
        for err in errors:
            server_error(err)
        if not printed and not errors:
            namespaced = not args.all_namespaces and all(rc.resource.namespaced for rc, _ in found)
            print(f"No resources found in {found[0][0].namespace} namespace." if namespaced else "No resources found",
                  file=sys.stderr)
        return 1 if errors else 0


def _print_objects(found: Targets, namespace: str | None, args: argparse.Namespace) -> int:
    """``-o json|yaml|name``: one object when one was named, else a ``v1 List``, as kubectl prints them."""
    objects: list[tuple[ResourceClient, dict]] = []
    errors = []
    for rc, names in found:
        for name in names:
            try:
                objects.append((rc, rc.get(name)))
            except NotFound as err:
                errors.append(err)
        if not names:
            listed = rc.list(namespace, label_selector=args.selector, field_selector=args.field_selector)
            objects += [(rc, obj) for obj in listed.get("items") or []]
    if args.output == "name":
        for rc, obj in objects:
            print(f"{kind_prefix(rc.resource.kind, rc.resource.group)}/{obj['metadata']['name']}")
    elif objects or not errors:
        single = len(found) == 1 and len(found[0][1]) == 1  # kubectl's singleItemImplied
        document = objects[0][1] if single else as_list([obj for _, obj in objects])
        print(to_json(printable(document)) if args.output == "json" else to_yaml(printable(document)))
    for err in errors:
        server_error(err)
    return 1 if errors else 0


def watch(found: Targets, namespace: str | None, args: argparse.Namespace) -> int:
    """``get -w``: the current objects, then one row (or object) per change until Ctrl-C or the server ends the watch."""
    if len(found) != 1:
        raise KitError("you may only specify a single resource type")
    rc, names = found[0]
    if len(names) > 1:
        raise KitError(f"watch is only supported on individual resources and resource collections, "
                       f"but {len(names)} resources were found")
    query = _query(args, names[0] if names else "")
    human = args.output in (None, "wide")
    widths: list[int] = []
    shown = 0

    def show(objects: list[dict], table: dict | None = None) -> None:
        nonlocal shown
        if human:
            table = table or to_table(rc.resource, objects, now_wall=time.time())
            lines = table_lines(table, wide=args.output == "wide", headers=not shown,
                                with_namespace=args.all_namespaces and rc.resource.namespaced)
            for line in align(lines, widths):
                print(line, flush=True)
            shown += len(table.get("rows") or [])
            return
        for obj in objects:
            if args.output == "name":
                print(f"{kind_prefix(rc.resource.kind, rc.resource.group)}/{obj['metadata']['name']}", flush=True)
            else:
                text = to_json(printable(obj)) if args.output == "json" else to_yaml(printable(obj))
                print(("---\n" if shown and args.output == "yaml" else "") + text, flush=True)
            shown += 1

    if human:
        table = get_table(rc, namespace, "", query)
        version = (table.get("metadata") or {}).get("resourceVersion", "")
        show([], table)
    else:
        listed = rc.list(namespace, label_selector=query.get("labelSelector", ""),
                         field_selector=query.get("fieldSelector", ""))
        version = listed["metadata"].get("resourceVersion", "")
        show(listed.get("items") or [])
    with rc.watch(namespace, resource_version=version, label_selector=query.get("labelSelector", ""),
                  field_selector=query.get("fieldSelector", ""), allow_bookmarks=False) as changes:
        for event_type, obj in changes:
            if event_type == "ERROR":
                raise from_status(obj)
            if event_type != "BOOKMARK":
                obj.setdefault("apiVersion", rc.resource.api_version)
                obj.setdefault("kind", rc.resource.kind)
                show([obj])
    return 0
