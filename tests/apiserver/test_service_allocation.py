"""ServiceAllocation: ClusterIPs and node ports reserved, kept, released and rolled back as kube does."""

from __future__ import annotations

import random
import threading

import pytest

from kitlib.api.errors import InternalError, Invalid
from kitlib.apiserver.admission import CREATE, DELETE, UPDATE, Attributes, Chain, ensure_kubernetes_service
from kitlib.apiserver.allocator import PortAllocator, ServiceIPAllocator
from kitlib.apiserver.defaults import apply_defaults
from kitlib.apiserver.registry import Registry
from kitlib.apiserver.resources import lookup
from kitlib.apiserver.service_allocation import ServiceAllocation
from kitlib.clock import FakeClock
from kitlib.store import open_store

SERVICES = lookup("", "v1", "services")


class Cluster:
    """One API server's view: a registry, both allocators, and the plugin in a chain."""

    def __init__(self, store, cidr="10.96.0.0/12", node_ports="30000-32767", seed=1):
        self.registry = Registry(store, clock=FakeClock(), rng=random.Random(seed))
        self.ips = ServiceIPAllocator(store, cidr, rng=random.Random(seed))
        self.ports = PortAllocator(store, node_ports, rng=random.Random(seed))
        self.plugin = ServiceAllocation(self.registry, self.ips, self.ports)
        self.chain = Chain([self.plugin])

    def create(self, svc, namespace="default", dry_run=False):
        """What the server does for POST: default, admit, write, finish."""
        with self.chain.session() as session:
            attrs = Attributes(CREATE, SERVICES, namespace, svc["metadata"]["name"], apply_defaults(svc), dry_run=dry_run)
            obj = session.run(attrs)
            return obj if dry_run else self.registry.create(SERVICES, obj, namespace)

    def update(self, name, change, namespace="default"):
        """What the server does for PUT: merge inside guaranteed_update, admit each attempt."""
        with self.chain.session() as session:
            def replace(current):
                new = change(dict(current, spec=dict(current["spec"])))
                new = self.registry.merge_update(SERVICES, current, apply_defaults(new))
                return session.run(Attributes(UPDATE, SERVICES, namespace, name, new, current))
            return self.registry.guaranteed_update(SERVICES, namespace, name, replace)

    def delete(self, name, namespace="default"):
        with self.chain.session() as session:
            session.run(Attributes(DELETE, SERVICES, namespace, name))
            return self.registry.delete(SERVICES, namespace, name)


@pytest.fixture
def store():
    store = open_store("memory://", lessor=False)
    yield store
    store.close()


@pytest.fixture
def cluster(store):
    return Cluster(store)


def service(name="web", type_="ClusterIP", ports=((80, None),), **spec):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": type_, "selector": {"app": name},
                     "ports": [{"name": f"p{port}", "port": port, **({"nodePort": node} if node else {})}
                               for port, node in ports], **spec}}


def node_ports(svc):
    return [p.get("nodePort") for p in svc["spec"]["ports"]]


# --- create ------------------------------------------------------------------------------------


def test_a_cluster_ip_service_gets_a_dynamic_ip(cluster):
    svc = cluster.create(service())
    spec = svc["spec"]
    assert spec["clusterIPs"] == [spec["clusterIP"]] and cluster.ips.allocated() == [spec["clusterIP"]]
    assert spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
    assert cluster.ips._offset(spec["clusterIP"]) >= 256  # above the band kept for requests by number
    assert "nodePort" not in spec["ports"][0] and cluster.ports.allocated() == []


