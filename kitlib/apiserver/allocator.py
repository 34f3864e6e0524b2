"""Range allocators: the ClusterIPs and NodePorts the API server hands out, each one once.

Every Service of type ClusterIP gets a virtual IP from the service CIDR
(``--service-cluster-ip-range``, ``10.96.0.0/12`` in kubeadm), and every
NodePort or LoadBalancer port a node port from ``--service-node-port-range``
(``30000-32767``). Two Services must never share one, even when two API
servers serve the same cluster. kube-apiserver (before 1.31's IPAddress
objects) keeps each range as one bitmap, bit *i* set when value *i* is
taken, in a ``RangeAllocation`` record in etcd:
``/registry/ranges/serviceips`` and ``/registry/ranges/servicenodeports``.
Every allocation or release is a read-modify-write of that record with a
compare-and-swap, retried on conflict (``allocator/storage``'s
``tryUpdate`` around ``GuaranteedUpdate``): whoever loses the race reads
the winner's bitmap and chooses again, so no value is handed out twice.

A dynamic allocation (:meth:`allocate_next`) picks a random start and scans
forward for a free bit, wrapping around, as kube's ``randomScanStrategy``.
Since KEP-3070 (ClusterIPs) and KEP-3668 (NodePorts) the lowest block of a
range is kept for values users ask for by number (``10.96.0.10`` for DNS):
dynamic allocation uses it only once the rest is full.

    >>> import random; from kitlib.store import open_store
    >>> ips = ServiceIPAllocator(open_store("memory://"), "10.96.0.0/12", rng=random.Random(1))
    >>> ips.allocate("10.96.0.1")
    >>> ips.is_allocated("10.96.0.1"), ips.free_count()
    (True, 1048573)

Simplifications:
- No clock: nothing here depends on time (kube's repair loops, which
  do, are not modelled).
- No repair controllers: kube's ``repair.go`` loops rebuild the bitmaps from
  the Services every few minutes, which frees values leaked by a crash between
  an allocation and the Service write; here a leaked value stays taken.
- The record is created on first use; kube-apiserver refuses to allocate
  ("cannot allocate resources of type ... at this time") until its repair
  controller has initialised it.
- Each call reads the record (kube keeps a cached copy and re-reads only when
  its write loses); the record is JSON, not protobuf.
- IPv6 ranges are capped at 65536 values, as kube does; dual-stack (one
  allocator per family) is left to the caller.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import random
import threading
from typing import Callable, Generic, TypeVar

from kitlib.errors import KitError
from kitlib.store import Store
from kitlib.store.update import guaranteed_update

SERVICE_IPS_KEY = "/registry/ranges/serviceips"
NODE_PORTS_KEY = "/registry/ranges/servicenodeports"
DEFAULT_SERVICE_CIDR = "10.96.0.0/12"  # kubeadm's --service-cidr
DEFAULT_NODE_PORT_RANGE = "30000-32767"  # kube-apiserver's --service-node-port-range

V = TypeVar("V")


class AllocatorError(KitError):
    """A value could not be allocated; the message is kube's (``ipallocator.Err*``)."""


class RangeFull(AllocatorError):
    def __init__(self) -> None:
        super().__init__("range is full")


class AlreadyAllocated(AllocatorError):
    def __init__(self, what: str) -> None:
        super().__init__(f"provided {what} is already allocated")


class NotInRange(AllocatorError):
    """The value lies outside the range (or is the network or broadcast address)."""


class RangeMismatch(AllocatorError):
    """The store holds a bitmap for another range: the cluster was reconfigured under it."""


