"""Validation rules and their messages, word for word as Kubernetes v1.32 prints them."""

from __future__ import annotations

import pytest

from kitlib.api import field as v
from kitlib.api.validation import (
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_label_value,
    name_is_dns_subdomain,
    name_is_path_segment,
    name_rule,
    validate_annotations,
    validate_label_selector,
    validate_labels,
    validate_object_meta,
    validate_object_meta_update,
)

from .messages import DNS1035, DNS_LABEL, LABEL_VALUE, NAME_PART, QUALIFIED_NAME, SUBDOMAIN

MAX63 = "must be no more than 63 characters"

# (function, value, expected messages)
NAME_CHECKS = [
    (is_dns1123_subdomain, "web-0", []),
    (is_dns1123_subdomain, "a.b-c.d", []),
    (is_dns1123_subdomain, "0", []),
    (is_dns1123_subdomain, "Web", [SUBDOMAIN]),
    (is_dns1123_subdomain, "web_0", [SUBDOMAIN]),
    (is_dns1123_subdomain, "-web", [SUBDOMAIN]),
    (is_dns1123_subdomain, "web.", [SUBDOMAIN]),
    (is_dns1123_subdomain, "a..b", [SUBDOMAIN]),
    (is_dns1123_subdomain, "", [SUBDOMAIN]),
    (is_dns1123_subdomain, "web\n", [SUBDOMAIN]),  # no "$"-before-newline leniency
    (is_dns1123_subdomain, "a" * 253, []),
    (is_dns1123_subdomain, "a" * 254, ["must be no more than 253 characters"]),
    (is_dns1123_subdomain, "A" * 254, ["must be no more than 253 characters", SUBDOMAIN]),
    (is_dns1123_label, "kube-system", []),
    (is_dns1123_label, "123-abc", []),
    (is_dns1123_label, "a.b", ["must not contain dots"]),
    (is_dns1123_label, "Default", [DNS_LABEL]),
    (is_dns1123_label, "a" * 63, []),
    (is_dns1123_label, "a" * 64, [MAX63]),
    (is_dns1123_label, "é", [DNS_LABEL]),
    (is_dns1123_label, "é" * 32, [MAX63, DNS_LABEL]),  # 64 bytes: Go's len counts bytes
    (is_dns1035_label, "my-svc", []),
    (is_dns1035_label, "1svc", [DNS1035]),
    (is_dns1035_label, "no-domain.com", [DNS1035]),
    (is_dns1035_label, "a" * 64, [MAX63]),
    (is_qualified_name, "app", []),
    (is_qualified_name, "app.kubernetes.io/name", []),
    (is_qualified_name, "Kube_Thing.x-1", []),
    (is_qualified_name, "", ["name part must be non-empty", NAME_PART]),
    (is_qualified_name, "-app", [NAME_PART]),
    (is_qualified_name, "app:x", [NAME_PART]),
    (is_qualified_name, "a/b/c", [QUALIFIED_NAME]),
    (is_qualified_name, "/app", ["prefix part must be non-empty"]),
    (is_qualified_name, "Example.com/app", ["prefix part " + SUBDOMAIN]),
    (is_qualified_name, "example.com/", ["name part must be non-empty", NAME_PART]),
    (is_qualified_name, "k" * 64, ["name part " + MAX63]),
    (is_qualified_name, "example.com/" + "k" * 63, []),
    (is_valid_label_value, "", []),
    (is_valid_label_value, "web", []),
    (is_valid_label_value, "v1.2_3-x", []),
    (is_valid_label_value, "a b", [LABEL_VALUE]),
    (is_valid_label_value, "-web", [LABEL_VALUE]),
    (is_valid_label_value, "a/b", [LABEL_VALUE]),
    (is_valid_label_value, "v" * 64, [MAX63]),
    (name_is_path_segment, "system:controller:replicaset-controller", []),
    (name_is_path_segment, "..", ["may not be '..'"]),
    (name_is_path_segment, "a/b%c", ["may not contain '/'", "may not contain '%'"]),
]


@pytest.mark.parametrize("check,value,expected", NAME_CHECKS,
                         ids=[f"{c.__name__}-{val[:20]!r}" for c, val, _ in NAME_CHECKS])
def test_name_checks(check, value, expected):
    assert check(value) == expected


