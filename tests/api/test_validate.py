"""The validation entry point: dispatch by kind, create vs update vs subresource, and the 422 it raises."""

from __future__ import annotations

import doctest
import importlib

import pytest

from kitlib.api.errors import Invalid, from_status
from kitlib.api.validate import RULES, group_of, validate, validate_or_raise
from kitlib.apiserver.resources import RESOURCES

from .manifests import DEPLOYMENT, POD, build, edit, stored

MODULES = ["kitlib.api.validate", "kitlib.api.validation_common", "kitlib.api.validation_container",
           "kitlib.api.validation_pod", "kitlib.api.validation_service", "kitlib.api.validation_core",
           "kitlib.api.validation_apps", "kitlib.api.validation_batch", "kitlib.api.validation_groups",
           "kitlib.api.quantity"]


@pytest.mark.parametrize("name", MODULES)
def test_module_docstring_examples_and_size(name):
    module = importlib.import_module(name)
    assert module.__doc__ and "Simplifications:" in module.__doc__, f"{name}: DESIGN.md asks for a Simplifications: section"
    assert doctest.testmod(module).failed == 0
    with open(module.__file__) as source:
        assert len(source.readlines()) <= 400, f"{name}: DESIGN.md keeps modules to about 400 lines"


def test_every_served_kind_has_rules():
    served = {(r.group, r.kind) for r in RESOURCES}
    assert served <= set(RULES), served - set(RULES)


@pytest.mark.parametrize("api_version,group", [("v1", ""), ("apps/v1", "apps"), ("rbac.authorization.k8s.io/v1",
                                                                                   "rbac.authorization.k8s.io"), ("", "")])
def test_group_of(api_version, group):
    assert group_of({"apiVersion": api_version}) == group


def test_unknown_kind_gets_metadata_rules_only():
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "Bad_Name", "namespace": "default"},
           "spec": {"anything": -1}}
    assert [e.field for e in validate(obj, namespaced=True)] == ["metadata.name"]


def test_update_runs_metadata_update_rules_not_create_rules():
    old = stored(DEPLOYMENT)
    new = edit(old, {"metadata.labels": {"tier": "a b"}, "metadata.finalizers": ["bad finalizer"]})
    assert [str(e) for e in validate(new, namespaced=True, old=old)] == [
        'metadata.labels: Invalid value: "a b": a valid label must be an empty string or consist of alphanumeric '
        "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
        "'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        'metadata.finalizers: Invalid value: "bad finalizer": name part must consist of alphanumeric characters, '
        "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
        "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        'metadata.finalizers[0]: Invalid value: "bad finalizer": name is neither a standard finalizer name nor is it '
        "fully qualified"]


def test_status_subresource_skips_spec_rules():
    old = stored(DEPLOYMENT)
    broken_spec = edit(old, {"spec.replicas": -3, "status": {"replicas": 1}})
    assert validate(broken_spec, namespaced=True, old=old, subresource="status") == []


def test_validate_or_raise_answers_kubes_422():
    pod = build(POD, {"spec.containers[0].image": "", "spec.restartPolicy": "Sometimes"})
    with pytest.raises(Invalid) as caught:
        validate_or_raise(pod, namespaced=True)
    status = caught.value.status()
    assert status["code"] == 422 and status["reason"] == "Invalid"
    assert status["message"] == (
        'Pod "web" is invalid: [spec.containers[0].image: Required value, spec.restartPolicy: Unsupported value: '
        '"Sometimes": supported values: "Always", "OnFailure", "Never"]')
    assert status["details"]["causes"][0] == {"reason": "FieldValueRequired", "message": "Required value",
                                              "field": "spec.containers[0].image"}
    assert from_status(status).status() == status


def test_validate_or_raise_names_the_group():
    deployment = build(DEPLOYMENT, {"spec.replicas": -1})
    with pytest.raises(Invalid) as caught:
        validate_or_raise(deployment, namespaced=True)
    assert caught.value.status()["message"] == (
        'Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0')
    assert validate_or_raise(build(DEPLOYMENT), namespaced=True) is None
