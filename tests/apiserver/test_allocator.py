"""Range allocators: ClusterIPs and NodePorts handed out once, kept in the store, safe under races."""

from __future__ import annotations

import base64
import ipaddress
import json
import random
import threading

import pytest

from kitlib.apiserver.allocator import (
    NODE_PORTS_KEY,
    SERVICE_IPS_KEY,
    AlreadyAllocated,
    NotInRange,
    PortAllocator,
    RangeFull,
    RangeMismatch,
    ServiceIPAllocator,
    parse_port_range,
    static_band,
)
from kitlib.store import open_store


@pytest.fixture
def store():
    store = open_store("memory://", lessor=False)
    yield store
    store.close()


def ips(store, cidr="10.96.0.0/12", seed=1):
    return ServiceIPAllocator(store, cidr, rng=random.Random(seed))


def ports(store, spec="30000-32767", seed=1):
    return PortAllocator(store, spec, rng=random.Random(seed))


# --- allocating a value by name ------------------------------------------------------

IP_RANGE_TEXT = "The range of valid IPs is 10.96.0.0/12"
PORT_RANGE_TEXT = "provided port is not in the valid range. The range of valid ports is 30000-32767"


@pytest.mark.parametrize(
    "make, value, error, message",
    [
        (ips, "10.96.0.1", None, ""),
        (ips, "10.111.255.254", None, ""),
        (ips, "10.96.0.0", NotInRange, f"the provided IP (10.96.0.0) is not in the valid range. {IP_RANGE_TEXT}"),
        (ips, "10.111.255.255", NotInRange,
         f"the provided IP (10.111.255.255) is not in the valid range. {IP_RANGE_TEXT}"),
        (ips, "1.1.1.1", NotInRange, f"the provided IP (1.1.1.1) is not in the valid range. {IP_RANGE_TEXT}"),
        (ips, "fd00::1", NotInRange, f"the provided IP (fd00::1) is not in the valid range. {IP_RANGE_TEXT}"),
        (ports, 30000, None, ""),
        (ports, 32767, None, ""),
        (ports, 29999, NotInRange, PORT_RANGE_TEXT),
        (ports, 32768, NotInRange, PORT_RANGE_TEXT),
    ],
    ids=["first-ip", "last-ip", "network-address", "broadcast-address", "outside", "other-family",
         "first-port", "last-port", "below", "above"],
)
def test_allocate_a_named_value(store, make, value, error, message):
    allocator = make(store)
    if error is None:
        allocator.allocate(value)
        assert allocator.is_allocated(value) and allocator.allocated() == [value]
        assert allocator.free_count() == allocator.size - 1
        return
    with pytest.raises(error) as info:
        allocator.allocate(value)
    assert str(info.value) == message
    assert allocator.free_count() == allocator.size and not allocator.is_allocated(value)


@pytest.mark.parametrize("make, value, message", [
    (ips, "10.96.0.10", "provided IP is already allocated"),
    (ports, 30080, "provided port is already allocated"),
], ids=["ip", "port"])
def test_a_value_is_handed_out_once(store, make, value, message):
    allocator = make(store)
    allocator.allocate(value)
    with pytest.raises(AlreadyAllocated, match=f"^{message}$"):
        allocator.allocate(value)
    with pytest.raises(AlreadyAllocated):
        allocator.check(value)  # the dry-run check says the same, and takes nothing
    allocator.release(value)
    allocator.check(value)
    allocator.allocate(value)


@pytest.mark.parametrize(
    "cidr, usable, first, last",
    [
        ("10.96.0.0/12", 2**20 - 2, "10.96.0.1", "10.111.255.254"),
        ("10.0.0.0/29", 6, "10.0.0.1", "10.0.0.6"),
        ("10.0.0.0/30", 2, "10.0.0.1", "10.0.0.2"),
        ("10.0.0.5/24", 254, "10.0.0.1", "10.0.0.254"),  # host bits are ignored, as Go's ParseCIDR does
        ("fd00::/120", 255, "fd00::1", "fd00::ff"),  # IPv6 has no broadcast address
        ("fd00::/64", 65535, "fd00::1", "fd00::ffff"),  # and a bitmap of at most 65536
    ],
)
def test_usable_addresses(store, cidr, usable, first, last):
    allocator = ips(store, cidr)
    assert allocator.size == usable and allocator.first_ip == first
    allocator.allocate(last)
    with pytest.raises(NotInRange):
        allocator.allocate(str(ipaddress.ip_address(last) + 1))


