"""ServiceAllocation: a Service's ClusterIP and node ports, reserved before it is stored.

A Service of type ClusterIP, NodePort or LoadBalancer gets a virtual IP
(``spec.clusterIP``) that kube-proxy on every node turns into rules; a
NodePort or LoadBalancer Service also gets a port on every node for each of
its ports (``spec.ports[*].nodePort``). The API server hands both out from
the range allocators (:mod:`kitlib.apiserver.allocator`), honouring values a
client asks for, before the Service is written, and takes them back when it
is deleted. If the write fails after the reservation, the values go back too
(kube's allocation "transaction": reserve at once, release what the update
drops only once the write has succeeded, since a leaked value is better than
one handed out twice).

Simplifications:
- kube does this in the Service REST storage (``BeginCreate``,
  ``BeginUpdate`` and ``AfterDelete`` in ``pkg/registry/core/service/storage``),
  not in admission; here it is the last plugin of the admission chain, and
  :meth:`ServiceAllocation.finish` stands in for the storage's ``FinishFunc``.
- Single stack: one IP family, the allocator's; dual-stack requests are
  refused as a single-stack cluster refuses them.
- No ``healthCheckNodePort`` (``externalTrafficPolicy: Local``), and only the
  checks of Service validation that must come before allocating.
- A PUT that leaves out the allocated ``clusterIP`` or a port's ``nodePort``
  keeps the allocated value (kube's ``patchAllocatedValues``); a ``clusterIPs``
  list without ``clusterIP`` sets ``clusterIP`` rather than being refused.
- No repair loop: a value leaked by a crash between reservation and write
  stays taken.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from kitlib.api import field, meta
from kitlib.api.errors import InternalError, Invalid, NotFound
from kitlib.api.field import FieldError, GoSyntax
from kitlib.apiserver.admission import CREATE, DELETE, UPDATE, Attributes
from kitlib.apiserver.allocator import (
    AllocatorError,
    AlreadyAllocated,
    NotInRange,
    PortAllocator,
    RangeAllocator,
    RangeFull,
    ServiceIPAllocator,
)
from kitlib.apiserver.defaults import service_ip_family_defaults
from kitlib.apiserver.registry import Registry
from kitlib.apiserver.resources import lookup

Obj = dict[str, Any]

SERVICES = lookup("", "v1", "services")
NONE = "None"  # spec.clusterIP of a headless Service
EXTERNAL_NAME, NODE_PORT, LOAD_BALANCER = "ExternalName", "NodePort", "LoadBalancer"
_VALID_IP = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


# --- reading a Service ------------------------------------------------------------


def _spec(svc: Obj) -> Obj:
    return svc.get("spec") or {}


def _type(svc: Obj) -> str:
    return _spec(svc).get("type") or "ClusterIP"


def needs_cluster_ip(svc: Obj) -> bool:
    return _type(svc) != EXTERNAL_NAME


def needs_node_ports(svc: Obj) -> bool:
    return _type(svc) in (NODE_PORT, LOAD_BALANCER)


def _allocates_node_ports(svc: Obj) -> bool:
    # A LoadBalancer may opt out (allocateLoadBalancerNodePorts: false); a NodePort cannot.
    return _type(svc) == NODE_PORT or (_type(svc) == LOAD_BALANCER
                                         and _spec(svc).get("allocateLoadBalancerNodePorts") is not False)


def _cluster_ips(svc: Obj) -> list[str]:
    return list(_spec(svc).get("clusterIPs") or [])


def _headless(svc: Obj) -> bool:
    return _cluster_ips(svc)[:1] == [NONE]


def _node_ports(svc: Obj) -> list[int]:
    return [p["nodePort"] for p in _spec(svc).get("ports") or [] if p.get("nodePort")]


def held_ips(svc: Obj) -> list[str]:
    """The ClusterIPs a stored Service holds in the allocator."""
    return [ip for ip in _cluster_ips(svc) if ip and ip != NONE] if needs_cluster_ip(svc) else []


def _family(ip: str) -> str | None:
    try:
        return f"IPv{ipaddress.ip_address(ip).version}"
    except ValueError:
        return None


def _stored(registry: Registry, namespace: str, name: str) -> Obj | None:
    try:
        return registry.get(SERVICES, namespace or "default", name)
    except NotFound:
        return None


# --- one request's reservations --------------------------------------------------------


class _Reservation:
    """What one request took (released if it fails) and gave up (released once it succeeds)."""

    def __init__(self, ips: ServiceIPAllocator, ports: PortAllocator, dry_run: bool) -> None:
        self.ips, self.ports, self.dry_run = ips, ports, dry_run
        self.taken: list[tuple[RangeAllocator, Any]] = []
        self.dropped: list[tuple[RangeAllocator, Any]] = []
        self.gone: Obj | None = None  # whose values to release if the write removed the object
        self._placeholder_port = 32768

    def take(self, allocator: RangeAllocator, wanted: Any) -> Any:
        """``wanted``, or any free value if it is empty; a dry run checks and takes nothing."""
        if self.dry_run:
            if wanted:
                allocator.check(wanted)
                return wanted
            if allocator is self.ips:
                return str(self.ips.network.network_address)  # kube's dry-run placeholder
            self._placeholder_port += 1  # kube's dry-run dummies: 32769, 32770...
            return self._placeholder_port
        value = wanted
        if wanted:
            allocator.allocate(wanted)
        else:
            value = allocator.allocate_next()
        self.taken.append((allocator, value))
        return value

    def drop(self, allocator: RangeAllocator, values: list[Any]) -> None:
        self.dropped += [(allocator, v) for v in values]

    def revert(self) -> None:
        for allocator, value in self.taken:
            allocator.release(value)
        self.taken = []

    def commit(self) -> None:
        for allocator, value in self.dropped:
            allocator.release(value)


# --- the plugin ----------------------------------------------------------------------------


class ServiceAllocation:
    """Reserve ClusterIPs and node ports on Service create and update; release them on delete."""

    name = "ServiceAllocation"

    def __init__(self, registry: Registry, ips: ServiceIPAllocator, ports: PortAllocator) -> None:
        self.registry, self.ips, self.ports = registry, ips, ports

    @staticmethod
    def _applies(attrs: Attributes) -> bool:
        return attrs.resource.group == "" and attrs.resource.kind == "Service" and not attrs.subresource

    def admit(self, attrs: Attributes) -> None:
        if not self._applies(attrs):
            return
        if attrs.operation == CREATE and attrs.object is not None:
            reservation = self._create(attrs.object, attrs.dry_run)
        elif attrs.operation == UPDATE and attrs.object is not None and attrs.old_object is not None:
            reservation = self._update(attrs.object, attrs.old_object, attrs.dry_run)
        elif attrs.operation == DELETE:
            reservation = _Reservation(self.ips, self.ports, attrs.dry_run)
            reservation.gone = attrs.old_object or _stored(self.registry, attrs.namespace, attrs.name)
        else:
            return
        attrs.context[self.name] = reservation

    def validate(self, attrs: Attributes) -> None:
        """Nothing: every refusal happens in :meth:`admit`, before anything is reserved."""

    def finish(self, attrs: Attributes, succeeded: bool) -> None:
        """After the write: keep what was taken and release what was dropped, or undo everything."""
        reservation: _Reservation | None = attrs.context.pop(self.name, None)
        if reservation is None or reservation.dry_run:
            return
        if not succeeded:
            reservation.revert()
            return
        reservation.commit()
        # A delete (or the update that removed the last finalizer) that really removed the
        # Service frees all it held; one that only marked it for deletion frees nothing yet.
        if reservation.gone is not None and self._is_gone(reservation.gone):
            self.release(reservation.gone)

    def after_failure(self, attrs: Attributes) -> None:
        """The store write after admission failed: give back what this request reserved."""
        self.finish(attrs, succeeded=False)

    def release(self, service: Obj) -> None:
        """Give back every ClusterIP and node port a stored Service holds."""
        for ip in held_ips(service):
            self.ips.release(ip)
        for port in _node_ports(service):
            self.ports.release(port)

    def _is_gone(self, service: Obj) -> bool:
        current = _stored(self.registry, meta.namespace(service), meta.name(service))
        if current is None:
            return True
        # Same name, another uid: ours was deleted and a new Service took its name.
        return bool(meta.uid(service)) and meta.uid(current) != meta.uid(service)

    # -- create ---------------------------------------------------------------------

    def _create(self, svc: Obj, dry_run: bool) -> _Reservation:
        spec = svc.setdefault("spec", {})
        if spec.get("clusterIP") and not spec.get("clusterIPs"):
            spec["clusterIPs"] = [spec["clusterIP"]]  # an old client sets only the singular field
        self._precheck(svc, None)
        reservation = _Reservation(self.ips, self.ports, dry_run)
        try:
            if needs_cluster_ip(svc) and not _headless(svc):
                self._allocate_cluster_ip(svc, reservation)
            if needs_node_ports(svc):
                self._init_node_ports(svc, reservation)
        except BaseException:
            reservation.revert()
            raise
        return reservation

    def _precheck(self, svc: Obj, old: Obj | None) -> None:
        """The refusals that must come before anything is reserved."""
        spec, name, errors = svc.setdefault("spec", {}), meta.name(svc), []
        if spec.get("clusterIPs") and not spec.get("clusterIP"):
            spec["clusterIP"] = spec["clusterIPs"][0]
        ips = _cluster_ips(svc)
        if needs_cluster_ip(svc):
            for i, ip in enumerate(ips):
                if i == 0 and ip == NONE:
                    continue
                family = _family(ip)
                if family is None:
                    errors.append(field.invalid(f"spec.clusterIPs[{i}]", ip, _VALID_IP))
                elif family != self.ips.family:
                    errors.append(field.invalid(f"spec.clusterIPs[{i}]", ips,
                                                f"{family} is not configured on this cluster"))
            if not errors and len(ips) > 1:
                errors.append(field.invalid("spec.clusterIPs", ips,
                                            "may specify no more than one IP for each IP family"))
        seen: set[tuple[str, int]] = set()
        for i, port in enumerate(spec.get("ports") or []):
            if not port.get("nodePort"):
                continue
            if _type(svc) == "ClusterIP":
                errors.append(field.forbidden(f"spec.ports[{i}].nodePort",
                                              "may not be used when `type` is 'ClusterIP'"))
            key = (port.get("protocol") or "TCP", port["nodePort"])
            if key in seen:
                errors.append(field.duplicate(f"spec.ports[{i}].nodePort", port["nodePort"]))
            seen.add(key)
        if errors:
            raise Invalid("Service", name, errors)
        self._init_families(svc, old)

    def _init_families(self, svc: Obj, old: Obj | None) -> None:
        # kube's initIPFamilyFields, for a cluster with one family.
        if not needs_cluster_ip(svc):
            return
        spec = svc["spec"]
        if spec.get("ipFamilyPolicy") is None and old is not None and _spec(old).get("ipFamilyPolicy"):
            spec["ipFamilyPolicy"] = _spec(old)["ipFamilyPolicy"]  # a PUT that omits it keeps it
        families = list(spec.get("ipFamilies") or [])
        for i, ip in enumerate(_cluster_ips(svc)):
            if ip == NONE:
                break
            if i >= len(families):
                families.append(_family(ip))  # inferred from the IP the client asked for
        if families:
            spec["ipFamilies"] = families
        service_ip_family_defaults(svc, (self.ips.family,))
        if _headless(svc) and not spec.get("selector"):
            return  # headless without selector may name any family, even on a single-stack cluster
        errors: list[FieldError] = []
        if spec.get("ipFamilyPolicy") == "RequireDualStack":
            errors.append(field.invalid("spec.ipFamilyPolicy", "RequireDualStack",
                                        "this cluster is not configured for dual-stack services"))
        for i, family in enumerate(spec.get("ipFamilies") or []):
            if family != self.ips.family:
                errors.append(field.invalid(f"spec.ipFamilies[{i}]", family, "not configured on this cluster"))
        if errors:
            raise Invalid("Service", meta.name(svc), errors)

    def _allocate_cluster_ip(self, svc: Obj, reservation: _Reservation) -> None:
        spec = svc["spec"]
        ips = _cluster_ips(svc)
        wanted = ips[0] if ips else ""
        try:
            ip = reservation.take(self.ips, wanted)
        except RangeFull as err:
            raise InternalError(f"failed to allocate a serviceIP: {err}") from None
        except (NotInRange, AlreadyAllocated) as err:
            raise Invalid("Service", meta.name(svc), [field.invalid(
                "spec.clusterIPs", ips, f"failed to allocate IP {wanted}: {err}")]) from None
        except AllocatorError as err:
            raise InternalError(str(err)) from None
        spec["clusterIP"], spec["clusterIPs"] = ip, [ip]

    def _take_port(self, svc: Obj, reservation: _Reservation, wanted: int, index: int) -> int:
        try:
            return reservation.take(self.ports, wanted)
        except RangeFull as err:
            raise InternalError(f"failed to allocate a nodePort: {err}") from None
        except (NotInRange, AlreadyAllocated) as err:
            raise Invalid("Service", meta.name(svc), [field.invalid(
                f"spec.ports[{index}].nodePort", wanted, str(err))]) from None
        except AllocatorError as err:
            raise InternalError(str(err)) from None

    def _init_node_ports(self, svc: Obj, reservation: _Reservation) -> None:
        # kube's initNodePorts: ports with the same number (TCP and UDP 53) share one node port.
        ports = svc["spec"].get("ports") or []
        by_number: dict[Any, int] = {}
        for i, port in enumerate(ports):
            wanted = port.get("nodePort") or 0
            if not wanted and not _allocates_node_ports(svc):
                continue  # a LoadBalancer without node ports still gets the ones it asks for
            shared = by_number.get(port.get("port"), 0)
            if not shared:
                same = [p["nodePort"] for p in ports if p.get("port") == port.get("port") and p.get("nodePort")]
                asked = same[0] if same else 0  # kube's findRequestedNodePort
                port["nodePort"] = by_number[port.get("port")] = self._take_port(svc, reservation, asked, i)
            elif wanted != shared:
                if wanted:
                    self._take_port(svc, reservation, wanted, i)
                else:
                    port["nodePort"] = shared

    # -- update ---------------------------------------------------------------------

    def _update(self, svc: Obj, old: Obj, dry_run: bool) -> _Reservation:
        spec, old_spec = svc.setdefault("spec", {}), _spec(old)
        _patch_allocated_values(svc, old)
        if spec.get("clusterIP") != old_spec.get("clusterIP") and _cluster_ips(svc) == _cluster_ips(old):
            # Only the singular field changed (an old client): the list follows it.
            spec["clusterIPs"] = [spec["clusterIP"], *_cluster_ips(svc)[1:]] if spec.get("clusterIP") else []
        _drop_type_dependent_fields(svc, old)
        _check_cluster_ips_unchanged(svc, old)
        self._precheck(svc, old)
        reservation = _Reservation(self.ips, self.ports, dry_run)
        reservation.gone = svc
        try:
            if not needs_cluster_ip(old) and needs_cluster_ip(svc) and not _headless(svc):
                self._allocate_cluster_ip(svc, reservation)  # from ExternalName
            elif needs_cluster_ip(old) and not needs_cluster_ip(svc):
                reservation.drop(self.ips, held_ips(old))  # to ExternalName
            if needs_node_ports(old) and not needs_node_ports(svc):
                reservation.drop(self.ports, _node_ports(old))
            if needs_node_ports(svc):
                self._update_node_ports(svc, old, reservation)
        except BaseException:
            reservation.revert()
            raise
        return reservation

    def _update_node_ports(self, svc: Obj, old: Obj, reservation: _Reservation) -> None:
        # kube's updateNodePorts: keep what the old Service held, take what is new, drop the rest.
        held = _node_ports(old)
        taken: set[int] = set()
        for i, port in enumerate(svc["spec"].get("ports") or []):
            wanted = port.get("nodePort") or 0
            if not wanted and not _allocates_node_ports(svc):
                continue
            if not wanted:
                port["nodePort"] = self._take_port(svc, reservation, 0, i)
            elif wanted not in held and wanted not in taken:
                self._take_port(svc, reservation, wanted, i)
                taken.add(wanted)
        kept = set(_node_ports(svc))
        reservation.drop(self.ports, [p for p in held if p not in kept])


def _patch_allocated_values(svc: Obj, old: Obj) -> None:
    """Fill in allocated values a PUT left out, so that re-applying a manifest changes nothing."""
    spec, old_spec = svc["spec"], _spec(old)
    if needs_cluster_ip(old) and needs_cluster_ip(svc):
        if not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
        if not spec.get("clusterIPs") and old_spec.get("clusterIPs"):
            spec["clusterIPs"] = list(old_spec["clusterIPs"])
    if needs_node_ports(old) and needs_node_ports(svc):
        in_use = set(_node_ports(old)) & set(_node_ports(svc))
        by_name = {p.get("name", ""): p.get("nodePort") for p in old_spec.get("ports") or []}
        for port in spec.get("ports") or []:
            previous = by_name.get(port.get("name", ""))
            if not port.get("nodePort") and previous and previous not in in_use:
                port["nodePort"] = previous


def _drop_type_dependent_fields(svc: Obj, old: Obj) -> None:
    """Wipe what the new type does not use, if the client left it as the old type had it (kube's strategy)."""
    spec, old_spec = svc["spec"], _spec(old)
    if needs_cluster_ip(old) and not needs_cluster_ip(svc):
        if spec.get("clusterIP") == old_spec.get("clusterIP") and _cluster_ips(svc) == _cluster_ips(old):
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        for key in ("ipFamilies", "ipFamilyPolicy"):
            if spec.get(key) == old_spec.get(key):
                spec.pop(key, None)
    if needs_node_ports(old) and not needs_node_ports(svc) and _node_ports(svc) == _node_ports(old):
        for port in spec.get("ports") or []:
            port.pop("nodePort", None)
    if _type(old) == LOAD_BALANCER and _type(svc) != LOAD_BALANCER and \
            spec.get("allocateLoadBalancerNodePorts") == old_spec.get("allocateLoadBalancerNodePorts"):
        spec.pop("allocateLoadBalancerNodePorts", None)


def _check_cluster_ips_unchanged(svc: Obj, old: Obj) -> None:
    """A ClusterIP is for the Service's lifetime, except when it becomes or stops being ExternalName."""
    if not needs_cluster_ip(svc) or not needs_cluster_ip(old) or (_headless(svc) and _headless(old)):
        return
    new_ips, old_ips = _cluster_ips(svc), _cluster_ips(old)
    errors = []
    if len(new_ips) == len(old_ips):
        errors = [field.invalid(f"spec.clusterIPs[{i}]", new_ips, "may not change once set")
                  for i, ip in enumerate(old_ips) if ip != new_ips[i]]
    elif not new_ips:
        errors = [field.invalid("spec.clusterIPs[0]", GoSyntax("[]string(nil)"), "primary clusterIP can not be unset")]
    elif old_ips and new_ips[0] != old_ips[0]:
        errors = [field.invalid("spec.clusterIPs[0]", new_ips, "may not change once set")]
    if errors:
        raise Invalid("Service", meta.name(svc), errors)
