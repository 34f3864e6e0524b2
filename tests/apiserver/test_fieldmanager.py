"""Server-side apply and managedFields: what kube-apiserver records, merges, removes and refuses."""

from __future__ import annotations

import copy
import doctest
from pathlib import Path

import pytest
import yaml

from kitlib.api.errors import APIError, BadRequest, Conflict, Invalid, from_status
from kitlib.apiserver import fieldmanager, fieldpath
from kitlib.apiserver.fieldmanager import FieldManager, manager_from_user_agent, validate_manager
from kitlib.apiserver.fieldpath import from_fields, iterate, path_string, to_fields
from kitlib.clock import FakeClock

BOOK = Path(__file__).resolve().parents[2] / "book"
NGINX = yaml.safe_load((BOOK / "part04-declarative-api" / "nginx-deployment.yaml").read_text())
T0 = "2023-11-14T22:13:20Z"  # FakeClock's default wall time

NGINX_CONTAINER = {  # what both an Update and an Apply own of the one container
    ".": {}, "f:image": {}, "f:name": {},
    "f:ports": {"k:{\"containerPort\":80}": {".": {}, "f:containerPort": {}}},
}


def fields_v1(labels_owned: bool, ports_owned: bool) -> dict:
    """The nginx Deployment's fieldsV1: an Update also owns the maps and lists it added ("." on them)."""
    labels = {".": {}, "f:app": {}} if labels_owned else {"f:app": {}}
    container = copy.deepcopy(NGINX_CONTAINER)
    if ports_owned:
        container["f:ports"] = {".": {}, **container["f:ports"]}
    return {"f:spec": {
        "f:replicas": {},
        "f:selector": {},  # a LabelSelector is atomic: owned whole
        "f:template": {
            "f:metadata": {"f:labels": labels},
            "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": container}},
        },
    }}


def containers(obj: dict) -> list[dict]:
    return obj["spec"]["template"]["spec"]["containers"]


def nginx(**spec) -> dict:
    obj = copy.deepcopy(NGINX)
    obj["spec"].update(spec)
    return obj


def edited(obj: dict, edit) -> dict:
    obj = copy.deepcopy(obj)
    edit(obj)
    return obj


def entries(obj: dict) -> list[tuple]:
    """(manager, operation, subresource, time) of each managedFields entry, in order."""
    return [(e["manager"], e["operation"], e.get("subresource", ""), e.get("time"))
            for e in obj["metadata"].get("managedFields", [])]


def owned(obj: dict, manager: str, operation: str = "", subresource: str = "") -> list[str]:
    """The fields ``manager`` owns, printed as kube prints paths."""
    for e in obj["metadata"].get("managedFields", []):
        if e["manager"] == manager and operation in ("", e["operation"]) and e.get("subresource", "") == subresource:
            return [path_string(p) for p in iterate(from_fields(e["fieldsV1"]))]
    return []


def raised(call, *args, **kwargs) -> APIError:
    with pytest.raises(APIError) as info:
        call(*args, **kwargs)
    return info.value


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def fm(clock):
    return FieldManager(clock)


@pytest.mark.parametrize("module", [fieldmanager, fieldpath], ids=lambda m: m.__name__)
def test_doctests(module):
    assert doctest.testmod(module).failed == 0


# --- fieldsV1 ------------------------------------------------------------------------------------------------------

CREATE_AND_APPLY = [
    # kubectl create: an Update from nothing; maps and lists it added are owned themselves, not spec or template,
    # which a Go object always has, nor containers (a Go Pod has "containers": null).
    ("update", "kubectl-create", "Update", fields_v1(labels_owned=True, ports_owned=True)),
    # kubectl apply --server-side: only leaves and list elements.
    ("apply", "kubectl", "Apply", fields_v1(labels_owned=False, ports_owned=False)),
]


@pytest.mark.parametrize("method, manager, operation, expected", CREATE_AND_APPLY, ids=lambda v: str(v)[:20])
def test_fields_v1_of_the_nginx_deployment(fm, method, manager, operation, expected):
    created = getattr(fm, method)(None, NGINX, manager)
    assert created["metadata"]["managedFields"] == [{
        "manager": manager, "operation": operation, "apiVersion": "apps/v1", "time": T0,
        "fieldsType": "FieldsV1", "fieldsV1": expected,
    }]
    assert list(created["metadata"]["managedFields"][0]) == [
        "manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1"]
    assert {k: v for k, v in created.items() if k != "metadata"} == {k: v for k, v in NGINX.items() if k != "metadata"}
    assert "managedFields" not in NGINX["metadata"], "the arguments are left alone"