@pytest.mark.parametrize(
    "spec, cluster_ips, families, node_ports_wanted",
    [
        ({"clusterIP": "10.96.0.10"}, ["10.96.0.10"], ["IPv4"], [None]),
        ({"clusterIPs": ["10.96.0.10"]}, ["10.96.0.10"], ["IPv4"], [None]),  # a new client may set the list only
        ({"clusterIP": "None"}, ["None"], ["IPv4"], [None]),  # headless: nothing reserved
        ({"clusterIP": "None", "selector": None}, ["None"], ["IPv4", "IPv6"], [None]),  # kube asks for both
        ({"type": "NodePort"}, None, ["IPv4"], ["dynamic"]),
        ({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}, None, ["IPv4"], [30080]),
        ({"type": "LoadBalancer"}, None, ["IPv4"], ["dynamic"]),
        ({"type": "LoadBalancer", "allocateLoadBalancerNodePorts": False}, None, ["IPv4"], [None]),
        ({"type": "LoadBalancer", "allocateLoadBalancerNodePorts": False,
          "ports": [{"port": 80, "nodePort": 30080}]}, None, ["IPv4"], [30080]),  # but asked-for ones are honoured
    ],
    ids=["requested-ip", "requested-ips-list", "headless", "headless-no-selector", "nodeport", "requested-nodeport",
         "loadbalancer", "loadbalancer-without-nodeports", "loadbalancer-asked-nodeport"],
)
def test_create(cluster, spec, cluster_ips, families, node_ports_wanted):
    svc = cluster.create({**service(), "spec": {**service()["spec"], **spec}})
    got = svc["spec"]
    if cluster_ips is not None:
        assert got["clusterIPs"] == cluster_ips and got["clusterIP"] == cluster_ips[0]
    assert got.get("ipFamilies") == families
    held = [p for p in node_ports(svc) if p]
    assert [("dynamic" if p and p not in (30080,) else p) for p in node_ports(svc)] == node_ports_wanted
    assert cluster.ports.allocated() == sorted(held)
    assert cluster.ips.allocated() == [ip for ip in got["clusterIPs"] if ip != "None"]


def test_external_name_gets_nothing(cluster):
    svc = cluster.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
                          "spec": {"type": "ExternalName", "externalName": "db.example.com"}})
    assert "clusterIP" not in svc["spec"] and "ipFamilies" not in svc["spec"]
    assert cluster.ips.allocated() == [] and cluster.ports.allocated() == []


