"""Kubernetes' printers: the columns ``kubectl get`` shows for each kind, and how each cell is made.

One entry per kind in :data:`PRINTERS`: the column definitions (name, type,
priority 1 for the ``-o wide`` ones, description) and a function from an
object and the current time to its cells, with the rules of
``pkg/printers/internalversion/printers.go`` (a Pod's STATUS from its
containers' waiting and terminated reasons, a Service's PORT(S), an
Endpoints' "+ 3 more..."). Ages are ``duration.HumanDuration``.
:mod:`kitlib.apiserver.table` wraps them into the ``Table`` the API server
sends.

Simplifications:
- One printer per kind, for the kinds the kit serves; Kubernetes has ~50.
- Column descriptions are short sentences of our own, not the OpenAPI
  field documentation Kubernetes copies into them.
- HPA targets print Resource, ContainerResource and Pods metrics; Object
  and External metrics print as ``<unknown type>``.
- Quantities print as stored, without ``resource.Quantity`` canonicalisation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kitlib.api.meta import Obj, parse_rfc3339, rfc3339
from kitlib.api.selectors import selector_from_label_selector
from kitlib.errors import KitError

# --- duration.HumanDuration ------------------------------------------------------

def human_duration(seconds: float) -> str:
    """``k8s.io/apimachinery/pkg/util/duration.HumanDuration``: ~2-3 significant figures.

    Seconds below 2 minutes, ``XmYs`` below 10 minutes, minutes below 3
    hours, ``XhYm`` below 8 hours, hours below 2 days, ``XdYh`` below 8
    days, days below 2 years, ``XyYd`` below 8 years, then years. A zero
    remainder is dropped (``5m``, not ``5m0s``). Up to one second in the
    future reads ``0s`` (clock skew between machines); further is ``<invalid>``.
    """
    # Go converts with int(), which truncates toward zero: -1.5 s is -1, so "0s".
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        rest = whole % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        rest = days % 365
        return f"{days // 365}y{rest}d" if rest else f"{days // 365}y"
    return f"{days // 365}y"


def _since(timestamp: str | None, now: float) -> str:
    """``translateTimestampSince``: the age of an RFC 3339 timestamp, ``<unknown>`` if unset."""
    if not timestamp:
        return "<unknown>"
    return human_duration(now - parse_rfc3339(timestamp))


# --- small formatters the printers share -----------------------------------------

def _format_labels(labels: dict[str, str] | None) -> str:
    """``labels.FormatLabels``: ``k=v`` sorted by key, ``<none>`` when empty."""
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels)) if labels else "<none>"


def _format_label_selector(selector: dict | None) -> str:
    """``metav1.FormatLabelSelector``: the selector's string form, ``<none>`` when empty."""
    try:
        text = str(selector_from_label_selector(selector))
    except (KitError, ValueError):
        return "<error>"
    return text or "<none>"


def _containers(template_spec: dict) -> tuple[str, str]:
    """``layoutContainerCells``: container names and images, comma-separated."""
    containers = template_spec.get("containers") or []
    return ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)


def _template_spec(obj: Obj) -> dict:
    return ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}


def _condition_true(conditions: list[dict] | None, kind: str) -> bool:
    """Whether the first condition of this type is True (``hasJobCondition``)."""
    for condition in conditions or []:
        if condition.get("type") == kind:
            return condition.get("status") == "True"
    return False


def _name(obj: Obj) -> str:
    return (obj.get("metadata") or {}).get("name") or ""


def _age(obj: Obj, now: float) -> str:
    return _since((obj.get("metadata") or {}).get("creationTimestamp"), now)


# --- the printers: (columns, obj -> cells) per kind --------------------------------
# A column is (name, type, priority, description); format "name" marks the Name column.

_NAME = ("Name", "string", 0, "Name of the object, unique within its namespace.")
_AGE = ("Age", "string", 0, "Time since the object was created (metadata.creationTimestamp).")
_CONTAINERS = ("Containers", "string", 1, "Names of each container in the template.")
_IMAGES = ("Images", "string", 1, "Images referenced by each container in the template.")
_SELECTOR = ("Selector", "string", 1, "Label query over the pods this object manages.")

Printer = Callable[[Obj, float], list[Any]]