# --- allocating any free value -------------------------------------------------------------


def test_allocate_next_until_the_range_is_full(store):
    allocator = ips(store, "10.0.0.0/29")
    taken = {allocator.allocate_next() for _ in range(6)}
    assert taken == {f"10.0.0.{i}" for i in range(1, 7)}
    assert allocator.free_count() == 0
    with pytest.raises(RangeFull, match="^range is full$"):
        allocator.allocate_next()
    allocator.release("10.0.0.4")
    assert allocator.allocate_next() == "10.0.0.4"


@pytest.mark.parametrize(
    "size, minimum, maximum, step, band",
    [
        (2**20, 16, 256, 16, 256),  # a /12: kube keeps 10.96.0.1 - 10.96.1.0 for requests by number
        (256, 16, 256, 16, 16),  # a /24
        (16, 16, 256, 16, 0),  # a /28 is too small to split
        (2768, 16, 128, 32, 86),  # node ports 30000-32767: 30000-30085 are kept
        (100, 16, 128, 32, 16),
    ],
)
def test_static_band(size, minimum, maximum, step, band):
    assert static_band(size, minimum, maximum, step) == band


@pytest.mark.parametrize("make, lowest_dynamic", [(ips, "10.96.1.1"), (ports, 30086)], ids=["ips", "ports"])
def test_dynamic_values_avoid_the_static_band(store, make, lowest_dynamic):
    allocator = make(store)
    chosen = [allocator.allocate_next() for _ in range(40)]
    key = ipaddress.ip_address if make is ips else int
    assert all(key(v) >= key(lowest_dynamic) for v in chosen)
    assert len(set(chosen)) == 40


def test_the_static_band_is_used_once_the_rest_is_full(store):
    allocator = ports(store, "30000-30099")  # 100 ports, the lowest 16 kept
    dynamic = {allocator.allocate_next() for _ in range(84)}
    assert dynamic == set(range(30016, 30100))
    assert set(allocator.allocate_next() for _ in range(16)) == set(range(30000, 30016))
    with pytest.raises(RangeFull):
        allocator.allocate_next()


def test_the_choice_is_random_and_seeded(store):
    stores = [open_store("memory://", lessor=False) for _ in range(2)]
    first = [ips(s, seed=7).allocate_next() for s in stores]
    for s in stores:
        s.close()
    assert first[0] == first[1]  # same seed, same empty range: same choice
    a, b = ips(store, seed=1), ips(store, seed=2)
    assert a.allocate_next() != b.allocate_next()


# --- releasing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("make, value", [(ips, "1.2.3.4"), (ips, "10.96.0.7"), (ports, 80), (ports, 30007)],
                         ids=["ip-outside", "ip-free", "port-outside", "port-free"])
def test_releasing_what_is_not_held_does_nothing(store, make, value):
    allocator = make(store)
    allocator.allocate_next()
    revision = store.revision
    allocator.release(value)
    assert store.revision == revision and allocator.free_count() == allocator.size - 1


# --- the record in the store ----------------------------------------------------------------


@pytest.mark.parametrize("make, key, values, range_spec", [
    (ips, SERVICE_IPS_KEY, ["10.96.0.1", "10.96.0.10"], "10.96.0.0/12"),
    (ports, NODE_PORTS_KEY, [30000, 30080], "30000-32767"),
], ids=["serviceips", "servicenodeports"])
def test_the_record_is_a_range_allocation(store, make, key, values, range_spec):
    allocator = make(store)
    for value in values:
        allocator.allocate(value)
    record = json.loads(store.get(key).value)
    assert record["kind"] == "RangeAllocation" and record["apiVersion"] == "v1"
    assert record["range"] == range_spec
    bitmap = int.from_bytes(base64.b64decode(record["data"]), "big")
    assert bitmap == sum(1 << allocator._offset(v) for v in values)  # bit i = the i-th usable value


