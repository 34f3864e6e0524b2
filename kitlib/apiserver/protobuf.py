"""Kubernetes protobuf request bodies, read into the JSON-shaped dicts the rest of the API server uses.

kubectl's generator commands (``kubectl create namespace NAME``, ``create
configmap``, ``create secret generic``, ``create deployment``, ``create
role``...) send their object as ``application/vnd.kubernetes.protobuf``: the
magic ``k8s\\x00``, then a ``runtime.Unknown`` envelope naming apiVersion and
kind, whose ``raw`` bytes are the typed object. :func:`decode` reads the wire
format itself (varint, 64-bit, length-delimited and 32-bit fields; a map is
repeated key=1/value=2 entries) and names fields through the tables below,
one line per message, ``"<number> <jsonName>[:<type>]"``: the type is ``str``
when left out, ``[T]`` a repeated field, ``{T}`` a map with string keys; a
trailing ``?`` marks a Go pointer, whose zero value was set on purpose and is
kept; the name ``...`` is an embedded struct, which JSON inlines. The numbers
come from Kubernetes' ``generated.proto`` files, named above each group.

    >>> envelope = bytes([10, 15, 10, 2]) + b"v1" + bytes([18, 9]) + b"Namespace"  # typeMeta
    >>> raw = bytes([18, 8, 10, 6, 10, 4]) + b"demo"  # raw: a Namespace whose metadata.name is demo
    >>> decode(b"k8s\\x00" + envelope + raw)
    {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': 'demo'}}

A truncated or malformed body is a ``400 BadRequest``; a kind without a table
is a ``415 UnsupportedMediaType`` that says to go through a manifest. Unknown
field numbers are skipped and reported: appended to ``unknown`` when the
caller passes a list (the handler can send them as ``Warning`` headers, as it
does for unknown JSON fields), logged as warnings otherwise.

Simplifications:
- Only the kinds in :data:`KINDS` have tables, and some of their rarer members
  have none (affinity, securityContext, dnsConfig, podFailurePolicy, gRPC
  probes, resourceFieldRef...): those are skipped as unknown fields.
- Zero values (``""``, ``0``, ``false``) are dropped unless the field is a Go
  pointer, as Go's JSON encoder drops ``omitempty`` ones; so a required field
  sent as zero (a container port 0) is reported missing, not out of range.
- A field sent twice keeps its last value (protobuf merges two messages);
  packed repeated scalars and proto groups are refused.
- Times keep whole seconds, as ``metav1.Time`` does when it reads protobuf.
- Only requests: the server answers in JSON, which kubectl accepts.
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

from kitlib.api.errors import BadRequest, UnsupportedMediaType

log = logging.getLogger(__name__)

PROTOBUF = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"  # runtime/serializer/protobuf: the prefix that tells protobuf from JSON
# Deeper than any path through the tables (a CronJob's probe port is 11 levels); stops a table cycle too.
MAX_DEPTH = 32

_MESSAGES = {
    # k8s.io/apimachinery/pkg/runtime/generated.proto: the envelope.
    "Unknown": "1 typeMeta:TypeMeta, 2 raw:raw, 3 contentEncoding, 4 contentType",
    "TypeMeta": "1 apiVersion, 2 kind",
    # util/intstr and api/resource: messages that JSON writes as scalars (see _CONVERT).
    "IntOrString": "1 type:int, 2 intVal:int?, 3 strVal",
    "Quantity": "1 string",
    # k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto
    "Time": "1 seconds:int?, 2 nanos:int",
    "FieldsV1": "1 Raw:raw",
    "ObjectMeta": "1 name, 2 generateName, 3 namespace, 4 selfLink, 5 uid, 6 resourceVersion, 7 generation:int,"
                  " 8 creationTimestamp:Time, 9 deletionTimestamp:Time, 10 deletionGracePeriodSeconds:int?,"
                  " 11 labels:{str}, 12 annotations:{str}, 13 ownerReferences:[OwnerReference],"
                  " 14 finalizers:[str], 17 managedFields:[ManagedFieldsEntry]",
    "OwnerReference": "5 apiVersion, 1 kind, 3 name, 4 uid, 6 controller:bool?, 7 blockOwnerDeletion:bool?",
    "ManagedFieldsEntry": "1 manager, 2 operation, 3 apiVersion, 4 time:Time, 6 fieldsType, 7 fieldsV1:FieldsV1,"
                          " 8 subresource",
    "LabelSelector": "1 matchLabels:{str}, 2 matchExpressions:[LabelSelectorRequirement]",
    "LabelSelectorRequirement": "1 key, 2 operator, 3 values:[str]",
    "Condition": "1 type, 2 status, 3 observedGeneration:int, 4 lastTransitionTime:Time, 5 reason, 6 message",
    # k8s.io/api/core/v1/generated.proto
    "Namespace": "1 metadata:ObjectMeta, 2 spec:NamespaceSpec, 3 status:NamespaceStatus",
    "NamespaceSpec": "1 finalizers:[str]",
    "NamespaceStatus": "1 phase, 2 conditions:[NamespaceCondition]",
    "NamespaceCondition": "1 type, 2 status, 4 lastTransitionTime:Time, 5 reason, 6 message",
    "ConfigMap": "1 metadata:ObjectMeta, 4 immutable:bool?, 2 data:{str}, 3 binaryData:{bytes}",
    "Secret": "1 metadata:ObjectMeta, 5 immutable:bool?, 2 data:{bytes}, 4 stringData:{str}, 3 type",
    "ServiceAccount": "1 metadata:ObjectMeta, 2 secrets:[ObjectReference], 3 imagePullSecrets:[LocalObjectReference],"
                      " 4 automountServiceAccountToken:bool?",
    "ObjectReference": "1 kind, 2 namespace, 3 name, 4 uid, 5 apiVersion, 6 resourceVersion, 7 fieldPath",
    "LocalObjectReference": "1 name",
    "Service": "1 metadata:ObjectMeta, 2 spec:ServiceSpec, 3 status:ServiceStatus",
    "ServiceSpec": "1 ports:[ServicePort], 2 selector:{str}, 3 clusterIP, 18 clusterIPs:[str], 4 type,"
                   " 5 externalIPs:[str], 7 sessionAffinity, 8 loadBalancerIP, 9 loadBalancerSourceRanges:[str],"
                   " 10 externalName, 11 externalTrafficPolicy, 12 healthCheckNodePort:int,"
                   " 13 publishNotReadyAddresses:bool, 19 ipFamilies:[str], 17 ipFamilyPolicy:str?,"
                   " 20 allocateLoadBalancerNodePorts:bool?, 21 loadBalancerClass:str?,"
                   " 22 internalTrafficPolicy:str?, 23 trafficDistribution:str?",
    "ServicePort": "1 name, 2 protocol, 6 appProtocol:str?, 3 port:int, 4 targetPort:IntOrString, 5 nodePort:int",
    "ServiceStatus": "1 loadBalancer:LoadBalancerStatus, 2 conditions:[Condition]",
    "LoadBalancerStatus": "1 ingress:[LoadBalancerIngress]",
    "LoadBalancerIngress": "1 ip, 2 hostname, 3 ipMode:str?, 4 ports:[PortStatus]",
    "PortStatus": "1 port:int, 2 protocol, 3 error:str?",
    "PodTemplateSpec": "1 metadata:ObjectMeta, 2 spec:PodSpec",
    "PodSpec": "1 volumes:[Volume], 20 initContainers:[Container], 2 containers:[Container], 3 restartPolicy,"
               " 4 terminationGracePeriodSeconds:int?, 5 activeDeadlineSeconds:int?, 6 dnsPolicy,"
               " 7 nodeSelector:{str}, 8 serviceAccountName, 9 serviceAccount, 21 automountServiceAccountToken:bool?,"
               " 10 nodeName, 11 hostNetwork:bool, 12 hostPID:bool, 13 hostIPC:bool, 27 shareProcessNamespace:bool?,"
               " 15 imagePullSecrets:[LocalObjectReference], 16 hostname, 17 subdomain, 19 schedulerName,"
               " 22 tolerations:[Toleration], 23 hostAliases:[HostAlias], 24 priorityClassName, 25 priority:int?,"
               " 29 runtimeClassName:str?, 30 enableServiceLinks:bool?, 31 preemptionPolicy:str?,"
               " 32 overhead:{Quantity}, 35 setHostnameAsFQDN:bool?, 37 hostUsers:bool?,"
               " 40 resources:ResourceRequirements",
    "Container": "1 name, 2 image, 3 command:[str], 4 args:[str], 5 workingDir, 6 ports:[ContainerPort],"
                 " 19 envFrom:[EnvFromSource], 7 env:[EnvVar], 8 resources:ResourceRequirements,"
                 " 23 resizePolicy:[ContainerResizePolicy], 24 restartPolicy:str?, 9 volumeMounts:[VolumeMount],"
                 " 10 livenessProbe:Probe, 11 readinessProbe:Probe, 22 startupProbe:Probe, 12 lifecycle:Lifecycle,"
                 " 13 terminationMessagePath, 20 terminationMessagePolicy, 14 imagePullPolicy, 16 stdin:bool,"
                 " 17 stdinOnce:bool, 18 tty:bool",
    "ContainerPort": "1 name, 2 hostPort:int, 3 containerPort:int, 4 protocol, 5 hostIP",
    "ContainerResizePolicy": "1 resourceName, 2 restartPolicy",
    "EnvVar": "1 name, 2 value, 3 valueFrom:EnvVarSource",
    "EnvVarSource": "1 fieldRef:ObjectFieldSelector, 3 configMapKeyRef:ConfigMapKeySelector,"
                    " 4 secretKeyRef:SecretKeySelector",
    "ObjectFieldSelector": "1 apiVersion, 2 fieldPath",
    "ConfigMapKeySelector": "1 ...:LocalObjectReference, 2 key, 3 optional:bool?",
    "SecretKeySelector": "1 ...:LocalObjectReference, 2 key, 3 optional:bool?",
    "EnvFromSource": "1 prefix, 2 configMapRef:ConfigMapEnvSource, 3 secretRef:SecretEnvSource",
    "ConfigMapEnvSource": "1 ...:LocalObjectReference, 2 optional:bool?",
    "SecretEnvSource": "1 ...:LocalObjectReference, 2 optional:bool?",
    "ResourceRequirements": "1 limits:{Quantity}, 2 requests:{Quantity}",
    "VolumeMount": "1 name, 2 readOnly:bool, 7 recursiveReadOnly:str?, 3 mountPath, 4 subPath,"
                   " 5 mountPropagation:str?, 6 subPathExpr",
    "Probe": "1 ...:ProbeHandler, 2 initialDelaySeconds:int, 3 timeoutSeconds:int, 4 periodSeconds:int,"
             " 5 successThreshold:int, 6 failureThreshold:int, 7 terminationGracePeriodSeconds:int?",
    "ProbeHandler": "1 exec:ExecAction, 2 httpGet:HTTPGetAction, 3 tcpSocket:TCPSocketAction",
    "ExecAction": "1 command:[str]",
    "HTTPGetAction": "1 path, 2 port:IntOrString, 3 host, 4 scheme, 5 httpHeaders:[HTTPHeader]",
    "HTTPHeader": "1 name, 2 value",
    "TCPSocketAction": "1 port:IntOrString, 2 host",
    "Lifecycle": "1 postStart:LifecycleHandler, 2 preStop:LifecycleHandler, 3 stopSignal:str?",
    "LifecycleHandler": "1 exec:ExecAction, 2 httpGet:HTTPGetAction, 3 tcpSocket:TCPSocketAction, 4 sleep:SleepAction",
    "SleepAction": "1 seconds:int",
    "Toleration": "1 key, 2 operator, 3 value, 4 effect, 5 tolerationSeconds:int?",
    "HostAlias": "1 ip, 2 hostnames:[str]",
    "Volume": "1 name, 2 ...:VolumeSource",
    "VolumeSource": "1 hostPath:HostPathVolumeSource, 2 emptyDir:EmptyDirVolumeSource, 6 secret:SecretVolumeSource,"
                    " 10 persistentVolumeClaim:PersistentVolumeClaimVolumeSource,"
                    " 16 downwardAPI:DownwardAPIVolumeSource, 19 configMap:ConfigMapVolumeSource,"
                    " 26 projected:ProjectedVolumeSource",
    "HostPathVolumeSource": "1 path, 2 type:str?",
    "EmptyDirVolumeSource": "1 medium, 2 sizeLimit:Quantity",
    "SecretVolumeSource": "1 secretName, 2 items:[KeyToPath], 3 defaultMode:int?, 4 optional:bool?",
    "ConfigMapVolumeSource": "1 ...:LocalObjectReference, 2 items:[KeyToPath], 3 defaultMode:int?, 4 optional:bool?",
    "KeyToPath": "1 key, 2 path, 3 mode:int?",
    "PersistentVolumeClaimVolumeSource": "1 claimName, 2 readOnly:bool",
    "DownwardAPIVolumeSource": "1 items:[DownwardAPIVolumeFile], 2 defaultMode:int?",
    "DownwardAPIVolumeFile": "1 path, 2 fieldRef:ObjectFieldSelector, 4 mode:int?",
    "ProjectedVolumeSource": "1 sources:[VolumeProjection], 2 defaultMode:int?",
    "VolumeProjection": "1 secret:SecretProjection, 2 downwardAPI:DownwardAPIProjection,"
                        " 3 configMap:ConfigMapProjection, 4 serviceAccountToken:ServiceAccountTokenProjection",
    "SecretProjection": "1 ...:LocalObjectReference, 2 items:[KeyToPath], 4 optional:bool?",
    "ConfigMapProjection": "1 ...:LocalObjectReference, 2 items:[KeyToPath], 4 optional:bool?",
    "DownwardAPIProjection": "1 items:[DownwardAPIVolumeFile]",
    "ServiceAccountTokenProjection": "1 audience, 2 expirationSeconds:int?, 3 path",
    # k8s.io/api/apps/v1/generated.proto
    "Deployment": "1 metadata:ObjectMeta, 2 spec:DeploymentSpec, 3 status:DeploymentStatus",
    "DeploymentSpec": "1 replicas:int?, 2 selector:LabelSelector, 3 template:PodTemplateSpec,"
                      " 4 strategy:DeploymentStrategy, 5 minReadySeconds:int, 6 revisionHistoryLimit:int?,"
                      " 7 paused:bool, 9 progressDeadlineSeconds:int?, 10 podReplacementPolicy:str?",
    "DeploymentStrategy": "1 type, 2 rollingUpdate:RollingUpdateDeployment",
    "RollingUpdateDeployment": "1 maxUnavailable:IntOrString?, 2 maxSurge:IntOrString?",
    "DeploymentStatus": "1 observedGeneration:int, 2 replicas:int, 3 updatedReplicas:int, 7 readyReplicas:int,"
                        " 4 availableReplicas:int, 5 unavailableReplicas:int, 9 terminatingReplicas:int?,"
                        " 6 conditions:[DeploymentCondition], 8 collisionCount:int?",
    "DeploymentCondition": "1 type, 2 status, 6 lastUpdateTime:Time, 7 lastTransitionTime:Time, 4 reason, 5 message",
    # k8s.io/api/batch/v1/generated.proto
    "Job": "1 metadata:ObjectMeta, 2 spec:JobSpec, 3 status:JobStatus",
    "JobSpec": "1 parallelism:int?, 2 completions:int?, 3 activeDeadlineSeconds:int?, 7 backoffLimit:int?,"
               " 12 backoffLimitPerIndex:int?, 13 maxFailedIndexes:int?, 4 selector:LabelSelector,"
               " 5 manualSelector:bool?, 6 template:PodTemplateSpec, 8 ttlSecondsAfterFinished:int?,"
               " 9 completionMode:str?, 10 suspend:bool?, 14 podReplacementPolicy:str?, 15 managedBy:str?",
    "JobStatus": "1 conditions:[JobCondition], 2 startTime:Time, 3 completionTime:Time, 4 active:int,"
                 " 5 succeeded:int, 6 failed:int, 11 terminating:int?, 7 completedIndexes, 10 failedIndexes:str?,"
                 " 8 uncountedTerminatedPods:UncountedTerminatedPods, 9 ready:int?",
    "JobCondition": "1 type, 2 status, 3 lastProbeTime:Time, 4 lastTransitionTime:Time, 5 reason, 6 message",
    "UncountedTerminatedPods": "1 succeeded:[str], 2 failed:[str]",
    "CronJob": "1 metadata:ObjectMeta, 2 spec:CronJobSpec, 3 status:CronJobStatus",
    "CronJobSpec": "1 schedule, 8 timeZone:str?, 2 startingDeadlineSeconds:int?, 3 concurrencyPolicy, 4 suspend:bool?,"
                   " 5 jobTemplate:JobTemplateSpec, 6 successfulJobsHistoryLimit:int?, 7 failedJobsHistoryLimit:int?",
    "JobTemplateSpec": "1 metadata:ObjectMeta, 2 spec:JobSpec",
    "CronJobStatus": "1 active:[ObjectReference], 4 lastScheduleTime:Time, 5 lastSuccessfulTime:Time",
    # k8s.io/api/rbac/v1/generated.proto
    "Role": "1 metadata:ObjectMeta, 2 rules:[PolicyRule]",
    "ClusterRole": "1 metadata:ObjectMeta, 2 rules:[PolicyRule], 3 aggregationRule:AggregationRule",
    "PolicyRule": "1 verbs:[str], 2 apiGroups:[str], 3 resources:[str], 4 resourceNames:[str], 5 nonResourceURLs:[str]",
    "AggregationRule": "1 clusterRoleSelectors:[LabelSelector]",
    "RoleBinding": "1 metadata:ObjectMeta, 2 subjects:[Subject], 3 roleRef:RoleRef",
    "ClusterRoleBinding": "1 metadata:ObjectMeta, 2 subjects:[Subject], 3 roleRef:RoleRef",
    "Subject": "1 kind, 2 apiGroup, 3 name, 4 namespace",
    "RoleRef": "1 apiGroup, 2 kind, 3 name",
}

# The top-level kinds a body may carry; each one's message is named after its kind.
KINDS = frozenset({
    ("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "ServiceAccount"), ("v1", "Service"),
    ("apps/v1", "Deployment"), ("batch/v1", "Job"), ("batch/v1", "CronJob"),
    *(("rbac.authorization.k8s.io/v1", k) for k in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")),
})
SCALARS = ("str", "int", "bool", "bytes", "raw")  # raw: bytes kept as bytes (the envelope's payload)
_ZERO = {"str": "", "int": 0, "bool": False, "bytes": "", "raw": b""}


class Field(NamedTuple):
    """One table entry: the JSON name, ``one``/``list``/``map``, a scalar or message type, and whether zero is kept."""

    name: str
    shape: str
    type: str
    keep_zero: bool


def _compile(spec: str) -> dict[int, Field]:
    table = {}
    for entry in spec.split(","):
        number, _, rest = entry.strip().partition(" ")
        name, _, kind = rest.partition(":")
        kind = kind or "str"
        shape = {"[": "list", "{": "map"}.get(kind[0], "one")
        table[int(number)] = Field(name, shape, kind.strip("[]{}?"), kind.endswith("?"))
    return table


TABLES = {name: _compile(spec) for name, spec in _MESSAGES.items()}


def supported(api_version: str, kind: str) -> bool:
    """Whether a protobuf body of this apiVersion and kind can be read."""
    return (api_version, kind) in KINDS


def decode(raw: bytes, unknown: list[str] | None = None) -> dict[str, Any]:
    """The object in a ``k8s\\x00`` protobuf body, as JSON would give it, with ``apiVersion`` and ``kind``.

    Field numbers without a table entry are appended to ``unknown`` (one
    message each) if given, else logged. Raises ``BadRequest`` for a malformed
    body and ``UnsupportedMediaType`` for a kind without a table.
    """
    if not isinstance(raw, (bytes, bytearray)) or not raw.startswith(MAGIC):
        raise BadRequest("the protobuf body does not start with the Kubernetes prefix k8s\\x00")
    found: list[str] = []
    envelope = _message(raw, len(MAGIC), len(raw), "Unknown", 1, "", found)
    type_meta = envelope.get("typeMeta", {})
    api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
    if not api_version or not kind:
        raise BadRequest("the protobuf envelope names no apiVersion and kind")
    encoding, content_type = envelope.get("contentEncoding", ""), envelope.get("contentType", PROTOBUF)
    if encoding or content_type != PROTOBUF:
        raise BadRequest(f"the protobuf envelope holds {content_type!r} content with encoding {encoding!r}: "
                         "only plain protobuf is read")
    if not supported(api_version, kind):
        raise UnsupportedMediaType(
            f"the kit's API server cannot read {kind} ({api_version}) objects in protobuf, only "
            + ", ".join(sorted(k for _, k in KINDS)) + ": write the object as YAML "
            "(add `--dry-run=client -o yaml` to the command) and create it with `kubectl create -f`")
    body = envelope.get("raw", b"")
    obj = {"apiVersion": api_version, "kind": kind, **_message(body, 0, len(body), kind, 1, "", found)}
    if unknown is not None:
        unknown.extend(found)
    else:
        for problem in found:
            log.warning("%s %s: %s", api_version, kind, problem)
    return obj


def _malformed(why: str) -> BadRequest:
    return BadRequest(f"the protobuf body is malformed: {why}")


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end:
            raise _malformed(f"truncated varint at byte {pos}")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
        if shift >= 70:  # ten bytes carry 64 bits; more is a corrupt body, not a bigger number
            raise _malformed(f"varint too long at byte {pos}")
    if result >= 1 << 64:
        raise _malformed(f"varint overflows 64 bits at byte {pos}")
    return result, pos


def _fields(buf: bytes, pos: int, end: int):
    """The fields of the message in ``buf[pos:end]``: (number, wire type, value or (start, end) span)."""
    while pos < end:
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _malformed(f"field number 0 at byte {pos}")
        if wire == 0:
            value, pos = _varint(buf, pos, end)
        elif wire in (1, 5):  # 64- and 32-bit fixed-width little-endian values
            size = 8 if wire == 1 else 4
            if pos + size > end:
                raise _malformed(f"field {number} runs past the end of its message")
            value, pos = int.from_bytes(buf[pos:pos + size], "little"), pos + size
        elif wire == 2:
            size, pos = _varint(buf, pos, end)
            if pos + size > end:
                raise _malformed(f"field {number} (length {size}) runs past the end of its message")
            value, pos = (pos, pos + size), pos + size
        else:  # 3 and 4 are proto2 groups, which Kubernetes never uses; 6 and 7 do not exist
            raise _malformed(f"field {number} has wire type {wire}, which Kubernetes objects do not use")
        yield number, wire, value


def _message(buf: bytes, start: int, end: int, name: str, depth: int, path: str, unknown: list[str]) -> Any:
    if depth > MAX_DEPTH:
        raise BadRequest(f"the protobuf body nests deeper than {MAX_DEPTH} messages (at {path or 'the top'})")
    table = TABLES[name]
    out: dict[str, Any] = {}
    for number, wire, value in _fields(buf, start, end):
        field = table.get(number)
        if field is None:
            unknown.append(f"unknown protobuf field {number} (wire type {wire}) in {name} at {path or 'the top'}")
            continue
        where = f"{path}.{field.name}" if path else field.name
        if field.shape == "map":
            key, item = _entry(buf, field, wire, value, depth, where, unknown)
            out.setdefault(field.name, {})[key] = item
        elif field.shape == "list":
            items = out.setdefault(field.name, [])
            items.append(_value(buf, field.type, wire, value, depth, f"{where}[{len(items)}]", unknown))
        else:
            item = _value(buf, field.type, wire, value, depth, where, unknown)
            if field.name == "...":  # an embedded Go struct: JSON inlines its members
                out.update(item)
            elif field.keep_zero or not (item is None or (isinstance(item, (str, int)) and not item)):
                out[field.name] = item
    ordered = {f.name: out.pop(f.name) for f in table.values() if f.name in out}  # Go struct (= JSON) order
    ordered.update(out)
    convert = _CONVERT.get(name)
    return convert(ordered) if convert else ordered


def _value(buf: bytes, kind: str, wire: int, value: Any, depth: int, path: str, unknown: list[str]) -> Any:
    expected = 0 if kind in ("int", "bool") else 2
    if wire != expected:
        raise _malformed(f"{path} has wire type {wire}, expected {expected}")
    if kind == "int":  # int32 and int64 both travel as 64-bit two's complement
        return value - (1 << 64) if value >= 1 << 63 else value
    if kind == "bool":
        return value != 0
    if kind not in SCALARS:
        return _message(buf, value[0], value[1], kind, depth + 1, path, unknown)
    data = bytes(buf[value[0]:value[1]])
    if kind == "raw":
        return data
    if kind == "bytes":  # JSON writes []byte as base64 (Secret data, ConfigMap binaryData)
        return base64.b64encode(data).decode()
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise _malformed(f"{path} is not valid UTF-8") from None


def _entry(buf: bytes, field: Field, wire: int, value: Any, depth: int, path: str,
           unknown: list[str]) -> tuple[str, Any]:
    # A map is a repeated entry message {key = 1; value = 2}; a missing member is its zero value.
    if wire != 2:
        raise _malformed(f"{path} has wire type {wire}, expected 2")
    key, item = "", None
    for number, entry_wire, entry_value in _fields(buf, *value):
        if number == 1:
            key = _value(buf, "str", entry_wire, entry_value, depth, path, unknown)
        elif number == 2:
            item = _value(buf, field.type, entry_wire, entry_value, depth, f"{path}[{key!r}]", unknown)
    if item is None:
        item = _ZERO.get(field.type)
    if item is None:  # a message value left out: its zero, converted (a Quantity's is "0")
        item = _message(b"", 0, 0, field.type, depth + 1, path, unknown)
    return key, item


def _time(message: dict) -> str | None:
    # metav1.Time (time_proto.go): an empty message is the zero time, JSON null; only whole seconds are read.
    if not message:
        return None
    seconds = message.get("seconds", 0)
    try:
        moment = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=seconds)
    except OverflowError:
        raise _malformed(f"time {seconds}s is out of range") from None
    return moment.isoformat().replace("+00:00", "Z")  # RFC 3339; strftime would not pad years before 1000


def _fields_v1(message: dict) -> Any:
    try:
        return json.loads(message.get("Raw") or b"{}")
    except ValueError:
        raise _malformed("managedFields' fieldsV1 is not JSON") from None


_CONVERT = {
    "Time": _time,
    "IntOrString": lambda m: m.get("strVal", "") if m.get("type") == 1 else m.get("intVal", 0),
    "Quantity": lambda m: m.get("string") or "0",
    "FieldsV1": _fields_v1,
}
