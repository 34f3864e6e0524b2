"""Field selectors, as apimachinery's ``fields`` package parses and matches them."""

from __future__ import annotations

import pytest

from kitlib.api.errors import InvalidSelector
from kitlib.api.fields import (
    EVERYTHING_FIELDS,
    FieldRequirement,
    field_value,
    parse_field_selector,
)

F = FieldRequirement

FIELD_VALID = [
    ("", "", ()),
    ("metadata.name=web", "metadata.name=web", (F("metadata.name", "=", "web"),)),
    ("metadata.name==web", "metadata.name=web", (F("metadata.name", "=", "web"),)),
    ("status.phase!=Running", "status.phase!=Running", (F("status.phase", "!=", "Running"),)),
    ("spec.nodeName=", "spec.nodeName=", (F("spec.nodeName", "=", ""),)),
    ("status.phase!=Running,spec.nodeName=n1", "spec.nodeName=n1,status.phase!=Running",
     (F("spec.nodeName", "=", "n1"), F("status.phase", "!=", "Running"))),
    ("a=1,,b=2", "a=1,b=2", (F("a", "=", "1"), F("b", "=", "2"))),
    ("involvedObject.kind=Pod", "involvedObject.kind=Pod", (F("involvedObject.kind", "=", "Pod"),)),
    (r"metadata.name=a\,b", r"metadata.name=a\,b", (F("metadata.name", "=", "a,b"),)),
    (r"metadata.name=a\=b\\c", r"metadata.name=a\=b\\c", (F("metadata.name", "=", "a=b\\c"),)),
    ("metadata.name = web", "metadata.name = web", (F("metadata.name ", "=", " web"),)),  # no trimming
    ("a!==b", "a!=\\=b", None),
]


@pytest.mark.parametrize("text,canonical,terms", FIELD_VALID, ids=[repr(f[0]) for f in FIELD_VALID])
def test_field_selector_parse(text, canonical, terms):
    if terms is None:
        with pytest.raises(InvalidSelector):
            parse_field_selector(text)
        return
    selector = parse_field_selector(text)
    assert selector.terms == terms
    assert str(selector) == canonical
    assert parse_field_selector(str(selector)) == selector


FIELD_INVALID = [
    ("metadata.name in (a,b)", "invalid selector: 'metadata.name in (a,b)'; can't understand 'b)'"),
    ("metadata.name in (a)", "invalid selector: 'metadata.name in (a)'; can't understand 'metadata.name in (a)'"),
    ("status.phase", "invalid selector: 'status.phase'; can't understand 'status.phase'"),
    ("spec.replicas>2", "invalid selector: 'spec.replicas>2'; can't understand 'spec.replicas>2'"),
    ("a=b=c", "invalid field selector: unescaped character in value: ="),
    ("a=b!=c", "invalid field selector: unescaped character in value: ="),
    (r"a=b\x", r"invalid field selector: invalid escape sequence: \x"),
    ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
]


@pytest.mark.parametrize("text,message", FIELD_INVALID, ids=[f[0] for f in FIELD_INVALID])
def test_field_selector_invalid(text, message):
    with pytest.raises(InvalidSelector) as caught:
        parse_field_selector(text)
    assert str(caught.value) == message


POD = {
    "metadata": {"name": "web-0", "namespace": "default"},
    "spec": {"nodeName": "node-1", "hostNetwork": False, "priority": 10},
    "status": {"phase": "Running"},
}
UNSCHEDULED = {"metadata": {"name": "web-1", "namespace": "default"}, "spec": {}, "status": {"phase": "Pending"}}
EVENT = {"metadata": {"name": "e1"}, "involvedObject": {"kind": "Pod", "name": "web-0"}}

FIELD_MATCHES = [
    ("", POD, True),
    ("metadata.name=web-0", POD, True),
    ("metadata.name=web-1", POD, False),
    ("metadata.namespace=default,metadata.name=web-0", POD, True),
    ("spec.nodeName=node-1", POD, True),
    ("spec.nodeName=", POD, False),
    ("spec.nodeName=", UNSCHEDULED, True),  # not yet scheduled: what the scheduler watches
    ("spec.nodeName!=", UNSCHEDULED, False),
    ("status.phase!=Running", POD, False),
    ("status.phase!=Running", UNSCHEDULED, True),
    ("status.phase!=Succeeded,status.phase!=Failed", POD, True),
    ("spec.hostNetwork=false", POD, True),
    ("spec.priority=10", POD, True),
    ("involvedObject.kind=Pod,involvedObject.name=web-0", EVENT, True),
    ("metadata.name.x=", POD, True),  # a path through a string is absent
    ("status=", POD, True),  # a non-scalar is no value
]


@pytest.mark.parametrize("text,obj,expected", FIELD_MATCHES, ids=[f"{f[0]}-{f[1]['metadata']['name']}" for f in FIELD_MATCHES])
def test_field_selector_matches(text, obj, expected):
    assert parse_field_selector(text).matches(obj) is expected


def test_field_selector_helpers():
    selector = parse_field_selector("spec.nodeName=node-1,status.phase!=Failed")
    assert selector.fields() == {"spec.nodeName", "status.phase"}
    assert selector.requires_exact_match("spec.nodeName") == "node-1"
    assert selector.requires_exact_match("status.phase") is None
    assert EVERYTHING_FIELDS.empty and not selector.empty
    assert field_value(POD, "spec.hostNetwork") == "false"
    assert field_value(POD, "spec.missing") == ""
