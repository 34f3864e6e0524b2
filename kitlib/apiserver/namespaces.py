"""Deleting a Namespace: everything in it goes first, then the Namespace itself.

In Kubernetes a Namespace is not removed at once. ``DELETE`` marks it: its
``status.phase`` becomes ``Terminating`` (from then on the
``NamespaceLifecycle`` admission plugin refuses anything new in it) and it
keeps the ``kubernetes`` entry in ``spec.finalizers``. The namespace
controller in kube-controller-manager then deletes every object in the
namespace, resource by resource, and finally calls ``namespaces/<name>/finalize``
to drop that finalizer, and the Namespace is gone.

Simplifications:
- The API server does the controller's work itself, at once and in the same
  request (there are no controllers yet). Objects that keep finalizers of
  their own are left marked for deletion, and then the Namespace stays
  ``Terminating`` with them, as in kube.
"""

from __future__ import annotations

import logging

from kitlib.api import meta
from kitlib.api.errors import NotFound
from kitlib.apiserver.registry import Registry
from kitlib.apiserver.resources import RESOURCES, lookup

log = logging.getLogger(__name__)

NAMESPACES = lookup("", "v1", "namespaces")
FINALIZER = "kubernetes"  # v1.FinalizerKubernetes, in spec.finalizers (not metadata.finalizers)


def delete_namespace(registry: Registry, name: str, now_wall: float) -> dict:
    """Mark ``name`` Terminating, delete its contents, then the Namespace; its last state (as kube answers)."""

    def terminate(current: dict) -> dict:
        finalizers = current.setdefault("spec", {}).setdefault("finalizers", [])
        if FINALIZER not in finalizers:
            finalizers.append(FINALIZER)  # holds the Namespace while it is emptied, even if made without one
        current["metadata"].setdefault("deletionTimestamp", meta.rfc3339(now_wall))
        current.setdefault("status", {})["phase"] = "Terminating"
        return current

    marked = registry.guaranteed_update(NAMESPACES, None, name, terminate)
    remaining = 0
    for resource in RESOURCES:
        if not resource.namespaced:
            continue
        for obj in registry.list(resource, name)["items"]:
            try:
                left = registry.delete(resource, name, obj["metadata"]["name"])
            except NotFound:
                continue  # deleted meanwhile
            remaining += bool(left["metadata"].get("finalizers"))
    if remaining:
        log.info("namespace %s stays Terminating: %d objects still have finalizers", name, remaining)
        return marked

    def finalize(current: dict) -> dict:  # what namespaces/<name>/finalize does: the last finalizer goes
        current.setdefault("spec", {})["finalizers"] = [f for f in current["spec"].get("finalizers", []) if f != FINALIZER]
        return current

    try:
        registry.guaranteed_update(NAMESPACES, None, name, finalize)
    except NotFound:
        pass  # finalized by someone else meanwhile
    return marked
