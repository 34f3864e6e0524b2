"""``kit describe``: an object summarised for a person, laid out as ``kubectl describe`` lays it out.

kubectl has a describer per kind (``k8s.io/kubectl/pkg/describe``): each
writes ``Title:\\tvalue`` lines through a tabwriter with padding 2, so a
run of lines lines up, and ends with the Events whose ``involvedObject`` is
the object. The describers here follow theirs for Deployment, Pod,
Service, Node, ConfigMap and Secret (whose values are never printed, only
their sizes); any other kind gets the common metadata, then each top-level
field (``Spec:``, ``Status:``...) as indented YAML. :func:`describe`
returns the lines; :func:`events_lines` is the Events section.

Simplifications:
- No OldReplicaSets/NewReplicaSet for a Deployment; no Lease, Pods or
  allocated resources for a Node; a volume shows its type and plain
  fields, not kubectl's wording for each type; an environment variable
  from a field of the Pod is not resolved to its value.
- Quantities print as stored; the QoS class compares them as text.
- Times print in the machine's local zone, as kubectl's do.
"""

from __future__ import annotations

import base64
import time
from typing import Any, Callable

from kitlib.api.qos import qos_class
from kitlib.api.meta import parse_rfc3339
from kitlib.apiserver.printers import human_duration
from kitlib.cli.printing import (annotations_lines, labels_lines, tabwrite, taints_lines, timestamp, to_yaml,
                                 tolerations_lines)

Obj = dict[str, Any]


def _ports(ports: list[dict], field: str) -> str:
    return ", ".join(f"{p.get(field, 0)}/{p.get('protocol', 'TCP')}" for p in ports)


def _probe(probe: dict) -> str:
    if "httpGet" in probe:
        get = probe["httpGet"]
        scheme = get.get("scheme", "HTTP").lower()
        handler = f"http-get {scheme}://{get.get('host', '')}:{get.get('port', '')}{get.get('path', '')}"
    elif "tcpSocket" in probe:
        handler = f"tcp-socket {probe['tcpSocket'].get('host', '')}:{probe['tcpSocket'].get('port', '')}"
    elif "grpc" in probe:
        handler = f"grpc <pod>:{probe['grpc'].get('port', '')} {probe['grpc'].get('service', '')}"
    else:
        handler = "exec " + str((probe.get("exec") or {}).get("command", []))
    return (f"{handler} delay={probe.get('initialDelaySeconds', 0)}s timeout={probe.get('timeoutSeconds', 1)}s "
            f"period={probe.get('periodSeconds', 10)}s #success={probe.get('successThreshold', 1)} "
            f"#failure={probe.get('failureThreshold', 3)}")


def _state_lines(title: str, state: dict) -> list[str]:
    if "running" in state:
        return [f"    {title}:\tRunning", f"      Started:\t{timestamp(state['running'].get('startedAt'))}"]
    if "terminated" in state:
        t = state["terminated"]
        lines = [f"    {title}:\tTerminated"]
        lines += [f"      {k.title()}:\t{t[k]}" for k in ("reason", "message") if t.get(k)]
        lines.append(f"      Exit Code:\t{t.get('exitCode', 0)}")
        lines += [f"      Signal:\t{t['signal']}"] if t.get("signal") else []
        return lines + [f"      Started:\t{timestamp(t.get('startedAt'))}",
                        f"      Finished:\t{timestamp(t.get('finishedAt'))}"]
    reason = (state.get("waiting") or {}).get("reason")
    return [f"    {title}:\tWaiting"] + ([f"      Reason:\t{reason}"] if reason else [])


def _env_line(env: dict) -> list[str]:
    source = env.get("valueFrom")
    if source is None:
        first, *rest = str(env.get("value", "")).split("\n")
        return [f"      {env['name']}:\t{first}"] + [f"\t{line}" for line in rest]
    if "fieldRef" in source:
        ref = source["fieldRef"]
        return [f"      {env['name']}:\t ({ref.get('apiVersion', 'v1')}:{ref.get('fieldPath', '')})"]
    for key, what in (("secretKeyRef", "in secret"), ("configMapKeyRef", "of config map")):
        if key in source:
            ref = source[key]
            return [f"      {env['name']}:\t<set to the key '{ref.get('key')}' {what} '{ref.get('name')}'>"
                    f"\tOptional: {str(bool(ref.get('optional'))).lower()}"]
    return [f"      {env['name']}:\t<set from {', '.join(source)}>"]


