"""The Deployment controller with a ReplicaSet controller against a real API server: rollouts end to end.

No kubelet runs: :func:`make_ready` plays its part, marking every Pod
Running and Ready through ``/status``. Each test has its own namespace.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from kitlib.clock import FakeClock
from kitlib.controllers import deployment_util as du
from kitlib.controllers.deployment import DeploymentController
from kitlib.controllers.replicaset import ReplicaSetController

from .helpers import advance_until, holds_for, set_pod_status, wait_until

NGINX = Path(__file__).resolve().parents[2] / "book" / "part04-declarative-api" / "nginx-deployment.yaml"
LONG_AGO = time.time() - 3600


@pytest.fixture
def start(client, ns):
    """Start a ReplicaSet and a Deployment controller on the test's namespace (one clock for both)."""
    started = []

    def run(clock=None):
        for kind in (ReplicaSetController, DeploymentController):
            controller = kind(client, namespace=ns, rng=random.Random(7), resync_period=0.5, clock=clock)
            started.append(controller.run())
        for controller in started:
            assert controller.wait_for_sync(5)

    yield run
    for controller in started:
        controller.stop()


def deployment(name, replicas, image="nginx:1.7.9", **spec):
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "main", "image": image}]}}, **spec}}


def set_image(client, ns, name, image):
    client.deployments(ns).patch(name, {"spec": {"template": {"spec": {"containers": [
        {"name": "main", "image": image}]}}}})


def active_pods(client, ns):
    return [p for p in client.pods(ns).list()["items"] if not p["metadata"].get("deletionTimestamp")]


def ready(pod):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in (pod.get("status") or {}).get("conditions") or [])


def make_ready(client, ns):
    """The kubelet's part: every Pod not yet ready becomes Running and Ready (an hour ago, so also available)."""
    for pod in active_pods(client, ns):
        if not ready(pod):
            set_pod_status(client, ns, pod["metadata"]["name"], "Running", ready=True, ready_since=LONG_AGO)


def replica_sets(client, ns):
    return sorted(client.replicasets(ns).list()["items"], key=lambda rs: du.revision(rs))


def status(client, ns, name):
    return client.deployments(ns).get(name).get("status") or {}


def condition(client, ns, name, type_):
    return du.get_condition(status(client, ns, name), type_) or {}


def rolled_out(client, ns, name):
    """What ``kubectl rollout status`` waits for (its DeploymentStatusViewer)."""
    d = client.deployments(ns).get(name)
    st, want = d.get("status") or {}, d["spec"]["replicas"]
    return (st.get("observedGeneration", 0) >= d["metadata"]["generation"] and st.get("updatedReplicas", 0) == want
            and st.get("replicas", 0) == want and st.get("availableReplicas", 0) == want)


def settle(client, ns, quiet=0.25, timeout=10.0):
    """Wait until Pods and ReplicaSets stop changing for ``quiet`` seconds; the last snapshot."""
    def snapshot():
        return ([(p["metadata"]["name"], ready(p)) for p in active_pods(client, ns)],
                [(rs["metadata"]["name"], rs["spec"]["replicas"], (rs.get("status") or {}).get("availableReplicas", 0))
                 for rs in replica_sets(client, ns)])
    deadline = time.monotonic() + timeout
    last = snapshot()
    while time.monotonic() < deadline:
        if holds_for(lambda: snapshot() == last, quiet):
            return last
        last = snapshot()
    raise AssertionError("the cluster did not settle")


def drive_rollout(client, ns, name, steps=40):
    """Make Pods ready one settled step at a time until the rollout is done; the settled snapshots."""
    seen = []
    for _ in range(steps):
        seen.append(settle(client, ns))
        if rolled_out(client, ns, name):
            return seen
        make_ready(client, ns)
    raise AssertionError(f"rollout did not finish: {seen[-1]}")


# -- pure helpers -------------------------------------------------------------------------------


