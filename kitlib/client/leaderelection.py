"""Leader election: of several copies of a component, exactly one acts, and another takes over when it dies.

kube-controller-manager and kube-scheduler run as two or three copies for
availability, but two ReplicaSet controllers acting at once would each
create the missing Pods. So the copies compete for a ``Lease``
(``coordination.k8s.io/v1``) through the API server; the one whose
``holderIdentity`` it names is the leader and runs its controllers; the
others keep watching the Lease. This is client-go's
``k8s.io/client-go/tools/leaderelection`` with its ``LeaseLock``:

- the leader renews the Lease (``renewTime``) every ``retry_period``; if it
  cannot for ``renew_deadline`` it steps down (``on_stopped_leading``);
- a candidate takes the Lease only when it has seen the same record,
  unchanged, for ``leaseDurationSeconds`` of its *own* clock (so clocks of
  different machines never need to agree), or when nobody holds it;
- every write carries the ``resourceVersion`` that was read: of two
  candidates writing at once the API server accepts one and answers the
  other ``409 Conflict`` (optimistic concurrency: the Conflict means
  someone else won);
- a leader that stops on purpose releases the Lease (client-go's
  ``ReleaseOnCancel``): an empty holder and a 1 s duration, so a standby
  takes over at its next try instead of waiting for expiry;
- ``leaseTransitions`` counts how many times the holder changed.

::

    elector = LeaderElector(client, "kube-system", "kube-controller-manager", "cm-1", clock,
                            on_started_leading=start_controllers, on_stopped_leading=stop_controllers)
    elector.start()          # run() on a background thread: acquire, then renew until lost or stopped
    ...
    elector.stop()           # steps down and releases the Lease

Times written into the Lease are RFC 3339 ``MicroTime`` strings of the
clock's wall time; expiry is judged on the clock's monotonic ``now()``.

Simplifications:
- Callbacks run on the elector's thread, one at a time (client-go starts
  ``OnStartedLeading`` and ``OnNewLeader`` as goroutines): they must return
  quickly (start threads, do not block).
- ``on_stopped_leading`` runs only after a term as leader (client-go calls
  it on every return of ``Run``), and before the Lease is released, so a
  leader's controllers have stopped when its successor starts.
- ``run`` ends a term, not the process: kube-controller-manager exits when
  it loses the Lease; a caller here may call ``run`` again to stand again.
- Only the ``Lease`` lock (no Endpoints/ConfigMap locks, no
  ``MultiLock``); no coordinated leader election (``LeaseCandidate``,
  ``strategy``, ``preferredHolder``); no health-check adaptor or metrics.
- No per-request timeouts bounded by the renew deadline: a request takes
  what the transport allows.
"""

from __future__ import annotations

import logging
import random
import threading
from typing import Any, Callable

from kitlib.api.errors import NotFound
from kitlib.api.meta import deep_copy, rfc3339_micro
from kitlib.clock import Clock, RealClock
from kitlib.client.rest import Client
from kitlib.client.workqueue import sleep_until
from kitlib.errors import KitError

log = logging.getLogger(__name__)

# wait.JitterUntil's factor in client-go's acquire loop: a candidate retries
# after retry_period * (1 + 1.2 * rand), so candidates do not retry in step.
JITTER_FACTOR = 1.2

RECORD_FIELDS = ("holderIdentity", "leaseDurationSeconds", "acquireTime", "renewTime", "leaseTransitions")

Record = dict[str, Any]


def record_of(lease: dict[str, Any] | None) -> Record:
    """The leader election record a Lease holds (client-go's ``LeaseSpecToLeaderElectionRecord``)."""
    spec = (lease or {}).get("spec") or {}
    return {
        "holderIdentity": spec.get("holderIdentity") or "",
        "leaseDurationSeconds": int(spec.get("leaseDurationSeconds") or 0),
        "acquireTime": spec.get("acquireTime") or "",
        "renewTime": spec.get("renewTime") or "",
        "leaseTransitions": int(spec.get("leaseTransitions") or 0),
    }


def _spec_of(record: Record) -> dict[str, Any]:
    # LeaderElectionRecordToLeaseSpec: every field written, even an empty holder.
    return {field: record[field] for field in RECORD_FIELDS if record.get(field) is not None}


