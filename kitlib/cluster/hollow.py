"""A hollow kubelet: a Node that registers, heartbeats and runs Pods, with nothing behind them.

Kubemark (``cmd/kubemark``) tests control planes at scale with *hollow
nodes*: the real kubelet code on a fake container runtime, so a few
machines pose as thousands of nodes. :class:`HollowKubelet` plays the same
part for the kit. Through a :class:`~kitlib.client.rest.Client` only, as a
kubelet authenticated as ``system:node:<name>``, it

- registers its Node with the status a kubelet posts (capacity and
  allocatable, the four conditions, addresses, ``nodeInfo``, the
  ``kubernetes.io/*`` labels), then renews its Lease in ``kube-node-lease``
  every quarter of the lease duration and posts node status when it
  changed or every ``node_status_report_frequency`` seconds (the two
  heartbeats of KEP-589);
- takes the Pods bound to it through the ``pods/status`` subresource from
  Pending (ContainerCreating) to Running, with a Pod IP from its Pod CIDR;
  a Pod whose container exits finishes (Succeeded, Failed) or restarts
  after a back-off, as its ``restartPolicy`` says;
- reports a simulated CPU use per Pod (:meth:`HollowKubelet.pod_cpu_usage`)
  and serves fake logs to ``kubectl logs`` (:meth:`HollowKubelet.logs`).

Annotations steer a Pod: ``sim.kit.dev/run-seconds`` (its container exits
after that long), ``sim.kit.dev/exit-code`` (and with that code),
``sim.kit.dev/cpu-millicores`` (its CPU use).

Every action is a timer on a :class:`~kitlib.cluster.sim.TimerLoop`,
which one thread runs for thousands of kubelets in a
:class:`~kitlib.cluster.sim.SimulatedCluster` (a kubelet started alone
makes its own), and informer handlers only enqueue. Lock rule: state
changes on the loop's thread only; ``_lock`` guards what other threads
read (the API server's, for logs; the informer's, for the queue).

Simplifications:
- No containers, images, volumes, probes or cgroups: a container "runs"
  from its start to its exit; all containers of a Pod start and exit
  together, init containers are reported completed at once.
- Pod IPs are handed out by the kubelet from ``spec.podCIDR`` as the
  host-local IPAM plugin would (round robin, gateway ``.1`` kept); a Node
  gets its Pod CIDR at registration (the node IPAM controller's job).
- No admission on the node (OutOfcpu, OutOfpods), no eviction, no static
  or mirror Pods; node status is posted by comparing with the Node read
  back, not by the kubelet's dozen setters; no Events are recorded.
- Pod deletion is immediate in the kit's API server; for a Pod still held
  (finalizers) the kubelet stops it, posts its terminal phase and confirms
  the deletion once.
- A kubelet that starts finds no containers (a rebooted node): Pods bound
  to it that had not finished start over from Pending.
- Logs are a few fake lines, shared by a Pod's containers.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import random
import threading
from typing import Any, Iterator

from kitlib.api.errors import AlreadyExists, APIError, BadRequest, Conflict, NotFound
from kitlib.api.meta import deep_copy, key_of, rfc3339, rfc3339_micro
from kitlib.client.indexer import NODE_NAME_INDEX, DeletedFinalStateUnknown, node_name_index
from kitlib.client.informer import SharedInformer
from kitlib.client.rest import ALL_NAMESPACES, Client
from kitlib.clock import Clock
from kitlib.cluster.hollow_status import (  # noqa: F401  (re-exported: the annotations and builders are this module's API too)
    CPU_MILLICORES,
    EPHEMERAL_STORAGE,
    EXIT_CODE,
    HEALTHY,
    JITTER,
    KUBELET_VERSION,
    NODE_LEASE_NAMESPACE,
    PodRun,
    RUN_SECONDS,
    allocatable,
    backoff,
    exit_code,
    image_reference,
    millicores,
    node_conditions,
    pod_status,
    rfc3339_nano,
    run_seconds,
    terminated,
)

log = logging.getLogger(__name__)

class HollowKubelet:
    """One hollow node. ``start()``, then it runs on its loop; ``fail()``/``recover()``; ``stop()``.

    In a :class:`~kitlib.cluster.sim.SimulatedCluster` the loop and the Pod
    cache are shared (``loop``, ``pod_cache``) and the cluster's informer
    calls :meth:`pod_changed` and :meth:`pod_deleted`; alone, it makes its
    own loop and watches ``spec.nodeName=<node>`` as a kubelet does.
    """

    def __init__(self, client: Client, node_name: str, clock: Clock, rng: random.Random, *, cpu: str = "4",
                 memory: str = "16Gi", pods: int = 110, labels: dict[str, str] | None = None,
                 taints: list[dict] | None = None, start_delay: float = 1.0, run_time: float | None = None,
                 node_status_update_frequency: float = 10, lease_duration: int = 40,
                 node_status_report_frequency: float = 300, internal_ip: str | None = None,
                 pod_cidr: str | None = None, loop: Any = None, pod_cache: Any = None) -> None:
        self.client, self.node_name, self.clock, self.rng = client, node_name, clock, rng
        self.capacity = {"cpu": cpu, "memory": memory, "pods": str(pods), "ephemeral-storage": EPHEMERAL_STORAGE,
                         "hugepages-1Gi": "0", "hugepages-2Mi": "0"}
        self.labels, self.taints = dict(labels or {}), list(taints or [])
        self.start_delay, self.run_time = start_delay, run_time
        self.status_frequency, self.report_frequency = node_status_update_frequency, node_status_report_frequency
        self.lease_duration = lease_duration
        self.renew_interval = lease_duration * 0.25  # the node lease controller's renewIntervalFraction
        self.internal_ip = internal_ip or f"172.{16 + rng.randrange(16)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        self.pod_cidr = pod_cidr or f"10.244.{rng.randrange(256)}.0/24"
        self._salt = rng.getrandbits(64)  # per-Pod numbers come from it and the Pod's name, not arrival order
        self._ids = {k: f"{rng.getrandbits(128):032x}" for k in ("machineID", "systemUUID", "bootID")}
        self._subnet = ipaddress.ip_network(self.pod_cidr)
        self._next_ip, self._used_ips = 0, set()
        self.loop, self._own_loop = loop, loop is None
        self.pod_cache, self._informer = pod_cache, None
        self._runs: dict[str, PodRun] = {}
        self._queued: set[str] = set()
        self._lock = threading.Condition()  # guards _runs and their logs (read by API server threads), _queued
        self._timers: dict[str, Any] = {}
        self._lease: dict | None = None
        self._node_uid = ""
        self._last_report = float("-inf")
        self.registered = self.failed = self.stopped = False

    def __repr__(self) -> str:
        state = "failed" if self.failed else "stopped" if self.stopped else "ready" if self.registered else "new"
        return f"HollowKubelet({self.node_name}, {state}, {len(self._runs)} pods)"

    # -- life cycle -----------------------------------------------------------------------------

    def start(self) -> "HollowKubelet":
        """Register and start heartbeating, on the loop; returns at once."""
        if self._own_loop:
            from kitlib.cluster.sim import TimerLoop  # sim imports this module: a top-level import would be circular
            self.loop = TimerLoop(self.clock, name=f"kit-kubelet-{self.node_name}").start()
        if self.pod_cache is None:  # a real kubelet's own watch: only the Pods bound to it
            source = self.client.pods(ALL_NAMESPACES).list_watch(field_selector=f"spec.nodeName={self.node_name}",
                                                                 rng=self.rng)
            self._informer = SharedInformer(source, name=f"pods-{self.node_name}", clock=self.clock, rng=self.rng,
                                            indexers={NODE_NAME_INDEX: node_name_index})
            self.pod_cache = self._informer.indexer
            self._informer.add_event_handler(on_add=self.pod_changed, on_update=lambda _, new: self.pod_changed(new),
                                             on_delete=self.pod_deleted)
            self._informer.run()
        self.loop.call_soon(self._register)
        return self

    def stop(self) -> None:
        """Stop for good: no more heartbeats or Pod work (the Node and its Pods stay in the API)."""
        self.stopped = True
        for timer in [*self._timers.values(), *(run.timer for run in list(self._runs.values()))]:
            if timer is not None:
                timer.cancel()
        if self._informer is not None:
            self._informer.stop()
        if self._own_loop and self.loop is not None:
            self.loop.stop()
        with self._lock:
            self._lock.notify_all()  # followers of a log stop waiting

    def fail(self) -> None:
        """The node drops off the network: no Lease renewals, no status, no Pod updates until :meth:`recover`.

        Its containers keep running (and finishing) in memory. The node
        lifecycle controller will see the Lease expire and mark the Node
        NotReady, as it would for a partitioned node.
        """
        self.failed = True  # every heartbeat and write looks at it first

    def recover(self) -> None:
        """Back on the network: heartbeat at once, then report every Pod as it is now (the kubelet's resync)."""
        if self.failed and not self.stopped:
            self.failed = False
            self.loop.call_soon(self._recovered)

    def _recovered(self) -> None:
        self._last_report = float("-inf")  # post status now: we may have been marked NotReady meanwhile
        self._heartbeat_lease()
        self._heartbeat_status()
        with self._lock:
            known = set(self._runs)
        for key in sorted(known | self._bound_keys()):
            self._sync_pod(key)

    def _every(self, name: str, period: float, fn) -> None:
        # wait.JitterUntil(f, period, 0.04, sliding=true): the next run starts a jittered period after this one.
        if not self.failed and not self.stopped:
            old = self._timers.get(name)
            if old is not None:
                old.cancel()  # one pending run per heartbeat, even after fail() and recover() in quick turn
            self._timers[name] = self.loop.call_later(period * (1 + JITTER * self.rng.random()), fn)

    # -- the Node and its heartbeats ------------------------------------------------------------

    def node_object(self) -> dict:
        """The Node this kubelet registers (``initialNode`` and the status setters' first results)."""
        labels = {"kubernetes.io/hostname": self.node_name, "kubernetes.io/os": "linux",
                  "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
                  **self.labels}
        spec: dict[str, Any] = {"podCIDR": self.pod_cidr, "podCIDRs": [self.pod_cidr]}
        if self.taints:
            spec["taints"] = deep_copy(self.taints)
        return {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": self.node_name, "labels": labels,
                         "annotations": {"volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
            "spec": spec,
            "status": {
                "capacity": dict(self.capacity), "allocatable": allocatable(self.capacity),
                "conditions": node_conditions({}, rfc3339(self.clock.wall())),
                "addresses": [{"type": "InternalIP", "address": self.internal_ip},
                              {"type": "Hostname", "address": self.node_name}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {**self._ids, "kernelVersion": "6.1.0-kit-hollow", "osImage": "Kit hollow node",
                             "containerRuntimeVersion": "fake://0.1.0", "kubeletVersion": KUBELET_VERSION,
                             "operatingSystem": "linux", "architecture": "amd64"},
            },
        }

    def _register(self) -> None:
        # registerWithAPIServer: create the Node; if it exists (a restart), post its status at once.
        if self.stopped:
            return
        try:
            try:
                node = self.client.nodes().create(self.node_object())
                self._last_report = self.clock.now()
            except AlreadyExists:
                node = self.client.nodes().get(self.node_name)
        except APIError as err:  # the kubelet keeps trying, backing off to 7 s
            log.warning("%s: unable to register: %s", self.node_name, err)
            self._timers["register"] = self.loop.call_later(7.0, self._register)
            return
        self._node_uid = node["metadata"]["uid"]
        self.registered = True
        log.info("%s: registered (%s, Pods in %s)", self.node_name, self.internal_ip, self.pod_cidr)
        self._heartbeat_lease()
        self._heartbeat_status()

    def _heartbeat_lease(self) -> None:
        """Renew the node's Lease (the node lease controller's ``sync``), creating it if missing."""
        if self.failed or self.stopped:
            return
        leases = self.client.resource("coordination.k8s.io/v1", "Lease", namespace=NODE_LEASE_NAMESPACE)
        renew = rfc3339_micro(self.clock.wall())
        try:
            if self._lease is None:
                try:
                    self._lease = leases.get(self.node_name)
                except NotFound:
                    self._lease = leases.create(self._new_lease(renew))
                    return
            lease = deep_copy(self._lease)
            lease["spec"].update(holderIdentity=self.node_name, leaseDurationSeconds=self.lease_duration,
                                 renewTime=renew)
            self._lease = leases.update(lease)
        except (Conflict, NotFound) as err:  # someone else wrote or removed it: read it again next time
            log.info("%s: lease renewal failed (%s), will retry", self.node_name, err)
            self._lease = None
        except APIError as err:
            log.warning("%s: lease renewal failed: %s", self.node_name, err)
        finally:
            self._every("lease", self.renew_interval, self._heartbeat_lease)

    def _new_lease(self, renew: str) -> dict:
        owner = [{"apiVersion": "v1", "kind": "Node", "name": self.node_name, "uid": self._node_uid}]
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.node_name, "namespace": NODE_LEASE_NAMESPACE, "ownerReferences": owner},
                "spec": {"holderIdentity": self.node_name, "leaseDurationSeconds": self.lease_duration,
                         "renewTime": renew}}

    def _heartbeat_status(self) -> None:
        """``syncNodeStatus``: post the conditions when they differ from the Node's, or when a report is due."""
        if self.failed or self.stopped:
            return
        try:
            node = self.client.nodes().get(self.node_name)
            current = {c.get("type"): c for c in (node.get("status") or {}).get("conditions") or []}
            changed = any((current.get(t) or {}).get("status") != s for t, s, _, _ in HEALTHY)
            if changed or self.clock.now() - self._last_report >= self.report_frequency:
                conditions = node_conditions(current, rfc3339(self.clock.wall()))
                self.client.nodes().patch(self.node_name, {"status": {"conditions": conditions}}, subresource="status")
                self._last_report = self.clock.now()
            with self._lock:
                stale = [run for run in self._runs.values() if run.stale]
            for run in stale:  # statuses a failed write left behind
                self._write_status(run)
        except APIError as err:
            log.warning("%s: node status update failed: %s", self.node_name, err)
        finally:
            self._every("status", self.status_frequency, self._heartbeat_status)

    # -- Pods -----------------------------------------------------------------------------------

    def pod_changed(self, pod: dict) -> None:
        """An informer saw a Pod bound here added or changed: sync it on the loop (de-duplicated)."""
        self._enqueue(key_of(pod))

    def pod_deleted(self, pod: Any) -> None:
        """An informer saw a Pod deleted (``pod`` may be a ``DeletedFinalStateUnknown`` tombstone)."""
        self._enqueue(pod.key if isinstance(pod, DeletedFinalStateUnknown) else key_of(pod))

    def _enqueue(self, key: str) -> None:
        with self._lock:
            if key in self._queued:
                return
            self._queued.add(key)
        self.loop.call_soon(self._sync_pod, key)

    def _bound_keys(self) -> set[str]:
        return {key_of(p) for p in self.pod_cache.by_index(NODE_NAME_INDEX, self.node_name)}

    def _sync_pod(self, key: str) -> None:
        """Make the fake runtime match the Pod (the pod worker's ``syncPod``); on the loop's thread only."""
        with self._lock:
            self._queued.discard(key)
        if self.stopped or self.failed:
            return  # a failed node hears nothing; recover() syncs every Pod
        pod = self.pod_cache.get_by_key(key)
        if pod is not None and (pod.get("spec") or {}).get("nodeName") != self.node_name:
            pod = None
        run = self._runs.get(key)
        if run is not None and (pod is None or pod["metadata"].get("uid") != run.uid):
            self._forget(run)  # deleted, or deleted and made again under the same name
            run = None
        if pod is None:
            return
        if run is None:
            md = pod["metadata"]
            run = PodRun(md.get("namespace", ""), md["name"], md.get("uid", ""), self.clock.wall(),
                         self._default_cpu(pod))
            with self._lock:
                self._runs[key] = run
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                run.state, run.phase = "terminated", pod["status"]["phase"]  # finished before we started
                return
            run.timer = self.loop.call_later(self.start_delay, self._start_container, run)
            self._write_status(run, pod)
        cpu = str((pod["metadata"].get("annotations") or {}).get(CPU_MILLICORES, ""))
        if cpu.isdigit():
            run.cpu = int(cpu)
        if pod["metadata"].get("deletionTimestamp") and not run.deleting:
            self._kill(run)
        elif run.stale:
            self._write_status(run, pod)

    def _start_container(self, run: PodRun) -> None:
        pod = self.pod_cache.get_by_key(run.key)
        if pod is None or self.stopped or run.deleting or self._runs.get(run.key) is not run:
            return
        if not run.holds_ip:
            run.ip = self._allocate_ip()
            run.holds_ip = bool(run.ip)
            if not run.ip:  # the CNI's "no IP addresses available in range set": the sandbox is retried
                log.warning("%s: no free Pod IP in %s for %s", self.node_name, self.pod_cidr, run.key)
                run.timer = self.loop.call_later(BACKOFF_START, self._start_container, run)
                return
        now = self.clock.wall()
        with self._lock:
            run.state, run.phase, run.started_at = "running", "Running", now
            run.logs += [(now, f"{run.name}: started"), (now, f"{run.name}: listening on {run.ip}:8080")]
            self._lock.notify_all()
        seconds = run_seconds(pod, self.run_time)
        run.timer = self.loop.call_later(seconds, self._exit_container, run) if seconds is not None else None
        self._write_status(run, pod)

    def _exit_container(self, run: PodRun) -> None:
        pod = self.pod_cache.get_by_key(run.key)
        if pod is None or self.stopped or run.deleting or self._runs.get(run.key) is not run:
            return
        code = exit_code(pod)
        policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
        now = self.clock.wall()
        with self._lock:
            run.exit_code, run.finished_at = code, now
            run.logs.append((now, f"{run.name}: exiting with code {code}"))
            if policy == "Always" or (policy == "OnFailure" and code != 0):
                # The kubelet restarts the container after a back-off (CrashLoopBackOff): 10 s, 20 s, ... 5 min.
                run.last_state = {"terminated": terminated(run)}
                run.restarts += 1
                run.previous_logs, run.logs, run.state = run.logs, [], "backoff"
                run.timer = self.loop.call_later(backoff(run.restarts), self._start_container, run)
            else:
                run.state, run.phase, run.timer = "terminated", "Succeeded" if code == 0 else "Failed", None
                self._release_ip(run)  # the sandbox is torn down; status.podIP stays
            self._lock.notify_all()
        self._write_status(run, pod)

    def _kill(self, run: PodRun) -> None:
        # The Pod is being deleted: stop its containers (they honour SIGTERM: exit 0), post the terminal
        # phase (kubelets do since v1.27), then confirm the deletion with a grace period of 0.
        if run.timer is not None:
            run.timer.cancel()
        self._release_ip(run)
        if run.state != "terminated":
            now = self.clock.wall()
            with self._lock:
                if run.state != "backoff":  # a container in back-off is dead already, with its own exit code
                    run.exit_code, run.started_at, run.finished_at = 0, run.started_at or now, now
                    run.logs.append((now, f"{run.name}: stopping"))
                run.state, run.phase = "terminated", "Succeeded" if run.exit_code == 0 else "Failed"
                self._lock.notify_all()
            self._write_status(run)
        run.deleting = True
        pods = self.client.pods(run.namespace)
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                   "preconditions": {"uid": run.uid}}
        try:  # ResourceClient.delete cannot send gracePeriodSeconds yet, so the request is made here
            self.client.transport.request("DELETE", pods.path(run.namespace, run.name),
                                          body=json.dumps(options).encode())
        except (NotFound, Conflict):
            pass  # gone already, or a new Pod of that name

    def _forget(self, run: PodRun) -> None:
        if run.timer is not None:
            run.timer.cancel()
        self._release_ip(run)
        with self._lock:
            self._runs.pop(run.key, None)
            self._lock.notify_all()

    def _write_status(self, run: PodRun, pod: dict | None = None) -> None:
        pod = pod if pod is not None else self.pod_cache.get_by_key(run.key)
        if pod is None or run.deleting or pod["metadata"].get("uid") != run.uid:
            return
        if self.failed:
            run.stale = True  # written by recover()
            return
        status = pod_status(pod, run, self.internal_ip, self.clock.wall())
        try:
            self.client.pods(run.namespace).patch(run.name, {"status": status}, subresource="status")
            run.stale = False
        except NotFound:
            pass  # deleted meanwhile: the informer will say so
        except APIError as err:
            log.warning("%s: status of %s not written: %s", self.node_name, run.key, err)
            run.stale = True

    def _default_cpu(self, pod: dict) -> int:
        rng = random.Random(f"{self._salt}/{key_of(pod)}")  # the same Pod name, the same number
        requested = sum(millicores(((c.get("resources") or {}).get("requests") or {}).get("cpu"))
                        for c in (pod.get("spec") or {}).get("containers") or [])
        return int(requested * rng.uniform(0.2, 0.8)) if requested else rng.randint(10, 250)

    def _allocate_ip(self) -> str:
        # host-local IPAM: the next free address after the last one handed out, round robin; the
        # network address, .1 (the cni0 bridge's gateway) and the broadcast address are never given.
        size = self._subnet.num_addresses - 3
        for i in range(size):
            ip = str(self._subnet[2 + (self._next_ip + i) % size])
            if ip not in self._used_ips:
                self._used_ips.add(ip)
                self._next_ip = (self._next_ip + i + 1) % size
                return ip
        return ""

    def _release_ip(self, run: PodRun) -> None:
        if run.holds_ip:
            self._used_ips.discard(run.ip)
            run.holds_ip = False

    # -- what others read: CPU use, logs --------------------------------------------------------

    def pod_cpu_usage(self) -> dict[str, int]:
        """Millicores each running Pod uses now, by ``namespace/name`` (a metrics source for the HPA).

        Empty while the node is failed: nobody can scrape it.
        """
        if self.failed:
            return {}
        with self._lock:
            return {key: run.cpu for key, run in sorted(self._runs.items()) if run.state == "running"}

    def pod_phases(self) -> dict[str, str]:
        """The phase of every Pod this node runs, as it knows it, by ``namespace/name``."""
        with self._lock:
            return {key: run.phase for key, run in sorted(self._runs.items())}

    def logs(self, namespace: str, pod: str, container: str, *, follow: bool = False, tail_lines: int | None = None,
             timestamps: bool = False, previous: bool = False) -> Iterator[bytes]:
        """A container's fake log: the :class:`~kitlib.apiserver.pods.LogSource` the API server asks."""
        if self.failed or self.stopped:  # what the API server meets when port 10250 does not answer
            raise APIError(f"the kubelet of node {self.node_name} is not reachable", reason="ServiceUnavailable",
                           code=503)
        with self._lock:
            run = self._runs.get(f"{namespace}/{pod}")
            if run is None:
                raise NotFound("pods", pod)
            if previous and run.previous_logs is None:
                raise BadRequest(f'previous terminated container "{container}" in pod "{pod}" not found')
            if not previous and run.state == "creating":
                raise BadRequest(f'container "{container}" in pod "{pod}" is waiting to start: ContainerCreating')
            lines = list(run.previous_logs if previous else run.logs)
            seen = len(run.logs)
        if tail_lines is not None:
            lines = lines[-tail_lines:] if tail_lines > 0 else []
        return self._stream(run, lines, seen, follow and not previous, timestamps)

    def _stream(self, run: PodRun, lines: list, seen: int, follow: bool, timestamps: bool) -> Iterator[bytes]:
        def render(entries: list) -> bytes:
            return "".join((f"{rfc3339_nano(t)} " if timestamps else "") + text + "\n" for t, text in entries).encode()

        if lines:
            yield render(lines)
        while follow:  # until the container stops, the Pod goes, or the kubelet stops
            with self._lock:
                while self._following(run) and len(run.logs) <= seen:
                    self._lock.wait(1.0)
                new, seen, follow = run.logs[seen:], len(run.logs), self._following(run)
            if new:
                yield render(new)

    def _following(self, run: PodRun) -> bool:
        return run.state == "running" and self._runs.get(run.key) is run and not self.stopped


# -- objects, as the kubelet writes them ----------------------------------------------------------


