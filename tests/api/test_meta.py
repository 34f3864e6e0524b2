"""Metadata helpers: keys, UIDs, timestamps, owner references, copies."""

from __future__ import annotations

import random
import re

import pytest

from kitlib.api import meta
from kitlib.api.meta import MetaError
from kitlib.errors import KitError

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web-0", "namespace": "default", "uid": "p-uid", "labels": {"app": "web"},
                 "annotations": {"note": "x"}},
    "spec": {"containers": [{"name": "app", "image": "nginx"}]},
}
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1", "uid": "n-uid"}}
RS = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-7d4", "namespace": "default", "uid": "rs-uid"}}


@pytest.mark.parametrize("obj,key", [
    (POD, "default/web-0"),
    (NODE, "node-1"),
    ({"metadata": {"name": "x", "namespace": ""}}, "x"),
    ({}, ""),
    ("already/a-key", "already/a-key"),
])
def test_key_of(obj, key):
    assert meta.key_of(obj) == key


@pytest.mark.parametrize("key,parts", [("default/web-0", ("default", "web-0")), ("node-1", ("", "node-1")),
                                       ("/x", ("", "x")), ("", ("", ""))])
def test_split_key(key, parts):
    assert meta.split_key(key) == parts


def test_split_key_refuses_three_parts():
    with pytest.raises(MetaError, match="unexpected key format: 'a/b/c'"):
        meta.split_key("a/b/c")


def test_getters():
    assert (meta.name(POD), meta.namespace(POD), meta.uid(POD)) == ("web-0", "default", "p-uid")
    assert meta.labels(POD) == {"app": "web"} and meta.annotations(POD) == {"note": "x"}
    assert meta.namespace(NODE) == "" and meta.labels(NODE) == {} and meta.annotations({}) == {}
    assert meta.name({"metadata": None}) == ""


def test_new_uid_is_a_seeded_uuid4():
    first = [meta.new_uid(random.Random(7)) for _ in range(2)]
    assert first[0] == first[1]
    uid = first[0]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", uid)
    rng = random.Random(7)
    assert meta.new_uid(rng) != meta.new_uid(rng)


def test_generate_name():
    name = meta.generate_name("web-", random.Random(1))
    assert re.fullmatch(r"web-[bcdfghjklmnpqrstvwxz2456789]{5}", name)
    assert name == meta.generate_name("web-", random.Random(1))
    long = meta.generate_name("x" * 70, random.Random(1))
    assert len(long) == 63 and long.startswith("x" * 58)


RFC3339 = [
    (0, "1970-01-01T00:00:00Z"),
    (1_795_433_678, "2026-11-23T11:34:38Z"),
    (1_795_433_678.999, "2026-11-23T11:34:38Z"),  # truncated, as Go formats
    (1_700_000_000, "2023-11-14T22:13:20Z"),
    (-1, "1969-12-31T23:59:59Z"),
    (951_782_400, "2000-02-29T00:00:00Z"),
]


@pytest.mark.parametrize("wall,text", RFC3339, ids=[t for _, t in RFC3339])
def test_rfc3339(wall, text):
    assert meta.rfc3339(wall) == text
    assert meta.parse_rfc3339(text) == int(wall // 1)


@pytest.mark.parametrize("wall,text", [
    (1_700_000_000.25, "2023-11-14T22:13:20.250000Z"),
    (1_700_000_000, "2023-11-14T22:13:20.000000Z"),
    (1_700_000_000.0000004, "2023-11-14T22:13:20.000000Z"),
])
def test_rfc3339_micro(wall, text):
    assert meta.rfc3339_micro(wall) == text


@pytest.mark.parametrize("text,wall", [
    ("2023-11-14T22:13:20Z", 1_700_000_000),
    ("2023-11-14T23:13:20+01:00", 1_700_000_000),
    ("2023-11-14T17:43:20-04:30", 1_700_000_000),
    ("2023-11-14T22:13:20.5Z", 1_700_000_000.5),
    ("2023-11-14T22:13:20.250000Z", 1_700_000_000.25),
])
def test_parse_rfc3339(text, wall):
    assert meta.parse_rfc3339(text) == pytest.approx(wall)


@pytest.mark.parametrize("text", [
    "2023-11-14 22:13:20Z", "2023-11-14T22:13:20", "2023-13-01T00:00:00Z", "2023-02-30T00:00:00Z",
    "2023-11-14T22:13:60Z", "yesterday", "", None, "2023-11-14T22:13:20Z\n",
])
def test_parse_rfc3339_refuses(text):
    with pytest.raises(MetaError) as caught:
        meta.parse_rfc3339(text)
    assert isinstance(caught.value, KitError) and isinstance(caught.value, ValueError)


def test_owner_reference_is_a_controller_reference_by_default():
    assert meta.owner_reference(RS) == {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4", "uid": "rs-uid",
        "controller": True, "blockOwnerDeletion": True,
    }
    ref = meta.owner_reference(NODE, controller=False, block_owner_deletion=False)
    assert (ref["controller"], ref["blockOwnerDeletion"]) == (False, False)


def test_owner_reference_from_a_list_item_needs_the_kind():
    item = {"metadata": {"name": "web-7d4", "uid": "rs-uid"}}
    with pytest.raises(MetaError, match="api_version= and kind="):
        meta.owner_reference(item)
    ref = meta.owner_reference(item, api_version="apps/v1", kind="ReplicaSet")
    assert ref["kind"] == "ReplicaSet" and ref["apiVersion"] == "apps/v1"


def test_owner_reference_needs_a_uid():
    with pytest.raises(MetaError, match="no metadata.uid"):
        meta.owner_reference({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}})


def _owned(*refs):
    return {"metadata": {"name": "p", "ownerReferences": list(refs)}}


OTHER = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n", "uid": "other"}}
OWNERSHIP = [
    # (object, controller_of uid, owned by RS, controlled by RS)
    (_owned(), None, False, False),
    ({"metadata": {"name": "p"}}, None, False, False),
    (_owned(meta.owner_reference(RS)), "rs-uid", True, True),
    (_owned(meta.owner_reference(RS, controller=False)), None, True, False),
    (_owned(meta.owner_reference(OTHER, controller=False), meta.owner_reference(RS)), "rs-uid", True, True),
    (_owned(meta.owner_reference(OTHER), meta.owner_reference(RS, controller=False)), "other", True, False),
    (_owned({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4", "uid": "stale"}), None, False, False),
]


@pytest.mark.parametrize("obj,controller_uid,owned,controlled", OWNERSHIP, ids=[str(i) for i in range(len(OWNERSHIP))])
def test_ownership(obj, controller_uid, owned, controlled):
    ref = meta.controller_of(obj)
    assert (ref["uid"] if ref else None) == controller_uid
    assert meta.is_owned_by(obj, RS) is owned
    assert meta.is_controlled_by(obj, RS) is controlled


def test_no_uid_owns_nothing():
    assert not meta.is_owned_by(_owned({"uid": ""}), {"metadata": {}})
    assert not meta.is_controlled_by(_owned({"uid": "", "controller": True}), {"metadata": {}})


def test_deep_copy_shares_nothing():
    copy = meta.deep_copy(POD)
    assert copy == POD
    copy["metadata"]["labels"]["app"] = "db"
    copy["spec"]["containers"][0]["image"] = "busybox"
    copy["spec"]["containers"].append({})
    assert POD["metadata"]["labels"]["app"] == "web"
    assert POD["spec"]["containers"] == [{"name": "app", "image": "nginx"}]
    assert meta.deep_copy({"t": (1, [2])})["t"] == (1, [2])