def containers_lines(label: str, containers: list[dict], statuses: list[dict] | None, space: str) -> list[str]:
    """``describeContainers``: image, ports, command, state, resources, probes, environment, mounts."""
    by_name = {s.get("name"): s for s in statuses or []}
    lines = [f"{space}{label}:"]
    for c in containers:
        status = by_name.get(c.get("name"))
        lines.append(f"  {' ' if space else ''}{c.get('name')}:")
        lines += [f"    Container ID:\t{status.get('containerID', '')}"] if status else []
        lines.append(f"    Image:\t{c.get('image', '')}")
        lines += [f"    Image ID:\t{status.get('imageID', '')}"] if status else []
        ports = c.get("ports") or []
        lines.append(f"    Port{'s' if len(ports) > 1 else ''}:\t{_ports(ports, 'containerPort') or '<none>'}")
        lines.append(f"    Host Port{'s' if len(ports) > 1 else ''}:\t{_ports(ports, 'hostPort') or '<none>'}")
        for key, title in (("command", "Command"), ("args", "Args")):
            if c.get(key):
                lines += [f"    {title}:"] + [f"      {s}" for arg in c[key] for s in str(arg).split("\n")]
        if status:
            lines += _state_lines("State", status.get("state") or {})
            if (status.get("lastState") or {}).get("terminated"):
                lines += _state_lines("Last State", status["lastState"])
            lines += [f"    Ready:\t{'True' if status.get('ready') else 'False'}",
                      f"    Restart Count:\t{status.get('restartCount', 0)}"]
        for key, title in (("limits", "Limits"), ("requests", "Requests")):
            values = (c.get("resources") or {}).get(key) or {}
            lines += ([f"    {title}:"] if values else []) + [f"      {k}:\t{v}" for k, v in sorted(values.items())]
        for key in ("liveness", "readiness", "startup"):
            if c.get(f"{key}Probe"):
                lines.append(f"    {key.title()}:\t{_probe(c[f'{key}Probe'])}")
        env = c.get("env") or []
        lines.append("    Environment:" + ("" if env else "\t<none>"))
        lines += [line for e in env for line in _env_line(e)]
        mounts = sorted(c.get("volumeMounts") or [], key=lambda m: m.get("mountPath", ""))
        lines.append("    Mounts:" + ("" if mounts else "\t<none>"))
        lines += [f"      {m.get('mountPath')} from {m.get('name')} ({'ro' if m.get('readOnly') else 'rw'}"
                  + (f',path="{m["subPath"]}"' if m.get("subPath") else "") + ")" for m in mounts]
    return lines


def volumes_lines(volumes: list[dict] | None, space: str) -> list[str]:
    if not volumes:
        return [f"{space}Volumes:\t<none>"]
    lines = [f"{space}Volumes:"]
    for volume in volumes:
        lines.append(f"  {' ' if space else ''}{volume.get('name')}:")
        kind = next((k for k in volume if k != "name"), "")
        source = volume.get(kind) or {}
        lines.append(f"    Type:\t{kind[:1].upper() + kind[1:] or '<unknown>'}")
        lines += [f"    {k[:1].upper() + k[1:]}:\t{v}" for k, v in sorted(source.items()) if not isinstance(v, (dict, list))]
    return lines


def pod_template_lines(template: dict) -> list[str]:
    """``DescribePodTemplate``: a workload's Pod template, indented under ``Pod Template:``."""
    spec = template.get("spec") or {}
    meta = template.get("metadata") or {}
    lines = ["Pod Template:"] + labels_lines("  Labels", meta.get("labels"))
    if meta.get("annotations"):
        lines += annotations_lines("  Annotations", meta["annotations"])
    if spec.get("serviceAccountName"):
        lines.append(f"  Service Account:\t{spec['serviceAccountName']}")
    if spec.get("initContainers"):
        lines += containers_lines("Init Containers", spec["initContainers"], None, "  ")
    lines += containers_lines("Containers", spec.get("containers") or [], None, "  ")
    lines += volumes_lines(spec.get("volumes"), "  ")
    if spec.get("priorityClassName"):
        lines.append(f"  Priority Class Name:\t{spec['priorityClassName']}")
    return lines + labels_lines("  Node-Selectors", spec.get("nodeSelector")) + tolerations_lines(
        "  Tolerations", spec.get("tolerations"))


def _selector(selector: dict | None) -> str:
    parts = [f"{k}={v}" for k, v in sorted(((selector or {}).get("matchLabels") or {}).items())]
    for expr in (selector or {}).get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key"), ",".join(expr.get("values") or [])
        parts.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": key,
                      "DoesNotExist": f"!{key}"}.get(op, f"{key} {op} ({values})"))
    return ",".join(parts) or "<none>"


