"""Schemas: unknown, duplicate and mistyped fields are found and worded as kube-apiserver's decoder words them."""

from __future__ import annotations

import copy
import doctest
import importlib
import json
from pathlib import Path

import pytest
import yaml

from kitlib.api.errors import BadRequest, Invalid
from kitlib.apiserver import schema
from kitlib.apiserver.resources import RESOURCES
from kitlib.apiserver.schema import (
    IGNORE,
    STRICT,
    WARN,
    check_fields,
    duplicate_fields,
    fields_of,
    model_for,
    parse_mode,
    patch_strict_error,
    strict_error,
    validate_fields,
    warning_header,
)

NGINX = yaml.safe_load((Path(__file__).resolve().parents[2] / "book/part04-declarative-api/nginx-deployment.yaml")
                       .read_text())
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
       "spec": {"containers": [{"name": "web", "image": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                                "resources": {"limits": {"cpu": "500m", "memory": 1073741824}, "requests": {"cpu": 1}},
                                "livenessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 10},
                                "env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}],
                "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}],
                "tolerations": [{"key": "k", "operator": "Exists", "tolerationSeconds": 300}],
                "securityContext": {"runAsUser": 1000, "fsGroup": 2000}},
       "status": {"phase": "Running", "startTime": "2024-01-01T00:00:00Z"}}
SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080},
                                                           {"name": "named", "port": 81, "targetPort": "http"}]}}
CONFIG_MAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"},
              "data": {"a": "1"}, "binaryData": {"b": "AA=="}, "immutable": False}