def static_band(size: int, minimum: int, maximum: int, step: int) -> int:
    """How many low values dynamic allocation leaves to requests by number (kube's ``calculateRangeOffset``).

    ``min(max(minimum, size // step), maximum)``, and none at all in a range of
    ``minimum`` values or fewer.
    """
    if size <= minimum:
        return 0
    return min(max(minimum, size // step), maximum)


def _encode(range_spec: str, bitmap: int) -> bytes:
    # big.Int.Bytes(): big-endian, no leading zero bytes; Go's JSON writes []byte in base64.
    data = bitmap.to_bytes((bitmap.bit_length() + 7) // 8, "big")
    record = {"kind": "RangeAllocation", "apiVersion": "v1", "metadata": {}, "range": range_spec,
              "data": base64.b64encode(data).decode()}
    return json.dumps(record, separators=(",", ":")).encode()


class RangeAllocator(Generic[V]):
    """A bitmap over ``size`` values, persisted at ``key``; subclasses map values to offsets.

    Safe to share between threads and between API servers on one store: the
    store's compare-and-swap is the only lock.
    """

    what = "value"  # "IP" or "port", as kube's messages say

    def __init__(self, store: Store, key: str, range_spec: str, size: int, band: int,
                 rng: random.Random | None = None) -> None:
        self.store = store
        self.key = key
        self.range_spec = range_spec
        self.size = max(0, size)
        self.band = band if band < self.size else 0
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()  # random.Random is not meant to be shared unguarded

    # -- what subclasses provide ------------------------------------------------

    def _offset(self, value: V) -> int | None:
        """The bit of ``value``, or ``None`` if it is not in the range."""
        raise NotImplementedError

    def _value(self, offset: int) -> V:
        raise NotImplementedError

    def _not_in_range(self, value: V) -> NotInRange:
        raise NotImplementedError

    # -- the record ---------------------------------------------------------------

    def _decode(self, raw: bytes | None) -> int:
        if raw is None:
            return 0
        try:
            record = json.loads(raw)
            stored, data = record["range"], base64.b64decode(record.get("data") or "")
        except (ValueError, KeyError, TypeError) as err:
            raise AllocatorError(f"the allocation record at {self.key} is not a RangeAllocation ({err}); "
                                 "delete it to start the range afresh") from None
        if stored != self.range_spec:
            raise RangeMismatch(f"the provided range does not match the current range: {self.key} holds "
                                f"{stored}, this API server was given {self.range_spec}; use the same range "
                                "on every API server, or delete the record to start afresh")
        return int.from_bytes(data, "big")

    def _read(self) -> int:
        kv = self.store.get(self.key)
        return self._decode(kv.value if kv is not None else None)

    def _update(self, change: Callable[[int], int]) -> None:
        """Apply ``change`` to the bitmap with compare-and-swap; a conflict reads again and re-applies it."""
        guaranteed_update(self.store, self.key, lambda raw: _encode(self.range_spec, change(self._decode(raw))))

    # -- the allocator's verbs ----------------------------------------------------------

    def _checked_offset(self, value: V) -> int:
        offset = self._offset(value)
        if offset is None:
            raise self._not_in_range(value)
        return offset

    def allocate(self, value: V) -> None:
        """Take this value; ``NotInRange`` or ``AlreadyAllocated`` if it cannot be had."""
        offset = self._checked_offset(value)

        def take(bitmap: int) -> int:
            if bitmap >> offset & 1:
                raise AlreadyAllocated(self.what)
            return bitmap | 1 << offset

        self._update(take)

    def allocate_next(self) -> V:
        """Take a free value at random, outside the static band while it lasts; ``RangeFull`` when none is left."""
        chosen: list[int] = []

        def take(bitmap: int) -> int:
            # Chosen afresh on every attempt: after a conflict the bitmap is another one.
            offset = self._pick(bitmap)
            chosen[:] = [offset]
            return bitmap | 1 << offset

        self._update(take)
        return self._value(chosen[0])

    def _pick(self, bitmap: int) -> int:
        # randomScanStrategyWithOffset: a random start in the upper band, scan
        # forward and wrap; only then the static band, the same way.
        for low, high in ((self.band, self.size), (0, self.band)):
            if high <= low:
                continue
            with self._rng_lock:
                start = self._rng.randrange(low, high)
            found = _first_free(bitmap, start, high)
            if found is None:
                found = _first_free(bitmap, low, start)
            if found is not None:
                return found
        raise RangeFull()

    def release(self, value: V) -> None:
        """Give the value back. Releasing a free value, or one outside the range, does nothing (as in kube)."""
        offset = self._offset(value)
        if offset is None or not self._read() >> offset & 1:
            return
        self._update(lambda bitmap: bitmap & ~(1 << offset))

    def check(self, value: V) -> None:
        """Raise what :meth:`allocate` would, without taking anything (for dry runs)."""
        if self._read() >> self._checked_offset(value) & 1:
            raise AlreadyAllocated(self.what)

    def is_allocated(self, value: V) -> bool:
        offset = self._offset(value)
        return offset is not None and bool(self._read() >> offset & 1)

    def free_count(self) -> int:
        return self.size - self._read().bit_count()

    def allocated(self) -> list[V]:
        """Every value taken, in order (kube's ``ForEach``)."""
        bitmap, out = self._read(), []
        while bitmap:
            low = bitmap & -bitmap
            out.append(self._value(low.bit_length() - 1))
            bitmap ^= low
        return out


def _first_free(bitmap: int, start: int, end: int) -> int | None:
    """The lowest clear bit in ``[start, end)``, by integer arithmetic rather than a loop over bits."""
    if end <= start:
        return None
    free = ~bitmap & ((1 << end) - 1) & ~((1 << start) - 1)
    if not free:
        return None
    return (free & -free).bit_length() - 1


class ServiceIPAllocator(RangeAllocator[str]):
    """ClusterIPs from the service CIDR; never its network address, nor (IPv4) its broadcast address."""

    what = "IP"

    def __init__(self, store: Store, cidr: str = DEFAULT_SERVICE_CIDR, rng: random.Random | None = None, *,
                 key: str = SERVICE_IPS_KEY) -> None:
        try:
            self.network = ipaddress.ip_network(cidr, strict=False)
        except ValueError as err:
            raise ValueError(f"invalid service CIDR {cidr!r}: {err}") from None
        total = self.network.num_addresses
        if self.network.version == 6:
            usable = min(total, 65536) - 1  # the bitmap is capped, and .0 is never used
            self.family = "IPv6"
        else:
            usable = total - 2  # neither the network nor the broadcast address
            self.family = "IPv4"
        # Offset 0 is the address after the network's: 10.96.0.1.
        self._base = int(self.network.network_address) + 1
        super().__init__(store, key, str(self.network), usable, static_band(total, 16, 256, 16), rng)

    @property
    def first_ip(self) -> str:
        """The range's first usable address, which kube-apiserver gives the ``kubernetes`` Service."""
        return self._value(0)

    def _offset(self, value: str) -> int | None:
        ip = ipaddress.ip_address(value)
        if ip.version != self.network.version or ip not in self.network:
            return None
        offset = int(ip) - self._base
        return offset if 0 <= offset < self.size else None

    def _value(self, offset: int) -> str:
        return str(ipaddress.ip_address(self._base + offset))

    def _not_in_range(self, value: str) -> NotInRange:
        # kube 1.24-1.32 wording (ipallocator.ErrNotInRange); older ones said "provided IP is not ...".
        return NotInRange(f"the provided IP ({value}) is not in the valid range. "
                          f"The range of valid IPs is {self.range_spec}")


def parse_port_range(spec: str) -> tuple[int, int]:
    """``(base, size)`` from ``30000-32767``, ``30000+2767`` or ``30000`` (kube's ``net.ParsePortRange``)."""
    text = spec.strip()
    try:
        if "-" in text:
            low, high = (int(p) for p in text.split("-", 1))
        elif "+" in text:
            low, extra = (int(p) for p in text.split("+", 1))
            high = low + extra
        else:
            low = high = int(text)
    except ValueError:
        raise ValueError(f"invalid port range {spec!r}: write it as 30000-32767") from None
    if not 0 <= low <= high <= 65535:
        raise ValueError(f"invalid port range {spec!r}: ports are 0-65535 and the first comes first")
    return low, high - low + 1


class PortAllocator(RangeAllocator[int]):
    """Node ports from ``--service-node-port-range``."""

    what = "port"

    def __init__(self, store: Store, port_range: str = DEFAULT_NODE_PORT_RANGE, rng: random.Random | None = None, *,
                 key: str = NODE_PORTS_KEY) -> None:
        self.base, size = parse_port_range(port_range)
        super().__init__(store, key, f"{self.base}-{self.base + size - 1}", size, static_band(size, 16, 128, 32), rng)

    def _offset(self, value: int) -> int | None:
        offset = int(value) - self.base
        return offset if 0 <= offset < self.size else None

    def _value(self, offset: int) -> int:
        return self.base + offset

    def _not_in_range(self, value: int) -> NotInRange:
        return NotInRange(f"provided port is not in the valid range. The range of valid ports is {self.range_spec}")
