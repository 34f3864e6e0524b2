"""Containers: the part of a PodSpec that most manifests get wrong.

Used by :mod:`kitlib.api.validation_pod` for Pods and for every workload's
pod template. A container needs a DNS-label name unique in its Pod and an
image; its ports are numbers in range (names IANA-style, unique), its
environment names printable, its mounts name volumes that exist (the
Pod's valid volumes, :func:`kitlib.api.validation_pod.validate_volumes`), and no
request exceeds its limit. Init containers are checked the same way, and
may carry probes only as sidecars (``restartPolicy: Always``). Messages are
those of ``pkg/apis/core/validation/validation.go`` in v1.32.

    >>> [str(e) for e in validate_containers([{"name": "Web", "image": "nginx"}], set(), "spec.containers")][0][:58]
    'spec.containers[0].name: Invalid value: "Web": a lowercase'

Simplifications:
- Not checked: security contexts beyond the user and group ID ranges,
  resize policies, lifecycle ``sleep`` handlers, volume devices, mount
  propagation, hugepage sizes and resource claims.
- A quantity that does not parse is reported here as a field error; kube
  rejects it earlier, while decoding the body (``400``).
- Resource maps are checked in sorted key order (Go's map order is random).
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from kitlib.api.field import FieldError, duplicate, forbidden, invalid, not_found, not_supported, required
from kitlib.api.quantity import QuantityError, parse_quantity
from kitlib.api.validation import is_qualified_name, name_is_dns_subdomain
from kitlib.api.validation_common import (
    NEGATIVE,
    dns_label,
    is_valid_port_name,
    is_valid_port_num,
    nonnegative,
    one_of,
    port_num_or_name,
    protocol,
    qualified_name,
)

Obj = dict[str, Any]


def no_backsteps(value: str, path: str) -> list[FieldError]:
    return [invalid(path, value, "must not contain '..'")] if ".." in value.split("/") else []


def _local_descending(value: str, path: str) -> list[FieldError]:
    errs = [invalid(path, value, "must be a relative path")] if posixpath.isabs(value) else []
    return errs + no_backsteps(value, path)


# --- containers -----------------------------------------------------------------

PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
ENV_FIELD_PATHS = ["metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
                   "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"]
_CONVERTIBLE = set(ENV_FIELD_PATHS) | {"metadata.annotations", "metadata.labels", "spec.restartPolicy",
                                      "spec.schedulerName", "status.phase", "spec.host"}
RESOURCE_FIELD_PATHS = ["limits.cpu", "limits.ephemeral-storage", "limits.memory",
                        "requests.cpu", "requests.ephemeral-storage", "requests.memory"]


def env_var_name(name: str) -> list[str]:
    """``IsRelaxedEnvVarName`` (RelaxedEnvironmentVariableValidation is on by default in v1.32)."""
    if not name:
        return ["environment variable name must be non-empty"]
    if any(not " " <= ch <= "~" or ch == "=" for ch in name):
        return ["a valid environment variable name must consist only of printable ASCII characters other than '='"]
    return []


def config_map_key(key: str) -> list[str]:
    """``IsConfigMapKey``: keys of ConfigMaps and Secrets (file names when mounted)."""
    errs = ["must be no more than 253 characters"] if len(key.encode()) > 253 else []
    if not re.fullmatch(r"[-._a-zA-Z0-9]+", key):
        errs.append("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  "
                    "or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")
    if key in (".", ".."):
        errs.append(f"must not be '{key}'")
    elif key.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def _key_ref(ref: Obj, path: str) -> list[FieldError]:
    errs = [invalid(f"{path}.name", ref.get("name") or "", msg) for msg in name_is_dns_subdomain(ref.get("name") or "")]
    key = ref.get("key") or ""
    return errs + ([invalid(f"{path}.key", key, m) for m in config_map_key(key)] if key else [required(f"{path}.key")])


def _value_from(env: Obj, path: str) -> list[FieldError]:
    source = env.get("valueFrom")
    if source is None:
        return []
    errs, count = [], 0
    if (ref := source.get("fieldRef")) is not None:
        count += 1
        where, fpath = f"{path}.fieldRef", ref.get("fieldPath") or ""
        if not ref.get("apiVersion"):
            errs.append(required(f"{where}.apiVersion"))
        elif not fpath:
            errs.append(required(f"{where}.fieldPath"))
        elif (m := re.fullmatch(r"(.*)\['(.*)'\]", fpath)) is not None:
            if m[1] not in ("metadata.annotations", "metadata.labels"):
                errs.append(invalid(f"{where}.fieldPath", fpath,
                                    f"error converting fieldPath: field label does not support subscript: {fpath}"))
            else:
                errs += qualified_name(m[2].lower() if m[1] == "metadata.annotations" else m[2], where)
        elif fpath not in _CONVERTIBLE:
            errs.append(invalid(f"{where}.fieldPath", fpath, f"error converting fieldPath: field label not supported: {fpath}"))
        elif (fpath if fpath != "spec.host" else "spec.nodeName") not in ENV_FIELD_PATHS:
            errs.append(not_supported(f"{where}.fieldPath", fpath, ENV_FIELD_PATHS))
    if (ref := source.get("resourceFieldRef")) is not None:
        count += 1
        resource = ref.get("resource") or ""
        if not resource:
            errs.append(required(f"{path}.resourceFieldRef.resource"))
        elif resource not in RESOURCE_FIELD_PATHS and not resource.startswith(("requests.hugepages-", "limits.hugepages-")):
            errs.append(not_supported(f"{path}.resourceFieldRef.resource", resource, RESOURCE_FIELD_PATHS))
    for kind in ("configMapKeyRef", "secretKeyRef"):
        if (ref := source.get(kind)) is not None:
            count += 1
            errs += _key_ref(ref, f"{path}.{kind}")
    if count == 0:
        errs.append(invalid(path, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
    elif env.get("value"):
        errs.append(invalid(path, "", "may not be specified when `value` is not empty"))
    elif count > 1:
        errs.append(invalid(path, "", "may not have more than one field specified at a time"))
    return errs


def _env(container: Obj, path: str) -> list[FieldError]:
    errs = []
    for i, env in enumerate(container.get("env") or []):
        where, name = f"{path}.env[{i}]", env.get("name") or ""
        errs += [invalid(f"{where}.name", name, m) for m in env_var_name(name)] if name else [required(f"{where}.name")]
        errs += _value_from(env, f"{where}.valueFrom")
    for i, source in enumerate(container.get("envFrom") or []):
        where = f"{path}.envFrom[{i}]"
        if prefix := source.get("prefix"):
            errs += [invalid(f"{where}.prefix", prefix, m) for m in env_var_name(prefix)]
        kinds = [k for k in ("configMapRef", "secretRef") if source.get(k) is not None]
        for kind in kinds:
            name = source[kind].get("name") or ""
            errs += ([invalid(f"{where}.{kind}.name", name, m) for m in name_is_dns_subdomain(name, True)]
                     if name else [required(f"{where}.{kind}.name")])
        if not kinds:  # reported at the list, not the entry: kube's path
            errs.append(invalid(f"{path}.envFrom", "", "must specify one of: `configMapRef` or `secretRef`"))
        elif len(kinds) > 1:
            errs.append(invalid(f"{path}.envFrom", "", "may not have more than one field specified at a time"))
    return errs


def _ports(container: Obj, path: str) -> list[FieldError]:
    errs, names = [], set()
    for i, port in enumerate(container.get("ports") or []):
        where, name = f"{path}[{i}]", port.get("name") or ""
        if name:
            if msgs := is_valid_port_name(name):
                errs += [invalid(f"{where}.name", name, m) for m in msgs]
            elif name in names:
                errs.append(duplicate(f"{where}.name", name))
            names.add(name)
        number = port.get("containerPort") or 0
        errs += ([invalid(f"{where}.containerPort", number, m) for m in is_valid_port_num(number)]
                 if number else [required(f"{where}.containerPort")])
        if host := port.get("hostPort") or 0:
            errs += [invalid(f"{where}.hostPort", host, m) for m in is_valid_port_num(host)]
        errs += protocol(port.get("protocol") or "", f"{where}.protocol")
    return errs


def _mounts(container: Obj, volumes: set[str], path: str) -> list[FieldError]:
    errs, points = [], set()
    for i, mount in enumerate(container.get("volumeMounts") or []):
        where, name, point = f"{path}[{i}]", mount.get("name") or "", mount.get("mountPath") or ""
        errs += [] if name else [required(f"{where}.name")]
        errs += [] if name in volumes else [not_found(f"{where}.name", name)]
        errs += [] if point else [required(f"{where}.mountPath")]
        errs += [invalid(f"{where}.mountPath", point, "must be unique")] if point in points else []
        points.add(point)
        if sub := mount.get("subPath"):
            errs += _local_descending(sub, f"{path}.subPath")  # kube's path: no index
    return errs


# --- resources ------------------------------------------------------------------

_CONTAINER_RESOURCES = {"cpu", "memory", "ephemeral-storage"}
_STANDARD_RESOURCES = _CONTAINER_RESOURCES | {
    "requests.cpu", "requests.memory", "requests.ephemeral-storage", "limits.cpu", "limits.memory",
    "limits.ephemeral-storage", "pods", "services", "replicationcontrollers", "resourcequotas", "secrets",
    "configmaps", "persistentvolumeclaims", "storage", "requests.storage", "services.nodeports",
    "services.loadbalancers"}


def _native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _extended(name: str) -> bool:
    """``IsExtendedResourceName``: ``example.com/gpu``: whole units, never overcommitted."""
    return not _native(name) and not name.startswith("requests.") and not is_qualified_name("requests." + name)


def _resource_name(name: str, path: str) -> list[FieldError]:
    if errs := qualified_name(name, path):
        return errs
    if "/" not in name:
        hugepages = name.startswith("hugepages-")
        errs = [] if name in _STANDARD_RESOURCES or hugepages else [
            invalid(path, name, "must be a standard resource type or fully qualified")]
        return errs + ([] if name in _CONTAINER_RESOURCES or hugepages else [
            invalid(path, name, "must be a standard resource for containers")])
    return [] if _native(name) or _extended(name) else [
        invalid(path, name, "doesn't follow extended resource name standard")]


def validate_resources(resources: dict, path: str) -> list[FieldError]:
    """Names, non-negative amounts, and requests within limits (equal to them for extended resources)."""
    errs: list[FieldError] = []
    parsed: dict[str, dict] = {"limits": {}, "requests": {}}
    for side in ("limits", "requests"):
        for name in sorted(resources.get(side) or {}):
            where, raw = f"{path}.{side}[{name}]", resources[side][name]
            errs += _resource_name(name, where)
            try:
                quantity = parse_quantity(raw)
            except QuantityError as err:
                errs.append(invalid(where, raw, str(err)))
                continue
            parsed[side][name] = quantity
            if quantity.value < 0:
                errs.append(invalid(where, str(quantity), NEGATIVE))
            elif _extended(name) and not quantity.is_integer():
                errs.append(invalid(where, str(quantity), "must be an integer"))
            if side == "requests":
                limit = parsed["limits"].get(name)
                overcommit = _native(name) and not name.startswith("hugepages-")
                if limit is not None and not overcommit and quantity != limit:
                    errs.append(invalid(f"{path}.requests", str(quantity), f"must be equal to {name} limit of {limit}"))
                elif limit is not None and quantity > limit:
                    errs.append(invalid(f"{path}.requests", str(quantity),
                                        f"must be less than or equal to {name} limit of {limit}"))
                elif limit is None and not overcommit and name not in (resources.get("limits") or {}):
                    errs.append(required(f"{path}.limits", "Limit must be set for non overcommitable resources"))
    names = set(resources.get("limits") or {}) | set(resources.get("requests") or {})
    if any(n.startswith("hugepages-") for n in names) and not names & {"cpu", "memory"}:
        errs.append(forbidden(path, "HugePages require cpu or memory"))
    return errs


# --- probes and lifecycle hooks ---------------------------------------------------

SCHEMES = ["HTTP", "HTTPS"]


def _handler(handler: dict, path: str, kinds: tuple[str, ...]) -> list[FieldError]:
    errs, count = [], 0
    for kind in kinds:
        action = handler.get(kind)
        if action is None:
            continue
        where = f"{path}.{kind}"
        if count:
            errs.append(forbidden(where, "may not specify more than 1 handler type"))
            continue
        count = 1
        if kind == "exec" and not action.get("command"):
            errs.append(required(f"{where}.command"))
        elif kind == "httpGet":
            errs += [] if action.get("path") else [required(f"{where}.path")]
            errs += port_num_or_name(action.get("port", 0), f"{where}.port")
            if (scheme := action.get("scheme") or "") not in SCHEMES:
                errs.append(not_supported(f"{where}.scheme", scheme, SCHEMES))
        elif kind in ("tcpSocket", "grpc"):
            errs += port_num_or_name(action.get("port", 0), f"{where}.port")
    return errs if count else errs + [required(path, "must specify a handler type")]


def _probe(probe: dict | None, path: str, kind: str) -> list[FieldError]:
    if probe is None:
        return []
    errs = _handler(probe, path, ("exec", "httpGet", "tcpSocket", "grpc"))
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        errs += nonnegative(f"{path}.{key}", probe.get(key, 0))
    grace = probe.get("terminationGracePeriodSeconds")
    if grace is not None and grace <= 0:
        errs.append(invalid(f"{path}.terminationGracePeriodSeconds", grace, "must be greater than 0"))
    if kind != "readinessProbe" and probe.get("successThreshold", 0) != 1:
        errs.append(invalid(f"{path}.successThreshold", probe.get("successThreshold", 0), "must be 1"))
    if kind == "readinessProbe" and grace is not None:
        errs.append(invalid(f"{path}.terminationGracePeriodSeconds", grace, "must not be set for readinessProbes"))
    return errs


def _probes_and_hooks(container: dict, path: str) -> list[FieldError]:
    errs = []
    for hook in ("postStart", "preStop"):
        if (handler := (container.get("lifecycle") or {}).get(hook)) is not None:
            errs += _handler(handler, f"{path}.lifecycle.{hook}", ("exec", "httpGet", "tcpSocket", "sleep"))
    for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
        errs += _probe(container.get(kind), f"{path}.{kind}", kind)
    return errs


# --- container lists --------------------------------------------------------------

MESSAGE_POLICIES = ["File", "FallbackToLogsOnError"]


def id_range(value: Any, path: str) -> list[FieldError]:
    ok = not isinstance(value, int) or 0 <= value <= 2147483647
    return [] if ok else [invalid(path, value, "must be between 0 and 2147483647, inclusive")]


def _common(container: dict, volumes: set[str], path: str) -> list[FieldError]:
    """``validateContainerCommon``: what every kind of container obeys."""
    name = container.get("name") or ""
    errs = dns_label(name, f"{path}.name") if name else [required(f"{path}.name")]
    errs += [] if container.get("image") else [required(f"{path}.image")]
    errs += one_of(container.get("terminationMessagePolicy") or "", f"{path}.terminationMessagePolicy", MESSAGE_POLICIES)
    errs += _ports(container, f"{path}.ports")
    errs += _env(container, path)
    errs += _mounts(container, volumes, f"{path}.volumeMounts")
    errs += one_of(container.get("imagePullPolicy") or "", f"{path}.imagePullPolicy", PULL_POLICIES)
    errs += validate_resources(container.get("resources") or {}, f"{path}.resources")
    context = container.get("securityContext") or {}
    for key in ("runAsUser", "runAsGroup"):
        errs += id_range(context.get(key), f"{path}.securityContext.{key}")
    return errs


def host_port_conflicts(containers: list[dict], path: str) -> list[FieldError]:
    """``AccumulateUniqueHostPorts``: one host port (per protocol and host IP) for one container port."""
    errs, seen = [], set()
    for i, container in enumerate(containers):
        for j, port in enumerate(container.get("ports") or []):
            if host := port.get("hostPort") or 0:
                key = f"{port.get('protocol') or ''}/{port.get('hostIP') or ''}/{host}"
                if key in seen:
                    errs.append(duplicate(f"{path}[{i}].ports[{j}].hostPort", key))
                seen.add(key)
    return errs


def validate_containers(containers: list[dict], volumes: set[str], path: str) -> list[FieldError]:
    """``validateContainers``: at least one, names unique, probes and hooks valid, no restartPolicy."""
    if not containers:
        return [required(path)]
    errs, names = [], set()
    for i, container in enumerate(containers):
        where, name = f"{path}[{i}]", container.get("name") or ""
        errs += _common(container, volumes, where)
        if name in names:
            errs.append(duplicate(f"{where}.name", name))
        names.add(name)
        errs += _probes_and_hooks(container, where)
        if container.get("restartPolicy") is not None:
            errs.append(forbidden(f"{where}.restartPolicy", "may not be set for non-init containers"))
    return errs + host_port_conflicts(containers, path)


def validate_init_containers(inits: list[dict], containers: list[dict], volumes: set[str], path: str) -> list[FieldError]:
    """``validateInitContainers``: names unique across all containers; probes only for sidecars."""
    errs, names = [], {c.get("name") or "" for c in containers}
    for i, container in enumerate(inits):
        where, name = f"{path}[{i}]", container.get("name") or ""
        errs += _common(container, volumes, where)
        policy = container.get("restartPolicy")
        if policy is not None and policy != "Always":
            errs.append(not_supported(f"{where}.restartPolicy", policy, ["Always"]))
        if name in names:
            errs.append(duplicate(f"{where}.name", name))
        elif name:
            names.add(name)
        errs += host_port_conflicts([container], path)  # init containers run one by one
        if policy == "Always":
            errs += _probes_and_hooks(container, where)
        else:
            for key in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if container.get(key) is not None:
                    errs.append(forbidden(f"{where}.{key}", "may not be set for init containers without restartPolicy=Always"))
    return errs