@pytest.mark.parametrize("prefix,expected", [
    ("web-", []),             # a generateName may end in "-": the random suffix follows
    ("w-", []),
    ("-", [SUBDOMAIN]),       # too short to mask
    ("Web-", [SUBDOMAIN]),
])
def test_generate_name_masks_the_trailing_dash(prefix, expected):
    assert name_is_dns_subdomain(prefix, True) == expected


def test_name_rules_by_kind():
    assert name_rule("Namespace")("a.b", False) == ["must not contain dots"]
    assert name_rule("Service")("1svc", False) == [DNS1035]
    assert name_rule("Pod")("a.b", False) == []
    assert name_rule("ClusterRole")("system:node", False) == []


def _meta(**metadata):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata}


# (object, namespaced, expected error strings)
OBJECT_META = [
    (_meta(name="web-0", namespace="default"), True, []),
    (_meta(generateName="web-", namespace="default"), True,
     ["metadata.name: Required value: name or generateName is required"]),  # the server fills the name in first
    (_meta(namespace="default"), True, ["metadata.name: Required value: name or generateName is required"]),
    ({"metadata": None}, False, ["metadata.name: Required value: name or generateName is required"]),
    (_meta(name="Web_0", namespace="default"), True, [f'metadata.name: Invalid value: "Web_0": {SUBDOMAIN}']),
    (_meta(name="web", generateName="Web-", namespace="default"), True,
     [f'metadata.generateName: Invalid value: "Web-": {SUBDOMAIN}']),
    (_meta(name="web"), True, ["metadata.namespace: Required value"]),
    (_meta(name="web", namespace="kube.system"), True,
     ['metadata.namespace: Invalid value: "kube.system": must not contain dots']),
    (_meta(name="web", namespace="Prod"), True, [f'metadata.namespace: Invalid value: "Prod": {DNS_LABEL}']),
    (_meta(name="node-1", namespace="default"), False, ["metadata.namespace: Forbidden: not allowed on this type"]),
    (_meta(name="node-1"), False, []),
    (_meta(name="web", namespace="default", generation=-1), True,
     ["metadata.generation: Invalid value: -1: must be greater than or equal to 0"]),
    (_meta(name="web", namespace="default", labels={"app": "web", "bad key": "ok", "tier": "-x"}), True,
     [f'metadata.labels: Invalid value: "bad key": {NAME_PART}',
      f'metadata.labels: Invalid value: "-x": {LABEL_VALUE}']),
    (_meta(name="web", namespace="default", annotations={"Example.COM/Thing": "any value at all: {}"}), True, []),
    (_meta(name="web", namespace="default", annotations={"a b": ""}), True,
     [f'metadata.annotations: Invalid value: "a b": {NAME_PART}']),
    (_meta(name="web", namespace="default", annotations={"big": "x" * 262141}), True, []),
    (_meta(name="web", namespace="default", annotations={"big": "x" * 262142}), True,
     ["metadata.annotations: Too long: may not be more than 262144 bytes"]),
    (_meta(name="web", namespace="default", ownerReferences=[
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "u1", "controller": True}]), True, []),
    (_meta(name="web", namespace="default", ownerReferences=[{"apiVersion": "apps/", "controller": False}]), True,
     ['metadata.ownerReferences.apiVersion: Invalid value: "apps/": version must not be empty',
      'metadata.ownerReferences.kind: Invalid value: "": kind must not be empty',
      'metadata.ownerReferences.name: Invalid value: "": name must not be empty',
      'metadata.ownerReferences.uid: Invalid value: "": uid must not be empty']),
    (_meta(name="web", namespace="default", finalizers=["kubernetes.io/pvc-protection", "bad finalizer"]), True,
     [f'metadata.finalizers: Invalid value: "bad finalizer": {NAME_PART}']),
    (_meta(name="web", namespace="default", finalizers=["orphan", "foregroundDeletion"]), True,
     ['metadata.finalizers: Invalid value: []string{"orphan", "foregroundDeletion"}: '
      "finalizer orphan and foregroundDeletion cannot be both set"]),
]