FIELDS_V1 = [
    ("leaf and map", {("f:data", "f:a"), ("f:data",)}, {"f:data": {".": {}, "f:a": {}}}),
    ("keys sort before values", {("f:a", 'v:"x"'), ("f:a", 'k:{"name":"n"}')},
     {"f:a": {'k:{"name":"n"}': {}, 'v:"x"': {}}}),
    ("numbers before strings", {("f:s", "v:\"1\""), ("f:s", "v:2")}, {"f:s": {"v:2": {}, 'v:"1"': {}}}),
    ("fields by name", {("f:b",), ("f:a", "f:z")}, {"f:a": {"f:z": {}}, "f:b": {}}),
]


@pytest.mark.parametrize("name, paths, fields", FIELDS_V1, ids=[row[0] for row in FIELDS_V1])
def test_fields_v1_round_trip(name, paths, fields):
    assert to_fields(paths) == fields
    assert list(to_fields(paths)) == list(fields)
    assert from_fields(fields) == paths


def test_fields_v1_read_leniently_and_refused_when_malformed():
    assert from_fields({"k:{ \"b\": 1, \"a\": \"x\" }": {}, "x:future": {}}) == {('k:{"a":"x","b":1}',)}
    with pytest.raises(ValueError, match="parsing key as path element"):
        from_fields({"k:not json": {}})


