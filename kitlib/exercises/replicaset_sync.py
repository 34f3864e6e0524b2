"""Grading scenarios for the exercise ``replicaset-sync``: the decision at the heart of a ReplicaSet's reconcile.

The reader writes ``manage_replicas(replicaset, pods, burst_replicas,
related_pods, now)``, the slot :data:`kitlib.controllers.replicaset.manage_replicas`:
given a ReplicaSet and the active Pods it owns, how many Pods to create
and which Pods to delete. The ReplicaSet controller keeps the plumbing
(expectations, slow-start batches, adoption, status). Two cells ask the
function directly; three run the real controller, with the function
installed, on a local cluster (API server, scheduler, hollow nodes): a
scale from zero and back, a scale-down of adopted Pods in every state, and
Pods deleted by hand. Every answer the controller got is judged as it
comes, so a failure names the Pods the controller saw and what the rule
wanted.

The rule graded for *which* Pods go is the first three keys of kube's
``ActivePodsWithRanks``: not yet scheduled before scheduled, Pending before
Unknown before Running, not ready before ready. Any choice among Pods equal
on those three is accepted (kube goes on with the deletion cost, Pods
doubled up on a node, time ready, restarts and age; the engine's
reference does too).

Simplifications:
- The controller in the cluster scenarios is one the scenario starts
  itself (with the burst it wants), not the controller manager's.
- Pods that must be Pending, Unknown or not ready are bound to a node that
  does not exist, with the status a vanished kubelet left behind: no hollow
  node touches them.
"""

from __future__ import annotations

import random
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

from kitlib.cluster.local import up
from kitlib.controllers.controller_utils import is_pod_active, is_pod_ready
from kitlib.controllers.replicaset import ReplicaSetController, manage_replicas
from kitlib.exercises.grading import Recorder, quiet_engine

Obj = dict[str, Any]
NAMESPACE = "default"
WAIT = 6.0  # real seconds a cluster scenario waits for the count it wants
QUIET = 0.3  # real seconds the count must then hold (the controller resyncs meanwhile)
GONE_NODE = "node-gone"  # a node no kubelet serves: Pods bound there keep the status we give them
STATES = ("unscheduled", "pending", "unknown", "not-ready", "ready")
_PHASE = {"unscheduled": "Pending", "pending": "Pending", "unknown": "Unknown", "not-ready": "Running",
          "ready": "Running"}
_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


# ---- the rule ------------------------------------------------------------------------------------------------

def rank(pod: Obj) -> tuple[int, int, int]:
    """Smaller goes first: (scheduled?, Pending < Unknown < Running, ready?)."""
    return (1 if (pod.get("spec") or {}).get("nodeName") else 0,
            _ORDINAL.get((pod.get("status") or {}).get("phase"), 0), 1 if is_pod_ready(pod) else 0)


def describe_pod(pod: Obj) -> str:
    node = (pod.get("spec") or {}).get("nodeName")
    phase = (pod.get("status") or {}).get("phase") or "Pending"
    where = f"on {node}" if node else "not yet scheduled"
    return f"{pod['metadata']['name']} ({where}, {phase}, {'ready' if is_pod_ready(pod) else 'not ready'})"


def _want(rs: Obj, pods: Sequence[Obj], burst: int) -> tuple[int, int]:
    diff = ((rs.get("spec") or {}).get("replicas", 1)) - len(pods)
    return max(0, min(diff, burst)), max(0, min(-diff, burst))