def _pod_cells(pod: Obj, now: float) -> list[Any]:
    """``printPod``: the STATUS column is the first reason that explains the Pod, kubelet's view first."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    restarts = restartable_restarts = ready = 0
    last_restart = last_restartable_restart = 0.0  # 0 is Go's zero time: "never"
    total = len(spec.get("containers") or [])
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    conditions = status.get("conditions") or []
    for condition in conditions:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    # Sidecars (init containers with restartPolicy Always, KEP-753) count as containers.
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or []}
    sidecars = {n for n, c in init_specs.items() if c.get("restartPolicy") == "Always"}
    total += len(sidecars)

    def finished(container: dict) -> float:
        terminated = (container.get("lastState") or {}).get("terminated") or {}
        return parse_rfc3339(terminated["finishedAt"]) if terminated.get("finishedAt") else 0.0

    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    for index, container in enumerate(init_statuses):
        restarts += container.get("restartCount", 0)
        last_restart = max(last_restart, finished(container))
        sidecar = container.get("name") in sidecars
        if sidecar:
            restartable_restarts += container.get("restartCount", 0)
            last_restartable_restart = max(last_restartable_restart, finished(container))
        state = container.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and terminated.get("exitCode", 0) == 0:
            continue  # this init container is done; look at the next one
        if sidecar and container.get("started"):
            ready += 1 if container.get("ready") else 0
            continue
        if terminated is not None:
            if terminated.get("reason"):
                reason = "Init:" + terminated["reason"]
            elif terminated.get("signal"):
                reason = f"Init:Signal:{terminated['signal']}"
            else:
                reason = f"Init:ExitCode:{terminated.get('exitCode', 0)}"
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{index}/{len(spec.get('initContainers') or [])}"
        initializing = True
        break

    if not initializing or _condition_true(conditions, "Initialized"):
        restarts, last_restart = restartable_restarts, last_restartable_restart
        has_running = False
        # Backwards, so the first container's reason wins, as in printers.go.
        for container in reversed(status.get("containerStatuses") or []):
            restarts += container.get("restartCount", 0)
            last_restart = max(last_restart, finished(container))
            state = container.get("state") or {}
            waiting, terminated = state.get("waiting") or {}, state.get("terminated")
            if waiting.get("reason"):
                reason = waiting["reason"]  # CrashLoopBackOff, ImagePullBackOff, ContainerCreating
            elif terminated is not None and terminated.get("reason"):
                reason = terminated["reason"]  # Completed, Error, OOMKilled
            elif terminated is not None:
                reason = (f"Signal:{terminated['signal']}" if terminated.get("signal")
                          else f"ExitCode:{terminated.get('exitCode', 0)}")
            elif container.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        # One container Completed but another still running: the Pod is not done.
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(conditions, "Ready") else "NotReady"

    if pod.get("metadata", {}).get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"  # the node controller could not reach the kubelet
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"

    restarts_cell = str(restarts)
    if restarts and last_restart:
        # Kubernetes 1.23+ tells when the last restart happened: "5 (3m12s ago)".
        restarts_cell = f"{restarts} ({human_duration(now - last_restart)} ago)"

    pod_ips = status.get("podIPs") or []
    ip = (pod_ips[0].get("ip") if pod_ips else status.get("podIP")) or "<none>"
    gates = "<none>"
    if spec.get("readinessGates"):
        by_type = {}
        for condition in conditions:
            by_type.setdefault(condition.get("type"), condition.get("status"))
        passed = sum(1 for g in spec["readinessGates"] if by_type.get(g.get("conditionType")) == "True")
        gates = f"{passed}/{len(spec['readinessGates'])}"
    return [_name(pod), f"{ready}/{total}", reason, restarts_cell, _age(pod, now),
            ip, spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>", gates]


def pod_conditions(pod: Obj) -> list[dict] | None:
    """A finished Pod's row carries a ``Completed`` condition (``podSuccessConditions``)."""
    phase = (pod.get("status") or {}).get("phase")
    if phase == "Succeeded":
        return [{"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}]
    if phase == "Failed":
        return [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]
    return None


def _node_cells(node: Obj, now: float) -> list[Any]:
    """``printNode``: only the Ready condition makes STATUS; cordoning appends SchedulingDisabled."""
    spec, status = node.get("spec") or {}, node.get("status") or {}
    ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    state = [("Ready" if ready[-1].get("status") == "True" else "NotReady") if ready else "Unknown"]
    if spec.get("unschedulable"):
        state.append("SchedulingDisabled")
    # Roles come from node-role.kubernetes.io/<role> keys, or the older kubernetes.io/role=<role>.
    roles = set()
    for key, value in ((node.get("metadata") or {}).get("labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/") and key[len("node-role.kubernetes.io/"):]:
            roles.add(key[len("node-role.kubernetes.io/"):])
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    info = status.get("nodeInfo") or {}

    def address(kind: str) -> str:
        return next((a.get("address") for a in status.get("addresses") or [] if a.get("type") == kind), "<none>")

    return [_name(node), ",".join(state), ",".join(sorted(roles)) or "<none>", _age(node, now),
            info.get("kubeletVersion", ""), address("InternalIP"), address("ExternalIP"),
            info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


def _deployment_cells(obj: Obj, now: float) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    names, images = _containers(_template_spec(obj))
    try:
        selector = str(selector_from_label_selector(spec.get("selector")))
    except (KitError, ValueError):
        selector = "<invalid>"
    return [_name(obj), f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
            status.get("updatedReplicas", 0), status.get("availableReplicas", 0), _age(obj, now),
            names, images, selector]


def _replicas_cells(obj: Obj, now: float, selector: str) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    names, images = _containers(_template_spec(obj))
    return [_name(obj), spec.get("replicas", 0), status.get("replicas", 0), status.get("readyReplicas", 0),
            _age(obj, now), names, images, selector]


def _replicaset_cells(obj: Obj, now: float) -> list[Any]:
    return _replicas_cells(obj, now, _format_label_selector((obj.get("spec") or {}).get("selector")))


def _replication_controller_cells(obj: Obj, now: float) -> list[Any]:
    # The older controller's selector is a plain map, printed as labels.
    return _replicas_cells(obj, now, _format_labels((obj.get("spec") or {}).get("selector")))


def _daemonset_cells(obj: Obj, now: float) -> list[Any]:
    status = obj.get("status") or {}
    names, images = _containers(_template_spec(obj))
    return [_name(obj), status.get("desiredNumberScheduled", 0), status.get("currentNumberScheduled", 0),
            status.get("numberReady", 0), status.get("updatedNumberScheduled", 0), status.get("numberAvailable", 0),
            _format_labels(_template_spec(obj).get("nodeSelector")), _age(obj, now),
            names, images, _format_label_selector((obj.get("spec") or {}).get("selector"))]


def _statefulset_cells(obj: Obj, now: float) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    names, images = _containers(_template_spec(obj))
    return [_name(obj), f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}", _age(obj, now), names, images]


def _job_cells(obj: Obj, now: float) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    succeeded = status.get("succeeded", 0)
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    elif (spec.get("parallelism") or 0) > 1:
        completions = f"{succeeded}/1 of {spec['parallelism']}"
    else:
        completions = f"{succeeded}/1"
    duration = ""
    if status.get("startTime"):
        end = parse_rfc3339(status["completionTime"]) if status.get("completionTime") else now
        duration = human_duration(end - parse_rfc3339(status["startTime"]))
    conditions = status.get("conditions")
    if _condition_true(conditions, "Complete"):
        state = "Complete"
    elif _condition_true(conditions, "Failed"):
        state = "Failed"
    elif (obj.get("metadata") or {}).get("deletionTimestamp"):
        state = "Terminating"
    elif _condition_true(conditions, "Suspended"):
        state = "Suspended"
    elif _condition_true(conditions, "FailureTarget"):
        state = "FailureTarget"
    else:
        state = "Running"
    names, images = _containers(_template_spec(obj))
    return [_name(obj), state, completions, duration, _age(obj, now), names, images,
            _format_label_selector(spec.get("selector"))]


def _cronjob_cells(obj: Obj, now: float) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    names, images = _containers((job_spec.get("template") or {}).get("spec") or {})
    suspend = spec.get("suspend")
    last = _since(status["lastScheduleTime"], now) if status.get("lastScheduleTime") else "<none>"
    return [_name(obj), spec.get("schedule", ""), spec.get("timeZone") or "<none>",
            "<unset>" if suspend is None else ("True" if suspend else "False"),  # printBoolPtr
            len(status.get("active") or []), last, _age(obj, now), names, images,
            _format_label_selector(job_spec.get("selector"))]


def _service_cells(obj: Obj, now: float) -> list[Any]:
    spec = obj.get("spec") or {}
    kind = spec.get("type") or "ClusterIP"  # the API server defaults it; a bare dict may lack it
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    external = ",".join(spec.get("externalIPs") or [])
    if kind in ("ClusterIP", "NodePort"):
        external = external or "<none>"
    elif kind == "LoadBalancer":
        ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        found = list(dict.fromkeys(i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")))
        external = ",".join(found + (spec.get("externalIPs") or [])) or "<pending>"
    elif kind == "ExternalName":
        external = spec.get("externalName", "")
    else:
        external = "<unknown>"
    ports = ",".join(
        f"{p.get('port')}:{p['nodePort']}/{p.get('protocol', 'TCP')}" if p.get("nodePort")
        else f"{p.get('port')}/{p.get('protocol', 'TCP')}"
        for p in spec.get("ports") or []
    )
    return [_name(obj), kind, cluster_ips[0] if cluster_ips else "<none>", external, ports or "<none>",
            _age(obj, now), _format_labels(spec.get("selector"))]


def format_endpoints(endpoints: Obj, limit: int = 3) -> str:
    """``formatEndpoints``: the first three ``ip:port``, then ``+ N more...``; ``<none>`` without subsets."""
    subsets = endpoints.get("subsets") or []
    if not subsets:
        return "<none>"
    shown: list[str] = []
    count = 0
    for subset in subsets:
        addresses = [a.get("ip", "") for a in subset.get("addresses") or []]
        # A headless Service may have no ports: then the bare IPs are listed.
        targets = ([[ip for ip in addresses]] if not subset.get("ports")
                   else [[f"[{ip}]:{p.get('port')}" if ":" in ip else f"{ip}:{p.get('port')}" for ip in addresses]
                         for p in subset["ports"]])
        for group in targets:
            count += len(group)
            shown.extend(group[: max(0, limit - len(shown))])
    text = ",".join(shown)
    return f"{text} + {count - limit} more..." if count > limit else text


def _event_cells(event: Obj, now: float) -> list[Any]:
    """``printEvent``: core/v1 Events, with the events.k8s.io fields (eventTime, series) as fallbacks."""
    first = _since(event.get("firstTimestamp"), now)
    if not event.get("firstTimestamp"):
        first = _since(event.get("eventTime"), now)
    last = _since(event["lastTimestamp"], now) if event.get("lastTimestamp") else first
    count = event.get("count") or 0
    if event.get("series"):
        last = _since(event["series"].get("lastObservedTime"), now)
        count = event["series"].get("count", 0)
    elif count == 0:
        count = 1  # singleton events of the new API carry no count
    involved = event.get("involvedObject") or {}
    target = involved.get("kind", "").lower()
    if involved.get("name"):
        target = f"{target}/{involved['name']}"
    source = event.get("source") or {}
    component = source.get("component") or event.get("reportingComponent") or ""
    host = source.get("host") or event.get("reportingInstance") or ""
    return [last, event.get("type", ""), event.get("reason", ""), target, involved.get("fieldPath", ""),
            f"{component}, {host}" if host else component, (event.get("message") or "").strip(),
            first, count, _name(event)]


def _hpa_targets(specs: list[dict], statuses: list[dict]) -> str:
    """``formatHPAMetrics``: ``cpu: 40%/80%`` per metric, two at most, then ``+ N more...``."""
    if not specs:
        return "<none>"
    shown = []
    for index, metric in enumerate(specs):
        current_status = statuses[index] if index < len(statuses) else {}
        kind = metric.get("type")
        key = {"Resource": "resource", "ContainerResource": "containerResource", "Pods": "pods"}.get(kind)
        if key is None:
            shown.append("<unknown type>")
            continue
        source, current = metric.get(key) or {}, (current_status.get(key) or {}).get("current") or {}
        target = source.get("target") or {}
        if kind == "Pods":
            shown.append(f"{current.get('averageValue', '<unknown>')}/{target.get('averageValue')}")
        elif target.get("averageValue") is not None:
            shown.append(f"{source.get('name')}: {current.get('averageValue', '<unknown>')}/{target['averageValue']}")
        else:
            now_pct = f"{current['averageUtilization']}%" if current.get("averageUtilization") is not None else "<unknown>"
            want = f"{target['averageUtilization']}%" if target.get("averageUtilization") is not None else "<auto>"
            shown.append(f"{source.get('name')}: {now_pct}/{want}")
    text = ", ".join(shown[:2])
    return f"{text} + {len(shown) - 2} more..." if len(shown) > 2 else text


def _hpa_cells(obj: Obj, now: float) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    minimum = spec.get("minReplicas")
    return [_name(obj), f"{ref.get('kind', '')}/{ref.get('name', '')}",
            _hpa_targets(spec.get("metrics") or [], status.get("currentMetrics") or []),
            "<unset>" if minimum is None else str(minimum), spec.get("maxReplicas", 0),
            status.get("currentReplicas", 0), _age(obj, now)]


def _binding_cells(obj: Obj, now: float) -> list[Any]:
    """``printRoleBinding``: ROLE is Kind/name; wide columns list subjects by kind."""
    ref = obj.get("roleRef") or {}
    subjects = obj.get("subjects") or []
    users = [s.get("name", "") for s in subjects if s.get("kind") == "User"]
    groups = [s.get("name", "") for s in subjects if s.get("kind") == "Group"]
    accounts = [f"{s.get('namespace', '')}/{s.get('name', '')}" for s in subjects if s.get("kind") == "ServiceAccount"]
    return [_name(obj), f"{ref.get('kind', '')}/{ref.get('name', '')}", _age(obj, now),
            ", ".join(users), ", ".join(groups), ", ".join(accounts)]


def _default_cells(obj: Obj, now: float) -> list[Any]:
    """``rest.NewDefaultTableConvertor``: the creation time itself, in RFC 3339, not an age."""
    created = (obj.get("metadata") or {}).get("creationTimestamp")
    return [_name(obj), rfc3339(parse_rfc3339(created)) if created else ""]


_REPLICAS_COLUMNS = [
    _NAME, ("Desired", "integer", 0, "Number of desired pods."), ("Current", "integer", 0, "Number of pods created."),
    ("Ready", "integer", 0, "Number of pods ready."), _AGE, _CONTAINERS, _IMAGES, _SELECTOR,
]
_BINDING_COLUMNS = [
    _NAME, ("Role", "string", 0, "The Role or ClusterRole granted."), _AGE,
    ("Users", "string", 1, "Users bound."), ("Groups", "string", 1, "Groups bound."),
    ("ServiceAccounts", "string", 1, "ServiceAccounts bound, as namespace/name."),
]

PRINTERS: dict[str, tuple[list[tuple[str, str, int, str]], Printer]] = {
    "Pod": ([
        _NAME, ("Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic."),
        ("Status", "string", 0, "The aggregate status of the containers in this pod."),
        ("Restarts", "string", 0, "The number of times the containers in this pod have been restarted"
                                  " and when the last container in this pod has restarted."),
        _AGE, ("IP", "string", 1, "The pod's IP address."), ("Node", "string", 1, "The node the pod is bound to."),
        ("Nominated Node", "string", 1, "The node preemption made room on for this pod."),
        ("Readiness Gates", "string", 1, "Readiness gates that are True, of those the pod declares."),
    ], _pod_cells),
    "Node": ([
        _NAME, ("Status", "string", 0, "The status of the node"), ("Roles", "string", 0, "The roles of the node"),
        _AGE, ("Version", "string", 0, "Kubelet version."),
        ("Internal-IP", "string", 1, "The node's InternalIP address."), ("External-IP", "string", 1, "The node's ExternalIP address."),
        ("OS-Image", "string", 1, "OS image reported by the node."),
        ("Kernel-Version", "string", 1, "Kernel version reported by the node."),
        ("Container-Runtime", "string", 1, "Container runtime version reported by the node."),
    ], _node_cells),
    "Deployment": ([
        _NAME, ("Ready", "string", 0, "Number of the pod with ready state"),
        ("Up-to-date", "string", 0, "Pods running the newest template."), ("Available", "string", 0, "Pods available to users."),
        _AGE, _CONTAINERS, _IMAGES, _SELECTOR,
    ], _deployment_cells),
    "ReplicaSet": (_REPLICAS_COLUMNS, _replicaset_cells),
    "ReplicationController": (_REPLICAS_COLUMNS, _replication_controller_cells),
    "DaemonSet": ([
        _NAME, ("Desired", "integer", 0, "Nodes that should run the daemon pod."),
        ("Current", "integer", 0, "Nodes running at least one daemon pod."), ("Ready", "integer", 0, "Nodes with a ready daemon pod."),
        ("Up-to-date", "integer", 0, "Nodes running the newest template."),
        ("Available", "integer", 0, "Nodes with an available daemon pod."),
        ("Node Selector", "string", 0, "The pod template's nodeSelector."), _AGE, _CONTAINERS, _IMAGES, _SELECTOR,
    ], _daemonset_cells),
    "StatefulSet": ([_NAME, ("Ready", "string", 0, "Number of the pod with ready state"), _AGE, _CONTAINERS, _IMAGES],
                    _statefulset_cells),
    "Job": ([
        _NAME, ("Status", "string", 0, "Status of the job."), ("Completions", "string", 0, "Succeeded pods of the completions wanted."),
        ("Duration", "string", 0, "Time required to complete the job."), _AGE, _CONTAINERS, _IMAGES, _SELECTOR,
    ], _job_cells),
    "CronJob": ([
        _NAME, ("Schedule", "string", 0, "The schedule in Cron format."), ("Timezone", "string", 0, "The schedule's time zone."),
        ("Suspend", "boolean", 0, "Whether later executions are suspended."), ("Active", "integer", 0, "Jobs running now."),
        ("Last Schedule", "string", 0, "When a job was last scheduled."), _AGE, _CONTAINERS, _IMAGES, _SELECTOR,
    ], _cronjob_cells),
    "Service": ([
        _NAME, ("Type", "string", 0, "How the service is exposed."), ("Cluster-IP", "string", 0, "The service's virtual IP."),
        ("External-IP", "string", 0, "Addresses reachable from outside the cluster."),
        ("Port(s)", "string", 0, "The ports the service exposes."),
        _AGE, ("Selector", "string", 1, "Pods with these labels receive the traffic."),
    ], _service_cells),
    "Endpoints": ([_NAME, ("Endpoints", "string", 0, "The addresses and ports behind the service."), _AGE],
                  lambda o, now: [_name(o), format_endpoints(o), _age(o, now)]),
    "Namespace": ([_NAME, ("Status", "string", 0, "The status of the namespace"), _AGE],
                  lambda o, now: [_name(o), (o.get("status") or {}).get("phase", ""), _age(o, now)]),
    "ConfigMap": ([_NAME, ("Data", "string", 0, "Number of data and binaryData keys."), _AGE],
                  lambda o, now: [_name(o), len(o.get("data") or {}) + len(o.get("binaryData") or {}), _age(o, now)]),
    "Secret": ([_NAME, ("Type", "string", 0, "Used to ease programmatic handling of secret data."),
                ("Data", "string", 0, "Number of data keys."), _AGE],
               lambda o, now: [_name(o), o.get("type", ""), len(o.get("data") or {}), _age(o, now)]),
    "ServiceAccount": ([_NAME, ("Secrets", "string", 0, "Number of secrets listed."), _AGE],
                       lambda o, now: [_name(o), len(o.get("secrets") or []), _age(o, now)]),
    "Event": ([
        ("Last Seen", "string", 0, "When the event was last seen."), ("Type", "string", 0, "Normal or Warning."),
        ("Reason", "string", 0, "Why the event happened, in one word."), ("Object", "string", 0, "The object the event is about."),
        ("Subobject", "string", 1, "The field path within the object."), ("Source", "string", 1, "The component that reported it."),
        ("Message", "string", 0, "A human-readable description."), ("First Seen", "string", 1, "When the event was first seen."),
        ("Count", "string", 1, "How many times it happened."), ("Name", "string", 1, "Name of the Event object."),
    ], _event_cells),
    "Lease": ([_NAME, ("Holder", "string", 0, "The identity of the holder of the lease."), _AGE],
              lambda o, now: [_name(o), (o.get("spec") or {}).get("holderIdentity") or "", _age(o, now)]),
    "HorizontalPodAutoscaler": ([
        _NAME, ("Reference", "string", 0, "The scaled object."), ("Targets", "string", 0, "Current and target metric values."),
        ("MinPods", "string", 0, "Lower limit of replicas."), ("MaxPods", "string", 0, "Upper limit of replicas."),
        ("Replicas", "string", 0, "Current number of replicas."), _AGE,
    ], _hpa_cells),
    "PriorityClass": ([
        _NAME, ("Value", "integer", 0, "The priority Pods of this class receive."),
        ("Global-Default", "boolean", 0, "Whether Pods without a class get this one."), _AGE,
        ("PreemptionPolicy", "string", 0, "Whether Pods of this class may preempt others."),
    ], lambda o, now: [_name(o), o.get("value", 0), bool(o.get("globalDefault")), _age(o, now),
                       o.get("preemptionPolicy", "PreemptLowerPriority")]),
    "RoleBinding": (_BINDING_COLUMNS, _binding_cells),
    "ClusterRoleBinding": (_BINDING_COLUMNS, _binding_cells),
}

# Role and ClusterRole have no printer in Kubernetes: `kubectl get roles` shows CREATED AT.
DEFAULT_PRINTER: tuple[list[tuple[str, str, int, str]], Printer] = (
    [_NAME, ("Created At", "date", 0, "Time the object was created (metadata.creationTimestamp).")], _default_cells,
)
