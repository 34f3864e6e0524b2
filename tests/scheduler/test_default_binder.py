"""DefaultBinder: a Binding through the injected Binder; an API failure is an Error status."""

from __future__ import annotations

from kitlib.api.errors import Conflict
from kitlib.scheduler.framework import Code, CycleState
from kitlib.scheduler.plugins.default_binder import DefaultBinder, binding_for

from .helpers import pod


class RecordingBinder:
    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail = fail

    def bind(self, p: dict, node_name: str) -> None:
        self.calls.append((p["metadata"]["name"], node_name))
        if self.fail:
            raise self.fail


def test_binding_names_pod_uid_and_node():
    assert binding_for(pod("web"), "n1") == {
        "apiVersion": "v1", "kind": "Binding",
        "metadata": {"name": "web", "namespace": "default", "uid": "uid-default-web"},
        "target": {"kind": "Node", "name": "n1"}}


def test_bind_calls_the_binder():
    binder = RecordingBinder()
    assert DefaultBinder({"binder": binder}).bind(CycleState(), pod("web"), "n1") is None
    assert binder.calls == [("web", "n1")]


def test_conflict_becomes_an_error_status():
    err = Conflict("pods/binding", "web", 'pod web is already assigned to node "n2"')
    status = DefaultBinder({"binder": RecordingBinder(err)}).bind(CycleState(), pod("web"), "n1")
    assert status.code == Code.Error and status.error is err and "already assigned" in status.message()


def test_no_binder_is_an_error_not_a_crash():
    assert DefaultBinder().bind(CycleState(), pod("web"), "n1").code == Code.Error