def judge(rs: Obj, pods: Sequence[Obj], burst: int, answer: Any) -> str | None:
    """What is wrong with ``answer`` for this ReplicaSet and these Pods, or None."""
    replicas = (rs.get("spec") or {}).get("replicas", 1)
    seen = (f"with spec.replicas {replicas}, {len(pods)} Pod{'s' if len(pods) != 1 else ''} and "
            f"burst_replicas {burst}")
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        return f"{seen}, your function returned {answer!r:.80}: return a pair (create, delete), an int and a list"
    create, delete = answer
    if isinstance(create, bool) or not isinstance(create, int) or not isinstance(delete, (list, tuple)):
        return (f"{seen}, your function returned ({create!r:.40}, {delete!r:.40}): create is a number of Pods "
                f"(an int) and delete a list of the Pods you were given")
    want_create, want_delete = _want(rs, pods, burst)
    if create != want_create:
        if replicas - len(pods) > burst and create == replicas - len(pods):
            why = (f"create at most burst_replicas ({burst}) in one sync; the controller comes back for the rest "
                   f"once it has seen these")
        elif create == replicas and pods:
            why = f"the {len(pods)} Pods you were given already count: create only the difference"
        elif create and want_delete:
            why = "there are too many Pods already: create nothing, delete the surplus"
        else:
            why = "create spec.replicas - len(pods) when that is positive (at most burst_replicas), else 0"
        return f"{seen}, your function said create {create}, but the answer is {want_create}: {why}"
    names = [(p.get("metadata") or {}).get("name") if isinstance(p, dict) else None for p in delete]
    given = {p["metadata"]["name"]: p for p in pods}
    if any(n not in given for n in names) or len(set(names)) != len(names):
        return (f"{seen}, your function asked to delete {[n or repr(p)[:30] for n, p in zip(names, delete)]}: "
                f"delete must list Pods taken from `pods` (the dicts themselves), each once")
    if len(delete) != want_delete:
        if len(pods) - replicas > burst and len(delete) == len(pods) - replicas:
            why = f"delete at most burst_replicas ({burst}) in one sync"
        elif not want_delete:
            why = "delete only when there are more Pods than spec.replicas"
        else:
            why = "delete len(pods) - spec.replicas of them (at most burst_replicas)"
        return f"{seen}, your function asked to delete {len(delete)} Pods, but the answer is {want_delete}: {why}"
    kept = [p for n, p in given.items() if n not in set(names)]
    for doomed in sorted(delete, key=rank, reverse=True):
        better = [p for p in kept if rank(p) < rank(doomed)]
        if better:
            return (f"{seen}, your function deleted {describe_pod(doomed)} but kept {describe_pod(better[0])}: "
                    f"{_order_rule(better[0], doomed)}")
    return None


def _order_rule(first: Obj, later: Obj) -> str:
    a, b = rank(first), rank(later)
    if a[0] != b[0]:
        return "a Pod not yet scheduled goes before any scheduled one (it has done no work)"
    if a[1] != b[1]:
        return "among scheduled Pods, Pending goes before Unknown, and Unknown before Running"
    return "among Pods in the same phase, a Pod that is not ready goes before a ready one"


# ---- Pods to reason about --------------------------------------------------------------------------------

def _replicaset(name: str, replicas: int) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "main", "image": "busybox"}]}}}}


def _pod_status(state: str) -> Obj:
    status: Obj = {"phase": _PHASE[state]}
    if state in ("not-ready", "ready"):
        status["conditions"] = [{"type": "Ready", "status": "True" if state == "ready" else "False",
                                 "lastTransitionTime": "2025-01-01T00:00:00Z"}]
    return status


def _made_up_pods(states: Sequence[str]) -> list[Obj]:
    pods = []
    for i, state in enumerate(states):
        spec: Obj = {"containers": [{"name": "main", "image": "busybox"}]}
        if state != "unscheduled":
            spec["nodeName"] = f"node-000{1 + i % 3}"
        pods.append({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": f"{state}-{i}", "namespace": NAMESPACE, "uid": f"uid-{i:04d}",
                                  "labels": {"app": "web"},
                                  "creationTimestamp": f"2025-01-01T00:{i // 60:02d}:{i % 60:02d}Z"},
                     "spec": spec, "status": _pod_status(state)})
    return pods


# ---- scenarios: the function alone ----------------------------------------------------------------------

def decisions(candidate: Callable[..., Any], *, cases: Sequence[tuple[int, Sequence[str], int]]) -> None:
    """Each case ``(replicas, pod states, burst_replicas)`` asked directly, as the controller would ask it."""
    with manage_replicas.installed(candidate):
        for replicas, states, burst in cases:
            rs, pods = _replicaset("web", replicas), _made_up_pods(states)
            answer = manage_replicas(rs, list(pods), burst, list(pods), 1_735_700_000.0)
            problem = judge(rs, pods, burst, answer)
            assert problem is None, f"for Pods {list(states)}: {problem}"


# ---- scenarios: the real controller on a cluster -------------------------------------------------------------

