"""What a hollow kubelet reports: the Pod and Node status it builds, as the real kubelet would.

Pure functions over plain dicts (no client, no clock of their own), so the
status a Pod shows at each step of its life can be tested, and read, apart
from the kubelet's loop in :mod:`kitlib.cluster.hollow`: the conditions a
healthy Node posts, its allocatable resources after the eviction
thresholds, and a Pod's phase, conditions and container statuses from
Pending to Running to terminated.

Simplifications:
- One state for all of a Pod's containers (they start and stop together);
  init containers show as completed at once.
- Container and image IDs are made up, deterministic per Pod and container.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from kitlib.api.meta import key_of, rfc3339, rfc3339_micro
from kitlib.api.quantity import BINARY_SI, DECIMAL_SI, Quantity, parse_quantity

RUN_SECONDS = "sim.kit.dev/run-seconds"
EXIT_CODE = "sim.kit.dev/exit-code"
CPU_MILLICORES = "sim.kit.dev/cpu-millicores"
KUBELET_VERSION = "v1.32.0-kit-hollow"
NODE_LEASE_NAMESPACE = "kube-node-lease"
JITTER = 0.04  # wait.JitterUntil(..., 0.04, ...) in the kubelet's status loop and the node lease controller
BACKOFF_START, BACKOFF_MAX = 10.0, 300.0  # crash-loop back-off: 10 s doubling to 5 minutes
EVICTION_MEMORY = 100 * 2**20  # the default hard eviction threshold memory.available<100Mi
EVICTION_NODEFS = Fraction(1, 10)  # nodefs.available<10%
EPHEMERAL_STORAGE = "100Gi"

# The kubelet's node conditions when all is well, with its own reasons and messages.
HEALTHY = (("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
           ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
           ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
           ("Ready", "True", "KubeletReady", "kubelet is posting ready status"))


@dataclass
class PodRun:
    """What the hollow node knows of one Pod: the pod worker's state and the fake runtime's, together."""

    namespace: str
    name: str
    uid: str
    seen_at: float  # wall clock; becomes status.startTime
    cpu: int  # millicores used while running
    state: str = "creating"  # creating -> running -> (backoff -> running)* -> terminated
    phase: str = "Pending"
    ip: str = ""  # status.podIP: stays after the sandbox is gone
    holds_ip: bool = False  # whether ip is still taken from the node's range
    restarts: int = 0
    started_at: float = 0.0
    finished_at: float = 0.0
    exit_code: int = 0
    last_state: dict = field(default_factory=dict)
    logs: list[tuple[float, str]] = field(default_factory=list)
    previous_logs: list[tuple[float, str]] | None = None
    timer: Any = None
    stale: bool = False  # a status not yet written (the node was failed, or the write failed)
    deleting: bool = False

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def node_conditions(current: dict[str, dict], now: str) -> list[dict]:
    """The four conditions of a healthy node, heartbeat ``now``; a transition time kept while the status holds."""
    result = []
    for kind, status, reason, message in HEALTHY:
        old = current.get(kind) or {}
        since = old.get("lastTransitionTime") if old.get("status") == status else None
        result.append({"type": kind, "status": status, "reason": reason, "message": message,
                       "lastHeartbeatTime": now, "lastTransitionTime": since or now})
    return result


def allocatable(capacity: dict[str, str]) -> dict[str, str]:
    """Capacity minus the default hard eviction thresholds (no kube-reserved or system-reserved)."""
    result = dict(capacity)
    memory = parse_quantity(capacity["memory"]).value - EVICTION_MEMORY
    result["memory"] = str(Quantity(max(memory, Fraction(0)), BINARY_SI))
    storage = parse_quantity(capacity["ephemeral-storage"]).value * (1 - EVICTION_NODEFS)
    result["ephemeral-storage"] = str(Quantity(Fraction(int(storage)), DECIMAL_SI))
    return result


def run_seconds(pod: dict, default: float | None) -> float | None:
    """How long the Pod's container runs: its annotation, else ``default`` for run-to-completion Pods."""
    value = (pod["metadata"].get("annotations") or {}).get(RUN_SECONDS)
    if value is not None:
        try:
            return max(0.0, float(value))
        except ValueError:
            log.warning("%s: %s=%r is not a number of seconds; ignored", key_of(pod), RUN_SECONDS, value)
    policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    return default if policy in ("Never", "OnFailure") else None


def exit_code(pod: dict) -> int:
    """The code the Pod's containers exit with: its ``sim.kit.dev/exit-code`` annotation, else 0."""
    value = (pod["metadata"].get("annotations") or {}).get(EXIT_CODE, "0")
    try:
        return int(value)
    except ValueError:
        log.warning("%s: %s=%r is not an integer; exiting with 1", key_of(pod), EXIT_CODE, value)
        return 1


def backoff(restarts: int) -> float:
    return min(BACKOFF_START * 2 ** (restarts - 1), BACKOFF_MAX)


