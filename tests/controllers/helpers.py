"""What the controller tests share: waiting, manifests, and playing the kubelet's part on Pod status."""

from __future__ import annotations

import contextlib
import random
import time

from kitlib.api.meta import rfc3339

IMAGE = "busybox"


def wait_until(predicate, timeout: float = 5.0, message: str = "") -> None:
    """Poll ``predicate`` every 10 ms of real time; fail the test after ``timeout`` real seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(message or f"condition not met within {timeout} s")
        time.sleep(0.01)


def holds_for(predicate, seconds: float = 0.3) -> bool:
    """Whether ``predicate`` stays true for ``seconds`` of real time (for "nobody acts" checks)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not predicate():
            return False
        time.sleep(0.01)
    return True


def replicaset(name: str, replicas: int, labels: dict | None = None, *, selector: dict | None = None,
               min_ready_seconds: int = 0) -> dict:
    labels = labels or {"app": name}
    spec = {
        "replicas": replicas,
        "selector": {"matchLabels": selector or labels},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "main", "image": IMAGE}]}},
    }
    if min_ready_seconds:
        spec["minReadySeconds"] = min_ready_seconds
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name}, "spec": spec}


def pod(name: str, labels: dict, *, node: str = "", owner: dict | None = None, annotations: dict | None = None) -> dict:
    metadata = {"name": name, "labels": labels}
    if owner is not None:
        metadata["ownerReferences"] = [owner]
    if annotations:
        metadata["annotations"] = annotations
    spec = {"containers": [{"name": "main", "image": IMAGE}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def set_pod_status(client, namespace: str, name: str, phase: str, ready: bool = False, *,
                   ready_since: float | None = None, restarts: int = 0) -> dict:
    """Write a Pod's status through ``/status``, as the kubelet would (there is no kubelet yet)."""
    status: dict = {"phase": phase}
    if phase == "Running":
        since = rfc3339(ready_since if ready_since is not None else time.time())
        status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": since}]
        status["containerStatuses"] = [{"name": "main", "image": IMAGE, "imageID": "", "ready": ready,
                                        "restartCount": restarts, "started": True,
                                        "state": {"running": {"startedAt": since}}}]
    return client.pods(namespace).patch(name, {"status": status}, "merge", subresource="status")


def owned_pods(client, namespace: str, rs: dict | None = None) -> list[dict]:
    """The Pods of ``namespace`` (controlled by ``rs`` if given), sorted by name."""
    items = client.pods(namespace).list()["items"]
    if rs is not None:
        items = [p for p in items if any(ref.get("controller") and ref["uid"] == rs["metadata"]["uid"]
                                         for ref in p["metadata"].get("ownerReferences") or [])]
    return sorted(items, key=lambda p: p["metadata"]["name"])


def names(pods) -> list[str]:
    return sorted(p["metadata"]["name"] for p in pods)


def advance_until(clock, predicate, *, step: float = 1.0, limit: float = 60.0, settle: float = 0.02) -> float:
    """Advance a FakeClock by ``step`` until ``predicate`` holds; the simulated seconds it took.

    After each step the components get up to ``settle`` real seconds to act.
    """
    start = clock.now()
    while True:
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline:
            if predicate():
                return clock.now() - start
            time.sleep(0.005)
        if clock.now() - start >= limit:
            raise AssertionError(f"condition not met within {limit} simulated seconds")
        clock.advance(step)


@contextlib.contextmanager
def cluster_with(controller_class, name: str, seed: int, start_delay: float = 0.1):
    """A whole local cluster whose controller manager leaves out ``name``, and this test's own copy of it running."""
    from kitlib.cluster.local import up

    running = up(nodes=3, start_delay=start_delay, controllers=("*", f"-{name}"))
    controller = controller_class(running.client(in_process=True, user="system:kube-controller-manager", groups=()),
                                  rng=random.Random(seed)).run()
    try:
        assert controller.wait_for_sync(5)
        yield running
    finally:
        controller.stop()
        running.down()