def _head(obj: Obj, *, created: bool = True) -> list[str]:
    meta = obj.get("metadata") or {}
    lines = [f"Name:\t{meta.get('name', '')}"] + ([f"Namespace:\t{meta['namespace']}"] if "namespace" in meta else [])
    lines += [f"CreationTimestamp:\t{timestamp(meta.get('creationTimestamp'))}"] if created else []
    return lines + labels_lines("Labels", meta.get("labels")) + annotations_lines("Annotations", meta.get("annotations"))


def deployment_lines(d: Obj, client: Any) -> list[str]:
    spec, status = d.get("spec") or {}, d.get("status") or {}
    strategy = spec.get("strategy") or {}
    lines = _head(d) + [
        f"Selector:\t{_selector(spec.get('selector'))}",
        f"Replicas:\t{spec.get('replicas', 1)} desired | {status.get('updatedReplicas', 0)} updated | "
        f"{status.get('replicas', 0)} total | {status.get('availableReplicas', 0)} available | "
        f"{status.get('unavailableReplicas', 0)} unavailable",
        f"StrategyType:\t{strategy.get('type', '')}",
        f"MinReadySeconds:\t{spec.get('minReadySeconds', 0)}"]
    if strategy.get("rollingUpdate"):
        ru = strategy["rollingUpdate"]
        lines.append(f"RollingUpdateStrategy:\t{ru.get('maxUnavailable')} max unavailable, {ru.get('maxSurge')} max surge")
    lines += pod_template_lines(spec.get("template") or {})
    if status.get("conditions"):
        lines += ["Conditions:", "  Type\tStatus\tReason", "  ----\t------\t------"]
        lines += [f"  {c.get('type')} \t{c.get('status')}\t{c.get('reason', '')}" for c in status["conditions"]]
    return lines


def _qos(pod: Obj) -> str:
    """The recorded ``status.qosClass``, else the class the Pod's resources give (``qos.GetPodQOS``)."""
    return (pod.get("status") or {}).get("qosClass") or qos_class(pod)


def pod_lines(pod: Obj, client: Any) -> list[str]:
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    lines = [f"Name:\t{meta.get('name')}", f"Namespace:\t{meta.get('namespace')}"]
    lines += [f"Priority:\t{spec['priority']}"] if "priority" in spec else []
    lines += [f"Priority Class Name:\t{spec['priorityClassName']}"] if spec.get("priorityClassName") else []
    lines += [f"Service Account:\t{spec['serviceAccountName']}"] if spec.get("serviceAccountName") else []
    lines.append(f"Node:\t{spec['nodeName'] + '/' + status.get('hostIP', '') if spec.get('nodeName') else '<none>'}")
    lines += [f"Start Time:\t{timestamp(status['startTime'])}"] if status.get("startTime") else []
    lines += labels_lines("Labels", meta.get("labels")) + annotations_lines("Annotations", meta.get("annotations"))
    lines.append(f"Status:\t{'Terminating' if meta.get('deletionTimestamp') else status.get('phase', '')}")
    lines += [f"{k.title()}:\t{status[k]}" for k in ("reason", "message") if status.get(k)]
    lines.append(f"IP:\t{status.get('podIP', '')}")
    ips = status.get("podIPs") or []
    lines += ["IPs:"] + [f"  IP:\t{ip.get('ip')}" for ip in ips] if ips else ["IPs:\t<none>"]
    owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
    lines += [f"Controlled By:\t{owner.get('kind')}/{owner.get('name')}"] if owner else []
    lines += [f"NominatedNodeName:\t{status['nominatedNodeName']}"] if status.get("nominatedNodeName") else []
    if spec.get("initContainers"):
        lines += containers_lines("Init Containers", spec["initContainers"], status.get("initContainerStatuses"), "")
    lines += containers_lines("Containers", spec.get("containers") or [], status.get("containerStatuses"), "")
    if status.get("conditions"):
        lines += ["Conditions:", "  Type\tStatus"] + [f"  {c.get('type')} \t{c.get('status')} "
                                                    for c in status["conditions"]]
    lines += volumes_lines(spec.get("volumes"), "") + [f"QoS Class:\t{_qos(pod)}"]
    return lines + labels_lines("Node-Selectors", spec.get("nodeSelector")) + tolerations_lines(
        "Tolerations", spec.get("tolerations"))


