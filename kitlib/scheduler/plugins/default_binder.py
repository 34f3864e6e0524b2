"""DefaultBinder: tell the API server the scheduler's decision, by POSTing a Binding.

The scheduler never writes a Pod. It creates a ``Binding`` -- the Pod's name
and UID, and a target Node -- on the Pod's ``binding`` subresource, and the
API server sets ``spec.nodeName`` (``pkg/scheduler/framework/plugins/defaultbinder``).
The UID makes the binding fail if the Pod was deleted and re-created under
the same name meanwhile; a Pod already bound answers ``409 Conflict``.

The POST itself goes through a :class:`Binder` given in the plugin's args
(``{"binder": ...}``): the scheduler loop passes an :class:`APIBinder`,
which calls ``kitlib.client``; tests pass a fake that records the calls.

Simplifications: none.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol

from kitlib.api.meta import name, namespace, uid
from kitlib.client.rest import Client
from kitlib.errors import KitError
from kitlib.scheduler.framework import CycleState, Handle, Status

NAME = "DefaultBinder"


class Binder(Protocol):
    """Bind ``pod`` to ``node_name`` through the API (``POST pods/<name>/binding``); raise on failure."""

    def bind(self, pod: dict, node_name: str) -> None: ...


def binding_for(pod: dict, node_name: str) -> dict:
    """The ``v1.Binding`` kube-scheduler sends for ``pod`` onto ``node_name``."""
    metadata = {"name": name(pod), "namespace": namespace(pod)}
    if uid(pod):
        metadata["uid"] = uid(pod)
    return {"apiVersion": "v1", "kind": "Binding", "metadata": metadata,
            "target": {"kind": "Node", "name": node_name}}


class APIBinder:
    """The :class:`Binder` that POSTs ``pods/<name>/binding``."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def bind(self, pod: Obj, node_name: str) -> None:
        self.client.pods(namespace(pod)).create(binding_for(pod, node_name), subresource="binding")
class DefaultBinder:
    """Bind: hand the decision to the :class:`Binder`; a failure is an Error status, never an exception."""

    NAME = NAME

    def __init__(self, args: Mapping[str, Any] | None = None, handle: Handle | None = None) -> None:
        self.binder: Binder | None = (args or {}).get("binder")

    def bind(self, state: CycleState, pod: dict, node_name: str) -> Status | None:
        if self.binder is None:
            return Status.as_error("DefaultBinder has no binder: pass args={'binder': ...}")
        try:
            self.binder.bind(pod, node_name)
        except (KitError, OSError) as err:  # an APIError (409 Conflict...), a lost connection: kube's AsStatus(err)
            return Status.as_error(err)
        return None
