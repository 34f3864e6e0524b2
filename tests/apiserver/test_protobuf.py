"""Protobuf request bodies: hand-built messages, malformed ones, and the real kubectl's generator commands."""

from __future__ import annotations

import doctest
import json
import logging
import random
import shutil
import subprocess
import sys

import pytest

from kitlib.api.errors import BadRequest, UnsupportedMediaType
from kitlib.apiserver import handler, protobuf
from kitlib.apiserver.protobuf import MAGIC, PROTOBUF, decode, supported
from kitlib.apiserver.server import APIServer
from kitlib.store import open_store


# A tiny encoder, enough to build the bodies kubectl sends (and broken ones).
def varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int32/int64 travel as 64-bit two's complement
    out = bytearray()
    while True:
        out.append(n & 0x7F | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def num(number: int, n: int) -> bytes:
    return varint(number << 3) + varint(n)


def ld(number: int, *parts: bytes | str) -> bytes:
    payload = b"".join(p.encode() if isinstance(p, str) else p for p in parts)
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def entry(number: int, key: str, value: bytes | str) -> bytes:  # one map entry: {key = 1; value = 2}
    return ld(number, ld(1, key), ld(2, value))


def envelope(api_version: str, kind: str, body: bytes, *extra: bytes) -> bytes:
    return MAGIC + ld(1, ld(1, api_version), ld(2, kind)) + ld(2, body) + b"".join(extra)


def meta(name: str, *more: bytes) -> bytes:
    return ld(1, ld(1, name), *more)


def int_or_string(value: int | str) -> bytes:
    return num(1, 1) + ld(3, value) if isinstance(value, str) else num(1, 0) + num(2, value)


# What gogo-protobuf writes for a Go struct: every non-pointer member, zero or not (here for ObjectMeta).
ZERO_META = ld(2, "") + ld(3, "") + ld(4, "") + ld(5, "") + ld(6, "") + num(7, 0) + ld(8)
# PodSpec.containers[0]: ports, env from a ConfigMap key (LocalObjectReference inlined), resources, a probe.
CONTAINER = ld(2, ld(1, "web"), ld(2, "nginx:1.7.9"), ld(6, num(3, 80), ld(4, "TCP")),
               ld(7, ld(1, "MODE"), ld(3, ld(3, ld(1, ld(1, "settings")), ld(2, "mode")))),
               ld(8, entry(1, "cpu", ld(1, "500m")), entry(2, "memory", ld(1, "64Mi"))),
               ld(10, ld(1, ld(2, ld(1, "/healthz"), ld(2, int_or_string("http")))), num(2, 3)))
# A PodSpec with an emptyDir volume (VolumeSource is inlined in Volume) mounted by one container.
POD = ld(1, ld(1, "data"), ld(2, ld(2, ld(1, "Memory")))) + ld(2, ld(1, "c"), ld(9, ld(1, "data"), ld(3, "/d")))

DECODE_CASES = [
    ("namespace",
     envelope("v1", "Namespace", meta("demo", ZERO_META, entry(11, "team", "a"), entry(12, "note", ""),
                                      ld(14, "kubernetes.io/x")) + ld(2, ld(1, "kubernetes")) + ld(3, ld(1, ""))),
     {"apiVersion": "v1", "kind": "Namespace",
      "metadata": {"name": "demo", "labels": {"team": "a"}, "annotations": {"note": ""},
                   "finalizers": ["kubernetes.io/x"]},
      "spec": {"finalizers": ["kubernetes"]}, "status": {}}),
    ("times: whole seconds, zero is null, explicit 0 is the epoch",
     envelope("v1", "ConfigMap", meta("c", num(7, 3), ld(8, num(1, 1700000060), num(2, 999)), ld(9, num(1, 0)),
                                      num(10, 0))),
     {"apiVersion": "v1", "kind": "ConfigMap",
      "metadata": {"name": "c", "generation": 3, "creationTimestamp": "2023-11-14T22:14:20Z",
                   "deletionTimestamp": "1970-01-01T00:00:00Z", "deletionGracePeriodSeconds": 0}}),
    ("configmap: data, binaryData in base64, a pointer false kept",
     envelope("v1", "ConfigMap", meta("c") + entry(2, "a", "b") + entry(3, "bin", b"\xff\x00") + num(4, 0)),
     {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "immutable": False,
      "data": {"a": "b"}, "binaryData": {"bin": "/wA="}}),
    ("secret: data base64, stringData, type",
     envelope("v1", "Secret", meta("s") + entry(2, "k", "v") + ld(3, "Opaque") + entry(4, "plain", "text")),
     {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "dg=="},
      "stringData": {"plain": "text"}, "type": "Opaque"}),
    ("serviceaccount: references",
     envelope("v1", "ServiceAccount", meta("sa") + ld(2, ld(1, "Secret"), ld(3, "tok")) + ld(3, ld(1, "pull"))
              + num(4, 0)),
     {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"},
      "secrets": [{"kind": "Secret", "name": "tok"}], "imagePullSecrets": [{"name": "pull"}],
      "automountServiceAccountToken": False}),
    ("deployment: pointers' zeros kept, negative int, int-or-string, quantities, inline references",
     envelope("apps/v1", "Deployment", meta("d", entry(11, "app", "d"))
              + ld(2, num(1, 0), ld(2, entry(1, "app", "d")), ld(3, meta("", entry(11, "app", "d")), ld(2, CONTAINER)),
                   ld(4, ld(1, "RollingUpdate"), ld(2, ld(1, int_or_string("25%")), ld(2, int_or_string(0)))),
                   num(6, -1), num(5, 0))
              + ld(3, num(1, 0), num(2, 0))),
     {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": {"app": "d"}},
      "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "d"}},
               "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{
                   "name": "web", "image": "nginx:1.7.9", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                   "env": [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}}],
                   "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}},
                   "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "initialDelaySeconds": 3}}]}},
               "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 0}},
               "revisionHistoryLimit": -1},
      "status": {}}),
    ("service: targetPort as a number, zero nodePort dropped",
     envelope("v1", "Service", meta("svc") + ld(2, ld(1, ld(1, "80-8080"), ld(2, "TCP"), num(3, 80),
                                                      ld(4, int_or_string(8080)), num(5, 0)),
                                                entry(2, "app", "svc"), ld(4, "ClusterIP"))),
     {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
      "spec": {"ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}],
               "selector": {"app": "svc"}, "type": "ClusterIP"}}),
    ("role: the core group's empty name is kept in a list",
     envelope("rbac.authorization.k8s.io/v1", "Role", meta("r") + ld(2, ld(1, "get"), ld(2, ""), ld(3, "pods"))),
     {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r"},
      "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]}),
    ("cronjob: volumes and managedFields",
     envelope("batch/v1", "CronJob",
              meta("cj", ld(17, ld(1, "kubectl"), ld(2, "Update"), ld(6, "FieldsV1"), ld(7, ld(1, '{"f:spec":{}}'))))
              + ld(2, ld(1, "*/5 * * * *"), ld(5, ld(2, ld(6, ld(2, POD)))))),
     {"apiVersion": "batch/v1", "kind": "CronJob",
      "metadata": {"name": "cj", "managedFields": [
          {"manager": "kubectl", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]},
      "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
          "volumes": [{"name": "data", "emptyDir": {"medium": "Memory"}}],
          "containers": [{"name": "c", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}]}}}}}}),
]


