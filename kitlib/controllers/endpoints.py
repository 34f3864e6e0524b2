"""The Endpoints controller: for each Service with a selector, an Endpoints object listing its Pods' addresses.

kube-controller-manager's ``pkg/controller/endpoint``. For each Service,
``sync`` (``syncService``):

1. a Service deleted: deletes the Endpoints of the same name; a Service
   without ``spec.selector``: leaves its Endpoints alone (the user manages
   them, e.g. to point at something outside the cluster);
2. lists the Pods its selector matches, keeps those that should be in
   Endpoints (``ShouldPodBeInEndpoints``: have an IP, are not finished for
   good, are not being deleted unless ``publishNotReadyAddresses``), and
   for each Service port resolves the target port against the Pod's
   container ports (a named ``targetPort``, ``FindPort``); a ready Pod (or
   any, with ``publishNotReadyAddresses``) goes to ``addresses``, another
   to ``notReadyAddresses``;
3. packs the result as ``RepackSubsets`` does (ports with the same
   addresses share one subset; addresses sorted by IP, then Pod UID) and
   creates or updates the Endpoints if its subsets or labels changed,
   with the Service's labels (plus ``service.kubernetes.io/headless`` for a
   headless Service) and the ``endpoints.kubernetes.io/last-change-trigger-time``
   annotation (``TriggerTimeTracker``: the earliest change not yet published).

Simplifications:
- No ``endpoints.kubernetes.io/over-capacity`` truncation at 1000 addresses.
- Subsets are ordered by their ports (kube orders them by a hash of their
  content, which is stable but meaningless), ports by name, port, protocol.
- Any change of a Pod of the Service triggers a sync (kube first checks
  that a field the Endpoints show changed, ``podEndpointsChanged``).
- Only ``status.podIP`` is used (kube picks the IP of the Service's family).
- No ``endpoints.kubernetes.io/managed-by`` label: kube 1.32 sets none
  (it arrives in 1.33 with KEP-4974, the deprecation of Endpoints).
"""

from __future__ import annotations

import logging
from typing import Any

from kitlib.api.errors import NotFound
from kitlib.api.meta import deep_copy, key_of, labels, namespace, rfc3339_micro, split_key, parse_rfc3339
from kitlib.api.selectors import selector_from_set
from kitlib.client.indexer import NAMESPACE_INDEX
from kitlib.controllers.base import Controller, unwrap
from kitlib.controllers.controller_utils import is_pod_ready, ready_condition

log = logging.getLogger(__name__)

Obj = dict[str, Any]

TRIGGER_TIME_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time"  # v1.EndpointsLastChangeTriggerTime
HEADLESS_LABEL = "service.kubernetes.io/headless"  # v1.IsHeadlessService


