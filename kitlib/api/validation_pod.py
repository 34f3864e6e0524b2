"""Pod validation: the rules a PodSpec obeys, in a Pod or in any workload's pod template.

Every workload (ReplicationController, Deployment, Job...) embeds a pod
template, so these rules run for all of them: volumes named once with one
source each, the containers of :mod:`kitlib.api.validation_container`,
supported restart and DNS policies, valid node and service account names,
tolerations that make sense. A Pod's spec is then almost frozen:
:func:`validate_pod_update` lets only images, ``activeDeadlineSeconds``,
added tolerations and a grace period change, and says so in kube's words.
Messages are Kubernetes v1.32's (``pkg/apis/core/validation``), path quirks
included: a template's bad label is reported at ``spec.template.labels``.

    >>> [str(e) for e in validate_pod_spec({"containers": []}, "spec")][-3:]
    ['spec.containers: Required value', 'spec.restartPolicy: Required value', 'spec.dnsPolicy: Required value']

Simplifications:
- Not checked: affinity, topology spread constraints, sysctls, seccomp and
  AppArmor, readiness and scheduling gates, host aliases, OS-specific
  fields, ephemeral containers (refused on create, as kube does, but not
  validated), pod-specific annotations, gated pods' scheduling-directive
  updates, and status updates beyond ``nodeName`` and ``qosClass``.
- Volume sources other than hostPath, emptyDir, secret, configMap,
  persistentVolumeClaim and nfs are counted (one per volume) but not checked.
- The Pod update diff is a short JSON listing of the changed spec fields,
  not ``cmp.Diff``'s Go syntax; the line before it is kube's.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

from kitlib.api.field import FieldError, duplicate, forbidden, invalid, not_supported, required
from kitlib.api.meta import deep_copy
from kitlib.api.validation import is_valid_label_value, name_is_dns_subdomain, validate_annotations, validate_labels
from kitlib.api.validation_common import (
    MAX_INT32,
    dns_label,
    immutable,
    one_of,
    qualified_name,
    semantic_equal,
    valid_ip,
)
from kitlib.api.validation_container import (
    id_range,
    no_backsteps,
    validate_containers,
    validate_init_containers,
)

Obj = dict[str, Any]


# --- volumes --------------------------------------------------------------------

_SOURCES = (
    "emptyDir", "hostPath", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret", "nfs", "iscsi",
    "glusterfs", "flocker", "persistentVolumeClaim", "rbd", "cinder", "cephfs", "quobyte", "downwardAPI", "fc",
    "flexVolume", "configMap", "azureFile", "vsphereVolume", "photonPersistentDisk", "portworxVolume", "azureDisk",
    "storageos", "projected", "scaleIO", "csi", "ephemeral", "image",
)
_SOURCE_PATH = {"downwardAPI": "downwarAPI", "cephfs": "cephFS"}  # kube's own spellings in that one message
FILE_MODE = "must be a number between 0 and 0777 (octal), both inclusive"
HOST_PATH_TYPES = ["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"]


def _file_mode(source: Obj, path: str) -> list[FieldError]:
    mode = source.get("defaultMode")
    return [invalid(f"{path}.defaultMode", mode, FILE_MODE)] if isinstance(mode, int) and not 0 <= mode <= 0o777 else []


def _volume_source(vol: Obj, path: str) -> list[FieldError]:
    errs, count = [], 0
    for source in _SOURCES:
        src = vol.get(source)
        if src is None:
            continue
        if count:
            errs.append(forbidden(f"{path}.{_SOURCE_PATH.get(source, source)}", "may not specify more than 1 volume type"))
            continue
        count, where, src = 1, f"{path}.{source}", src if isinstance(src, dict) else {}
        if source == "hostPath":
            if not src.get("path"):
                errs.append(required(f"{where}.path"))
                continue
            errs += no_backsteps(src["path"], f"{where}.path")
            if (src.get("type") or "") not in HOST_PATH_TYPES:
                errs.append(not_supported(f"{where}.type", src["type"], HOST_PATH_TYPES))
        elif source == "secret":
            errs += ([] if src.get("secretName") else [required(f"{where}.secretName")]) + _file_mode(src, where)
        elif source == "configMap":
            errs += ([] if src.get("name") else [required(f"{where}.name")]) + _file_mode(src, where)
        elif source == "persistentVolumeClaim" and not src.get("claimName"):
            errs.append(required(f"{where}.claimName"))
        elif source == "nfs":
            errs += [required(f"{where}.{key}") for key in ("server", "path") if not src.get(key)]
            if not posixpath.isabs(src.get("path") or ""):
                errs.append(invalid(f"{where}.path", src.get("path") or "", "must be an absolute path"))
    return errs if count else errs + [required(path, "must specify a volume type")]


def validate_volumes(volumes: list[Obj], path: str) -> tuple[set[str], list[FieldError]]:
    """The volumes' errors, and the names of the valid ones (only those can be mounted)."""
    names: set[str] = set()
    errs: list[FieldError] = []
    for i, vol in enumerate(volumes):
        where, name = f"{path}[{i}]", vol.get("name") or ""
        own = _volume_source(vol, where)
        own += dns_label(name, f"{where}.name") if name else [required(f"{where}.name")]
        if name in names:
            own.append(duplicate(f"{where}.name", name))
        if own:
            errs += own
        else:
            names.add(name)
    return names, errs