@pytest.mark.parametrize("surge, unavailable, desired, expected", [
    ("25%", "25%", 4, (1, 1)),
    ("25%", "25%", 2, (1, 0)),      # surge rounds up, unavailable down
    ("25%", "25%", 10, (3, 2)),
    (0, "10%", 3, (0, 1)),           # both zero after rounding: one may be unavailable
    (3, 2, 10, (3, 2)),
    ("50%", 0, 5, (3, 0)),
])
def test_fenceposts_round_as_kube(surge, unavailable, desired, expected):
    assert du.resolve_fenceposts(surge, unavailable, desired) == expected


def test_hash_is_stable_and_uses_kubes_alphabet():
    template = {"metadata": {"labels": {"app": "nginx"}}, "spec": {"containers": [{"name": "n", "image": "a"}]}}
    first = du.compute_hash(template)
    assert first == du.compute_hash(yaml.safe_load(yaml.safe_dump(template)))  # key order does not matter
    assert set(first) <= set("bcdfghjklmnpqrstvwxz2456789") and len(first) <= 10
    assert du.compute_hash(template, 1) != first  # a collision count changes the name
    assert du.safe_encode_string("0123456789") == "456789bcdf"  # digits land where kube's do


# -- end to end -----------------------------------------------------------------------------------