def test_ports_with_one_number_share_a_node_port(cluster):
    svc = cluster.create(service("dns", "NodePort", ()) | {"spec": {"type": "NodePort", "ports": [
        {"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}})
    assert node_ports(svc)[0] == node_ports(svc)[1] and cluster.ports.allocated() == [node_ports(svc)[0]]


INVALID = 'Service "web" is invalid: '


@pytest.mark.parametrize(
    "spec, taken, code, message",
    [
        ({"clusterIP": "10.96.0.10"}, "10.96.0.10", 422, INVALID + 'spec.clusterIPs: Invalid value: []string{"10.96.0.10"}: '
         "failed to allocate IP 10.96.0.10: provided IP is already allocated"),
        ({"clusterIP": "1.1.1.1"}, None, 422, INVALID + 'spec.clusterIPs: Invalid value: []string{"1.1.1.1"}: '
         "failed to allocate IP 1.1.1.1: the provided IP (1.1.1.1) is not in the valid range. "
         "The range of valid IPs is 10.96.0.0/12"),
        ({"clusterIP": "10.96.0.300"}, None, 422, INVALID + 'spec.clusterIPs[0]: Invalid value: "10.96.0.300": '
         "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"),
        ({"clusterIP": "fd00::10"}, None, 422, INVALID + 'spec.clusterIPs[0]: Invalid value: []string{"fd00::10"}: '
         "IPv6 is not configured on this cluster"),
        ({"ipFamilyPolicy": "RequireDualStack"}, None, 422, INVALID + 'spec.ipFamilyPolicy: Invalid value: '
         '"RequireDualStack": this cluster is not configured for dual-stack services'),
        ({"ipFamilies": ["IPv6"]}, None, 422, INVALID + 'spec.ipFamilies[0]: Invalid value: "IPv6": '
         "not configured on this cluster"),
        ({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}, 30080, 422,
         INVALID + "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"),
        ({"type": "NodePort", "ports": [{"port": 80, "nodePort": 8080}]}, None, 422,
         INVALID + "spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. "
         "The range of valid ports is 30000-32767"),
        ({"ports": [{"port": 80, "nodePort": 30080}]}, None, 422,
         INVALID + "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"),
        ({"type": "NodePort", "ports": [{"name": "a", "port": 80, "nodePort": 30080},
                                        {"name": "b", "port": 81, "nodePort": 30080}]}, None, 422,
         INVALID + "spec.ports[1].nodePort: Duplicate value: 30080"),
    ],
    ids=["ip-taken", "ip-out-of-range", "ip-malformed", "ip-other-family", "dual-stack", "family-not-served",
         "nodeport-taken", "nodeport-out-of-range", "nodeport-on-clusterip", "nodeport-twice"],
)
def test_create_refusals(cluster, spec, taken, code, message):
    if isinstance(taken, str):
        cluster.ips.allocate(taken)
    elif taken:
        cluster.ports.allocate(taken)
    before = (cluster.ips.allocated(), cluster.ports.allocated())
    with pytest.raises((Invalid, InternalError)) as info:
        cluster.create({**service(), "spec": {**service()["spec"], **spec}})
    assert (info.value.code, info.value.status()["message"]) == (code, message)
    assert (cluster.ips.allocated(), cluster.ports.allocated()) == before  # nothing leaked


@pytest.mark.parametrize(
    "kind, message",
    [("ip", "Internal error occurred: failed to allocate a serviceIP: range is full"),
     ("port", "Internal error occurred: failed to allocate a nodePort: range is full")],
)
def test_a_full_range_is_an_internal_error(store, kind, message):
    tiny = Cluster(store, cidr="10.0.0.0/30", node_ports="30000-30001")  # two IPs, two ports
    if kind == "ip":
        tiny.create(service("a"))
        tiny.create(service("b"))
    else:
        tiny.create(service("a", "NodePort", ((80, None), (81, None))))
    with pytest.raises(InternalError) as info:
        tiny.create(service("c", "NodePort"))
    assert info.value.code == 500 and info.value.status()["message"] == message
    assert len(tiny.ips.allocated()) == (2 if kind == "ip" else 1)  # c's IP went back when its port failed


def test_a_failed_write_gives_everything_back(cluster):
    cluster.create(service("web"))
    with pytest.raises(Exception, match="already exists"):  # admitted, then the store refuses the name
        cluster.create(service("web", "NodePort"))
    assert len(cluster.ips.allocated()) == 1 and cluster.ports.allocated() == []


def test_after_failure_releases_what_admission_reserved(cluster):
    attrs = Attributes(CREATE, SERVICES, "default", "web", apply_defaults(service(type_="NodePort")))
    cluster.plugin.admit(attrs)
    assert len(cluster.ips.allocated()) == 1 and len(cluster.ports.allocated()) == 1
    cluster.plugin.after_failure(attrs)
    assert cluster.ips.allocated() == [] and cluster.ports.allocated() == []


def test_dry_run_reserves_nothing(cluster):
    svc = cluster.create(service(type_="NodePort", ports=((80, None), (81, 30081))), dry_run=True)
    assert svc["spec"]["clusterIP"] == "10.96.0.0"  # kube's dry-run placeholder
    assert node_ports(svc) == [32769, 30081]
    assert cluster.ips.allocated() == [] and cluster.ports.allocated() == []
    cluster.ports.allocate(30081)
    with pytest.raises(Invalid, match="provided port is already allocated"):  # a dry run still says no
        cluster.create(service(type_="NodePort", ports=((81, 30081),)), dry_run=True)


# --- update --------------------------------------------------------------------------------------


def set_spec(**changes):
    def change(svc):
        svc["spec"].update(changes)
        for key, value in changes.items():
            if value is None:
                svc["spec"].pop(key)
        return svc
    return change


def test_the_cluster_ip_may_not_change(cluster):
    cluster.create(service())
    with pytest.raises(Invalid) as info:
        cluster.update("web", set_spec(clusterIP="10.96.0.99", clusterIPs=["10.96.0.99"]))
    assert info.value.status()["message"] == (
        INVALID + 'spec.clusterIPs[0]: Invalid value: []string{"10.96.0.99"}: may not change once set')
    with pytest.raises(Invalid, match=r'\[\]string\{"10.96.0.98"\}: may not change once set'):
        cluster.update("web", set_spec(clusterIP="10.96.0.98"))  # an old client changes the singular field
    with pytest.raises(Invalid, match=r'\[\]string\{"None"\}: may not change once set'):
        cluster.update("web", set_spec(clusterIP="None", clusterIPs=["None"]))
    assert not cluster.ips.is_allocated("10.96.0.99") and len(cluster.ips.allocated()) == 1


def test_a_put_without_allocated_values_keeps_them(cluster):
    before = cluster.create(service(type_="NodePort"))
    after = cluster.update("web", set_spec(clusterIP=None, clusterIPs=None, ports=[{"name": "p80", "port": 80}]))
    assert after["spec"]["clusterIP"] == before["spec"]["clusterIP"]
    assert node_ports(after) == node_ports(before)
    assert cluster.ports.allocated() == node_ports(before)


@pytest.mark.parametrize(
    "start, change, ips_after, ports_after",
    [
        (service(), set_spec(type="NodePort"), 1, 1),
        (service(type_="NodePort"), set_spec(type="ClusterIP"), 1, 0),  # nodePorts wiped and released
        (service(type_="LoadBalancer"), set_spec(type="NodePort"), 1, 1),  # kept
        (service(type_="NodePort"), set_spec(ports=[{"name": "p80", "port": 80}, {"name": "p81", "port": 81}]), 1, 2),
        (service(type_="NodePort", ports=((80, None), (81, None))), set_spec(ports=[{"name": "p81", "port": 81}]), 1, 1),
        (service(type_="NodePort"), set_spec(ports=[{"name": "p80", "port": 80, "nodePort": 30090}]), 1, 1),
        (service(type_="NodePort"), set_spec(type="ExternalName", externalName="x.example.com"), 0, 0),
        ({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
          "spec": {"type": "ExternalName", "externalName": "x.example.com"}},
         set_spec(type="ClusterIP", externalName=None, ports=[{"port": 80}]), 1, 0),
    ],
    ids=["to-nodeport", "to-clusterip", "lb-to-nodeport", "add-port", "remove-port", "choose-nodeport",
         "to-externalname", "from-externalname"],
)
def test_update_follows_type_and_ports(cluster, start, change, ips_after, ports_after):
    cluster.create(start)
    updated = cluster.update("web", change)
    assert len(cluster.ips.allocated()) == ips_after and len(cluster.ports.allocated()) == ports_after
    assert cluster.ports.allocated() == sorted(p for p in node_ports(updated) if p)
    assert cluster.ips.allocated() == [ip for ip in updated["spec"].get("clusterIPs", []) if ip != "None"]


def test_a_failed_update_keeps_the_old_values_and_drops_the_new(cluster):
    svc = cluster.create(service(type_="NodePort"))
    old_port = node_ports(svc)[0]
    attrs = Attributes(UPDATE, SERVICES, "default", "web",
                       apply_defaults(service(type_="NodePort", ports=((81, None),))) | {"metadata": svc["metadata"]},
                       old_object=svc)
    cluster.chain.run(attrs)
    new_port = node_ports(attrs.object)[0]
    assert sorted([old_port, new_port]) == cluster.ports.allocated()  # both held until the write is known
    cluster.chain.finish(attrs, succeeded=False)
    assert cluster.ports.allocated() == [old_port]


def test_an_update_that_loses_a_race_is_admitted_again(cluster):
    cluster.create(service(type_="NodePort"))
    attempts = []

    def change(svc):
        attempts.append(1)
        if len(attempts) == 1:  # another writer gets in between our read and our write
            cluster.registry.guaranteed_update(SERVICES, "default", "web",
                                               lambda s: s | {"metadata": s["metadata"] | {"labels": {"x": "y"}}})
        svc["spec"]["ports"] = [{"name": "p80", "port": 80}, {"name": "p81", "port": 81}]
        return svc

    updated = cluster.update("web", change)
    assert len(attempts) == 2
    assert cluster.ports.allocated() == sorted(node_ports(updated))  # the first attempt's port went back


# --- delete --------------------------------------------------------------------------------------


def test_delete_releases_everything(cluster):
    cluster.create(service("a", "NodePort", ((80, None), (443, None))))
    keep = cluster.create(service("b"))
    cluster.delete("a")
    assert cluster.ips.allocated() == [keep["spec"]["clusterIP"]] and cluster.ports.allocated() == []


def test_delete_with_finalizers_releases_when_the_last_one_goes(cluster):
    svc = service("lb", "LoadBalancer")
    svc["metadata"]["finalizers"] = ["service.kubernetes.io/load-balancer-cleanup"]
    cluster.create(svc)
    cluster.delete("lb")
    assert len(cluster.ips.allocated()) == 1 and len(cluster.ports.allocated()) == 1  # only marked

    def drop_finalizer(current):
        current["metadata"]["finalizers"] = []
        return current

    cluster.update("lb", drop_finalizer)
    assert cluster.ips.allocated() == [] and cluster.ports.allocated() == []


def test_release_gives_back_a_stored_service(cluster):
    svc = cluster.create(service(type_="NodePort"))
    cluster.plugin.release(svc)
    assert cluster.ips.allocated() == [] and cluster.ports.allocated() == []


def test_subresources_and_other_kinds_are_left_alone(cluster):
    pods = lookup("", "v1", "pods")
    for attrs in (Attributes(CREATE, pods, "default", "p", {"metadata": {"name": "p"}}),
                  Attributes(UPDATE, SERVICES, "default", "web", service(), service(), subresource="status")):
        cluster.chain.run(attrs)
        cluster.chain.finish(attrs, succeeded=True)
    assert cluster.ips.allocated() == []


# --- the kubernetes Service and several API servers ---------------------------------------------


def test_the_kubernetes_service(cluster):
    svc = ensure_kubernetes_service(cluster.registry, cluster.chain, cluster.ips.first_ip)
    assert svc["metadata"]["namespace"] == "default" and svc["metadata"]["name"] == "kubernetes"
    assert svc["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}
    assert svc["spec"]["clusterIP"] == "10.96.0.1" and svc["spec"]["clusterIPs"] == ["10.96.0.1"]
    assert svc["spec"]["ports"] == [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]
    assert "selector" not in svc["spec"] and cluster.ips.allocated() == ["10.96.0.1"]
    again = ensure_kubernetes_service(cluster.registry, cluster.chain, cluster.ips.first_ip)
    assert again["metadata"]["uid"] == svc["metadata"]["uid"]
    with pytest.raises(Invalid, match="provided IP is already allocated"):
        cluster.create(service("squatter", clusterIP="10.96.0.1"))


def test_two_api_servers_bootstrap_one_kubernetes_service(store):
    servers = [Cluster(store, seed=i) for i in range(4)]
    barrier = threading.Barrier(len(servers))
    results = [None] * len(servers)

    def run(i):
        barrier.wait()
        server = servers[i]
        while results[i] is None:  # retried, as kube's controller does, while another holds the IP unwritten
            try:
                results[i] = ensure_kubernetes_service(server.registry, server.chain, server.ips.first_ip)["metadata"]["uid"]
            except Invalid as err:
                assert "provided IP is already allocated" in str(err)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(servers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(set(results)) == 1 and servers[0].ips.allocated() == ["10.96.0.1"]


def test_api_servers_sharing_a_store_never_share_a_cluster_ip(store):
    servers = [Cluster(store, cidr="10.0.0.0/27", seed=1) for _ in range(4)]  # same seed: same first choices
    barrier = threading.Barrier(len(servers))
    created: list[str] = []

    def run(i):
        barrier.wait()
        for n in range(5):
            created.append(servers[i].create(service(f"s{i}-{n}"))["spec"]["clusterIP"])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(servers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(created) == len(set(created)) == 20
    assert sorted(created) == sorted(servers[0].ips.allocated())