# --- tolerations (and the taint effects Nodes share) --------------------------------

TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]


def taint_effect(effect: str, path: str, allow_empty: bool) -> list[FieldError]:
    if not effect:
        return [] if allow_empty else [required(path)]
    return [] if effect in TAINT_EFFECTS else [not_supported(path, effect, TAINT_EFFECTS)]


def validate_tolerations(tolerations: list[Obj], path: str) -> list[FieldError]:
    """``ValidateTolerations``: an empty key means "every taint", so it needs ``Exists``."""
    errs = []
    for i, tol in enumerate(tolerations):
        where = f"{path}[{i}]"
        key, op, value, effect = (tol.get(k) or "" for k in ("key", "operator", "value", "effect"))
        errs += qualified_name(key, f"{where}.key") if key else []
        if not key and op != "Exists":
            errs.append(invalid(f"{where}.operator", op,
                                'operator must be Exists when `key` is empty, which means "match all values and all keys"'))
        if tol.get("tolerationSeconds") is not None and effect != "NoExecute":
            errs.append(invalid(f"{where}.effect", effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if op in ("Equal", ""):
            if msgs := is_valid_label_value(value):
                errs.append(invalid(f"{where}.operator", value, ";".join(msgs)))
        elif op == "Exists":
            if value:
                errs.append(invalid(f"{where}.operator", value, "value must be empty when `operator` is 'Exists'"))
        else:
            errs.append(not_supported(f"{where}.operator", op, ["Equal", "Exists"]))
        errs += taint_effect(effect, f"{where}.effect", allow_empty=True)
    return errs


# --- the PodSpec ----------------------------------------------------------------------

RESTART_POLICIES = ["Always", "OnFailure", "Never"]
DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
PREEMPTION_POLICIES = ["PreemptLowerPriority", "Never"]


def _subdomain(value: str, path: str) -> list[FieldError]:
    return [invalid(path, value, msg) for msg in name_is_dns_subdomain(value)] if value else []


def _dns_config(spec: Obj, path: str) -> list[FieldError]:
    config = spec.get("dnsConfig")
    if spec.get("dnsPolicy") == "None":
        if config is None:
            return [required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
        if not config.get("nameservers"):
            return [required(f"{path}.nameservers", "must provide at least one DNS nameserver when `dnsPolicy` is None")]
    if config is None:
        return []
    servers, errs = config.get("nameservers") or [], []
    if len(servers) > 3:
        errs.append(invalid(f"{path}.nameservers", servers, "must not have more than 3 nameservers"))
    for i, server in enumerate(servers):
        errs += valid_ip(server, f"{path}.nameservers[{i}]")
    for i, search in enumerate(config.get("searches") or []):
        errs += [invalid(f"{path}.searches[{i}]", search.rstrip("."), m) for m in name_is_dns_subdomain(search.rstrip("."))]
    return errs


def validate_pod_spec(spec: Obj, path: str, *, is_pod: bool = False) -> list[FieldError]:
    """``ValidatePodSpec`` (``is_pod`` for a Pod's own spec, where host ports must equal container ports)."""
    errs = [] if spec.get("terminationGracePeriodSeconds") is not None else [
        required(f"{path}.terminationGracePeriodSeconds")]
    volumes, volume_errs = validate_volumes(spec.get("volumes") or [], f"{path}.volumes")
    containers = spec.get("containers") or []
    errs += volume_errs + validate_containers(containers, volumes, f"{path}.containers")
    errs += validate_init_containers(spec.get("initContainers") or [], containers, volumes, f"{path}.initContainers")
    if spec.get("hostNetwork"):
        for i, container in enumerate(containers):
            for j, port in enumerate(container.get("ports") or []):
                host, number = port.get("hostPort") or 0, port.get("containerPort") or 0
                if (is_pod or host) and host != number:
                    errs.append(invalid(f"{path}.containers[{i}].ports[{j}].hostPort", host,
                                        "must match `containerPort` when `hostNetwork` is true"))
    errs += one_of(spec.get("restartPolicy") or "", f"{path}.restartPolicy", RESTART_POLICIES)
    errs += one_of(spec.get("dnsPolicy") or "", f"{path}.dnsPolicy", DNS_POLICIES)
    errs += validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    context = spec.get("securityContext") or {}
    for key in ("fsGroup", "runAsUser", "runAsGroup"):
        errs += id_range(context.get(key), f"{path}.securityContext.{key}")
    for i, gid in enumerate(context.get("supplementalGroups") or []):
        errs += id_range(gid, f"{path}.securityContext.supplementalGroups[{i}]")
    errs += _dns_config(spec, f"{path}.dnsConfig")
    errs += _subdomain(spec.get("serviceAccountName") or "", f"{path}.serviceAccountName")
    errs += _subdomain(spec.get("nodeName") or "", f"{path}.nodeName")
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and not 1 <= deadline <= MAX_INT32:
        errs.append(invalid(f"{path}.activeDeadlineSeconds", deadline, f"must be between 1 and {MAX_INT32}, inclusive"))
    for key in ("hostname", "subdomain"):
        errs += dns_label(spec[key], f"{path}.{key}") if spec.get(key) else []
    errs += validate_tolerations(spec.get("tolerations") or [], f"{path}.tolerations")
    errs += _subdomain(spec.get("priorityClassName") or "", f"{path}.priorityClassName")
    if spec.get("preemptionPolicy") is not None:
        errs += one_of(spec["preemptionPolicy"], f"{path}.preemptionPolicy", PREEMPTION_POLICIES)
    return errs


def validate_pod_template_spec(template: Obj | None, path: str) -> list[FieldError]:
    """``ValidatePodTemplateSpec``: labels and annotations reported at ``<path>.labels``, as kube does."""
    template = template or {}
    meta = template.get("metadata") or {}
    errs = validate_labels(meta.get("labels"), f"{path}.labels")
    errs += validate_annotations(meta.get("annotations"), f"{path}.annotations")
    spec = template.get("spec") or {}
    errs += validate_pod_spec(spec, f"{path}.spec")
    if spec.get("ephemeralContainers"):
        errs.append(forbidden(f"{path}.spec.ephemeralContainers", "ephemeral containers not allowed in pod template"))
    return errs


# --- Pods: create, update, status, binding ------------------------------------------


def _images_trimmed(spec: Obj) -> list[FieldError]:
    return [invalid(f"spec.{kind}[{i}].image", c["image"], "must not have leading or trailing whitespace")
            for kind in ("containers", "initContainers") for i, c in enumerate(spec.get(kind) or [])
            if isinstance(c.get("image"), str) and c["image"] != c["image"].strip()]


def validate_pod(pod: Obj) -> list[FieldError]:
    """``ValidatePodCreate`` after the metadata."""
    spec = pod.get("spec") or {}
    errs = validate_pod_spec(spec, "spec", is_pod=True) + _images_trimmed(spec)
    if spec.get("ephemeralContainers"):
        errs.append(forbidden("spec.ephemeralContainers", "cannot be set on create"))
    if spec.get("nodeName") and spec.get("schedulingGates"):
        errs.append(forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared"))
    return errs


UPDATABLE_POD_FIELDS = ",".join([
    "`spec.containers[*].image`", "`spec.initContainers[*].image`", "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"])


def _spec_diff(old: Obj, new: Obj) -> str:
    lines = ["  core.PodSpec{"]
    for key in sorted(set(old) | set(new)):
        if not semantic_equal(old.get(key), new.get(key)):
            lines += [f"-\t{key}: {json.dumps(old.get(key), sort_keys=True)},",
                      f"+\t{key}: {json.dumps(new.get(key), sort_keys=True)},"]
    return "\n".join(lines + ["  }", ""])


def validate_pod_update(new: Obj, old: Obj) -> list[FieldError]:
    """``ValidatePodUpdate`` after the metadata: a running Pod's spec is frozen but for a few fields."""
    spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    errs = validate_pod_spec(spec, "spec", is_pod=True) + _images_trimmed(spec)
    for kind in ("containers", "initContainers"):
        if len(spec.get(kind) or []) != len(old_spec.get(kind) or []):
            return errs + [forbidden(f"spec.{kind}", "pod updates may not add or remove containers")]
        errs += [required(f"spec.{kind}[{i}].image") for i, c in enumerate(spec.get(kind) or []) if not c.get("image")]
    deadline, old_deadline = spec.get("activeDeadlineSeconds"), old_spec.get("activeDeadlineSeconds")
    if deadline is not None:
        if not 0 <= deadline <= MAX_INT32:
            return errs + [invalid("spec.activeDeadlineSeconds", deadline, f"must be between 0 and {MAX_INT32}, inclusive")]
        if old_deadline is not None and old_deadline < deadline:
            return errs + [invalid("spec.activeDeadlineSeconds", deadline, "must be less than or equal to previous value")]
    elif old_deadline is not None:  # Go prints the nil pointer as the string "null"
        errs.append(invalid("spec.activeDeadlineSeconds", "null", "must not update from a positive integer to nil value"))
    tolerations = spec.get("tolerations") or []
    kept = lambda t: any(semantic_equal({**t, "tolerationSeconds": n.get("tolerationSeconds")}, n) for n in tolerations)
    if not all(kept(t) for t in old_spec.get("tolerations") or []):
        errs.append(forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds"))
    else:
        errs += validate_tolerations(tolerations, "spec.tolerations")
    munged = deep_copy(spec)
    for kind in ("containers", "initContainers"):
        for mine, theirs in zip(munged.get(kind) or [], old_spec.get(kind) or []):
            mine["image"] = theirs.get("image")
    for key in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        munged[key] = old_spec.get(key)
    old_grace = old_spec.get("terminationGracePeriodSeconds")
    if old_grace is not None and old_grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    if not semantic_equal(munged, old_spec):
        errs.append(forbidden("spec", f"pod updates may not change fields other than {UPDATABLE_POD_FIELDS}\n"
                                      + _spec_diff(old_spec, munged)))
    return errs


def validate_pod_status_update(new: Obj, old: Obj) -> list[FieldError]:
    """``ValidatePodStatusUpdate`` after the metadata (the status subresource: the kubelet's writes)."""
    errs = []
    if ((new.get("spec") or {}).get("nodeName") or "") != ((old.get("spec") or {}).get("nodeName") or ""):
        errs.append(forbidden("status.nodeName", "may not be changed directly"))
    status, old_status = new.get("status") or {}, old.get("status") or {}
    nominated = status.get("nominatedNodeName") or ""
    if nominated != (old_status.get("nominatedNodeName") or ""):
        errs += _subdomain(nominated, "status.nominatedNodeName")
    return errs + immutable("status.qosClass", status.get("qosClass") or "", old_status.get("qosClass") or "")


def validate_binding(binding: Obj) -> list[FieldError]:
    """``ValidatePodBinding``: the ``pods/binding`` body the scheduler posts."""
    target = binding.get("target") or {}
    errs = []
    if (kind := target.get("kind") or "") not in ("", "Node"):
        errs.append(not_supported("target.kind", kind, ["Node", "<empty>"]))
    return errs + ([] if target.get("name") else [required("target.name")])