class LeaderElector:
    """One candidate for one Lease (client-go's ``LeaderElector`` over a ``LeaseLock``).

    ``run()`` is one term and blocks: acquire (retrying until stopped), call
    ``on_started_leading``, renew until the Lease is lost or :meth:`stop` is
    called, call ``on_stopped_leading``, release. :meth:`start` runs it on a
    background thread. Lock rule: ``_lock`` guards the observed record and
    the last Lease read; it is held across a whole try (the API calls
    included), so :meth:`release` from another thread never interleaves with
    a renewal.
    """

    def __init__(
        self,
        client: Client,
        lease_namespace: str,
        lease_name: str,
        identity: str,
        clock: Clock | None = None,
        *,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        on_started_leading: Callable[[], None] | None = None,
        on_stopped_leading: Callable[[], None] | None = None,
        on_new_leader: Callable[[str], None] | None = None,
        release_on_cancel: bool = True,
        rng: random.Random | None = None,
    ) -> None:
        # client-go's NewLeaderElector checks: the leader must give up (renew
        # deadline) before others may take over (lease duration), and must get
        # more than one jittered try within its deadline.
        if not identity:
            raise KitError("leader election needs a non-empty identity")
        if lease_duration <= renew_deadline:
            raise KitError("lease_duration must be greater than renew_deadline")
        if renew_deadline <= JITTER_FACTOR * retry_period:
            raise KitError(f"renew_deadline must be greater than retry_period * {JITTER_FACTOR}")
        if retry_period <= 0:
            raise KitError("retry_period must be greater than zero")
        self.leases = client.resource("coordination.k8s.io/v1", "Lease", namespace=lease_namespace)
        self.lease_namespace, self.lease_name, self.identity = lease_namespace, lease_name, identity
        self.clock = clock or RealClock()
        self.rng = rng or random.Random()
        self.lease_duration, self.renew_deadline, self.retry_period = lease_duration, renew_deadline, retry_period
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.on_new_leader = on_new_leader
        self.release_on_cancel = release_on_cancel
        self._lock = threading.RLock()
        # The Lease last read or written: its resourceVersion guards our next write.
        self._lease: dict[str, Any] | None = None
        self._observed: Record = record_of(None)
        self._observed_time = 0.0  # clock.now() when _observed last changed
        self._reported_leader = ""
        self._stop = threading.Event()
        self._release_on_stop = release_on_cancel
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        where = f"{self.lease_namespace}/{self.lease_name}"
        return f"<LeaderElector {self.identity!r} for {where} leader={self.get_leader()!r}>"

    # -- what others ask -------------------------------------------------------------

    def is_leader(self) -> bool:
        """Whether the last record observed names us (client-go's ``IsLeader``); may be stale once stopped."""
        with self._lock:
            return self._observed["holderIdentity"] == self.identity

    def get_leader(self) -> str:
        """The holder of the last record observed (``""``: nobody)."""
        with self._lock:
            return self._observed["holderIdentity"]

    def observed_record(self) -> Record:
        with self._lock:
            return dict(self._observed)

    # -- one try -----------------------------------------------------------------------

    def _lease_valid(self, now: float) -> bool:
        # isLeaseValid: judged by when *we* saw the record change, on our own clock.
        return self._observed_time + self._observed["leaseDurationSeconds"] > now

    def _set_observed(self, record: Record) -> None:
        self._observed = dict(record)
        self._observed_time = self.clock.now()

    def _update(self, record: Record) -> None:
        if self._lease is None:
            raise KitError("the Lease was never read: get or create it first")
        lease = deep_copy(self._lease)
        lease["spec"] = _spec_of(record)
        self._lease = self.leases.update(lease)  # 409 Conflict if anyone wrote it since we read it

    def try_acquire_or_renew(self) -> bool:
        """One attempt to take or keep the Lease; True if we hold it now (``tryAcquireOrRenew``)."""
        with self._lock:
            now = self.clock.now()
            stamp = rfc3339_micro(self.clock.wall())
            record: Record = {"holderIdentity": self.identity, "leaseDurationSeconds": round(self.lease_duration),
                              "acquireTime": stamp, "renewTime": stamp, "leaseTransitions": 0}

            # 1. Fast path: the leader writes over the Lease it wrote last, without reading it first.
            if self.is_leader() and self._lease_valid(now):
                record["acquireTime"] = self._observed["acquireTime"]
                record["leaseTransitions"] = self._observed["leaseTransitions"]
                try:
                    self._update(record)
                except KitError as err:
                    log.info("%s: failed to renew lease %s/%s optimistically (%s), reading it again",
                             self.identity, self.lease_namespace, self.lease_name, err)
                else:
                    self._set_observed(record)
                    return True

            # 2. Read the Lease, or create it if nobody has yet.
            try:
                lease = self.leases.get(self.lease_name)
            except NotFound:
                try:
                    self._lease = self.leases.create({
                        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                        "metadata": {"name": self.lease_name, "namespace": self.lease_namespace},
                        "spec": _spec_of(record)})
                except KitError as err:  # AlreadyExists: another candidate created it first
                    log.info("%s: could not create lease %s/%s: %s", self.identity, self.lease_namespace,
                             self.lease_name, err)
                    return False
                self._set_observed(record)
                return True
            except KitError as err:
                log.warning("%s: error retrieving lease %s/%s: %s", self.identity, self.lease_namespace,
                            self.lease_name, err)
                return False
            self._lease = lease
            old = record_of(lease)

            # 3. A record we had not seen restarts our count of its age.
            if old != self._observed:
                self._observed, self._observed_time = old, now
            if old["holderIdentity"] and self._lease_valid(now) and not self.is_leader():
                log.debug("%s: lease is held by %s and has not yet expired", self.identity, old["holderIdentity"])
                return False

            # 4. Take it (or keep it); a change of holder is one more transition.
            if self.is_leader():
                record["acquireTime"] = old["acquireTime"]
                record["leaseTransitions"] = old["leaseTransitions"]
            else:
                record["leaseTransitions"] = old["leaseTransitions"] + 1
            try:
                self._update(record)
            except KitError as err:  # 409 Conflict: another candidate wrote first and won
                log.info("%s: failed to update lease %s/%s: %s", self.identity, self.lease_namespace,
                         self.lease_name, err)
                return False
            self._set_observed(record)
            return True

    def release(self) -> bool:
        """Give the Lease up now, if we hold it: an empty holder with a 1 s duration (client-go's ``release``).

        :meth:`stop` calls it. On its own, while :meth:`run` is still going,
        the elector would simply take the Lease back at its next renewal.
        """
        with self._lock:
            if not self.is_leader():
                return True
            stamp = rfc3339_micro(self.clock.wall())
            record: Record = {"holderIdentity": "", "leaseDurationSeconds": 1, "acquireTime": stamp,
                              "renewTime": stamp, "leaseTransitions": self._observed["leaseTransitions"]}
            try:
                self._update(record)
            except KitError as err:
                log.warning("%s: failed to release lease %s/%s: %s", self.identity, self.lease_namespace,
                            self.lease_name, err)
                return False
            self._set_observed(record)
            log.info("%s: released lease %s/%s", self.identity, self.lease_namespace, self.lease_name)
            return True

    # -- the loop ------------------------------------------------------------------------

    def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` on the clock; True if stopped meanwhile."""
        return sleep_until(self.clock, self.clock.now() + seconds, self._stop)

    def _try(self) -> bool:
        try:
            return self.try_acquire_or_renew()
        except Exception:  # noqa: BLE001 (an unexpected failure is a failed try, not the end of the elector)
            log.exception("%s: error acquiring or renewing lease %s/%s", self.identity, self.lease_namespace,
                          self.lease_name)
            return False

    def _maybe_report_transition(self) -> None:
        leader = self.get_leader()
        if leader == self._reported_leader:
            return
        self._reported_leader = leader
        log.info("%s: new leader for %s/%s: %r", self.identity, self.lease_namespace, self.lease_name, leader)
        self._call(self.on_new_leader, leader)

    def _call(self, callback: Callable[..., None] | None, *args: Any) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:  # noqa: BLE001 (a broken callback must not stop the renewals)
            log.exception("%s: leader election callback %s failed", self.identity, callback)

    def _acquire(self) -> bool:
        log.info("%s: attempting to acquire leader lease %s/%s...", self.identity, self.lease_namespace,
                 self.lease_name)
        while not self._stop.is_set():
            acquired = self._try()
            self._maybe_report_transition()
            if acquired:
                log.info("%s: successfully acquired lease %s/%s", self.identity, self.lease_namespace,
                         self.lease_name)
                return True
            if self._sleep(self.retry_period * (1 + JITTER_FACTOR * self.rng.random())):
                break
        return False

    def _renew_once(self) -> bool | None:
        """Renew, retrying every ``retry_period`` up to ``renew_deadline``; None if stopped meanwhile."""
        deadline = self.clock.now() + self.renew_deadline
        while True:
            if self._try():
                return True
            if self._sleep(self.retry_period):
                return None
            if self.clock.now() >= deadline:
                return False

    def _renew(self) -> None:
        while not self._stop.is_set():
            renewed = self._renew_once()
            self._maybe_report_transition()
            if renewed is None:
                return
            if not renewed:
                log.info("%s: failed to renew lease %s/%s: renew deadline of %s s passed", self.identity,
                         self.lease_namespace, self.lease_name, self.renew_deadline)
                return
            if self._sleep(self.retry_period):
                return

    def run(self) -> None:
        """One term, blocking: acquire, lead until the Lease is lost or :meth:`stop` is called, step down."""
        if not self._acquire():
            return
        try:
            self._call(self.on_started_leading)
            self._renew()
        finally:
            self._call(self.on_stopped_leading)
            if self._release_on_stop:
                self.release()

    def start(self) -> "LeaderElector":
        """:meth:`run` on a background thread; returns at once."""
        self._thread = threading.Thread(target=self.run, name=f"kit-leaderelection-{self.identity}", daemon=True)
        self._thread.start()
        return self

    def stop(self, release: bool | None = None, timeout: float = 5.0) -> None:
        """Stop competing; a leader steps down and, unless ``release`` is False, releases the Lease.

        ``release=False`` plays a crash: the Lease stays ours until it
        expires on the other candidates' clocks.
        """
        self._release_on_stop = self.release_on_cancel if release is None else release
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("%s: leader election thread did not stop within %s s", self.identity, timeout)

    def stopped(self) -> bool:
        return self._stop.is_set()