def _endpoints(endpoints: Obj | None, port_name: str) -> str:
    """``formatEndpoints`` for one service port: the first three ``ip:port``, then ``+ N more...``."""
    found = [f"{a.get('ip')}:{p.get('port')}" for subset in (endpoints or {}).get("subsets") or []
             for p in subset.get("ports") or [] if p.get("name", "") == port_name
             for a in subset.get("addresses") or []]
    if not found:
        return "<none>"
    return ",".join(found[:3]) + (f" + {len(found) - 3} more..." if len(found) > 3 else "")


def service_lines(svc: Obj, client: Any) -> list[str]:
    from kitlib.api.errors import NotFound

    spec = svc.get("spec") or {}
    try:
        endpoints = client.resource("v1", "Endpoints").get(svc["metadata"]["name"], svc["metadata"].get("namespace"))
    except NotFound:
        endpoints = None
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
    lines = _head(svc, created=False) + [f"Selector:\t{selector}", f"Type:\t{spec.get('type', '')}"]
    lines += [f"IP Family Policy:\t{spec['ipFamilyPolicy']}"] if spec.get("ipFamilyPolicy") else []
    lines.append(f"IP Families:\t{','.join(spec.get('ipFamilies') or []) or '<none>'}")
    lines += [f"IP:\t{spec.get('clusterIP', '')}", f"IPs:\t{','.join(spec.get('clusterIPs') or []) or '<none>'}"]
    lines += [f"External IPs:\t{','.join(spec['externalIPs'])}"] if spec.get("externalIPs") else []
    lines += [f"External Name:\t{spec['externalName']}"] if spec.get("externalName") else []
    for port in spec.get("ports") or []:
        name, protocol = port.get("name") or "<unset>", port.get("protocol", "TCP")
        lines += [f"Port:\t{name}\t{port.get('port')}/{protocol}",
                  f"TargetPort:\t{port.get('targetPort', port.get('port'))}/{protocol}"]
        lines += [f"NodePort:\t{name}\t{port['nodePort']}/{protocol}"] if port.get("nodePort") else []
        lines.append(f"Endpoints:\t{_endpoints(endpoints, port.get('name', ''))}")
    lines.append(f"Session Affinity:\t{spec.get('sessionAffinity', 'None')}")
    lines += [f"External Traffic Policy:\t{spec['externalTrafficPolicy']}"] if spec.get("externalTrafficPolicy") else []
    policy = spec.get("internalTrafficPolicy")
    return lines + ([f"Internal Traffic Policy:\t{policy}"] if policy else [])


def node_lines(node: Obj, client: Any) -> list[str]:
    meta, spec, status = node.get("metadata") or {}, node.get("spec") or {}, node.get("status") or {}
    prefix = "node-role.kubernetes.io/"
    roles = sorted(k[len(prefix):] for k in meta.get("labels") or {} if k.startswith(prefix) and k[len(prefix):])
    lines = [f"Name:\t{meta.get('name')}", f"Roles:\t{','.join(roles) or '<none>'}"]
    lines += labels_lines("Labels", meta.get("labels")) + annotations_lines("Annotations", meta.get("annotations"))
    lines += [f"CreationTimestamp:\t{timestamp(meta.get('creationTimestamp'))}"] + taints_lines(spec.get("taints"))
    lines.append(f"Unschedulable:\t{'true' if spec.get('unschedulable') else 'false'}")
    if status.get("conditions"):
        lines += ["Conditions:", "  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage",
                  "  ----\t------\t-----------------\t------------------\t------\t-------"]
        lines += [f"  {c.get('type')} \t{c.get('status')} \t{timestamp(c.get('lastHeartbeatTime'))} \t"
                  f"{timestamp(c.get('lastTransitionTime'))} \t{c.get('reason', '')} \t{c.get('message', '')}"
                  for c in status["conditions"]]
    lines += ["Addresses:"] + [f"  {a.get('type')}:\t{a.get('address')}" for a in status.get("addresses") or []]
    for key in ("capacity", "allocatable"):
        if status.get(key):
            lines += [f"{key.title()}:"] + [f"  {k}:\t{v}" for k, v in sorted(status[key].items())]
    info = status.get("nodeInfo") or {}
    lines += ["System Info:"] + [f"  {title}:\t{info.get(key, '')}" for title, key in (
        ("Machine ID", "machineID"), ("System UUID", "systemUUID"), ("Boot ID", "bootID"),
        ("Kernel Version", "kernelVersion"), ("OS Image", "osImage"), ("Operating System", "operatingSystem"),
        ("Architecture", "architecture"), ("Container Runtime Version", "containerRuntimeVersion"),
        ("Kubelet Version", "kubeletVersion"), ("Kube-Proxy Version", "kubeProxyVersion"))]
    lines += [f"PodCIDR:\t{spec['podCIDR']}"] if spec.get("podCIDR") else []
    return lines + ([f"PodCIDRs:\t{','.join(spec['podCIDRs'])}"] if spec.get("podCIDRs") else [])