def test_nginx_deployment_creates_one_replicaset_and_reports_status(plane, client, ns, start):
    start()
    manifest = yaml.safe_load(NGINX.read_text())
    client.deployments(ns).create(manifest)
    wait_until(lambda: len(active_pods(client, ns)) == 2)
    [rs] = replica_sets(client, ns)
    pod_hash = rs["metadata"]["labels"][du.UNIQUE_LABEL]
    assert rs["metadata"]["name"] == f"nginx-deployment-{pod_hash}"
    assert rs["metadata"]["labels"] == {"app": "nginx", "pod-template-hash": pod_hash}
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "nginx", "pod-template-hash": pod_hash}
    assert rs["spec"]["template"]["metadata"]["labels"] == {"app": "nginx", "pod-template-hash": pod_hash}
    notes = rs["metadata"]["annotations"]
    assert (notes[du.REVISION], notes[du.DESIRED_REPLICAS], notes[du.MAX_REPLICAS]) == ("1", "2", "3")
    assert rs["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    for pod in active_pods(client, ns):
        assert pod["metadata"]["labels"] == {"app": "nginx", "pod-template-hash": pod_hash}
    wait_until(lambda: condition(client, ns, "nginx-deployment", "Progressing").get("reason") == "ReplicaSetUpdated"
               or condition(client, ns, "nginx-deployment", "Progressing").get("reason") == "NewReplicaSetCreated")
    assert condition(client, ns, "nginx-deployment", "Available")["reason"] == "MinimumReplicasUnavailable"
    assert condition(client, ns, "nginx-deployment", "Available")["message"] == \
        "Deployment does not have minimum availability."
    make_ready(client, ns)
    wait_until(lambda: rolled_out(client, ns, "nginx-deployment"))
    wait_until(lambda: condition(client, ns, "nginx-deployment", "Progressing").get("reason")
               == "NewReplicaSetAvailable")
    st = status(client, ns, "nginx-deployment")
    assert {k: st.get(k) for k in ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas",
                                   "availableReplicas")} == {"observedGeneration": 1, "replicas": 2,
                                                             "updatedReplicas": 2, "readyReplicas": 2,
                                                             "availableReplicas": 2}
    assert "unavailableReplicas" not in st
    progressing = condition(client, ns, "nginx-deployment", "Progressing")
    assert progressing["status"] == "True"
    assert progressing["message"] == f'ReplicaSet "nginx-deployment-{pod_hash}" has successfully progressed.'
    available = condition(client, ns, "nginx-deployment", "Available")
    assert (available["status"], available["reason"], available["message"]) == (
        "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
    assert client.deployments(ns).get("nginx-deployment")["metadata"]["annotations"][du.REVISION] == "1"
    if shutil.which("kubectl"):
        out = subprocess.run(["kubectl", "--kubeconfig", str(plane.kubeconfig), "-n", ns, "rollout", "status",
                              "deployment/nginx-deployment", "--timeout=20s"], capture_output=True, text=True,
                             timeout=30)
        assert out.returncode == 0, out.stderr
        assert "successfully rolled out" in out.stdout


def test_rolling_update_stays_within_max_surge_and_max_unavailable(client, ns, start):
    start()
    client.deployments(ns).create(deployment("web", 4))  # 25%/25% by default: surge 1, unavailable 1
    drive_rollout(client, ns, "web")
    observed: list[tuple[int, int]] = []
    stop = threading.Event()

    def record():  # every change of the ReplicaSets' total and of the available Pods
        while not stop.is_set():
            total = sum(rs["spec"]["replicas"] for rs in client.replicasets(ns).list()["items"])
            available = sum(1 for p in active_pods(client, ns) if ready(p))
            if not observed or observed[-1] != (total, available):
                observed.append((total, available))
            time.sleep(0.003)

    recorder = threading.Thread(target=record, daemon=True)
    recorder.start()
    set_image(client, ns, "web", "nginx:1.9.1")
    try:
        steps = drive_rollout(client, ns, "web")
    finally:
        stop.set()
        recorder.join()
    # Settled steps: new 2 (old 3), new 4 (old 1), new 4 (old 0): never all at once.
    assert [[size for _, size, _ in rss] for _, rss in steps] == [[3, 2], [1, 4], [0, 4]]
    for total, available in observed:
        assert total <= 4 + 1, observed
        assert available >= 4 - 1, observed
    for pods, _ in steps:  # once settled, the Pods themselves are within bounds
        assert len(pods) <= 5
    old, new = replica_sets(client, ns)
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, 4)
    assert new["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.9.1"
    assert du.revision(new) == 2 and du.revision(old) == 1


def test_recreate_kills_old_pods_before_starting_new_ones(client, ns, start):
    start()
    client.deployments(ns).create(deployment("web", 3, strategy={"type": "Recreate"}))
    drive_rollout(client, ns, "web")
    set_image(client, ns, "web", "nginx:1.9.1")
    mixed = []
    stop = threading.Event()

    def record():
        while not stop.is_set():
            images = {p["spec"]["containers"][0]["image"] for p in active_pods(client, ns)}
            if len(images) > 1:
                mixed.append(images)
            time.sleep(0.003)

    recorder = threading.Thread(target=record, daemon=True)
    recorder.start()
    try:
        drive_rollout(client, ns, "web")
    finally:
        stop.set()
        recorder.join()
    assert not mixed, "old and new Pods never run together"
    assert [rs["spec"]["replicas"] for rs in replica_sets(client, ns)] == [0, 3]
    assert {p["spec"]["containers"][0]["image"] for p in active_pods(client, ns)} == {"nginx:1.9.1"}


def rollback(plane, client, ns, name, revision):
    """``kubectl rollout undo --to-revision``: kubectl itself if installed, else its JSON patch."""
    if shutil.which("kubectl"):
        out = subprocess.run(["kubectl", "--kubeconfig", str(plane.kubeconfig), "-n", ns, "rollout", "undo",
                              f"deployment/{name}", f"--to-revision={revision}"], capture_output=True, text=True,
                             timeout=30)
        assert out.returncode == 0, out.stderr
        return
    rs = next(r for r in replica_sets(client, ns) if du.revision(r) == revision)
    template = rs["spec"]["template"]
    del template["metadata"]["labels"][du.UNIQUE_LABEL]
    client.deployments(ns).patch(name, [{"op": "replace", "path": "/spec/template", "value": template}], "json")


def test_rollback_reuses_the_old_replicaset_and_bumps_its_revision(plane, client, ns, start):
    start()
    client.deployments(ns).create(deployment("web", 2))
    drive_rollout(client, ns, "web")
    first = replica_sets(client, ns)[0]["metadata"]["name"]
    set_image(client, ns, "web", "nginx:1.9.1")
    drive_rollout(client, ns, "web")
    rollback(plane, client, ns, "web", 1)
    drive_rollout(client, ns, "web")
    rss = {rs["metadata"]["name"]: rs for rs in replica_sets(client, ns)}
    assert len(rss) == 2, "no third ReplicaSet: the first one is back"
    assert rss[first]["spec"]["replicas"] == 2
    assert rss[first]["metadata"]["annotations"][du.REVISION] == "3"
    assert rss[first]["metadata"]["annotations"][du.REVISION_HISTORY] == "1"
    assert client.deployments(ns).get("web")["metadata"]["annotations"][du.REVISION] == "3"
    assert {p["spec"]["containers"][0]["image"] for p in active_pods(client, ns)} == {"nginx:1.7.9"}


def test_paused_deployment_does_not_roll_out_but_still_scales(client, ns, start):
    start()
    client.deployments(ns).create(deployment("web", 2))
    drive_rollout(client, ns, "web")
    client.deployments(ns).patch("web", {"spec": {"paused": True}})
    wait_until(lambda: condition(client, ns, "web", "Progressing").get("reason") == "DeploymentPaused")
    assert condition(client, ns, "web", "Progressing")["message"] == "Deployment is paused"
    set_image(client, ns, "web", "nginx:1.9.1")
    client.deployments(ns).patch("web", {"spec": {"replicas": 3}})
    wait_until(lambda: len(active_pods(client, ns)) == 3)
    assert holds_for(lambda: len(replica_sets(client, ns)) == 1), ("no new ReplicaSet while paused",
                                                                   replica_sets(client, ns))
    wait_until(lambda: status(client, ns, "web").get("observedGeneration") == 4)
    client.deployments(ns).patch("web", {"spec": {"paused": False}})
    wait_until(lambda: len(replica_sets(client, ns)) == 2)
    drive_rollout(client, ns, "web")
    assert {p["spec"]["containers"][0]["image"] for p in active_pods(client, ns)} == {"nginx:1.9.1"}


def test_scaling_during_a_rollout_is_proportional(client, ns, start):
    # kube's documented example: 10 replicas, maxSurge 3, maxUnavailable 2, a new image that never starts.
    start()
    client.deployments(ns).create(deployment("web", 10, strategy={
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}}))
    drive_rollout(client, ns, "web")
    set_image(client, ns, "web", "nginx:broken")
    wait_until(lambda: [rs["spec"]["replicas"] for rs in replica_sets(client, ns)] == [8, 5])
    client.deployments(ns).patch("web", {"spec": {"replicas": 15}})
    wait_until(lambda: [rs["spec"]["replicas"] for rs in replica_sets(client, ns)] == [11, 7])
    assert [rs["metadata"]["annotations"][du.DESIRED_REPLICAS] for rs in replica_sets(client, ns)] == ["15", "15"]


