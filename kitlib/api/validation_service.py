"""Services and Endpoints: the networking kinds of core ``v1``, validated as kube-apiserver does.

A Service needs ports (unless it is headless or an ExternalName) with
numbers in range and names when there are several, a supported type and
session affinity, and traffic policies that fit its type; an Endpoints
object lists valid addresses and ports. Messages are those of
``pkg/apis/core/validation`` in v1.32, their oddities included (a Service's
``spec.LoadBalancerSourceRanges`` path keeps kube's capital L). Each
``validate_<kind>`` runs after the metadata rules.

    >>> [str(e) for e in validate_service({"spec": {"type": "ClusterIP", "sessionAffinity": "None",
    ...                                             "internalTrafficPolicy": "Cluster"}})]
    ['spec.ports: Required value']

Simplifications:
- ClusterIPs, IP families, the node port range and the health-check node
  port's allocation are the allocator's and the Service registry's
  business: not checked here, nor are load balancer status,
  ``loadBalancerClass`` and topology annotations.
- Endpoints addresses are not refused for being loopback or link-local
  (``ValidateNonSpecialIP``): the kit's process runtime gives Pods host
  addresses.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from kitlib.api.field import FieldError, GoSyntax, duplicate, forbidden, go_quote, invalid, not_supported, required
from kitlib.api.validation import FIELD_IMMUTABLE, is_dns1123_subdomain, name_is_dns_subdomain, validate_labels
from kitlib.api.validation_common import (
    dns_label,
    is_valid_port_num,
    one_of,
    port_num_or_name,
    protocol,
    qualified_name,
    valid_ip,
)

Obj = dict[str, Any]


def cidr(value: str, path: str) -> list[FieldError]:
    try:
        if "/" in value:
            ipaddress.ip_network(value, strict=False)
            return []
    except ValueError:
        pass
    return [invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]


# --- Services ---------------------------------------------------------------------

SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
SESSION_AFFINITIES = ["ClientIP", "None"]
TRAFFIC_POLICIES = ["Cluster", "Local"]
MAX_CLIENT_IP_SECONDS = 86400
LB_ONLY = "may only be used when `type` is 'LoadBalancer'"


def _headless(spec: Obj) -> bool:
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return ips == ["None"]


def _service_port(port: Obj, require_name: bool, names: set[str], path: str) -> list[FieldError]:
    name, errs = port.get("name") or "", []
    if require_name and not name:
        errs.append(required(f"{path}.name"))
    elif name:
        errs += dns_label(name, f"{path}.name")
        errs += [duplicate(f"{path}.name", name)] if name in names else []
        names.add(name)
    errs += [invalid(f"{path}.port", port.get("port", 0), m) for m in is_valid_port_num(port.get("port", 0))]
    errs += protocol(port.get("protocol") or "", f"{path}.protocol")
    errs += port_num_or_name(port.get("targetPort", 0), f"{path}.targetPort")
    if port.get("appProtocol") is not None:
        errs += qualified_name(port["appProtocol"], f"{path}.appProtocol")
    return errs


def _client_ip(config: Obj | None, path: str) -> list[FieldError]:
    why = "when session affinity type is ClientIP"
    if config is None:
        return [required(path, why)]
    if config.get("clientIP") is None:
        return [required(f"{path}.clientIP", why)]
    timeout = config["clientIP"].get("timeoutSeconds")
    if timeout is None:
        return [required(f"{path}.clientIP.timeoutSeconds", why)]
    if 0 < timeout <= MAX_CLIENT_IP_SECONDS:
        return []
    return [invalid(f"{path}.clientIP.timeoutSeconds", timeout, f"must be greater than 0 and less than {MAX_CLIENT_IP_SECONDS}")]


def _go_service_port(port: Obj) -> GoSyntax:
    # The duplicate key kube builds (only protocol and port set), as %#v prints it.
    return GoSyntax(f'core.ServicePort{{Name:"", Protocol:{go_quote(port.get("protocol") or "")}, AppProtocol:(*string)(nil), '
                    f'Port:{port.get("port", 0)}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:""}}, NodePort:0}}')


def validate_service(svc: Obj) -> list[FieldError]:
    """``ValidateService`` after the metadata."""
    spec = svc.get("spec") or {}
    kind, ports, headless = spec.get("type") or "", spec.get("ports") or [], _headless(spec)
    errs = [required("spec.ports")] if not ports and not headless and kind != "ExternalName" else []
    if kind in ("LoadBalancer", "NodePort") and headless:
        errs.append(invalid("spec.clusterIPs[0]", "None", f"may not be set to 'None' for {kind} services"))
    if kind == "ExternalName":
        for key in ("clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if spec.get(key):
                errs.append(forbidden(f"spec.{key}", "may not be set for ExternalName services"))
        cname = (spec.get("externalName") or "").removesuffix(".")  # a trailing dot marks a fully qualified name
        errs += [invalid("spec.externalName", cname, m) for m in is_dns1123_subdomain(cname)] if cname else [
            required("spec.externalName")]
    names: set[str] = set()
    for i, port in enumerate(ports):
        errs += _service_port(port, len(ports) > 1, names, f"spec.ports[{i}]")
    if spec.get("selector") is not None:
        errs += validate_labels(spec["selector"], "spec.selector")
    affinity = spec.get("sessionAffinity") or ""
    errs += one_of(affinity, "spec.sessionAffinity", SESSION_AFFINITIES)
    if affinity == "ClientIP":
        errs += _client_ip(spec.get("sessionAffinityConfig"), "spec.sessionAffinityConfig")
    elif affinity == "None" and spec.get("sessionAffinityConfig") is not None:
        errs.append(forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"))
    for i, ip in enumerate(spec.get("externalIPs") or []):
        errs += valid_ip(ip, f"spec.externalIPs[{i}]")
    errs += one_of(kind, "spec.type", SERVICE_TYPES)
    if kind == "ClusterIP":
        errs += [forbidden(f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'")
                 for i, port in enumerate(ports) if port.get("nodePort")]
    node_ports, port_keys = set(), set()
    for i, port in enumerate(ports):
        if node_port := port.get("nodePort"):
            if (port.get("protocol"), node_port) in node_ports:
                errs.append(duplicate(f"spec.ports[{i}].nodePort", node_port))
            node_ports.add((port.get("protocol"), node_port))
    for i, port in enumerate(ports):
        if (key := (port.get("protocol"), port.get("port"))) in port_keys:
            errs.append(duplicate(f"spec.ports[{i}]", _go_service_port(port)))
        port_keys.add(key)
    if ranges := spec.get("loadBalancerSourceRanges"):
        errs += [] if kind == "LoadBalancer" else [forbidden("spec.LoadBalancerSourceRanges", LB_ONLY)]  # kube's capital L
        for i, value in enumerate(ranges):  # historically space-padded values are tolerated
            errs += cidr(value.strip(), f"spec.LoadBalancerSourceRanges[{i}]")
    if spec.get("allocateLoadBalancerNodePorts") is not None and kind != "LoadBalancer":
        errs.append(forbidden("spec.allocateLoadBalancerNodePorts", LB_ONLY))
    if kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        errs.append(required("allocateLoadBalancerNodePorts"))  # sic: kube's path has no "spec."
    external = spec.get("externalTrafficPolicy") or ""
    if kind in ("NodePort", "LoadBalancer") or (kind == "ClusterIP" and spec.get("externalIPs")):
        errs += one_of(external, "spec.externalTrafficPolicy", TRAFFIC_POLICIES)
    elif external:
        errs.append(invalid("spec.externalTrafficPolicy", external, "may only be set for externally-accessible services"))
    health = spec.get("healthCheckNodePort") or 0
    if health and not (kind == "LoadBalancer" and external == "Local"):
        errs.append(invalid("spec.healthCheckNodePort", health,
                            "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
    elif health:
        errs += [invalid("spec.healthCheckNodePort", health, m) for m in is_valid_port_num(health)]
    internal = spec.get("internalTrafficPolicy")
    if internal is None and kind in ("NodePort", "LoadBalancer", "ClusterIP"):
        errs.append(required("spec.internalTrafficPolicy"))
    elif internal is not None and internal not in TRAFFIC_POLICIES:
        errs.append(not_supported("spec.internalTrafficPolicy", internal, TRAFFIC_POLICIES))
    if (distribution := spec.get("trafficDistribution")) is not None and distribution != "PreferClose":
        errs.append(not_supported("spec.trafficDistribution", distribution, ["PreferClose"]))
    return errs


def validate_service_update(new: Obj, old: Obj) -> list[FieldError]:
    spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    needs = [s.get("type") == "LoadBalancer" and s.get("externalTrafficPolicy") == "Local" for s in (spec, old_spec)]
    errs = []
    if all(needs) and spec.get("healthCheckNodePort") != old_spec.get("healthCheckNodePort"):
        errs.append(forbidden("spec.healthCheckNodePort", FIELD_IMMUTABLE))
    return errs + validate_service(new)


# --- Endpoints ------------------------------------------------------------------------


def _endpoint_address(address: Obj, path: str) -> list[FieldError]:
    errs = valid_ip(address.get("ip") or "", f"{path}.ip")
    errs += dns_label(address["hostname"], f"{path}.hostname") if address.get("hostname") else []
    if (node := address.get("nodeName")) is not None:
        errs += [invalid(f"{path}.nodeName", node, m) for m in name_is_dns_subdomain(node)]
    return errs


def validate_endpoints(ep: Obj) -> list[FieldError]:
    errs = []
    for i, subset in enumerate(ep.get("subsets") or []):
        where = f"subsets[{i}]"
        if not subset.get("addresses") and not subset.get("notReadyAddresses"):
            errs.append(required(where, "must specify `addresses` or `notReadyAddresses`"))
        for kind in ("addresses", "notReadyAddresses"):
            for j, address in enumerate(subset.get(kind) or []):
                errs += _endpoint_address(address, f"{where}.{kind}[{j}]")
        ports = subset.get("ports") or []
        for j, port in enumerate(ports):
            path, name = f"{where}.ports[{j}]", port.get("name") or ""
            errs += [required(f"{path}.name")] if len(ports) > 1 and not name else dns_label(name, f"{path}.name") if name else []
            errs += [invalid(f"{path}.port", port.get("port", 0), m) for m in is_valid_port_num(port.get("port", 0))]
            errs += protocol(port.get("protocol") or "", f"{path}.protocol")
    return errs