def should_pod_be_in_endpoints(pod: Obj, include_terminating: bool) -> bool:
    """Whether a Pod's address belongs in Endpoints at all (``endpointsliceutil.ShouldPodBeInEndpoints``)."""
    status, spec = pod.get("status") or {}, pod.get("spec") or {}
    if not status.get("podIP") and not status.get("podIPs"):
        return False  # no sandbox yet: nothing to send traffic to
    if not include_terminating and (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    policy, phase = spec.get("restartPolicy", "Always"), status.get("phase")
    if policy == "Never":
        return phase not in ("Failed", "Succeeded")  # it will never run again
    if policy == "OnFailure":
        return phase != "Succeeded"
    return True


def find_port(pod: Obj, service_port: Obj) -> int | None:
    """The container port a Service port targets on this Pod, or None (``podutil.FindPort``)."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol", "TCP")
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target and port.get("protocol", "TCP") == protocol:
                return port.get("containerPort")
    return None  # this Pod does not expose it: the Pod is left out for this port only


def endpoint_address(pod: Obj, service: Obj) -> Obj:
    """A Pod as an Endpoints address (``podToEndpointAddressForService`` plus ``ShouldSetHostname``)."""
    meta, spec = pod["metadata"], pod.get("spec") or {}
    address: Obj = {"ip": pod["status"].get("podIP") or pod["status"]["podIPs"][0]["ip"]}
    if spec.get("hostname") and spec.get("subdomain") == service["metadata"]["name"] \
            and meta.get("namespace") == namespace(service):
        address["hostname"] = spec["hostname"]
    if spec.get("nodeName"):
        address["nodeName"] = spec["nodeName"]
    address["targetRef"] = {"kind": "Pod", "namespace": meta.get("namespace", ""), "name": meta["name"],
                            "uid": meta.get("uid", "")}
    return address


def _address_order(address: Obj) -> tuple:
    # LessEndpointAddress: the IP as bytes, then the target's UID (no target first).
    ref = address.get("targetRef")
    return (address.get("ip", "").encode(), ref is not None, (ref or {}).get("uid", ""))


def _port_order(port: Obj) -> tuple:
    return (port.get("name", ""), port.get("port", 0), port.get("protocol", "TCP"))


def repack_subsets(entries: list[tuple[Obj, Obj | None, bool]]) -> list[Obj]:
    """Group ``(address, port or None, ready)`` entries into subsets, as ``endpoints.RepackSubsets`` does.

    Each port collects its addresses (ready wins if an address is both);
    ports with the very same addresses share a subset. ``None`` stands for
    "no port" (a headless Service without ports).
    """
    by_port: dict[tuple, dict[tuple, tuple[Obj, bool]]] = {}
    ports: dict[tuple, Obj | None] = {}
    for address, port, ready in entries:
        port_key = tuple(sorted((port or {"port": -1}).items()))
        ports[port_key] = port
        addr_key = (address["ip"], (address.get("targetRef") or {}).get("uid", ""))
        known = by_port.setdefault(port_key, {}).get(addr_key)
        if known is None or (ready and not known[1]):
            by_port[port_key][addr_key] = (address, ready)
    groups: dict[frozenset, list[Obj]] = {}
    members: dict[frozenset, dict] = {}
    for port_key, addresses in by_port.items():
        signature = frozenset((k, r) for k, (_, r) in addresses.items())
        members[signature] = addresses
        if ports[port_key] is not None:
            groups.setdefault(signature, []).append(ports[port_key])
        else:
            groups.setdefault(signature, [])
    subsets = []
    for signature, group_ports in groups.items():
        subset: Obj = {}
        ready = sorted((a for a, r in members[signature].values() if r), key=_address_order)
        not_ready = sorted((a for a, r in members[signature].values() if not r), key=_address_order)
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        if group_ports:
            subset["ports"] = sorted(group_ports, key=_port_order)
        subsets.append(subset)
    return sorted(subsets, key=lambda s: [_port_order(p) for p in s.get("ports") or []])


def desired_subsets(service: Obj, pods: list[Obj]) -> list[Obj]:
    """The subsets these Pods give ``service`` (the loop of ``syncService``, then ``RepackSubsets``)."""
    spec = service.get("spec") or {}
    publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
    entries: list[tuple[Obj, Obj | None, bool]] = []
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, publish_not_ready):
            continue
        address = endpoint_address(pod, service)
        ready = publish_not_ready or is_pod_ready(pod)  # addEndpointSubset: tolerate unready, or ready
        if not spec.get("ports"):
            if spec.get("clusterIP") == "None":  # only a headless Service may have no ports
                entries.append((address, None, ready))
            continue
        for service_port in spec["ports"]:
            number = find_port(pod, service_port)
            if number is None:
                log.debug("Pod %s has no port %s for Service %s", key_of(pod), service_port.get("targetPort"),
                          key_of(service))
                continue
            port: Obj = {"port": number, "protocol": service_port.get("protocol", "TCP")}
            if service_port.get("name"):
                port["name"] = service_port["name"]
            if service_port.get("appProtocol"):
                port["appProtocol"] = service_port["appProtocol"]
            entries.append((address, port, ready))
    return repack_subsets(entries)


class TriggerTimeTracker:
    """The earliest change each Service's Endpoints have not published yet (kube's ``TriggerTimeTracker``).

    A Pod's trigger time is its Ready condition's ``lastTransitionTime``; a
    Service's, its ``creationTimestamp``. Only those that moved since the
    last sync count; a Service seen for the first time reports its creation.
    """

    def __init__(self) -> None:
        self.states: dict[str, tuple[dict[str, float], float]] = {}

    def compute(self, key: str, service: Obj, pods: list[Obj]) -> float | None:
        known = key in self.states
        last_pods, last_service = self.states.get(key, ({}, 0.0))
        earliest: float | None = None
        pod_times: dict[str, float] = {}
        for pod in pods:
            condition = ready_condition(pod)
            if condition and condition.get("lastTransitionTime"):
                when = parse_rfc3339(condition["lastTransitionTime"])
                pod_times[pod["metadata"]["name"]] = when
                if when > last_pods.get(pod["metadata"]["name"], 0.0):
                    earliest = when if earliest is None else min(earliest, when)
        created = (service.get("metadata") or {}).get("creationTimestamp")
        service_time = parse_rfc3339(created) if created else 0.0
        if service_time > last_service:
            earliest = service_time if earliest is None else min(earliest, service_time)
        self.states[key] = (pod_times, service_time)
        return service_time if not known else earliest

    def delete(self, key: str) -> None:
        self.states.pop(key, None)


class EndpointsController(Controller):
    """kube's ``endpoint.Controller``: Services and Pods in, Endpoints out."""

    name = "endpoint"
    kind = "Service"
    api_version = "v1"
    workers = 5  # --concurrent-endpoint-syncs

    def __init__(self, client, **options: Any) -> None:
        super().__init__(client, **options)
        self.triggers = TriggerTimeTracker()
        self.services = self.informer(("v1", "Service"), primary=True)
        self.services.add_event_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                                        on_delete=self.enqueue)
        self.pods = self.informer(("v1", "Pod"))
        self.pods.add_event_handler(on_add=self.add_pod, on_update=self.update_pod, on_delete=self.add_pod)
        self.endpoints = self.informer(("v1", "Endpoints"))
        # onEndpointsDelete: someone deleted our Endpoints; its Service (if any) makes them again.
        self.endpoints.add_event_handler(on_delete=self.enqueue)

    def pod_services(self, pod: Obj) -> list[Obj]:
        """The Services whose selector matches the Pod (``GetPodServiceMemberships``)."""
        found = []
        for service in self.services.indexer.by_index(NAMESPACE_INDEX, namespace(pod)):
            selector = (service.get("spec") or {}).get("selector")
            if selector and selector_from_set(selector).matches(labels(pod)):
                found.append(service)
        return found

    def add_pod(self, obj: Obj) -> None:
        for service in self.pod_services(unwrap(obj)):
            self.enqueue(service)

    def update_pod(self, old: Obj, new: Obj) -> None:
        if old.get("metadata", {}).get("resourceVersion") == new.get("metadata", {}).get("resourceVersion"):
            return  # a resync
        services = {key_of(s) for s in self.pod_services(new)}
        if labels(old) != labels(new):
            services |= {key_of(s) for s in self.pod_services(old)}  # the Services it left must drop it
        for key in services:
            self.enqueue(key)

    def sync(self, key: str) -> None:
        ns, svc_name = split_key(key)
        service = self.services.indexer.get_by_key(key)
        if service is None:
            # The Service is gone: its Endpoints go too (kube deletes them rather than wait for the GC).
            self.triggers.delete(key)
            try:
                self.client.resource("endpoints").delete(svc_name, namespace=ns)
                log.info("deleted Endpoints %s: its Service is gone", key)
            except NotFound:
                pass
            return
        selector = (service.get("spec") or {}).get("selector")
        if not selector:
            return  # no selector: the Endpoints are the user's to write
        pods = [p for p in self.pods.indexer.by_index(NAMESPACE_INDEX, ns)
                if selector_from_set(selector).matches(labels(p))]
        subsets = desired_subsets(service, pods)
        trigger = self.triggers.compute(key, service, pods)

        current = self.endpoints.indexer.get_by_key(key)
        want_labels = dict(labels(service))
        if (service.get("spec") or {}).get("clusterIP") == "None":
            want_labels[HEADLESS_LABEL] = ""
        if current is not None and (current.get("subsets") or []) == subsets and labels(current) == want_labels:
            log.debug("Endpoints %s unchanged", key)
            return
        endpoints = deep_copy(current) if current is not None else {
            "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": svc_name, "namespace": ns}}
        endpoints.setdefault("apiVersion", "v1")
        endpoints.setdefault("kind", "Endpoints")
        meta = endpoints["metadata"]
        meta["labels"] = want_labels
        annotations = dict(meta.get("annotations") or {})
        if trigger:
            annotations[TRIGGER_TIME_ANNOTATION] = rfc3339_micro(trigger)
        else:
            annotations.pop(TRIGGER_TIME_ANNOTATION, None)
        if annotations:
            meta["annotations"] = annotations
        else:
            meta.pop("annotations", None)
        endpoints["subsets"] = subsets
        resource = self.client.resource("endpoints")
        if current is None:
            resource.create(endpoints, namespace=ns)
            log.info("created Endpoints %s with %d subsets", key, len(subsets))
        else:
            resource.update(endpoints)  # a Conflict raises: the key is retried with a fresher cache
            log.info("updated Endpoints %s: %d subsets", key, len(subsets))