class _Run:
    """A cluster, a ReplicaSet controller using the reader's function, and the judge of each of its calls."""

    def __init__(self, cluster: Any, recorder: Recorder) -> None:
        self.cluster, self.recorder = cluster, recorder
        self.client = cluster.client(in_process=True)
        self.pods = self.client.pods(NAMESPACE)
        self.controller: ReplicaSetController | None = None

    def problems(self) -> None:
        """Raise the reader's error, or the advice for the first wrong answer, if any so far."""
        self.recorder.judge_calls(lambda args, answer: judge(args[0], args[1], args[2], answer),
                                  "the ReplicaSet controller asked your function: ")

    def live(self, app: str) -> list[Obj]:
        items = self.pods.list(label_selector=f"app={app}")["items"]
        return [p for p in items if is_pod_active(p)]

    def wait_for(self, app: str, count: int, most: int, doing: str) -> list[Obj]:
        """Wait until ``count`` live Pods stay so for QUIET s; never more than ``most`` (no creation storm)."""
        deadline, steady_since = time.monotonic() + WAIT, None
        while True:
            self.problems()
            live = self.live(app)
            assert len(live) <= most, (
                f"{doing}: {len(live)} Pods exist at once, more than the {most} ever wanted: the controller "
                f"created too many (count the Pods you are given before creating more)")
            if len(live) == count:
                steady_since = steady_since or time.monotonic()
                if time.monotonic() - steady_since >= QUIET:
                    return live
            else:
                steady_since = None
            if time.monotonic() > deadline:
                raise AssertionError(f"{doing}: the ReplicaSet should settle at {count} Pods, but after {WAIT:g} s "
                                     f"it has {len(live)}; your function answered {self._last()}")
            time.sleep(0.01)

    def _last(self) -> str:
        calls = self.recorder.calls
        if not calls:
            return "nothing: the controller never called it"
        (rs, pods, _b, _r, _n), answer = calls[-1]
        return f"{answer!r:.80} to its last question ({len(pods)} Pods, spec.replicas {rs['spec']['replicas']})"


@contextmanager
def _running(candidate: Callable[..., Any], burst: int, seed: int = 0) -> Iterator[_Run]:
    """A local cluster (no controller manager controllers) with our own ReplicaSet controller, always taken down."""
    recorder = Recorder(candidate)
    with quiet_engine(), manage_replicas.installed(recorder):
        cluster = up(nodes=2, start_delay=0.05, controllers=(), seed=seed)
        controller = None
        try:
            client = cluster.client(in_process=True, user="system:kube-controller-manager", groups=())
            controller = ReplicaSetController(client, burst_replicas=burst, namespace=NAMESPACE,
                                              rng=random.Random(seed), resync_period=0.1).run()
            assert controller.wait_for_sync(5), "the ReplicaSet controller's caches did not sync"
            run = _Run(cluster, recorder)
            run.controller = controller
            yield run
            run.problems()
        finally:
            if controller is not None:
                controller.stop()
            cluster.down()


def scale(candidate: Callable[..., Any], *, steps: Sequence[int], burst: int = 500) -> None:
    """A ReplicaSet created with ``steps[0]`` replicas, then set to each next count; each must settle exactly."""
    with _running(candidate, burst) as run:
        rs_client = run.client.replicasets(NAMESPACE)
        previous = 0
        for i, replicas in enumerate(steps):
            if i == 0:
                rs_client.create(_replicaset("web", replicas))
                doing = f"a new ReplicaSet with {replicas} replicas"
            else:
                rs_client.patch("web", {"spec": {"replicas": replicas}})
                doing = f"scaling the ReplicaSet from {previous} to {replicas}"
            run.wait_for("web", replicas, max(previous, replicas), doing)
            previous = replicas