@pytest.mark.parametrize("raw, expected", [c[1:] for c in DECODE_CASES], ids=[c[0] for c in DECODE_CASES])
def test_decode(raw, expected):
    unknown: list[str] = []
    assert decode(raw, unknown) == expected
    assert unknown == []


MALFORMED = [
    ("no prefix", b'{"kind":"Namespace"}', "does not start with the Kubernetes prefix"),
    ("truncated varint", MAGIC + b"\x08\x80", "truncated varint"),
    ("length past the end", MAGIC + b"\x0a\x05ab", "runs past the end"),
    ("length past the end, nested", envelope("v1", "Namespace", b"\x0a\x09\x0a\x01x"), "runs past the end"),
    ("fixed64 past the end", MAGIC + b"\x09\x01\x02", "runs past the end"),
    ("wrong wire type", envelope("v1", "Namespace", ld(1, num(1, 7))), "metadata.name has wire type 0, expected 2"),
    ("wrong wire type for a map", envelope("v1", "Namespace", ld(1, num(11, 1))), "wire type 0, expected 2"),
    ("a group", envelope("v1", "Namespace", b"\x0b"), "wire type 3"),
    ("varint too long", MAGIC + b"\x08" + b"\xff" * 11, "varint too long"),
    ("varint past 64 bits", MAGIC + b"\x08" + b"\xff" * 9 + b"\x7f", "overflows 64 bits"),
    ("field number 0", MAGIC + b"\x02\x00", "field number 0"),
    ("not UTF-8", envelope("v1", "Namespace", ld(1, ld(1, b"\xff\xfe"))), "metadata.name is not valid UTF-8"),
    ("bad fieldsV1", envelope("v1", "Namespace", ld(1, ld(17, ld(7, ld(1, "{not json"))))), "not JSON"),
    ("time out of range", envelope("v1", "Namespace", ld(1, ld(8, num(1, 10**15)))), "out of range"),
    ("time before year 1", envelope("v1", "Namespace", ld(1, ld(8, num(1, -10**11)))), "out of range"),
    ("no kind", MAGIC + ld(2, b""), "names no apiVersion and kind"),
    ("compressed", envelope("v1", "Namespace", b"", ld(3, "gzip")), "only plain protobuf"),
    ("JSON inside", envelope("v1", "Namespace", b"{}", ld(4, "application/json")), "only plain protobuf"),
]