def test_a_second_allocator_on_the_store_sees_earlier_allocations(store):
    first = ips(store)
    first.allocate("10.96.0.10")
    taken = first.allocate_next()
    second = ips(store, seed=99)
    assert second.allocated() == sorted([taken, "10.96.0.10"], key=ipaddress.ip_address)
    with pytest.raises(AlreadyAllocated):
        second.allocate(taken)


def test_allocations_survive_a_restart(tmp_path):
    store = open_store(tmp_path, lessor=False)
    PortAllocator(store).allocate(30080)
    taken = ips(store).allocate_next()
    store.close()
    store = open_store(tmp_path, lessor=False)
    try:
        assert PortAllocator(store).allocated() == [30080]
        assert ips(store, seed=5).is_allocated(taken)
    finally:
        store.close()


def test_two_api_servers_share_one_range(store):
    a, b = ips(store, "10.0.0.0/29", seed=1), ips(store, "10.0.0.0/29", seed=1)
    a.allocate("10.0.0.3")
    with pytest.raises(AlreadyAllocated):
        b.allocate("10.0.0.3")
    handed = [a.allocate_next() if i % 2 else b.allocate_next() for i in range(5)]
    assert sorted(handed + ["10.0.0.3"]) == [f"10.0.0.{i}" for i in range(1, 7)]
    b.release("10.0.0.3")
    assert not a.is_allocated("10.0.0.3")


def test_another_range_on_the_same_record_is_refused(store):
    ips(store, "10.96.0.0/12").allocate_next()
    with pytest.raises(RangeMismatch, match="^the provided range does not match the current range: "):
        ips(store, "10.0.0.0/24").allocate_next()


# --- races ------------------------------------------------------------------------------------


def _race(workers):
    barrier = threading.Barrier(len(workers))
    results: list[list] = [[] for _ in workers]

    def run(i, work):
        barrier.wait()
        results[i] = work()

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return results


def _drain(allocator):
    def work():
        got = []
        while True:
            try:
                got.append(allocator.allocate_next())
            except RangeFull:
                return got
    return work


@pytest.mark.parametrize("shared", [True, False], ids=["one-allocator", "eight-allocators"])
def test_eight_threads_never_get_the_same_ip(store, shared):
    one = ips(store, "10.0.0.0/26")  # 62 addresses
    allocators = [one if shared else ips(store, "10.0.0.0/26", seed=1) for _ in range(8)]
    results = _race([_drain(a) for a in allocators])
    everything = [ip for got in results for ip in got]
    assert len(everything) == len(set(everything)) == 62
    assert one.free_count() == 0


def test_eight_threads_asking_for_one_port_one_wins(store):
    allocators = [ports(store, seed=i) for i in range(8)]

    def claim(allocator):
        def work():
            try:
                allocator.allocate(30080)
                return ["won"]
            except AlreadyAllocated:
                return []
        return work

    results = _race([claim(a) for a in allocators])
    assert sum(len(r) for r in results) == 1
    assert allocators[0].allocated() == [30080]


def test_releases_and_allocations_race_without_loss(store):
    allocator = ports(store, "30000-30063")
    held = [allocator.allocate_next() for _ in range(32)]

    def release():
        for port in held:
            allocator.release(port)
        return []

    results = _race([release, _drain(allocator), _drain(ports(store, "30000-30063", seed=3))])
    got = results[1] + results[2]
    assert len(got) == len(set(got))
    # Each held port was released once; what the drainers took is exactly what is taken now.
    assert allocator.allocated() == sorted(got)


# --- configuration ---------------------------------------------------------------------------------


@pytest.mark.parametrize("spec, parsed", [
    ("30000-32767", (30000, 2768)), ("30000+2767", (30000, 2768)), ("8080", (8080, 1)), (" 1-2 ", (1, 2)),
])
def test_parse_port_range(spec, parsed):
    assert parse_port_range(spec) == parsed


@pytest.mark.parametrize("spec", ["", "a-b", "32767-30000", "1-70000", "-5"])
def test_bad_port_ranges(spec):
    with pytest.raises(ValueError, match="invalid port range"):
        parse_port_range(spec)


def test_bad_cidr(store):
    with pytest.raises(ValueError, match="invalid service CIDR"):
        ServiceIPAllocator(store, "10.96.0.0/33")
