"""Defaulting: the fields kube-apiserver fills in when a manifest leaves them out.

Before it validates or stores an object, kube-apiserver runs the defaulting
functions of the object's version (``SetDefaults_*`` in
``pkg/apis/<group>/<version>/defaults.go`` of v1.32, plus the ``+default``
markers of the API types). That is why ``kubectl get deploy -o yaml`` shows
``strategy``, ``dnsPolicy`` or ``imagePullPolicy`` nobody wrote, and why a
second ``kubectl apply`` of an unchanged manifest finds nothing to change: the
live object already holds what defaulting would add. :func:`apply_defaults`
returns a defaulted copy and never overwrites a value the user set (except the
one label Kubernetes itself forces, see :func:`_namespace`).

Three things look like defaults but are set elsewhere in kube-apiserver, and
live here as separate functions that the registry calls at the right moment:

- :func:`generate_job_selector`: the Job strategy's selector and labels,
  which need the UID the registry assigns on create;
- :func:`prepare_namespace_for_create`: the ``kubernetes`` finalizer, which
  must not come back when the namespace controller removes it;
- :func:`service_ip_family_defaults`: ``ipFamilyPolicy``/``ipFamilies``,
  chosen by the Service registry together with the ClusterIP.

Two admission plugins also fill Pod fields; :func:`apply_defaults` runs them
for Pods and says so where it does (``DefaultTolerationSeconds``,
``Priority``).

Simplifications:
- Quantities are not rounded up to milli-units (``SetDefaults_ResourceList``).
- Feature gates are fixed at their v1.32 defaults; alpha-only defaults
  (``MaxUnavailableStatefulSet``, ``InPlacePodVerticalScaling``'s
  ``resizePolicy``, pod-level resources) are not applied.
- The ``ServiceAccount`` admission plugin (``serviceAccountName: default``
  and the ``kube-api-access-*`` projected volume) is not here; a Pod's
  ``status.phase``/``qosClass`` are set by :func:`prepare_pod_for_create`
  (kube's Pod strategy), which the API server calls after defaulting.
- Serialization artifacts of Go's zero values are reproduced only where a
  client sees them in a spec: a container's ``resources: {}`` and a
  ``resourceFieldRef``'s ``divisor: "0"``; a template's
  ``metadata.creationTimestamp: null`` is not.
- Legacy in-tree volume sources other than hostPath, iSCSI, azureDisk and
  scaleIO get no defaults; PersistentVolume, LimitRange and the other kinds
  the kit does not serve are not covered.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from kitlib.api.qos import qos_class
from kitlib.api.meta import deep_copy

Obj = dict[str, Any]

RBAC_GROUP = "rbac.authorization.k8s.io"

# --- helpers: Go's two notions of "unset" ------------------------------------
#
# A pointer field (``*int32 replicas``) is unset only when absent or null: an
# explicit 0 or false stays. A plain field (``int32 timeoutSeconds``, ``string
# dnsPolicy``) cannot tell 0 or "" from absent, so Kubernetes defaults those
# too; ``_zero`` mirrors that, which is also what makes defaulting idempotent.


def _ptr(d: Obj, key: str, value: Any) -> None:
    if d.get(key) is None:
        d[key] = deep_copy(value)


def _zero(d: Obj, key: str, value: Any) -> None:
    if not d.get(key):
        d[key] = deep_copy(value)


def _dict(d: Obj, key: str) -> Obj:
    """The struct at ``d[key]``, created empty when absent (a Go value field)."""
    if not isinstance(d.get(key), dict):
        d[key] = {}
    return d[key]


def _items(d: Obj | None, key: str) -> list[Obj]:
    value = (d or {}).get(key)
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


# --- images (pkg/util/parsers.ParseImageName over docker's reference grammar) -

_HOST_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_HOST_PART}(?:\.{_HOST_PART})*(?::[0-9]+)?"
_PATH = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_REFERENCE = re.compile(
    rf"(?:{_DOMAIN}/)?{_PATH}(?:/{_PATH})*"
    r"(?::[\w][\w.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,})?"
)


def image_tag(image: str) -> str:
    """The tag Kubernetes reads in an image name: ``latest`` when neither tag nor digest is given.

    An unparsable name yields ``""`` (ParseImageName's error is ignored by
    ``SetDefaults_Container``; validation or the kubelet reports it).
    """
    if not image or _REFERENCE.fullmatch(image) is None:
        return ""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.partition(":")[2]
    return tag or ("" if digest else "latest")


# --- pod templates (core/v1 SetDefaults_PodSpec, _Container, _Probe, _Volume) -


def _http_get(action: Obj | None) -> None:
    # SetDefaults_HTTPGetAction: any httpGet, in a probe or a lifecycle hook.
    if isinstance(action, dict):
        _zero(action, "path", "/")
        _zero(action, "scheme", "HTTP")


def _probe(probe: Obj | None) -> None:
    if not isinstance(probe, dict):
        return
    # SetDefaults_Probe: plain int32 fields, so an explicit 0 is defaulted too.
    _zero(probe, "timeoutSeconds", 1)
    _zero(probe, "periodSeconds", 10)
    _zero(probe, "successThreshold", 1)
    _zero(probe, "failureThreshold", 3)
    _http_get(probe.get("httpGet"))
    if isinstance(probe.get("grpc"), dict):
        _ptr(probe["grpc"], "service", "")  # GRPCAction.Service: +default=""


def _field_refs(holder: Obj | None) -> None:
    """fieldRef apiVersion v1 (SetDefaults_ObjectFieldSelector) and resourceFieldRef divisor."""
    if not isinstance(holder, dict):
        return
    if isinstance(holder.get("fieldRef"), dict):
        _zero(holder["fieldRef"], "apiVersion", "v1")
    if isinstance(holder.get("resourceFieldRef"), dict):
        # divisor is a non-pointer resource.Quantity: its zero value is served as "0".
        _ptr(holder["resourceFieldRef"], "divisor", "0")


def _container(c: Obj) -> None:
    # SetDefaults_Container (and SetDefaults_EphemeralContainer, which calls it).
    if not c.get("imagePullPolicy"):
        c["imagePullPolicy"] = "Always" if image_tag(c.get("image") or "") == "latest" else "IfNotPresent"
    _zero(c, "terminationMessagePath", "/dev/termination-log")
    _zero(c, "terminationMessagePolicy", "File")
    for port in _items(c, "ports"):
        _zero(port, "protocol", "TCP")  # ContainerPort.Protocol: +default="TCP"
    # ResourceRequirements is a value field without a pointer: always served, as {}.
    _dict(c, "resources")
    for env in _items(c, "env"):
        _field_refs(env.get("valueFrom"))
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(c.get(name))
    lifecycle = c.get("lifecycle") or {}
    for hook in ("postStart", "preStop"):
        _http_get((lifecycle.get(hook) or {}).get("httpGet"))


_VOLUME_SOURCES = (
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs", "iscsi",
    "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI", "fc",
    "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "projected",
    "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image",
)


def _volume(v: Obj) -> None:
    # SetDefaults_Volume: a volume naming no source at all is an emptyDir.
    if all(v.get(source) is None for source in _VOLUME_SOURCES):
        v["emptyDir"] = {}
    # 420 is 0644: SecretVolumeSourceDefaultMode and its siblings.
    for source in ("secret", "configMap", "downwardAPI", "projected"):
        if isinstance(v.get(source), dict):
            _ptr(v[source], "defaultMode", 420)
    for item in _items(v.get("downwardAPI"), "items"):
        _field_refs(item)
    for projection in _items(v.get("projected"), "sources"):
        if isinstance(projection.get("serviceAccountToken"), dict):
            _ptr(projection["serviceAccountToken"], "expirationSeconds", 3600)
        for item in _items(projection.get("downwardAPI"), "items"):
            _field_refs(item)
    if isinstance(v.get("hostPath"), dict):
        _ptr(v["hostPath"], "type", "")  # HostPathUnset: "no check before mounting"
    if isinstance(v.get("iscsi"), dict):
        _zero(v["iscsi"], "iscsiInterface", "default")
    if isinstance(v.get("azureDisk"), dict):
        for key, value in (("cachingMode", "ReadWrite"), ("kind", "Shared"), ("fsType", "ext4"), ("readOnly", False)):
            _ptr(v["azureDisk"], key, value)
    if isinstance(v.get("scaleIO"), dict):
        _zero(v["scaleIO"], "storageMode", "ThinProvisioned")
        _zero(v["scaleIO"], "fsType", "xfs")
    template = (v.get("ephemeral") or {}).get("volumeClaimTemplate")
    if isinstance(template, dict):
        _ptr(_dict(template, "spec"), "volumeMode", "Filesystem")


def _pod_spec(spec: Obj) -> None:
    """What every PodSpec gets, in a Pod or in any template (SetDefaults_PodSpec)."""
    _zero(spec, "dnsPolicy", "ClusterFirst")
    _zero(spec, "restartPolicy", "Always")
    _ptr(spec, "securityContext", {})
    _ptr(spec, "terminationGracePeriodSeconds", 30)
    _zero(spec, "schedulerName", "default-scheduler")
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for c in _items(spec, kind):
            _container(c)
    for v in _items(spec, "volumes"):
        _volume(v)


def _pod_template(template: Obj | None) -> None:
    if isinstance(template, dict):
        _pod_spec(_dict(template, "spec"))


# --- Pods: what only a Pod gets (SetDefaults_Pod and two admission plugins) ---

# The DefaultTolerationSeconds admission plugin (not defaulting): a Pod
# survives 300 s on a node that stops being ready or reachable before the
# node lifecycle controller evicts it, unless it tolerates those taints already.
DEFAULT_TOLERATION_SECONDS = 300
_NODE_NOT_READY = "node.kubernetes.io/not-ready"
_NODE_UNREACHABLE = "node.kubernetes.io/unreachable"

# The Priority admission plugin knows these two classes without a lookup.
SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}


def _pod(pod: Obj) -> None:
    spec = _dict(pod, "spec")
    # SetDefaults_Pod, not _PodSpec: a template does not get these, which is why
    # `kubectl get deploy -o yaml` shows no enableServiceLinks.
    for kind in ("initContainers", "containers"):
        for c in _items(spec, kind):
            resources = c.get("resources") or {}
            if isinstance(resources.get("limits"), dict):
                # Requests default to limits, per resource (Guaranteed QoS when only limits are set).
                requests = resources.get("requests") if isinstance(resources.get("requests"), dict) else {}
                c["resources"] = {**resources, "requests": {**resources["limits"], **requests}}
    _ptr(spec, "enableServiceLinks", True)
    if spec.get("hostNetwork"):
        # With host networking a container port is a host port.
        for kind in ("initContainers", "containers"):
            for c in _items(spec, kind):
                for port in _items(c, "ports"):
                    if not port.get("hostPort"):
                        port["hostPort"] = port.get("containerPort")
    _pod_spec(spec)
    admit_pod_priority(pod)
    admit_default_toleration_seconds(pod)


def admit_pod_priority(pod: Obj, priority_class: Obj | None = None) -> Obj:
    """The Priority admission plugin: ``priority`` and ``preemptionPolicy`` from the Pod's class.

    With no ``priorityClassName`` (and no ``globalDefault`` class) the priority
    is 0 and the policy ``PreemptLowerPriority``. A named class other than the
    two system ones must be looked up by the caller and passed in; without it
    the fields are left for the registry. Modifies and returns ``pod``.
    """
    spec = _dict(pod, "spec")
    name = spec.get("priorityClassName")
    if priority_class is not None:
        value, policy = priority_class.get("value", 0), priority_class.get("preemptionPolicy") or "PreemptLowerPriority"
    elif not name:
        value, policy = 0, "PreemptLowerPriority"
    elif name in SYSTEM_PRIORITY_CLASSES:
        value, policy = SYSTEM_PRIORITY_CLASSES[name], "PreemptLowerPriority"
    else:
        return pod
    _ptr(spec, "priority", value)
    _ptr(spec, "preemptionPolicy", policy)
    return pod


def admit_default_toleration_seconds(pod: Obj) -> Obj:
    """The DefaultTolerationSeconds admission plugin (an admission step, not defaulting).

    A toleration with an empty key or an empty effect already covers the taint,
    as in the plugin. Modifies and returns ``pod``.
    """
    spec = _dict(pod, "spec")
    tolerations = _items(spec, "tolerations")

    def tolerated(key: str) -> bool:
        return any(t.get("key", "") in ("", key) and t.get("effect", "") in ("", "NoExecute") for t in tolerations)

    added = [
        {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": DEFAULT_TOLERATION_SECONDS}
        for key in (_NODE_NOT_READY, _NODE_UNREACHABLE)
        if not tolerated(key)
    ]
    if added:
        spec["tolerations"] = list(spec.get("tolerations") or []) + added
    return pod


# --- workloads (apps/v1, batch/v1, core/v1 ReplicationController) ------------


def _deployment(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    _ptr(spec, "replicas", 1)
    strategy = _dict(spec, "strategy")
    _zero(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _dict(strategy, "rollingUpdate")
        _ptr(rolling, "maxUnavailable", "25%")
        _ptr(rolling, "maxSurge", "25%")
    _ptr(spec, "revisionHistoryLimit", 10)
    _ptr(spec, "progressDeadlineSeconds", 600)
    _pod_template(spec.get("template"))


def _replica_set(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    _ptr(spec, "replicas", 1)
    _pod_template(spec.get("template"))


def _replication_controller(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    # The one workload whose selector and labels default to the template's labels.
    if labels is not None:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        md = _dict(obj, "metadata")
        if not md.get("labels"):
            md["labels"] = dict(labels)
    _ptr(spec, "replicas", 1)
    _pod_template(spec.get("template"))


def _daemon_set(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    strategy = _dict(spec, "updateStrategy")
    _zero(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _dict(strategy, "rollingUpdate")
        _ptr(rolling, "maxUnavailable", 1)
        _ptr(rolling, "maxSurge", 0)
    _ptr(spec, "revisionHistoryLimit", 10)
    _pod_template(spec.get("template"))


def _stateful_set(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    _zero(spec, "podManagementPolicy", "OrderedReady")
    strategy = _dict(spec, "updateStrategy")
    if not strategy.get("type"):
        # Only an omitted type brings a rollingUpdate with it: an explicit
        # `type: RollingUpdate` without rollingUpdate stays without one.
        strategy["type"] = "RollingUpdate"
        _ptr(strategy, "rollingUpdate", {})
    if strategy["type"] == "RollingUpdate" and isinstance(strategy.get("rollingUpdate"), dict):
        _ptr(strategy["rollingUpdate"], "partition", 0)
    retention = spec.get("persistentVolumeClaimRetentionPolicy")
    retention = spec["persistentVolumeClaimRetentionPolicy"] = retention if isinstance(retention, dict) else {}
    _zero(retention, "whenDeleted", "Retain")
    _zero(retention, "whenScaled", "Retain")
    _ptr(spec, "replicas", 1)
    _ptr(spec, "revisionHistoryLimit", 10)
    _pod_template(spec.get("template"))
    for claim in _items(spec, "volumeClaimTemplates"):
        # SetDefaults_PersistentVolumeClaim(+Spec) run on each claim template.
        _ptr(_dict(claim, "spec"), "volumeMode", "Filesystem")
        _zero(_dict(claim, "status"), "phase", "Pending")


def _job_labels_from_template(job: Obj) -> None:
    labels = (((job.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")
    md = _dict(job, "metadata")
    if labels is not None and not md.get("labels"):
        md["labels"] = dict(labels)


def _job(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    _ptr(spec, "parallelism", 1)
    # With a per-index limit, the global one must not get in the way: MaxInt32.
    _ptr(spec, "backoffLimit", 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6)
    _job_labels_from_template(obj)
    _ptr(spec, "completionMode", "NonIndexed")
    _ptr(spec, "suspend", False)
    # JobPodReplacementPolicy (beta, on in 1.32): a pod failure policy needs
    # pods to be fully Failed before it can judge them.
    _ptr(spec, "podReplacementPolicy", "Failed" if spec.get("podFailurePolicy") is not None else "TerminatingOrFailed")
    _ptr(spec, "manualSelector", False)  # defaulted since 1.29 (kubernetes#120206)
    for rule in _items(spec.get("podFailurePolicy"), "rules"):
        for pattern in _items(rule, "onPodConditions"):
            _zero(pattern, "status", "True")
    _pod_template(spec.get("template"))


def _cron_job(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    _zero(spec, "concurrencyPolicy", "Allow")
    _ptr(spec, "suspend", False)
    _ptr(spec, "successfulJobsHistoryLimit", 3)
    _ptr(spec, "failedJobsHistoryLimit", 1)
    # Only the pod template inside: SetDefaults_Job runs on a Job, not on a
    # JobTemplateSpec, so jobTemplate.spec gets no backoffLimit or completions.
    _pod_template(((spec.get("jobTemplate") or {}).get("spec") or {}).get("template"))


JOB_NAME_LABELS = ("job-name", "batch.kubernetes.io/job-name")
CONTROLLER_UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")


def generate_job_selector(job: Obj) -> Obj:
    """The Job strategy's selector generation, for the registry to call on create.

    kube-apiserver does this in the Job strategy (``generateSelector``, called
    from ``Validate``) rather than in defaulting because it needs the UID the
    registry has just assigned. Unless ``manualSelector`` is true, the template
    gets the job-name and controller-uid labels (legacy and
    ``batch.kubernetes.io/`` forms) and the selector matches the UID. A Job
    without labels of its own then shows the template's, as kube-apiserver
    serves it (defaulting runs again when the object is read back).
    Modifies and returns ``job``.
    """
    spec = _dict(job, "spec")
    if spec.get("manualSelector"):
        return job
    md = job.get("metadata") or {}
    template_md = _dict(_dict(spec, "template"), "metadata")
    labels = template_md["labels"] = dict(template_md.get("labels") or {})
    for key in JOB_NAME_LABELS:
        labels.setdefault(key, md.get("name", ""))
    for key in CONTROLLER_UID_LABELS:
        labels.setdefault(key, md.get("uid", ""))
    selector = spec["selector"] = dict(spec.get("selector") or {})
    match = selector["matchLabels"] = dict(selector.get("matchLabels") or {})
    match.setdefault("batch.kubernetes.io/controller-uid", md.get("uid", ""))
    _job_labels_from_template(job)
    return job


# --- services, namespaces and the rest of core/v1 ----------------------------


def _service(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    _zero(spec, "sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        config = spec.get("sessionAffinityConfig") or {}
        if (config.get("clientIP") or {}).get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}  # 3 hours
    _zero(spec, "type", "ClusterIP")
    for port in _items(spec, "ports"):
        _zero(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    kind = spec["type"]
    # ExternallyAccessible (pkg/api/v1/service): node ports, load balancers, or external IPs.
    if kind in ("NodePort", "LoadBalancer") or (kind == "ClusterIP" and spec.get("externalIPs")):
        _zero(spec, "externalTrafficPolicy", "Cluster")
    if kind in ("ClusterIP", "NodePort", "LoadBalancer"):
        _ptr(spec, "internalTrafficPolicy", "Cluster")
    if kind == "LoadBalancer":
        _ptr(spec, "allocateLoadBalancerNodePorts", True)
        # LoadBalancerIPMode (beta, on in 1.32).
        for ingress in _items((obj.get("status") or {}).get("loadBalancer"), "ingress"):
            if ingress.get("ip"):
                _ptr(ingress, "ipMode", "VIP")


def service_ip_family_defaults(service: Obj, cluster_families: tuple[str, ...] = ("IPv4",)) -> Obj:
    """The Service registry's IP family choice, made beside the ClusterIP allocation.

    kube-apiserver does this in the service REST storage (``initIPFamilyFields``),
    not in defaulting, because it depends on the cluster's service CIDRs
    (``cluster_families``, primary first). ExternalName services get nothing; a
    headless Service without a selector asks for every family
    (``RequireDualStack``); any other gets ``SingleStack`` on the primary
    family, or both families when it asks for dual stack on a dual-stack
    cluster. Modifies and returns ``service``.
    """
    spec = _dict(service, "spec")
    if spec.get("type") == "ExternalName":
        return service
    headless = spec.get("clusterIP") == "None" or (spec.get("clusterIPs") or [None])[0] == "None"
    both = {"IPv4": "IPv6", "IPv6": "IPv4"}
    if headless and not spec.get("selector"):
        _ptr(spec, "ipFamilyPolicy", "RequireDualStack")
        families = spec["ipFamilies"] = list(spec.get("ipFamilies") or [cluster_families[0]])
        if len(families) < 2 and spec["ipFamilyPolicy"] != "SingleStack":
            families.append(both[families[0]])
        return service
    _ptr(spec, "ipFamilyPolicy", "SingleStack")
    families = spec["ipFamilies"] = list(spec.get("ipFamilies") or [cluster_families[0]])
    if len(families) < 2 and spec["ipFamilyPolicy"] != "SingleStack" and len(cluster_families) > 1:
        families.append(both[families[0]])
    return service


def _namespace(obj: Obj) -> None:
    md = _dict(obj, "metadata")
    if md.get("name"):
        # Kubernetes forces this label to the name, even over a user's value,
        # so a namespace selector can always pick namespaces by name.
        md["labels"] = {**(md.get("labels") or {}), "kubernetes.io/metadata.name": md["name"]}
    _zero(_dict(obj, "status"), "phase", "Active")


def prepare_pod_for_create(pod: Obj) -> Obj:
    """The Pod strategy on create: whatever the client sent as status, a new Pod is Pending, with its QoS class.

    Not defaulting: ``qosClass`` is computed once from the resources and then
    immutable. Modifies and returns ``pod``.
    """
    pod["status"] = {"phase": "Pending", "qosClass": qos_class(pod)}
    return pod


def prepare_namespace_for_create(namespace: Obj) -> Obj:
    """The Namespace strategy on create: phase ``Active`` and the ``kubernetes`` finalizer.

    Not defaulting: the namespace controller removes the finalizer (through
    the ``finalize`` subresource) once the namespace is empty, and defaulting
    would put it back on every read. Modifies and returns ``namespace``.
    """
    spec = _dict(namespace, "spec")
    finalizers = list(spec.get("finalizers") or [])
    if "kubernetes" not in finalizers:
        finalizers.append("kubernetes")
    spec["finalizers"] = finalizers
    namespace["status"] = {"phase": "Active"}  # on create, whatever the client sent
    return namespace


def _secret(obj: Obj) -> None:
    _zero(obj, "type", "Opaque")


def _endpoints(obj: Obj) -> None:
    for subset in _items(obj, "subsets"):
        for port in _items(subset, "ports"):
            _zero(port, "protocol", "TCP")


def _node(obj: Obj) -> None:
    status = obj.get("status")
    # SetDefaults_NodeStatus: a node that reports no allocatable can use all of its capacity.
    if isinstance(status, dict) and status.get("allocatable") is None and status.get("capacity") is not None:
        status["allocatable"] = deep_copy(status["capacity"])


# --- other groups --------------------------------------------------------------


def _hpa(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    _ptr(spec, "minReplicas", 1)
    if not spec.get("metrics"):
        # autoscaling.DefaultCPUUtilization: 80 % of the requested CPU.
        spec["metrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        # Only a behavior the user wrote is completed; an absent one stays absent
        # and the controller applies the same rules. Scale-down has no
        # stabilizationWindowSeconds default here: the controller's
        # --horizontal-pod-autoscaler-downscale-stabilization (5m) fills it.
        behavior["scaleUp"] = _scaling_rules(behavior.get("scaleUp"), {
            "stabilizationWindowSeconds": 0, "selectPolicy": "Max",
            "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                         {"type": "Percent", "value": 100, "periodSeconds": 15}]})
        behavior["scaleDown"] = _scaling_rules(behavior.get("scaleDown"), {
            "selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]})


def _scaling_rules(given: Obj | None, default: Obj) -> Obj:
    # copyHPAScalingRules: every field the user set wins, field by field.
    out = deep_copy(default)
    for key, value in (given or {}).items():
        if value is not None:
            out[key] = value
    return out


def _priority_class(obj: Obj) -> None:
    _ptr(obj, "preemptionPolicy", "PreemptLowerPriority")


def _role_binding(obj: Obj) -> None:
    _zero(_dict(obj, "roleRef"), "apiGroup", RBAC_GROUP)
    for subject in _items(obj, "subjects"):
        # SetDefaults_Subject: users and groups are RBAC's own; a ServiceAccount's
        # group is the core one, "", which is not served at all.
        if not subject.get("apiGroup") and subject.get("kind") in ("User", "Group"):
            subject["apiGroup"] = RBAC_GROUP


def _nothing(obj: Obj) -> None:
    """Kinds kube-apiserver serves exactly as sent: no defaulting function exists.

    ConfigMap has one (``data`` becomes an empty map) but an empty map is
    omitted when served, so nothing shows.
    """


DEFAULTERS: dict[tuple[str, str], Callable[[Obj], None]] = {
    ("v1", "Pod"): _pod,
    ("v1", "Service"): _service,
    ("v1", "Namespace"): _namespace,
    ("v1", "Secret"): _secret,
    ("v1", "Endpoints"): _endpoints,
    ("v1", "Node"): _node,
    ("v1", "ReplicationController"): _replication_controller,
    ("v1", "ConfigMap"): _nothing,
    ("v1", "Event"): _nothing,
    ("v1", "ServiceAccount"): _nothing,
    ("apps/v1", "Deployment"): _deployment,
    ("apps/v1", "ReplicaSet"): _replica_set,
    ("apps/v1", "DaemonSet"): _daemon_set,
    ("apps/v1", "StatefulSet"): _stateful_set,
    ("batch/v1", "Job"): _job,
    ("batch/v1", "CronJob"): _cron_job,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): _hpa,
    ("coordination.k8s.io/v1", "Lease"): _nothing,
    ("scheduling.k8s.io/v1", "PriorityClass"): _priority_class,
    ("rbac.authorization.k8s.io/v1", "Role"): _nothing,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): _nothing,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): _role_binding,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): _role_binding,
}


def apply_defaults(obj: Obj) -> Obj:
    """A copy of ``obj`` with what kube-apiserver 1.32 fills in on create and update.

    Dispatches on ``apiVersion`` and ``kind``; an unknown kind comes back as an
    unchanged copy. Defaulting twice gives the same object as defaulting once.
    """
    out = deep_copy(obj)
    defaulter = DEFAULTERS.get((out.get("apiVersion", ""), out.get("kind", "")))
    if defaulter is not None:
        defaulter(out)
    return out