@pytest.mark.parametrize("raw, message", [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_malformed_bodies_are_bad_requests(raw, message):
    with pytest.raises(BadRequest) as caught:
        decode(raw)
    assert caught.value.code == 400 and message in caught.value.message


def test_nesting_is_bounded(monkeypatch):
    raw = envelope("apps/v1", "Deployment", ld(2, ld(3, ld(2, CONTAINER))))
    assert decode(raw)["spec"]["template"]["spec"]["containers"][0]["name"] == "web"
    monkeypatch.setattr(protobuf, "MAX_DEPTH", 4)
    with pytest.raises(BadRequest, match="nests deeper than 4 messages"):
        decode(raw)


def test_deeply_nested_unknown_fields_are_skipped_without_recursion():
    blob = b""
    for _ in range(5000):
        blob = ld(99, blob)
    unknown: list[str] = []
    assert decode(envelope("v1", "Namespace", meta("n") + blob), unknown)["metadata"] == {"name": "n"}
    assert unknown == ["unknown protobuf field 99 (wire type 2) in Namespace at the top"]


def test_unknown_fields_are_skipped_and_reported(caplog):
    raw = envelope("v1", "ConfigMap", meta("c", num(99, 1)) + varint(50 << 3 | 1) + bytes(8)
                   + varint(51 << 3 | 5) + bytes(4) + entry(2, "a", "b"), ld(9, "future"))
    unknown: list[str] = []
    assert decode(raw, unknown) == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                                    "data": {"a": "b"}}
    assert unknown == ["unknown protobuf field 9 (wire type 2) in Unknown at the top",
                       "unknown protobuf field 99 (wire type 0) in ObjectMeta at metadata",
                       "unknown protobuf field 50 (wire type 1) in ConfigMap at the top",
                       "unknown protobuf field 51 (wire type 5) in ConfigMap at the top"]
    with caplog.at_level(logging.WARNING, logger="kitlib.apiserver.protobuf"):
        decode(raw)
    assert [r.getMessage() for r in caplog.records][1] == (
        "v1 ConfigMap: unknown protobuf field 99 (wire type 0) in ObjectMeta at metadata")


@pytest.mark.parametrize("api_version, kind", [("v1", "Pod"), ("policy/v1", "PodDisruptionBudget"),
                                               ("v1", "ObjectMeta")])
def test_kinds_without_a_table_say_to_use_a_manifest(api_version, kind):
    assert not supported(api_version, kind)
    with pytest.raises(UnsupportedMediaType) as caught:
        decode(envelope(api_version, kind, meta("x")))
    assert caught.value.code == 415
    assert f"cannot read {kind} ({api_version}) objects in protobuf" in caught.value.message
    assert "--dry-run=client -o yaml" in caught.value.message and "kubectl create -f" in caught.value.message


def test_any_corruption_is_an_api_error_never_a_crash():
    raw = DECODE_CASES[5][1]
    rng = random.Random(7)
    bodies = [raw[:n] for n in range(len(raw))]
    for _ in range(2000):
        body = bytearray(raw)
        for _ in range(rng.randint(1, 4)):
            body[rng.randrange(len(MAGIC), len(body))] = rng.randrange(256)
        bodies.append(bytes(body))
    for body in bodies:
        try:
            assert isinstance(decode(body, []), dict)
        except (BadRequest, UnsupportedMediaType):
            pass


def test_every_table_names_known_types():
    assert protobuf.KINDS and all(kind in protobuf.TABLES for _, kind in protobuf.KINDS)
    for name, table in protobuf.TABLES.items():
        for number, field in table.items():
            assert field.type in protobuf.SCALARS or field.type in protobuf.TABLES, (name, number, field)
            assert field.name != "..." or field.type in protobuf.TABLES, (name, number)


def test_docstring_example():
    assert doctest.testmod(protobuf).failed == 0


# The real kubectl: its generator commands send protobuf; the decoded body must be what kubectl itself
# renders as JSON for the same object (`--dry-run=client -o json`), and the object must then exist.
KUBECTL = [
    ["create", "namespace", "demo"],
    ["create", "configmap", "c", "--from-literal=a=b", "--from-literal=c=d"],
    ["create", "secret", "generic", "s", "--from-literal=k=v"],
    ["create", "serviceaccount", "sa"],
    ["create", "deployment", "d", "--image=nginx:1.7.9", "--replicas=2", "--port=80"],
    ["create", "job", "j", "--image=busybox", "--", "echo", "hi"],
    ["create", "cronjob", "cj", "--image=busybox", "--schedule=*/1 * * * *", "--", "date"],
    ["create", "role", "r", "--verb=get,list", "--resource=pods", "--resource-name=x"],
    ["create", "rolebinding", "rb", "--role=r", "--user=alice", "--serviceaccount=default:sa"],
    ["create", "clusterrole", "cr", "--verb=get", "--resource=nodes"],
    ["create", "clusterrolebinding", "crb", "--clusterrole=cr", "--group=g"],
    ["create", "service", "clusterip", "svc", "--tcp=80:8080"],
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("apiserver")
    store = open_store("memory://", lessor=False)
    api = APIServer(store, root / "pki").start()
    api.kubeconfig = api.write_kubeconfig(root / "admin.conf")
    yield api
    api.stop()
    store.close()


def without_nulls(value):
    # Go's JSON writes a zero metav1.Time as null (creationTimestamp: null); the decoder leaves it out.
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    return [without_nulls(v) for v in value] if isinstance(value, list) else value


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("args", KUBECTL, ids=[" ".join(a[1:3]) for a in KUBECTL])
def test_the_real_kubectl_generators(server, monkeypatch, args):
    seen: list[tuple[dict, list[str]]] = []
    original = handler.decode_body

    def decode_body(raw: bytes, content_type: str):
        # The call handler.decode_body is to make: protobuf bodies go to kitlib.apiserver.protobuf.
        if content_type.split(";")[0].strip().lower() == PROTOBUF:
            unknown: list[str] = []
            seen.append((decode(raw, unknown), unknown))
            return seen[-1][0]
        return original(raw, content_type)

    # decode_body is imported by name where bodies are read (handler, or the modules split from it): patch each.
    for module in [m for n, m in sys.modules.items() if n.startswith("kitlib.apiserver.")]:
        if getattr(module, "decode_body", None) is original:
            monkeypatch.setattr(module, "decode_body", decode_body)

    def kubectl(*more):
        result = subprocess.run(["kubectl", "--kubeconfig", str(server.kubeconfig), *more],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"kubectl {' '.join(more)}:\n{result.stdout}{result.stderr}"
        return result.stdout

    cut = args.index("--") if "--" in args else len(args)  # flags go before a container's command
    rendered = json.loads(kubectl(*args[:cut], "--dry-run=client", "-o", "json", *args[cut:]))
    assert "created" in kubectl(*args)
    assert len(seen) == 1, "kubectl sent one protobuf body"
    body, unknown = seen[0]
    assert unknown == [] and body == without_nulls(rendered)
    kind, name = body["kind"].lower(), body["metadata"]["name"]
    assert json.loads(kubectl("get", kind, name, "-o", "json"))["metadata"]["name"] == name