def _size(encoded: str) -> int:
    try:
        return len(base64.b64decode(encoded))
    except (ValueError, TypeError):
        return 0


def configmap_lines(cm: Obj, client: Any) -> list[str]:
    lines = _head(cm, created=False) + ["", "Data", "===="]
    for key, value in sorted((cm.get("data") or {}).items()):
        lines += [f"{key}:", "----", *str(value).split("\n"), ""]
    lines += ["", "BinaryData", "===="]
    lines += [f"{key}: {_size(value)} bytes" for key, value in sorted((cm.get("binaryData") or {}).items())]
    return lines + [""]


def secret_lines(secret: Obj, client: Any) -> list[str]:
    lines = _head(secret, created=False) + ["", f"Type:\t{secret.get('type', 'Opaque')}", "", "Data", "===="]
    # Values stay secret: only their decoded sizes.
    return lines + [f"{key}:\t{_size(value)} bytes" for key, value in sorted((secret.get("data") or {}).items())]


def namespace_lines(ns: Obj, client: Any) -> list[str]:
    return _head(ns, created=False) + [f"Status:\t{(ns.get('status') or {}).get('phase', '')}"]


def generic_lines(obj: Obj, client: Any) -> list[str]:
    """Any other kind: its metadata, then each top-level field as indented YAML (kubectl's generic describer)."""
    lines = _head(obj) + [f"API Version:\t{obj.get('apiVersion', '')}", f"Kind:\t{obj.get('kind', '')}"]
    for key, value in obj.items():
        if key in ("apiVersion", "kind", "metadata"):
            continue
        title = "".join(" " + ch if ch.isupper() else ch for ch in key).strip()
        title = title[:1].upper() + title[1:]
        if isinstance(value, (dict, list)) and value:
            lines += [f"{title}:"] + ["  " + line for line in to_yaml(value).split("\n")]
        else:
            lines.append(f"{title}:\t{value if value not in (None, {}, []) else '<none>'}")
    return lines


DESCRIBERS: dict[str, Callable[[Obj, Any], list[str]]] = {
    "Deployment": deployment_lines, "Pod": pod_lines, "Service": service_lines, "Node": node_lines,
    "ConfigMap": configmap_lines, "Secret": secret_lines, "Namespace": namespace_lines,
}
NO_EVENTS = ("Secret", "Namespace")  # kubectl's describers of these kinds list no events


def _event_age(event: Obj, now: float) -> str:
    """kubectl's interval: ``10s``, or ``3s (x4 over 2m)`` for an event seen several times."""
    first = event.get("eventTime") or event.get("firstTimestamp") or (event.get("metadata") or {}).get("creationTimestamp")
    since = human_duration(now - parse_rfc3339(first)) if first else "<unknown>"
    series = event.get("series")
    if series:
        last = series.get("lastObservedTime")
        return f"{human_duration(now - parse_rfc3339(last)) if last else '<unknown>'} (x{series.get('count')} over {since})"
    if (event.get("count") or 0) > 1 and event.get("lastTimestamp"):
        return f"{human_duration(now - parse_rfc3339(event['lastTimestamp']))} (x{event['count']} over {since})"
    return since


def events_lines(events: list[Obj], now: float | None = None) -> list[str]:
    """``DescribeEvents``: ``Events:  <none>``, or a Type/Reason/Age/From/Message table, oldest first."""
    if not events:
        return ["Events:\t<none>"]
    now = time.time() if now is None else now
    events = sorted(events, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    lines = ["Events:", "  Type\tReason\tAge\tFrom\tMessage", "  ----\t------\t----\t----\t-------"]
    return lines + [f"  {e.get('type', '')}\t{e.get('reason', '')}\t{_event_age(e, now)}\t"
                    f"{(e.get('source') or {}).get('component') or e.get('reportingComponent', '')}\t"
                    f"{str(e.get('message', '')).strip()}" for e in events]


def describe(obj: Obj, events: list[Obj], client: Any) -> list[str]:
    """The lines of ``kubectl describe`` for one object and the Events about it."""
    lines = DESCRIBERS.get(obj.get("kind", ""), generic_lines)(obj, client)
    if obj.get("kind") not in NO_EVENTS:
        lines += events_lines(events)
    return tabwrite(lines, padding=2)