def scale_down_order(candidate: Callable[..., Any], *, states: Sequence[str], replicas: int) -> None:
    """Orphan Pods in these states, then a ReplicaSet that adopts them all and keeps ``replicas`` of them."""
    with _running(candidate, 500) as run:
        for i, state in enumerate(states):
            pod: Obj = {"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": f"{state}-{i}", "labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "main", "image": "busybox"}]}}
            if state == "unscheduled":  # no node has this label: the scheduler leaves it Pending
                pod["spec"]["nodeSelector"] = {"example.com/nowhere": "true"}
            elif state != "ready":  # ready ones go to a hollow node, which runs them
                pod["spec"]["nodeName"] = GONE_NODE
            run.pods.create(pod)
            if state not in ("unscheduled", "ready"):
                run.pods.patch(pod["metadata"]["name"], {"status": _pod_status(state)}, "merge",
                               subresource="status")
        _wait_ready(run, sum(1 for s in states if s == "ready"))
        before = {p["metadata"]["name"]: p for p in run.live("web")}
        _wait_seen(run, list(before.values()))
        run.client.replicasets(NAMESPACE).create(_replicaset("web", replicas))
        survivors = run.wait_for("web", replicas, len(states), f"a ReplicaSet of {replicas} adopting {list(before)}")
        kept = {p["metadata"]["name"] for p in survivors}
        assert kept <= set(before), f"the ReplicaSet created Pods {sorted(kept - set(before))} it did not need"
        problem = judge(_replicaset("web", replicas), list(before.values()), 500,
                        (0, [p for n, p in before.items() if n not in kept]))
        assert problem is None, f"after the scale-down, {problem}"


def _wait_ready(run: _Run, count: int) -> None:
    deadline = time.monotonic() + WAIT
    while sum(1 for p in run.live("web") if is_pod_ready(p)) < count:
        assert time.monotonic() < deadline, "the hollow nodes did not start the Pods in time (the cluster is slow)"
        time.sleep(0.01)


def _wait_seen(run: _Run, pods: Sequence[Obj]) -> None:
    """Wait until the controller's cache holds these Pods as they are now, so it judges what we judge."""
    assert run.controller is not None
    cache, deadline = run.controller.pods.indexer, time.monotonic() + WAIT
    want = {f"{NAMESPACE}/{p['metadata']['name']}": p["metadata"]["resourceVersion"] for p in pods}
    while any((cache.get_by_key(k) or {}).get("metadata", {}).get("resourceVersion") != rv for k, rv in want.items()):
        assert time.monotonic() < deadline, "the ReplicaSet controller's Pod cache fell behind (a slow machine)"
        time.sleep(0.01)


def self_healing(candidate: Callable[..., Any], *, replicas: int, deletions: Sequence[int]) -> None:
    """A ReplicaSet of ``replicas``; then, for each number in ``deletions``, that many of its Pods deleted by hand."""
    with _running(candidate, 500) as run:
        run.client.replicasets(NAMESPACE).create(_replicaset("web", replicas))
        live = run.wait_for("web", replicas, replicas, f"a new ReplicaSet with {replicas} replicas")
        for count in deletions:
            victims = sorted(p["metadata"]["name"] for p in live)[:count]
            for name in victims:
                run.pods.delete(name)
            live = run.wait_for("web", replicas, replicas,
                                f"after {count} of its {replicas} Pods were deleted by hand ({', '.join(victims)})")
            assert not set(victims) & {p["metadata"]["name"] for p in live}


# The notebook's test cells, as data: test cell -> [(scenario, parameters, hidden)].
CASES: dict[str, list[tuple[Callable[..., None], dict[str, Any], bool]]] = {
    "test-counts": [
        (decisions, {"cases": [(3, [], 500), (3, ["ready"], 500), (2, ["ready", "ready"], 500),
                               (1, ["ready", "ready", "ready"], 500), (0, ["ready", "pending"], 500)]}, False),
        (decisions, {"cases": [(700, [], 500), (5, ["ready"], 3), (0, ["ready"] * 6, 4), (4, ["ready"] * 9, 2),
                               (0, [], 500)]}, True),
    ],
    "test-delete-order": [
        (decisions, {"cases": [(2, ["ready", "unscheduled", "ready"], 500),
                               (2, ["ready", "pending", "ready", "unknown"], 500),
                               (1, ["pending", "unscheduled"], 500), (1, ["ready", "not-ready"], 500)]}, False),
        (decisions, {"cases": [(2, ["ready", "not-ready", "unknown", "pending", "unscheduled"], 500),
                               (3, ["unknown", "ready", "pending", "not-ready", "ready"], 500),
                               (1, ["not-ready", "unknown", "ready", "not-ready"], 2)]}, True),
    ],
    "test-scale": [
        (scale, {"steps": [3, 5, 1]}, False),
        (scale, {"steps": [7, 2, 4], "burst": 2}, True),
    ],
    "test-scale-down-order": [
        (scale_down_order, {"states": ["ready", "pending", "unscheduled", "ready"], "replicas": 3}, False),
        (scale_down_order, {"states": ["ready", "not-ready", "unknown", "unscheduled", "ready"], "replicas": 2},
         True),
    ],
    "test-self-healing": [
        (self_healing, {"replicas": 3, "deletions": [1]}, False),
        (self_healing, {"replicas": 4, "deletions": [2, 1]}, True),
    ],
}