PATHS = [
    (("f:spec", "f:replicas"), ".spec.replicas"),
    (("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"nginx"}', "f:image"),
     '.spec.template.spec.containers[name="nginx"].image'),
    (("f:spec", "f:ports", 'k:{"port":80,"protocol":"TCP"}'), '.spec.ports[port=80,protocol="TCP"]'),
    (("f:metadata", "f:finalizers", 'v:"example.com/x"'), '.metadata.finalizers[="example.com/x"]'),
    (("f:args", "i:0"), ".args[0]"),
]


@pytest.mark.parametrize("path, text", PATHS, ids=[row[1] for row in PATHS])
def test_path_printed_as_kube_prints_it(path, text):
    assert path_string(path) == text


# --- Apply: no-ops, conflicts, force, sharing ----------------------------------------------------------------------


def test_applying_the_same_config_again_changes_nothing(fm, clock):
    applied = fm.apply(None, NGINX, "kubectl")
    clock.advance(60)
    assert fm.apply(applied, NGINX, "kubectl") == applied  # not even the time


def test_an_apply_that_changes_the_object_moves_the_time(fm, clock):
    applied = fm.apply(None, NGINX, "kubectl")
    clock.advance(60)
    again = fm.apply(applied, nginx(replicas=3), "kubectl")
    assert again["spec"]["replicas"] == 3
    assert entries(again) == [("kubectl", "Apply", "", "2023-11-14T22:14:20Z")]


def scale(obj):
    obj["spec"]["replicas"] = 5


def set_image(obj):
    containers(obj)[0]["image"] = "nginx:1.27"


def add_label(obj):
    obj["spec"]["template"]["metadata"]["labels"]["tier"] = "web"


IMAGE = '.spec.template.spec.containers[name="nginx"].image'
CONFLICTS = [
    ("one field", [("kubectl", "", scale)], nginx(),
     'Apply failed with 1 conflict: conflict with "kubectl" using apps/v1: .spec.replicas',
     [('conflict with "kubectl" using apps/v1', ".spec.replicas")]),
    ("through a subresource", [("kubectl", "scale", scale)], nginx(),
     'Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas',
     [('conflict with "kubectl" with subresource "scale" using apps/v1', ".spec.replicas")]),
    ("two fields of one manager", [("m", "", scale), ("m", "", set_image)], nginx(),
     'Apply failed with 2 conflicts: conflicts with "m" using apps/v1:\n- .spec.replicas\n- ' + IMAGE,
     [('conflict with "m" using apps/v1', ".spec.replicas"), ('conflict with "m" using apps/v1', IMAGE)]),
    ("managers sorted", [("zed", "", scale), ("kubectl-edit", "", set_image)], nginx(),
     'Apply failed with 2 conflicts: conflicts with "kubectl-edit" using apps/v1:\n- ' + IMAGE
     + '\nconflicts with "zed" using apps/v1:\n- .spec.replicas',
     [('conflict with "kubectl-edit" using apps/v1', IMAGE), ('conflict with "zed" using apps/v1', ".spec.replicas")]),
    ("another applier", [("ci", "apply", scale)], nginx(),
     'Apply failed with 1 conflict: conflict with "ci": .spec.replicas', [('conflict with "ci"', ".spec.replicas")]),
]


@pytest.mark.parametrize("name, writes, config, message, causes", CONFLICTS, ids=[row[0] for row in CONFLICTS])
def test_changing_a_field_another_manager_owns_is_a_conflict(fm, name, writes, config, message, causes):
    live = fm.apply(None, NGINX, "kubectl")
    for manager, how, edit in writes:
        if how == "apply":
            live = fm.apply(live, edited(nginx(), edit), manager, force=True)
        else:
            live = fm.update(live, edited(live, edit), manager, subresource=how)
    err = raised(fm.apply, live, config, "kubectl")
    assert isinstance(err, Conflict) and err.code == 409 and err.reason == "Conflict"
    assert err.message == message
    assert err.causes == [{"reason": "FieldManagerConflict", "message": m, "field": f} for m, f in causes]
    assert err.status()["details"] == {"causes": err.causes}
    assert isinstance(from_status(err.status()), Conflict)


def test_force_moves_the_field_to_the_applier(fm):
    live = fm.update(fm.apply(None, NGINX, "kubectl"), edited(nginx(), scale), "kubectl-scale")
    forced = fm.apply(live, NGINX, "kubectl", force=True)
    assert forced["spec"]["replicas"] == 2
    assert ".spec.replicas" in owned(forced, "kubectl", "Apply")
    assert [e[0] for e in entries(forced)] == ["kubectl"], "kubectl-scale owned nothing else: its entry is gone"


def test_applying_the_value_another_manager_set_shares_the_field(fm):
    live = fm.update(fm.apply(None, NGINX, "kubectl"), edited(nginx(), scale), "kubectl-scale")
    shared = fm.apply(live, nginx(replicas=5), "kubectl")
    assert ".spec.replicas" in owned(shared, "kubectl") and owned(shared, "kubectl-scale") == [".spec.replicas"]
    # nothing changed in the object: the new owner's time stays as it was
    assert entries(shared) == [("kubectl", "Apply", "", T0), ("kubectl-scale", "Update", "", T0)]


def test_two_appliers_of_the_same_value_share_it_and_neither_removes_it(fm):
    live = fm.apply(fm.apply(None, NGINX, "team-a"), nginx(), "team-b")
    assert owned(live, "team-a") == owned(live, "team-b")
    without_replicas = nginx()
    del without_replicas["spec"]["replicas"]
    kept = fm.apply(live, without_replicas, "team-a")
    assert kept["spec"]["replicas"] == 2, "team-b still applies it"
    assert ".spec.replicas" not in owned(kept, "team-a")


# --- Apply: removing what the applier dropped ----------------------------------------------------------------------


def drop_replicas(obj):
    del obj["spec"]["replicas"]


def add_sidecar(obj):
    containers(obj).append({"name": "log", "image": "busybox"})


def drop_label(obj):
    obj["spec"]["template"]["metadata"]["labels"].pop("tier")


REMOVALS = [
    # (name, first config edit, second config edit, what must be gone, where to look)
    ("a dropped field", None, drop_replicas, lambda o: "replicas" not in o["spec"]),
    ("a dropped container", add_sidecar, None, lambda o: [c["name"] for c in containers(o)] == ["nginx"]),
    ("a dropped label", add_label, None, lambda o: o["spec"]["template"]["metadata"]["labels"] == {"app": "nginx"}),
]


@pytest.mark.parametrize("name, first, second, gone", REMOVALS, ids=[row[0] for row in REMOVALS])
def test_what_the_applier_no_longer_applies_is_removed(fm, name, first, second, gone):
    before = edited(nginx(), first) if first else nginx()
    after = edited(nginx(), second) if second else nginx()
    live = fm.apply(None, before, "kubectl")
    assert not gone(live)
    assert gone(fm.apply(live, after, "kubectl"))


def test_a_dropped_field_another_manager_also_owns_stays(fm):
    live = fm.apply(None, edited(nginx(), add_label), "kubectl")
    live = fm.update(live, edited(live, lambda o: o["spec"]["template"]["metadata"]["labels"].update(tier="db")),
                     "kubectl-label")
    after = fm.apply(live, nginx(), "kubectl")
    assert after["spec"]["template"]["metadata"]["labels"] == {"app": "nginx", "tier": "db"}


def test_fields_set_by_others_are_never_pruned(fm):
    live = fm.apply(None, nginx(), "kubectl")
    live = fm.update(live, edited(live, lambda o: o["spec"].update(paused=True)), "kubectl-rollout")
    assert fm.apply(live, edited(nginx(), drop_replicas), "kubectl")["spec"]["paused"] is True


def test_list_elements_keep_kube_s_order(fm):
    live = fm.apply(None, edited(nginx(), add_sidecar), "kubectl")
    config = edited(nginx(), add_sidecar)
    config["spec"]["template"]["spec"]["containers"] = [
        {"name": "init-like", "image": "busybox"}, *reversed(containers(config))]
    merged = fm.apply(live, config, "kubectl")
    assert [c["name"] for c in containers(merged)] == ["init-like", "log", "nginx"]


# --- Update: ownership moves with every change -----------------------------------------------------------------------


def test_an_update_takes_what_it_changed_and_removals_leave_every_owner(fm, clock):
    live = fm.apply(None, NGINX, "kubectl")
    clock.advance(5)
    live = fm.update(live, edited(live, set_image), "kubectl-set")
    assert owned(live, "kubectl-set") == [IMAGE]
    assert IMAGE not in owned(live, "kubectl")
    clock.advance(5)
    live = fm.update(live, edited(live, drop_replicas), "kubectl-edit")
    assert ".spec.replicas" not in owned(live, "kubectl")
    assert [e[0] for e in entries(live)] == ["kubectl", "kubectl-set"], "removing owns nothing"


def test_an_update_that_changes_nothing_keeps_the_entries(fm, clock):
    live = fm.update(None, NGINX, "kubectl-create")
    clock.advance(30)
    touched = edited(live, lambda o: o["metadata"].update(resourceVersion="7", generation=2))
    assert fm.update(live, touched, "someone")["metadata"]["managedFields"] == live["metadata"]["managedFields"]


ABSENT_SENT = object()
SENT_MANAGED_FIELDS = [
    # (name, what the request carries, subresource, whose entries remain besides the writer's)
    ("absent", ABSENT_SENT, "", ["kubectl"]),
    ("the live ones", "live", "", ["kubectl"]),
    ("[] resets them", [], "", []),
    ("[{}] resets them", [{}], "", []),
    ("unreadable: the live ones", [{"manager": "x", "operation": "Patch"}], "", ["kubectl"]),
    ("ignored through a subresource", [], "status", ["kubectl"]),
]


@pytest.mark.parametrize("name, sent, subresource, remaining", SENT_MANAGED_FIELDS,
                         ids=[row[0] for row in SENT_MANAGED_FIELDS])
def test_an_update_may_rewrite_managed_fields(fm, name, sent, subresource, remaining):
    live = fm.apply(None, NGINX, "kubectl")
    new = edited(live, lambda o: o["metadata"].update(labels={"edited": "yes"}))
    if sent is ABSENT_SENT:
        new["metadata"].pop("managedFields")
    elif sent != "live":
        new["metadata"]["managedFields"] = sent
    updated = fm.update(live, new, "editor", subresource=subresource)
    assert [e[0] for e in entries(updated) if e[0] != "editor"] == remaining


def test_the_first_apply_to_an_untracked_object_meets_before_first_apply(fm):
    untracked = nginx(replicas=7)
    err = raised(fm.apply, untracked, NGINX, "kubectl")
    assert err.message == ('Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: '
                           ".spec.replicas")
    applied = fm.apply(untracked, NGINX, "kubectl", force=True)
    assert [e[:2] for e in entries(applied)] == [("kubectl", "Apply"), ("before-first-apply", "Update")]


# --- Status and subresources ---------------------------------------------------------------------------------------


def with_status(obj):
    obj["status"] = {"replicas": 9}


def test_status_is_neither_applied_nor_owned_on_the_main_resource(fm):
    live = fm.apply(None, NGINX, "kubectl")
    live["status"] = {"replicas": 2}
    applied = fm.apply(live, edited(nginx(), with_status), "kubectl")
    assert applied["status"] == {"replicas": 2}
    assert not [p for p in owned(applied, "kubectl") if p.startswith(".status")]
    assert "status" not in fm.apply(None, edited(nginx(), with_status), "kubectl")


def test_through_the_status_subresource_only_status_counts(fm, clock):
    live = fm.apply(None, NGINX, "kubectl")
    clock.advance(10)
    status = edited(nginx(replicas=40), with_status)
    applied = fm.apply(live, status, "deployment-controller", subresource="status")
    assert applied["status"] == {"replicas": 9} and applied["spec"]["replicas"] == 2
    assert owned(applied, "deployment-controller", "Apply", "status") == [".status.replicas"]
    clock.advance(10)
    updated = fm.update(applied, edited(applied, lambda o: o["status"].update(ready=3)),
                        "kube-controller-manager", subresource="status")
    assert entries(updated) == [
        ("kubectl", "Apply", "", T0),
        ("deployment-controller", "Apply", "status", "2023-11-14T22:13:30Z"),
        ("kube-controller-manager", "Update", "status", "2023-11-14T22:13:40Z"),
    ]
    assert updated["metadata"]["managedFields"][2]["subresource"] == "status"
    assert owned(updated, "kube-controller-manager", subresource="status") == [".status.ready"]
    taken = fm.update(updated, edited(updated, lambda o: o["status"].update(replicas=3)), "kube-controller-manager",
                      subresource="status")
    assert [e[0] for e in entries(taken)] == ["kubectl", "kube-controller-manager"], "the applier lost its one field"


def test_kinds_without_a_status_subresource_own_status_like_any_field(fm):
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": ["a/b"]},
          "data": {"k": "v"}, "status": {"x": 1}}
    assert owned(fm.apply(None, cm, "m"), "m") == ['.data.k', '.metadata.finalizers[="a/b"]', ".status.x"]


