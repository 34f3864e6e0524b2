"""Field errors print as Kubernetes' ``field.Error`` does: the lines ``kubectl`` shows."""

from __future__ import annotations

import pytest

from kitlib.api import field as v
from kitlib.api.field import FieldError, GoSyntax, aggregate_message, go_quote, render_value

# (error, str(), cause)
FIELD_ERRORS = [
    (v.required("metadata.name", "name or generateName is required"),
     "metadata.name: Required value: name or generateName is required",
     {"reason": "FieldValueRequired", "message": "Required value: name or generateName is required",
      "field": "metadata.name"}),
    (v.required("spec.containers[0].image"), "spec.containers[0].image: Required value",
     {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers[0].image"}),
    (v.invalid("metadata.name", "Web", "bad"), 'metadata.name: Invalid value: "Web": bad',
     {"reason": "FieldValueInvalid", "message": 'Invalid value: "Web": bad', "field": "metadata.name"}),
    (v.invalid("spec.replicas", -1, "must be greater than or equal to 0"),
     "spec.replicas: Invalid value: -1: must be greater than or equal to 0", None),
    (v.invalid("spec.x", True, "no"), "spec.x: Invalid value: true: no", None),
    (v.invalid("spec.x", None, "no"), "spec.x: Invalid value: null: no", None),
    (v.invalid("spec.x", ["a", "b"], "no"), 'spec.x: Invalid value: []string{"a", "b"}: no', None),
    (v.invalid("spec.x", [], "no"), "spec.x: Invalid value: []string{}: no", None),
    (v.invalid("spec.x", GoSyntax("[]string(nil)"), "no"), "spec.x: Invalid value: []string(nil): no", None),
    (v.invalid("spec.x", {"b": "2", "a": "1"}, "no"), 'spec.x: Invalid value: map[string]string{"a":"1", "b":"2"}: no', None),
    (v.forbidden("metadata.namespace", "not allowed on this type"),
     "metadata.namespace: Forbidden: not allowed on this type",
     {"reason": "FieldValueForbidden", "message": "Forbidden: not allowed on this type",
      "field": "metadata.namespace"}),
    (v.not_supported("spec.restartPolicy", "Sometimes", ["Always", "OnFailure", "Never"]),
     'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"', None),
    (v.not_supported("spec.x", "y", []), 'spec.x: Unsupported value: "y"', None),
    (v.not_found("spec.volumes[0]", "data"), 'spec.volumes[0]: Not found: "data"', None),
    (v.duplicate("spec.containers[1].name", "app"), 'spec.containers[1].name: Duplicate value: "app"', None),
    (v.too_long("metadata.annotations", 262144),
     "metadata.annotations: Too long: may not be more than 262144 bytes",
     {"reason": "FieldValueTooLong", "message": "Too long: may not be more than 262144 bytes",
      "field": "metadata.annotations"}),
    (v.too_long("x", 1), "x: Too long: may not be more than 1 byte", None),
    (v.too_long("x", -1), "x: Too long: value is too long", None),
    (v.internal("spec", "boom"), "spec: Internal error: boom", None),
    (FieldError(v.REQUIRED, ""), ": Required value", {"reason": "FieldValueRequired", "message": "Required value"}),
]


@pytest.mark.parametrize("error,text,cause", FIELD_ERRORS, ids=[t[:40] for _, t, _ in FIELD_ERRORS])
def test_field_error_rendering(error, text, cause):
    assert str(error) == text
    if cause is not None:
        assert error.cause() == cause
    assert error.body() == text.split(": ", 1)[1]


GO_QUOTES = [
    ("web", '"web"'),
    ("", '""'),
    ('say "hi"', '"say \\"hi\\""'),
    ("a\\b", '"a\\\\b"'),
    ("tab\there\nnl", '"tab\\there\\nnl"'),
    ("\x00\x1f\x7f", '"\\x00\\x1f\\x7f"'),
    ("é中", '"é中"'),
    ("\u00a0", '"\\u00a0"'),
    ("\U0001F600", '"\U0001F600"'),
    ("\U000E0001", '"\\U000e0001"'),
]


@pytest.mark.parametrize("text,quoted", GO_QUOTES, ids=[repr(t) for t, _ in GO_QUOTES])
def test_go_quote(text, quoted):
    assert go_quote(text) == quoted


def test_render_value_falls_back_to_json_for_structures():
    assert render_value({"a": 1}) == '{"a":1}'
    assert render_value(3) == "3"


@pytest.mark.parametrize("errors,message", [
    ([], ""),
    (["a"], "a"),
    (["a", "b"], "[a, b]"),
    (["a", "b", "a"], "[a, b]"),
    (["a", "a"], "a"),
])
def test_aggregate_message(errors, message):
    assert aggregate_message(errors) == message