ROLE = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "reader"},
        "rules": [{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list", "watch"]}]}
HPA = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
       "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 1, "maxReplicas": 10,
                "metrics": [{"type": "Resource", "resource": {
                                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
                            {"type": "Pods", "pods": {"metric": {"name": "qps"},
                                                      "target": {"type": "AverageValue", "averageValue": "1k"}}}],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300,
                                           "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}}}}
LEASE = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "node-1"},
         "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40,
                  "renewTime": "2024-01-01T00:00:00.123456Z", "leaseTransitions": 0}}
MANAGED = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m", "managedFields": [
    {"manager": "kubectl", "operation": "Update", "apiVersion": "v1", "time": "2024-01-01T00:00:00Z",
     "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {".": {}, "f:a": {}}, "anything": [1, "x", None]}}]}}

KNOWN = [("nginx-deployment", NGINX), ("pod", POD), ("service", SERVICE), ("configmap", CONFIG_MAP),
         ("role", ROLE), ("hpa-v2", HPA), ("lease", LEASE), ("managed-fields", MANAGED)]


@pytest.mark.parametrize("name, obj", KNOWN, ids=[row[0] for row in KNOWN])
def test_known_manifests_have_no_problems(name, obj):
    pruned, problems = check_fields(obj, obj["apiVersion"], obj["kind"])
    assert problems == []
    assert pruned == obj and pruned is not obj


def with_field(obj: dict, path: str, value) -> dict:
    """A copy of ``obj`` with ``value`` at a dotted path (``[i]`` indexes lists)."""
    obj = copy.deepcopy(obj)
    *parents, last = path.replace("[", ".[").split(".")
    here = obj
    for part in parents:
        here = here[int(part[1:-1])] if part.startswith("[") else here.setdefault(part, {})
    here[last] = value
    return obj


# (manifest, where a typo goes, the value) -> kube's problem text, at several depths
TYPOS = [
    (NGINX, "x", 1, 'unknown field "x"'),
    (NGINX, "spec.foo", {"bar": 1}, 'unknown field "spec.foo"'),
    (NGINX, "metadata.labelz", {"a": "b"}, 'unknown field "metadata.labelz"'),
    (NGINX, "spec.template.spec.containers[0].imagee", "nginx",
     'unknown field "spec.template.spec.containers[0].imagee"'),
    (NGINX, "spec.template.spec.containers[0].ports[0].containerport", 80,
     'unknown field "spec.template.spec.containers[0].ports[0].containerport"'),
    (NGINX, "spec.Replicas", 3, 'unknown field "spec.Replicas"'),  # names are case-sensitive
    (POD, "spec.containers[0].resources.requests.cpux", "1", None),  # a map: any key is known
    (POD, "spec.containers[0].livenessProbe.httpGet.scheme2", "HTTP",
     'unknown field "spec.containers[0].livenessProbe.httpGet.scheme2"'),
    (HPA, "spec.metrics[1].pods.target.averageUtilisation", 5,
     'unknown field "spec.metrics[1].pods.target.averageUtilisation"'),
    (ROLE, "rules[0].verb", ["get"], 'unknown field "rules[0].verb"'),
    (ROLE, "spec", {"rules": []}, 'unknown field "spec"'),
    (LEASE, "spec.holder", "x", 'unknown field "spec.holder"'),
    (CONFIG_MAP, "data.anything", "ok", None),
]


@pytest.mark.parametrize("obj, path, value, problem", TYPOS, ids=[row[1] for row in TYPOS])
def test_unknown_fields_are_reported_with_their_path_and_pruned(obj, path, value, problem):
    bad = with_field(obj, path, value)
    pruned, problems = check_fields(bad, obj["apiVersion"], obj["kind"])
    assert problems == ([problem] if problem else [])
    assert pruned == (obj if problem else bad)


def test_problems_come_in_document_order_once_each_and_not_from_inside_unknown_fields():
    bad = {"kind": "Pod", "zz": {"deeper": {"x": 1}}, "metadata": {"a": 1, "name": "p"},
           "spec": {"containers": [{"name": "a", "b": 1}, {"name": "c", "b": 2}]}, "aa": 1}
    assert check_fields(bad, "v1", "Pod")[1] == [
        'unknown field "zz"', 'unknown field "metadata.a"', 'unknown field "spec.containers[0].b"',
        'unknown field "spec.containers[1].b"', 'unknown field "aa"']


def test_at_most_a_hundred_problems_are_collected():
    bad = {f"f{i:03}": i for i in range(150)}
    problems = check_fields(bad, "v1", "ConfigMap")[1]
    assert len(problems) == 100 and problems[-1] == 'unknown field "f099"'


# (api version, kind, object, message of the 400): Go's decoder errors, first one wins
PREFIX = 'Deployment in version "v1" cannot be handled as a Deployment: '
TYPES = [
    ("apps/v1", "Deployment", {"spec": {"replicas": "2"}},
     PREFIX + "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"),
    ("apps/v1", "Deployment", {"spec": {"replicas": 2.0}},
     PREFIX + "json: cannot unmarshal number 2.0 into Go struct field DeploymentSpec.spec.replicas of type int32"),
    ("apps/v1", "Deployment", {"spec": {"replicas": 2 ** 31}},
     PREFIX + "json: cannot unmarshal number 2147483648 into Go struct field DeploymentSpec.spec.replicas "
              "of type int32"),
    ("apps/v1", "Deployment", {"spec": {"template": {"spec": {"containers": {"name": "a"}}}}},
     PREFIX + "json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers "
              "of type []v1.Container"),
    ("apps/v1", "Deployment", {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": 7}]}}}},
     PREFIX + "json: cannot unmarshal number into Go struct field Container.spec.template.spec.containers.image "
              "of type string"),
    ("apps/v1", "Deployment", {"spec": "x"},
     PREFIX + "json: cannot unmarshal string into Go struct field Deployment.spec of type v1.DeploymentSpec"),
    ("apps/v1", "Deployment", {"metadata": {"labels": ["a"]}},
     PREFIX + "json: cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of type map[string]string"),
    ("apps/v1", "Deployment", {"metadata": {"labels": {"a": True}}},
     PREFIX + "json: cannot unmarshal bool into Go struct field ObjectMeta.metadata.labels of type string"),
    ("apps/v1", "Deployment", {"spec": {"paused": "true"}},
     PREFIX + "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool"),
    ("v1", "Pod", {"metadata": {"generation": 1.5}},
     'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal number 1.5 into Go struct field '
     "ObjectMeta.metadata.generation of type int64"),
    ("v1", "Pod", {"spec": {"containers": [{"name": "a", "resources": {"limits": []}}]}},
     'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal array into Go struct field '
     "ResourceRequirements.spec.containers.resources.limits of type v1.ResourceList"),
    # Custom decoders (Time, IntOrString, Quantity) stop at once, even after a plain type error.
    ("apps/v1", "Deployment", {"spec": {"replicas": "2", "strategy": {"rollingUpdate": {"maxSurge": True}}}},
     PREFIX + "json: cannot unmarshal bool into Go struct field RollingUpdateDeployment.spec.strategy.rollingUpdate"
              ".maxSurge of type int32"),
    ("v1", "Service", {"spec": {"ports": [{"port": 80, "targetPort": 1.5}]}},
     'Service in version "v1" cannot be handled as a Service: json: cannot unmarshal number 1.5 into Go struct field '
     "ServicePort.spec.ports.targetPort of type int32"),
    ("v1", "Pod", {"metadata": {"creationTimestamp": 5}},
     'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal number into Go struct field '
     "ObjectMeta.metadata.creationTimestamp of type string"),
    ("v1", "Pod", {"spec": {"containers": [{"name": "a", "resources": {"requests": {"cpu": "lots"}}}]}},
     'Pod in version "v1" cannot be handled as a Pod: ' + schema.QUANTITY_FORMAT),
    ("v1", "Pod", {"spec": {"volumes": [{"name": "v", "emptyDir": {"sizeLimit": "1Mm"}}]}},
     "Pod in version \"v1\" cannot be handled as a Pod: unable to parse quantity's suffix"),
    ("autoscaling/v2", "HorizontalPodAutoscaler", {"spec": {"metrics": [{"type": "Pods", "pods": {"target": {
        "averageValue": {"x": 1}}}}]}},
     'HorizontalPodAutoscaler in version "v2" cannot be handled as a HorizontalPodAutoscaler: '
     + schema.QUANTITY_FORMAT),
]


@pytest.mark.parametrize("api_version, kind, obj, message", TYPES, ids=[row[3][-60:] for row in TYPES])
def test_wrong_json_types_fail_the_decoding_in_every_mode(api_version, kind, obj, message):
    for mode in (STRICT, WARN, IGNORE):
        with pytest.raises(BadRequest) as info:
            validate_fields(obj, api_version, kind, mode)
        assert info.value.message == message and info.value.code == 400


# Values kube's decoder takes although the client types them otherwise.
ACCEPTED = [
    ("v1", "Pod", {"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": 2, "memory": 1.5e9}}}]}}),
    ("v1", "Pod", {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80}],
                                            "readinessProbe": {"tcpSocket": {"port": 8080}}}]}}),
    ("apps/v1", "Deployment", {"spec": {"strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}}}}),
    ("apps/v1", "Deployment", {"spec": {"replicas": None, "template": None}, "status": None}),
    ("v1", "Node", {"status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}}}),
]


@pytest.mark.parametrize("api_version, kind, obj", ACCEPTED, ids=[str(row[2])[:50] for row in ACCEPTED])
def test_values_of_custom_types_are_accepted(api_version, kind, obj):
    assert check_fields(obj, api_version, kind) == (obj, [])


DUPLICATES = [
    (b'{"kind":"Pod","kind":"Pod"}', ['duplicate field "kind"']),
    (b'{"metadata":{"name":"a","labels":{"x":"1","x":"2"},"name":"b"}}',
     ['duplicate field "metadata.labels.x"', 'duplicate field "metadata.name"']),
    (b'{"spec":{"containers":[{"name":"a","image":"i","image":"j"}]}}',
     ['duplicate field "spec.containers[0].image"']),
    (b'{"spec":{"nodeName":"a"},"spec":{"nodeName":"b"}}', ['duplicate field "spec"']),
]


@pytest.mark.parametrize("raw, expected", DUPLICATES, ids=[row[0].decode()[:50] for row in DUPLICATES])
def test_duplicate_fields_are_found_in_the_raw_body(raw, expected):
    assert duplicate_fields(raw) == expected
    assert duplicate_fields(raw, "v1", "Pod") == expected


def test_duplicates_and_unknown_fields_interleave_in_document_order_and_the_last_value_wins():
    raw = (b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","name":"b"},'
           b'"spec":{"nodeName":"n","bogus":1},"spec":{"hostname":"h"}}')
    pruned, problems = check_fields({}, "v1", "Pod", raw=raw)
    assert problems == ['duplicate field "metadata.name"', 'unknown field "spec.bogus"', 'duplicate field "spec"']
    # Go decodes the second "spec" into the first: objects merge.
    assert pruned == {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b"},
                      "spec": {"nodeName": "n", "hostname": "h"}}


def test_kube_ignores_duplicates_inside_unknown_fields_but_a_schemaless_walk_does_not():
    raw = b'{"bogus":{"a":1,"a":2}}'
    assert duplicate_fields(raw, "v1", "Pod") == []
    assert duplicate_fields(raw) == ['duplicate field "bogus.a"']


def test_field_validation_modes():
    bad = with_field(NGINX, "spec.foo", 1)
    bad["x"] = 2
    with pytest.raises(BadRequest) as info:
        validate_fields(bad, "apps/v1", "Deployment", STRICT)
    assert info.value.status() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
                   'unknown field "spec.foo", unknown field "x"',
        "reason": "BadRequest", "code": 400}
    assert validate_fields(bad, "apps/v1", "Deployment", WARN) == (
        NGINX, ['unknown field "spec.foo"', 'unknown field "x"'])
    assert validate_fields(bad, "apps/v1", "Deployment") == validate_fields(bad, "apps/v1", "Deployment", WARN)
    assert validate_fields(bad, "apps/v1", "Deployment", IGNORE) == (NGINX, [])
    assert validate_fields(NGINX, "apps/v1", "Deployment", STRICT) == (NGINX, [])


@pytest.mark.parametrize("value, mode", [(None, WARN), ("", WARN), ("Strict", STRICT), ("Warn", WARN),
                                         ("Ignore", IGNORE)])
def test_parse_mode(value, mode):
    assert parse_mode(value) == mode


@pytest.mark.parametrize("value, options", [("strict", "CreateOptions"), ("true", "PatchOptions")])
def test_parse_mode_refuses_other_values_as_kube_does(value, options):
    with pytest.raises(Invalid) as info:
        parse_mode(value, options)
    assert info.value.code == 422
    assert info.value.message == (f'{options}.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: '
                                  f'"{value}": supported values: "", "Ignore", "Strict", "Warn"')


def test_errors_and_warning_headers():
    assert warning_header('unknown field "spec.foo"') == '299 - "unknown field \\"spec.foo\\""'
    assert strict_error(['duplicate field "kind"'], "v1", "Pod").message == \
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: duplicate field "kind"'
    err = patch_strict_error(['unknown field "spec.foo"'], "map[spec:map[foo:1]]")
    assert err.code == 422 and err.message == \
        ' "" is invalid: patch: Invalid value: "map[spec:map[foo:1]]": strict decoding error: unknown field "spec.foo"'


@pytest.mark.parametrize("resource", RESOURCES, ids=[r.group_resource for r in RESOURCES])
def test_every_served_kind_and_its_list_has_a_schema(resource):
    for kind in (resource.kind, resource.list_kind):
        model = model_for(resource.api_version, kind)
        assert model is not None, kind
        assert {"apiVersion", "kind", "metadata"} <= set(fields_of(model))


# (api version, kind, model): the client's names, prefixed where they clash across groups
MODELS = [("apps/v1", "Deployment", "V1Deployment"), ("autoscaling/v2", "HorizontalPodAutoscaler",
                                                       "V2HorizontalPodAutoscaler"),
          ("coordination.k8s.io/v1", "Lease", "V1Lease"), ("rbac.authorization.k8s.io/v1", "Role", "V1Role"),
          ("v1", "Event", "CoreV1Event"), ("events.k8s.io/v1", "Event", "EventsV1Event"),
          ("autoscaling/v1", "Scale", "V1Scale"), ("example.com/v1", "Widget", None)]


@pytest.mark.parametrize("api_version, kind, model", MODELS, ids=[f"{r[0]} {r[1]}" for r in MODELS])
def test_model_for(api_version, kind, model):
    assert model_for(api_version, kind) == model


def test_kinds_without_a_model_pass_through():
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"anything": 1}}
    assert validate_fields(widget, "example.com/v1", "Widget", STRICT) == (widget, [])


def test_int64_fields_are_int64():
    assert fields_of("V1ObjectMeta")["generation"].bits == 64
    assert fields_of("V1PodSpec")["terminationGracePeriodSeconds"].bits == 64
    assert fields_of("V1DeploymentSpec")["replicas"].bits == 32


def test_doctests():
    module = importlib.import_module("kitlib.apiserver.schema")
    assert doctest.testmod(module).failed == 0


def test_problem_texts_are_json_friendly():
    assert json.loads(json.dumps(check_fields({"a\"b": 1}, "v1", "Pod")[1])) == ['unknown field "a\\"b"']


def test_check_fields_does_not_change_its_argument():
    bad = with_field(POD, "spec.nodeNmae", "n")
    before = copy.deepcopy(bad)
    check_fields(bad, "v1", "Pod")
    assert bad == before
