"""The StatefulSet controller on a live cluster: ordering seen through the Pod watch, identity, rolling update."""

from __future__ import annotations

import random
import threading

import pytest

from kitlib.cluster.local import up
from kitlib.controllers.statefulset import (
    POD_INDEX_LABEL,
    POD_NAME_LABEL,
    REVISION_LABEL,
    StatefulSetController,
    new_pod,
    ordinal,
    template_revision,
)

from .helpers import wait_until

_counter = iter(range(1000))


@pytest.fixture(scope="module")
def cluster():
    running = up(nodes=3, start_delay=0.3, controllers=("*", "-statefulset"))  # this test runs its own
    yield running
    running.down()


class PodEvents:
    """Every Pod event of a namespace, in order, recorded by a background watch."""

    def __init__(self, client, ns):
        self.events: list[tuple[str, str, bool]] = []  # (type, name, running and ready)
        self.watch = client.pods(ns).watch(ns)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            for kind, pod in self.watch:
                if kind in ("ADDED", "MODIFIED", "DELETED"):
                    ready = (pod.get("status") or {}).get("phase") == "Running" and any(
                        c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or [])
                    self.events.append((kind, pod["metadata"]["name"], ready))
        except Exception:  # noqa: BLE001 (the watch is closed at the end of the test)
            pass

    def order(self, kind):
        seen = []
        for k, name, _ in self.events:
            if k == kind and name not in seen:
                seen.append(name)
        return seen

    def ready_before_added(self, earlier, later):
        """Whether ``earlier`` was seen Running and Ready before ``later`` was created."""
        for kind, name, ready in self.events:
            if name == earlier and ready:
                return True
            if name == later and kind == "ADDED":
                return False
        return False

    def close(self):
        self.watch.close()


def statefulset(name, replicas, policy="OrderedReady", service="svc"):
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "serviceName": service, "podManagementPolicy": policy,
                     "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "main", "image": "busybox"}]}}}}


@pytest.fixture
def env(cluster):
    admin = cluster.client(in_process=True)
    ns = f"sts-{next(_counter)}"
    admin.resource("namespaces").create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    client = cluster.client(in_process=True, user="system:kube-controller-manager", groups=())
    controller = StatefulSetController(client, namespace=ns, rng=random.Random(2)).run()
    assert controller.wait_for_sync(5)
    events = PodEvents(admin, ns)
    yield admin, ns, events
    events.close()
    controller.stop()


def status(admin, ns, name):
    return admin.resource("apps/v1", "StatefulSet").get(name, namespace=ns).get("status") or {}


def ready_pods(admin, ns):
    return sorted(p["metadata"]["name"] for p in admin.pods(ns).list()["items"]
                  if any(c["type"] == "Ready" and c["status"] == "True" for c in
                         (p.get("status") or {}).get("conditions") or []))


@pytest.mark.parametrize("policy,in_order", [("OrderedReady", True), ("Parallel", False)])
def test_scale_up_and_down(env, policy, in_order):
    admin, ns, events = env
    sets = admin.resource("apps/v1", "StatefulSet")
    sets.create(statefulset("web", 3, policy), namespace=ns)
    wait_until(lambda: status(admin, ns, "web").get("readyReplicas") == 3, 15, "never 3 ready replicas")
    wait_until(lambda: len(events.order("ADDED")) == 3, 5, "the recording watch never saw three Pods")
    assert events.order("ADDED") == ["web-0", "web-1", "web-2"]
    if in_order:
        # OrderedReady: each Pod is created only after its predecessor is Running and Ready. (Parallel creates
        # them at once; whether one is ready before the next is added then depends on the machine's load.)
        assert [events.ready_before_added(f"web-{i}", f"web-{i + 1}") for i in range(2)] == [True] * 2
    pod = admin.pods(ns).get("web-1")
    assert pod["metadata"]["labels"][POD_NAME_LABEL] == "web-1"
    assert pod["metadata"]["labels"][POD_INDEX_LABEL] == "1"
    assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == ("web-1", "svc")
    sets.patch("web", {"spec": {"replicas": 1}}, "merge", namespace=ns)
    wait_until(lambda: ready_pods(admin, ns) == ["web-0"] and status(admin, ns, "web").get("replicas") == 1, 15)
    # The recording watch may be a moment behind the API: wait for both deletions to reach it.
    wait_until(lambda: len(events.order("DELETED")) == 2, 5, f"deletions seen: {events.order('DELETED')}")
    if in_order:
        assert events.order("DELETED") == ["web-2", "web-1"]  # the highest ordinal first
    else:
        assert sorted(events.order("DELETED")) == ["web-1", "web-2"]  # at once: in no promised order


def test_rolling_update_in_reverse_order(env):
    admin, ns, events = env
    sets = admin.resource("apps/v1", "StatefulSet")
    sets.create(statefulset("db", 3), namespace=ns)
    wait_until(lambda: status(admin, ns, "db").get("readyReplicas") == 3, 15)
    old = status(admin, ns, "db")["currentRevision"]
    sets.patch("db", {"spec": {"template": {"metadata": {"annotations": {"v": "2"}}}}}, "merge", namespace=ns)

    def rolled_out():
        st = status(admin, ns, "db")
        return (st.get("updatedReplicas") == 3 and st.get("readyReplicas") == 3
                and st.get("currentRevision") == st.get("updateRevision") != old)
    wait_until(rolled_out, 20, f"rollout incomplete: {status(admin, ns, 'db')}")
    wait_until(lambda: len(events.order("DELETED")) == 3, 5, "the recording watch never saw three deletions")
    assert events.order("DELETED") == ["db-2", "db-1", "db-0"]
    revisions = {p["metadata"]["labels"][REVISION_LABEL] for p in admin.pods(ns).list()["items"]}
    assert revisions == {status(admin, ns, "db")["updateRevision"]}


def test_failed_pod_is_recreated_under_its_name(cluster, env):
    admin, ns, events = env
    admin.resource("apps/v1", "StatefulSet").create(statefulset("q", 1), namespace=ns)
    wait_until(lambda: status(admin, ns, "q").get("readyReplicas") == 1, 15)
    first = admin.pods(ns).get("q-0")["metadata"]["uid"]
    admin.pods(ns).patch("q-0", {"status": {"phase": "Failed"}}, "merge", subresource="status")
    wait_until(lambda: admin.pods(ns).get("q-0")["metadata"]["uid"] != first
               if "q-0" in ready_pods(admin, ns) else False, 15, "q-0 never came back")


# -- pure helpers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("pod_name,expected", [("web-0", 0), ("web-12", 12), ("web-x", -1), ("webx-1", -1),
                                               ("web-1-2", -1)])
def test_ordinal(pod_name, expected):
    assert ordinal({"metadata": {"name": "web"}}, {"metadata": {"name": pod_name}}) == expected


def test_new_pod_and_revision():
    sts = statefulset("web", 2)
    revision = template_revision(sts)
    assert revision.startswith("web-") and revision == template_revision(statefulset("web", 5))
    changed = statefulset("web", 2)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx"
    assert template_revision(changed) != revision
    pod = new_pod(sts, 1, revision, {"kind": "StatefulSet", "name": "web", "uid": "u", "controller": True})
    assert pod["metadata"]["name"] == "web-1"
    assert pod["metadata"]["labels"] == {"app": "web", POD_NAME_LABEL: "web-1", POD_INDEX_LABEL: "1",
                                         REVISION_LABEL: revision}
    assert sts["spec"]["template"]["spec"].get("hostname") is None  # the template is copied, never changed