def terminated(run: PodRun) -> dict:
    return {"exitCode": run.exit_code, "reason": "Completed" if run.exit_code == 0 else "Error",
            "startedAt": rfc3339(run.started_at), "finishedAt": rfc3339(run.finished_at)}


def container_id(run: PodRun, container: str, instance: int) -> str:
    """A fake but stable ``<runtime>://<id>``: one per container instance (a restart is a new container)."""
    return "fake://" + hashlib.sha256(f"{run.uid}/{container}/{instance}".encode()).hexdigest()


def image_reference(image: str) -> tuple[str, str]:
    """``(image, imageID)`` as containerd reports them: ``nginx`` is ``docker.io/library/nginx:latest``."""
    name = image.split("@")[0]
    first = name.split("/")[0]
    if "/" not in name or ("." not in first and ":" not in first and first != "localhost"):
        name = "docker.io/" + ("library/" if "/" not in name else "") + name
    if ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return name, f"{name.rsplit(':', 1)[0]}@sha256:{hashlib.sha256(name.encode()).hexdigest()}"


def pod_status(pod: dict, run: PodRun, host_ip: str, now: float) -> dict:
    """The status the kubelet posts for ``pod`` (``generateAPIPodStatus``), from what the fake runtime knows."""
    spec = pod.get("spec") or {}
    old = {c.get("type"): c for c in (pod.get("status") or {}).get("conditions") or []}
    terminal, ready = run.state == "terminated", run.state == "running"
    names = " ".join(c["name"] for c in spec.get("containers") or [])

    def condition(kind: str, ok: bool, reason: str = "", message: str = "") -> dict:
        # Sent as a strategic merge patch, where conditions merge by type: None removes an old reason.
        status = "True" if ok else "False"
        since = old[kind].get("lastTransitionTime") if (old.get(kind) or {}).get("status") == status else None
        return {"type": kind, "status": status, "lastTransitionTime": since or rfc3339(now),
                "reason": reason or None, "message": message or None}

    why = () if ready else ("PodCompleted",) if terminal else (
        "ContainersNotReady", f"containers with unready status: [{names}]")
    conditions = [condition("PodReadyToStartContainers", run.holds_ip),  # the sandbox (and its IP) is up
                  condition("Initialized", True, "PodCompleted" if terminal else ""),
                  condition("Ready", ready, *why), condition("ContainersReady", ready, *why)]
    if "PodScheduled" not in old:  # the binding set it; a Pod made with spec.nodeName has none yet
        conditions.append(condition("PodScheduled", True))
    status: dict[str, Any] = {"phase": run.phase, "conditions": conditions, "hostIP": host_ip,
                              "hostIPs": [{"ip": host_ip}], "startTime": rfc3339(run.seen_at)}
    if run.ip:
        status.update(podIP=run.ip, podIPs=[{"ip": run.ip}])
    inits = spec.get("initContainers") or []
    if inits:
        status["initContainerStatuses"] = [_container_status(c, run, init=True) for c in inits]
    status["containerStatuses"] = [_container_status(c, run, waiting="PodInitializing" if inits else "")
                                   for c in spec.get("containers") or []]
    return status


def _container_status(container: dict, run: PodRun, *, init: bool = False, waiting: str = "") -> dict:
    name = container["name"]
    image, image_id = image_reference(container.get("image") or "")
    found: dict[str, Any] = {"name": name, "image": image, "imageID": "", "ready": False, "started": False,
                             "restartCount": 0 if init else run.restarts, "lastState": {}}
    if run.last_state and not init:
        found["lastState"] = {"terminated": {**run.last_state["terminated"],
                                             "containerID": container_id(run, name, run.restarts - 1)}}
    if run.state == "creating":
        found["state"] = {"waiting": {"reason": waiting or "ContainerCreating"}}
        return found
    cid = container_id(run, name, -1 if init else run.restarts - (run.state == "backoff"))
    found.update(imageID=image_id, containerID=cid)
    if init:  # init containers "ran" the moment the Pod's sandbox was ready
        found["state"] = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": rfc3339(run.started_at),
                                         "finishedAt": rfc3339(run.started_at), "containerID": cid}}
    elif run.state == "running":
        found.update(state={"running": {"startedAt": rfc3339(run.started_at)}}, ready=True, started=True)
    elif run.state == "backoff":
        message = (f"back-off {int(backoff(run.restarts))}s restarting failed container={name} "
                   f"pod={run.name}_{run.namespace}({run.uid})")
        found["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
    else:
        found["state"] = {"terminated": {**terminated(run), "containerID": cid}}
    return found


def rfc3339_nano(wall: float) -> str:
    return rfc3339_micro(wall)[:-1] + "000Z"  # what `kubectl logs --timestamps` prints: nine digits


def millicores(value: Any) -> int:
    try:
        return int(parse_quantity(value).value * 1000) if value is not None else 0
    except ValueError:
        return 0