@pytest.mark.parametrize("obj,namespaced,expected", OBJECT_META, ids=[str(i) for i in range(len(OBJECT_META))])
def test_validate_object_meta(obj, namespaced, expected):
    assert [str(e) for e in validate_object_meta(obj, namespaced=namespaced)] == expected


def test_two_controllers_are_refused():
    refs = [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "a", "uid": "1", "controller": True},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "b", "uid": "2", "controller": True},
    ]
    errors = validate_object_meta(_meta(name="p", namespace="d", ownerReferences=refs))
    assert [(e.type, e.field, e.detail) for e in errors] == [(
        v.INVALID, "metadata.ownerReferences",
        'Only one reference can have Controller set to true. Found "true" in references for ReplicaSet/a and '
        "ReplicaSet/b")]


def test_namespace_object_uses_its_own_name_rule():
    errors = validate_object_meta({"metadata": {"name": "a.b"}}, namespaced=False, name_fn=name_rule("Namespace"))
    assert [str(e) for e in errors] == ['metadata.name: Invalid value: "a.b": must not contain dots']


OLD = _meta(name="web", namespace="default", uid="u1", resourceVersion="5", finalizers=["a.io/x"])

# (new metadata, old object, expected)
UPDATES = [
    (dict(name="web", namespace="default", uid="u1", resourceVersion="5"), OLD, []),
    (dict(name="web", namespace="default", uid="u1"), OLD,
     ['metadata.resourceVersion: Invalid value: "": must be specified for an update']),
    (dict(name="web2", namespace="other", uid="u2", resourceVersion="5"), OLD,
     ['metadata.name: Invalid value: "web2": field is immutable',
      'metadata.namespace: Invalid value: "other": field is immutable',
      'metadata.uid: Invalid value: "u2": field is immutable']),
    (dict(name="web", namespace="default", uid="u1", resourceVersion="5", finalizers=["b.io/y", "a.io/x", "c.io/z"]),
     _meta(**{**OLD["metadata"], "deletionTimestamp": "2026-11-23T11:34:38Z"}),
     ['metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, '
      'found new finalizers []string{"b.io/y", "c.io/z"}']),
    (dict(name="web", namespace="default", uid="u1", resourceVersion="5", labels={"a": "b c"}), OLD,
     [f'metadata.labels: Invalid value: "b c": {LABEL_VALUE}']),
]


@pytest.mark.parametrize("new,old,expected", UPDATES, ids=[str(i) for i in range(len(UPDATES))])
def test_validate_object_meta_update(new, old, expected):
    assert [str(e) for e in validate_object_meta_update(_meta(**new), old)] == expected


def test_labels_and_annotations_alone():
    assert validate_labels(None) == [] and validate_annotations({}) == []
    assert [str(e) for e in validate_labels({"a": "b c"}, "spec.template.metadata.labels")] == [
        f'spec.template.metadata.labels: Invalid value: "b c": {LABEL_VALUE}']


# (selector field value, expected errors) for spec.selector
LABEL_SELECTORS = [
    (None, []),
    ({"matchLabels": {"app": "web"}}, []),
    ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]}, []),
    ({"matchExpressions": [{"key": "tier", "operator": "In"}]},
     ["spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or "
      "'NotIn'"]),
    ({"matchExpressions": [{"key": "tier", "operator": "Exists", "values": ["a"]}]},
     ["spec.selector.matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or "
      "'DoesNotExist'"]),
    ({"matchExpressions": [{"key": "tier", "operator": "Gt", "values": ["1"]}]},
     ['spec.selector.matchExpressions[0].operator: Invalid value: "Gt": not a valid selector operator']),
    ({"matchLabels": {"a": "-"}, "matchExpressions": [{"key": "-k", "operator": "NotIn", "values": ["ok", "b c"]}]},
     [f'spec.selector.matchLabels: Invalid value: "-": {LABEL_VALUE}',
      f'spec.selector.matchExpressions[0].key: Invalid value: "-k": {NAME_PART}',
      f'spec.selector.matchExpressions[0].values[1]: Invalid value: "b c": {LABEL_VALUE}']),
]


@pytest.mark.parametrize("selector,expected", LABEL_SELECTORS, ids=[str(i) for i in range(len(LABEL_SELECTORS))])
def test_validate_label_selector(selector, expected):
    assert [str(e) for e in validate_label_selector(selector, "spec.selector")] == expected