# --- Requests the field manager refuses ------------------------------------------------------------------------------

REFUSED = [
    ("managedFields in the config", lambda o: o["metadata"].update(managedFields=[]), NGINX,
     BadRequest, 400, "metadata.managedFields must be nil"),
    ("another version", lambda o: o.update(apiVersion="apps/v1beta2"), NGINX, BadRequest, 400,
     "Incorrect version specified in apply patch. Specified patch version: apps/v1beta2, expected: apps/v1"),
    ("a repeated key", lambda o: containers(o).append({"name": "nginx"}), None, APIError, 500,
     "failed to create typed patch object (/nginx-deployment; apps/v1, Kind=Deployment): "
     '.spec.template.spec.containers: duplicate entries for key [name="nginx"]'),
    ("a missing key", lambda o: containers(o).append({"image": "x"}), None, APIError, 500,
     "failed to create typed patch object (/nginx-deployment; apps/v1, Kind=Deployment): "
     ".spec.template.spec.containers: element 1: associative list with keys has an element that omits key field "
     '"name" (and doesn\'t have default value)'),
]


@pytest.mark.parametrize("name, edit, live, cls, code, message", REFUSED, ids=[row[0] for row in REFUSED])
def test_configs_the_field_manager_refuses(fm, name, edit, live, cls, code, message):
    err = raised(fm.apply, live, edited(nginx(), edit), "kubectl")
    assert isinstance(err, cls) and err.code == code and err.message == message


