"""Every API error renders the Status body kube-apiserver sends, and reads back from it."""

from __future__ import annotations

import json
import pickle

import pytest

from kitlib.api import validation as v
from kitlib.api.errors import (
    AlreadyExists,
    APIError,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    InternalError,
    Invalid,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
    Timeout,
    TooManyRequests,
    Unauthorized,
    from_status,
    success_status,
)
from kitlib.errors import KitError

HEAD = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}

# (error, the whole Status body, as kube-apiserver writes it)
STATUSES = [
    (NotFound("pods", "web-0"),
     {**HEAD, "message": 'pods "web-0" not found', "reason": "NotFound",
      "details": {"name": "web-0", "kind": "pods"}, "code": 404}),
    (NotFound("deployments", "web", group="apps"),
     {**HEAD, "message": 'deployments.apps "web" not found', "reason": "NotFound",
      "details": {"name": "web", "group": "apps", "kind": "deployments"}, "code": 404}),
    (AlreadyExists("pods", "web-0"),
     {**HEAD, "message": 'pods "web-0" already exists', "reason": "AlreadyExists",
      "details": {"name": "web-0", "kind": "pods"}, "code": 409}),
    (Conflict("pods", "web-0"),
     {**HEAD, "message": 'Operation cannot be fulfilled on pods "web-0": the object has been modified; '
                         "please apply your changes to the latest version and try again",
      "reason": "Conflict", "details": {"name": "web-0", "kind": "pods"}, "code": 409}),
    (Conflict("leases", "kube-scheduler", "the lease is held by node-2", group="coordination.k8s.io"),
     {**HEAD, "message": 'Operation cannot be fulfilled on leases.coordination.k8s.io "kube-scheduler": '
                         "the lease is held by node-2",
      "reason": "Conflict",
      "details": {"name": "kube-scheduler", "group": "coordination.k8s.io", "kind": "leases"}, "code": 409}),
    (Invalid("Pod", "web-0", [v.required("spec.containers[0].image")]),
     {**HEAD, "message": 'Pod "web-0" is invalid: spec.containers[0].image: Required value', "reason": "Invalid",
      "details": {"name": "web-0", "kind": "Pod", "causes": [
          {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers[0].image"}]},
      "code": 422}),
    (Invalid("Deployment", "web", [v.invalid("spec.replicas", -1, "must be greater than or equal to 0"),
                                   v.required("spec.selector")], group="apps"),
     {**HEAD, "message": 'Deployment.apps "web" is invalid: [spec.replicas: Invalid value: -1: must be greater '
                         "than or equal to 0, spec.selector: Required value]",
      "reason": "Invalid",
      "details": {"name": "web", "group": "apps", "kind": "Deployment", "causes": [
          {"reason": "FieldValueInvalid", "message": "Invalid value: -1: must be greater than or equal to 0",
           "field": "spec.replicas"},
          {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.selector"}]},
      "code": 422}),
    (Invalid("Pod", "x", [v.required("a"), v.required("a")]),  # one message shown once, both causes kept
     {**HEAD, "message": 'Pod "x" is invalid: a: Required value', "reason": "Invalid",
      "details": {"name": "x", "kind": "Pod", "causes": [
          {"reason": "FieldValueRequired", "message": "Required value", "field": "a"},
          {"reason": "FieldValueRequired", "message": "Required value", "field": "a"}]},
      "code": 422}),
    (NotFound("pods", 'we"ird\n'),  # names are quoted as Go's %q quotes them
     {**HEAD, "message": 'pods "we\\"ird\\n" not found', "reason": "NotFound",
      "details": {"name": 'we"ird\n', "kind": "pods"}, "code": 404}),
    (Invalid("Pod", "x"),
     {**HEAD, "message": 'Pod "x" is invalid', "reason": "Invalid", "details": {"name": "x", "kind": "Pod"},
      "code": 422}),
    (BadRequest("the namespace of the provided object does not match the namespace sent on the request"),
     {**HEAD, "message": "the namespace of the provided object does not match the namespace sent on the request",
      "reason": "BadRequest", "code": 400}),
    (Unauthorized(),
     {**HEAD, "message": "Unauthorized", "reason": "Unauthorized", "code": 401}),
    (Unauthorized(""),
     {**HEAD, "message": "not authorized", "reason": "Unauthorized", "code": 401}),
    (Forbidden("pods", "", 'User "system:anonymous" cannot list resource "pods" in API group "" in the namespace "default"'),
     {**HEAD, "message": 'pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" '
                         'in the namespace "default"',
      "reason": "Forbidden", "details": {"kind": "pods"}, "code": 403}),
    (Forbidden("secrets", "token", 'User "bob" cannot get resource "secrets"'),
     {**HEAD, "message": 'secrets "token" is forbidden: User "bob" cannot get resource "secrets"',
      "reason": "Forbidden", "details": {"name": "token", "kind": "secrets"}, "code": 403}),
    (Forbidden(why='User "bob" cannot get path "/metrics"'),
     {**HEAD, "message": 'forbidden: User "bob" cannot get path "/metrics"', "reason": "Forbidden",
      "details": {}, "code": 403}),
    (MethodNotAllowed("pods", "update", group=""),
     {**HEAD, "message": 'update is not supported on resources of kind "pods"', "reason": "MethodNotAllowed",
      "details": {"kind": "pods"}, "code": 405}),
    (MethodNotAllowed(),
     {**HEAD, "message": "the server does not allow this method on the requested resource",
      "reason": "MethodNotAllowed", "code": 405}),
    (Gone("too old resource version: 5 (42)"),
     {**HEAD, "message": "too old resource version: 5 (42)", "reason": "Expired", "code": 410}),
    (Gone("the resource is gone", reason="Gone"),
     {**HEAD, "message": "the resource is gone", "reason": "Gone", "code": 410}),
    (TooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0),
     {**HEAD, "message": "Cannot evict pod as it would violate the pod's disruption budget.",
      "reason": "TooManyRequests", "details": {}, "code": 429}),
    (TooManyRequests("slow down", 5),
     {**HEAD, "message": "slow down", "reason": "TooManyRequests", "details": {"retryAfterSeconds": 5},
      "code": 429}),
    (InternalError("etcdserver: request timed out"),
     {**HEAD, "message": "Internal error occurred: etcdserver: request timed out", "reason": "InternalError",
      "details": {"causes": [{"message": "etcdserver: request timed out"}]}, "code": 500}),
    (Timeout("request did not complete within 60s", 2),
     {**HEAD, "message": "Timeout: request did not complete within 60s", "reason": "Timeout",
      "details": {"retryAfterSeconds": 2}, "code": 504}),
]
IDS = [type(e).__name__ + "-" + str(e)[:30] for e, _ in STATUSES]


@pytest.mark.parametrize("error,status", STATUSES, ids=IDS)
def test_status_is_exactly_what_kube_apiserver_sends(error, status):
    assert error.status() == status
    # Byte for byte, including key order: clients may compare serialised bodies.
    assert json.dumps(error.status()) == json.dumps(status)
    assert str(error) == status["message"]
    assert error.code == status["code"] and error.reason == status["reason"]
    assert isinstance(error, APIError) and isinstance(error, KitError)


@pytest.mark.parametrize("error,status", STATUSES, ids=IDS)
def test_from_status_round_trip(error, status):
    back = from_status(json.loads(json.dumps(status)))
    assert type(back) is type(error)
    assert back.status() == status
    assert str(back) == str(error)


@pytest.mark.parametrize("error,status", STATUSES, ids=IDS)
def test_errors_pickle_through_their_status(error, status):
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error) and again.status() == status


def test_convenience_accessors():
    err = from_status(NotFound("deployments", "web", group="apps").status())
    assert (err.name, err.kind, err.group) == ("web", "deployments", "apps")
    assert Timeout("x", 7).retry_after_seconds == 7
    invalid = Invalid("Pod", "p", [v.required("spec.containers")])
    assert invalid.errors == [v.required("spec.containers")]
    assert from_status(invalid.status()).causes == invalid.causes == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"}]


# Bodies real servers send that have no class of their own: the class of the
# code takes them, and reason and code survive the round trip.
OTHER_STATUSES = [
    ({**HEAD, "message": "The POST operation against pods could not be completed at this time, please try again.",
      "reason": "ServerTimeout", "details": {"name": "create", "kind": "pods", "retryAfterSeconds": 1},
      "code": 500}, InternalError),
    ({**HEAD, "message": "service unavailable", "reason": "ServiceUnavailable", "code": 503}, APIError),
    ({**HEAD, "message": "Request entity too large: limit is 3145728", "reason": "RequestEntityTooLarge",
      "code": 413}, RequestEntityTooLarge),
    ({**HEAD, "message": "the server has asked for the client to provide credentials", "code": 401}, Unauthorized),
    ({**HEAD, "message": "x", "reason": "Conflict", "code": 409, "details": {"future": "kept"}}, Conflict),
]


@pytest.mark.parametrize("status,cls", OTHER_STATUSES, ids=[s.get("reason", "none") for s, _ in OTHER_STATUSES])
def test_from_status_other_reasons(status, cls):
    err = from_status(status)
    assert type(err) is cls
    assert err.status() == status


def test_from_status_uses_the_http_code_when_the_body_has_none():
    err = from_status({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": "nope"}, http_code=404)
    assert type(err) is NotFound and err.code == 404


@pytest.mark.parametrize("body", [
    {"kind": "Pod"},
    "not a dict",
    {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"},
])
def test_from_status_refuses_what_is_not_a_failure(body):
    with pytest.raises(ValueError):
        from_status(body)


def test_success_status_for_deletes():
    assert success_status("deployments", "web", "c0d8f1e2", group="apps") == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
        "details": {"name": "web", "group": "apps", "kind": "deployments", "uid": "c0d8f1e2"},
    }
    assert json.dumps(success_status("configmaps", "app")) == (
        '{"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", '
        '"details": {"name": "app", "kind": "configmaps"}}')
