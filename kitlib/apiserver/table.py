"""Server-side printing: the ``Table`` that ``kubectl get`` renders.

Since Kubernetes 1.11 ``kubectl get`` does not format objects itself: it
asks the API server with ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``
and prints the columns and cells it gets back, upper-casing the column
names (``Nominated Node`` becomes ``NOMINATED NODE``) and hiding the
``priority: 1`` columns unless ``-o wide``. :func:`to_table` builds that
``meta.k8s.io/v1 Table`` for a list of objects of one resource, with the
columns and cell rules of Kubernetes' own printers
(``pkg/printers/internalversion/printers.go``); kinds without a printer get
the API server's default table (``rest.NewDefaultTableConvertor``: Name and
Created At). Ages are ``duration.HumanDuration`` of the caller's clock minus
the timestamp, so a seeded simulation prints the same table every run.

The printers themselves are in :mod:`kitlib.apiserver.printers`.

Simplifications:
- No ``v1beta1`` Table, no protobuf, no ``PartialObjectMetadataList``.
"""

from __future__ import annotations

from typing import Any

from kitlib.api.errors import BadRequest
from kitlib.api.meta import Obj
from kitlib.apiserver.printers import DEFAULT_PRINTER, PRINTERS, format_endpoints, human_duration, pod_conditions
from kitlib.apiserver.resources import Resource

__all__ = ["INCLUDE_OBJECT_POLICIES", "column_definitions", "format_endpoints", "human_duration", "to_table"]

INCLUDE_OBJECT_POLICIES = ("None", "Metadata", "Object")


def column_definitions(kind: str) -> list[dict]:
    """The ``columnDefinitions`` of a kind's Table (``TableColumnDefinition``)."""
    columns, _ = PRINTERS.get(kind, DEFAULT_PRINTER)
    # Format "name" marks the column holding the object's name (also Event's wide Name).
    return [
        {"name": name, "type": type_, "format": "name" if name == "Name" else "", "description": description,
         "priority": priority}
        for name, type_, priority, description in columns
    ]


def _partial_object_metadata(obj: Obj) -> Obj:
    """What ``includeObject=Metadata`` puts in a row: only the metadata, typed as PartialObjectMetadata."""
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}


def to_table(
    resource: Resource,
    objects: list[Obj],
    *,
    now_wall: float,
    include_object: str = "Metadata",
    list_metadata: dict | None = None,
) -> dict:
    """A ``meta.k8s.io/v1 Table`` of ``objects``, as kube-apiserver answers ``as=Table``.

    ``include_object`` is the ``includeObject`` query parameter: ``Metadata``
    (kubectl's default: each row carries a PartialObjectMetadata, from which
    kubectl reads namespaces and labels for ``-A``/``-L``), ``Object`` (the
    whole object) or ``None``. ``list_metadata`` (``resourceVersion``,
    ``continue``...) becomes the Table's metadata, so ``kubectl get -w`` can
    start its watch where the list ended. Ages count from ``now_wall``.
    """
    if include_object not in INCLUDE_OBJECT_POLICIES:
        # As metav1 validation: the parameter is the client's to get right.
        raise BadRequest(f"includeObject: Unsupported value: {include_object!r}: supported values: "
                         + ", ".join(f'"{p}"' for p in INCLUDE_OBJECT_POLICIES))
    _, printer = PRINTERS.get(resource.kind, DEFAULT_PRINTER)
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": printer(obj, now_wall)}
        if resource.kind == "Pod" and (conditions := pod_conditions(obj)):
            row["conditions"] = conditions
        if include_object == "Metadata":
            row["object"] = _partial_object_metadata(obj)
        elif include_object == "Object":
            row["object"] = obj
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": dict(list_metadata or {}),
        "columnDefinitions": column_definitions(resource.kind),
        "rows": rows,
    }