MANAGERS = [
    # (manager, options kind, apply, message or None)
    ("kubectl", "PatchOptions", True, None),
    ("m" * 128, "CreateOptions", False, None),
    ("", "UpdateOptions", False, None),
    ("", "PatchOptions", True, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                               "is required for apply patch"),
    ("m" * 129, "CreateOptions", False, 'CreateOptions.meta.k8s.io "" is invalid: fieldManager: Too long: '
                                        "may not be more than 128 bytes"),
    ("é" * 65, "PatchOptions", False, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Too long: '
                                      "may not be more than 128 bytes"),
    ("a\x07b", "PatchOptions", True, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Invalid value: '
                                     '"a\\ab": invalid character U+0007 (at position 1)'),
]


@pytest.mark.parametrize("manager, options, apply, message", MANAGERS, ids=lambda v: repr(v)[:20])
def test_manager_names_are_validated_as_kube_does(manager, options, apply, message):
    if message is None:
        validate_manager(manager, options, apply=apply)
        return
    with pytest.raises(Invalid) as info:
        validate_manager(manager, options, apply=apply)
    assert info.value.code == 422 and info.value.message == message
    assert info.value.status()["details"]["group"] == "meta.k8s.io"
    assert info.value.status()["details"]["kind"] == options


def test_apply_requires_a_manager(fm):
    err = raised(fm.apply, None, NGINX, "")
    assert isinstance(err, Invalid) and err.causes[0]["field"] == "fieldManager"


USER_AGENTS = [
    ("kubectl/v1.32.4 (linux/amd64) kubernetes/59526cd", "kubectl"),
    ("kube-controller-manager/v1.32.4 (linux/amd64) kubernetes/59526cd/system:serviceaccount:kube-system:x",
     "kube-controller-manager"),
    ("python-requests/2.32.3", "python-requests"),
    ("Go-http-client/1.1", "Go-http-client"),
    ("no slash at all", "no slash at all"),
    ("", ""),
    ("bell\x07ringer/1.0", "bellringer"),
    ("x" * 200 + "/1", "x" * 128),
    ("é" * 100, "é" * 64),
]


@pytest.mark.parametrize("user_agent, manager", USER_AGENTS, ids=lambda v: repr(v)[:30])
def test_manager_from_user_agent(user_agent, manager):
    assert manager_from_user_agent(user_agent) == manager
    validate_manager(manager)