def test_revision_history_limit_prunes_old_empty_replicasets(client, ns, start):
    start()
    client.deployments(ns).create(deployment("web", 1, revisionHistoryLimit=1))
    drive_rollout(client, ns, "web")
    for image in ("nginx:2", "nginx:3", "nginx:4"):
        set_image(client, ns, "web", image)
        drive_rollout(client, ns, "web")
    wait_until(lambda: [du.revision(rs) for rs in replica_sets(client, ns)] == [3, 4],
               message=str([(du.revision(rs), rs["spec"]["replicas"], rs.get("status"), rs["metadata"].get("generation"))
                            for rs in replica_sets(client, ns)]))


def test_progress_deadline_exceeded_on_a_fake_clock(client, ns, start):
    clock = FakeClock()
    start(clock)
    client.deployments(ns).create(deployment("web", 2, progressDeadlineSeconds=30))
    wait_until(lambda: len(active_pods(client, ns)) == 2)
    wait_until(lambda: condition(client, ns, "web", "Progressing").get("status") == "True")
    [rs] = replica_sets(client, ns)
    advance_until(clock, lambda: condition(client, ns, "web", "Progressing").get("reason")
                  == "ProgressDeadlineExceeded", step=5, limit=60, settle=0.1)
    assert clock.now() > 30
    progressing = condition(client, ns, "web", "Progressing")
    assert progressing["status"] == "False"
    assert progressing["message"] == f'ReplicaSet "{rs["metadata"]["name"]}" has timed out progressing.'
    st = status(client, ns, "web")
    assert (st.get("replicas"), st.get("updatedReplicas"), st.get("unavailableReplicas")) == (2, 2, 2)
