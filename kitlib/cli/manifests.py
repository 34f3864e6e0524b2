"""Reading manifests for ``kit apply -f`` and ``kit delete -f``: files, folders, stdin, checked before use.

``kubectl apply -f`` takes a file, a folder of ``.yaml``/``.yml``/``.json``
files, or ``-`` (stdin). A file holds one or more YAML documents separated
by ``---`` (JSON is YAML), and a ``kind: List`` spreads its ``items``.
:func:`load` reads them all and checks each object before anything is
sent, so a broken file applies nothing: a syntax error, a document that is
not an object, a missing ``apiVersion``, ``kind`` or ``metadata.name``, a
kind the API server does not serve, or a namespace that contradicts
``-n``. The error is one line naming the file and the document (counted
from 1, as a reader counts ``---`` sections) and what is wrong.

Simplifications:
- Folders are read one level deep (no ``-R``), files in name order; no URLs.
- Objects are checked for what a request needs, not against the OpenAPI
  schema as kubectl's client-side validation does: the API server's
  validation still refuses a misspelt field.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kitlib.apiserver.resources import RESOURCES, Resource, for_kind
from kitlib.errors import KitError

EXTENSIONS = (".yaml", ".yml", ".json")


@dataclass
class Manifest:
    """One object to send, where it came from, and the resource it belongs to."""

    obj: dict[str, Any]
    resource: Resource
    source: str
    document: int

    @property
    def name(self) -> str:
        return self.obj["metadata"]["name"]

    @property
    def namespace(self) -> str | None:
        return self.obj["metadata"].get("namespace") if self.resource.namespaced else None


class BrokenManifest(KitError):
    """A manifest that cannot be sent; the message names the file, the document and the fault."""


def _sources(paths: list[str]) -> list[tuple[str, str]]:
    """(name, text) of every file the ``-f`` arguments name, in order."""
    found: list[tuple[str, str]] = []
    for given in paths:
        if given == "-":
            found.append(("<stdin>", sys.stdin.read()))
            continue
        path = Path(given)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in EXTENSIONS)
            if not files:
                raise BrokenManifest(f"{given}: no {', '.join(EXTENSIONS)} files in this folder")
        elif path.exists():
            files = [path]
        else:
            raise BrokenManifest(f"{given}: no such file or folder")
        for file in files:
            try:
                found.append((str(file), file.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as err:
                raise BrokenManifest(f"{file}: cannot read it: {err}") from None
    return found


def _documents(source: str, text: str) -> list[tuple[int, Any]]:
    """Every non-empty document as (number, value); a syntax error names the document it is in."""
    documents: list[tuple[int, Any]] = []
    number = 0
    try:
        for number, document in enumerate(yaml.safe_load_all(text), start=1):
            if document is not None:  # an empty document ("---" twice) is skipped, as kubectl does
                documents.append((number, document))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise BrokenManifest(f"{source}: document {number + 1}: YAML syntax error{where}: {problem}") from None
    return documents


def _kind_hint(kind: str) -> str:
    versions = sorted({r.api_version for r in RESOURCES if r.kind == kind})
    if versions:
        return f" ({kind} is served as {' or '.join(versions)})"
    return "; the kit's API server does not serve it (and takes no custom resources)"


def check(obj: Any, source: str, document: int, namespace: str | None = None, item: int = 0) -> Manifest:
    """One object ready to send, or :class:`BrokenManifest` saying what is wrong with it."""
    where = f"{source}: document {document}" + (f", List item {item}" if item else "")
    if not isinstance(obj, dict):
        raise BrokenManifest(f"{where}: expected an object (a mapping with apiVersion, kind, metadata), "
                             f"found {type(obj).__name__}")
    missing = [field for field in ("apiVersion", "kind") if not obj.get(field) or not isinstance(obj[field], str)]
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or not metadata.get("name") or not isinstance(metadata["name"], str):
        missing.append("metadata.name")
    if missing:
        what = obj.get("kind") if isinstance(obj.get("kind"), str) else "object"
        raise BrokenManifest(f"{where}: the {what} has no {', '.join(missing)}")
    resource = for_kind(obj["apiVersion"], obj["kind"])
    if resource is None:
        raise BrokenManifest(f'{where}: no kind "{obj["kind"]}" in version "{obj["apiVersion"]}"'
                             + _kind_hint(obj["kind"]))
    own = metadata.get("namespace")
    if resource.namespaced and namespace and own and own != namespace:
        # As kubectl: -n names where to apply, so an object that says otherwise is a mistake.
        raise BrokenManifest(f'{where}: the namespace of {obj["kind"]} "{metadata["name"]}" is "{own}", '
                             f'not "{namespace}" as -n says; pass --namespace={own} or remove one')
    return Manifest(obj, resource, source, document)


def load(paths: list[str], namespace: str | None = None) -> list[Manifest]:
    """Every object the ``-f`` arguments name, checked; :class:`BrokenManifest` if any one is broken."""
    manifests: list[Manifest] = []
    for source, text in _sources(paths):
        found = len(manifests)
        for number, document in _documents(source, text):
            if isinstance(document, dict) and document.get("kind") == "List" and "items" in document:
                items = document["items"]
                if not isinstance(items, list):
                    raise BrokenManifest(f"{source}: document {number}: the List's items is not a list")
                manifests.extend(check(obj, source, number, namespace, i) for i, obj in enumerate(items, start=1))
            else:
                manifests.append(check(document, source, number, namespace))
        if len(manifests) == found:
            raise BrokenManifest(f"{source}: no objects in it")
    return manifests
