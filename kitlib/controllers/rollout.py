"""How a Deployment moves from its old ReplicaSets to its new one: RollingUpdate, Recreate, progress.

The half of kube's ``pkg/controller/deployment`` that decides replica
counts during a rollout (``rolling.go``, ``recreate.go``, ``progress.go``),
written as methods the :class:`~kitlib.controllers.deployment.DeploymentController`
inherits (they are methods of ``*DeploymentController`` in Go):

- :meth:`RolloutMixin.rollout_rolling`: scale the new ReplicaSet up while
  every ReplicaSet's replicas stay within ``replicas + maxSurge``, scale the
  old ones down while the available Pods stay at ``replicas -
  maxUnavailable`` or more, unhealthy old Pods first; the two numbers of a
  step (how many to add, how many healthy ones to remove) are the slot
  :data:`rolling_step` (the exercise ``rolling-update``);
- :meth:`RolloutMixin.rollout_recreate`: every old ReplicaSet to 0, wait
  until their Pods are gone, then the new one to ``replicas``;
- :meth:`RolloutMixin.sync_rollout_status`: the status and the
  ``Progressing`` condition (``ReplicaSetUpdated`` while Pods move,
  ``NewReplicaSetAvailable`` when done, ``ProgressDeadlineExceeded`` after
  ``progressDeadlineSeconds`` without progress), with a recheck queued at
  the deadline.

Simplifications:
- No Events ("Scaled up replica set ... from 1 to 2" is logged instead).
- The ``ReplicaFailure`` condition is copied from the new ReplicaSet only
  (kube looks at the new one, then the old ones).
- :func:`rolling_step` is one function where kube has two
  (``NewRSNewReplicas`` and the budget of
  ``scaleDownOldReplicaSetsForRollingUpdate``); the removal of unhealthy
  old replicas (``cleanupUnhealthyReplicas``) and the Available condition
  still resolve the fenceposts themselves.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

from kitlib.api.meta import key_of, name, parse_rfc3339, uid
from kitlib.controllers import deployment_util as du
from kitlib.slots import Slot

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def reference_rolling_step(replicas: int, max_surge: int | str, max_unavailable: int | str, new_replicas: int,
                           old_replicas: int, available: int) -> tuple[int, int]:
    """(replicas to add to the new ReplicaSet, replicas to remove from the old ones) in one RollingUpdate step.

    ``max_surge`` and ``max_unavailable`` are the spec's (an int or a
    percentage of ``replicas``, :func:`~kitlib.controllers.deployment_util.resolve_fenceposts`);
    ``new_replicas`` and ``old_replicas`` the ReplicaSets' ``spec.replicas``
    (the old ones summed), ``available`` the available Pods of all of them.
    Up: while every ReplicaSet together stays within ``replicas + surge``
    (``NewRSNewReplicas``); down: while at least ``replicas - unavailable``
    Pods stay available (``scaleDownOldReplicaSetsForRollingUpdate``).
    """
    surge, unavailable = du.resolve_fenceposts(max_surge, max_unavailable, replicas)
    unavailable = min(unavailable, replicas)  # 1 of 0 replicas would be -1 minimum available
    up = max(0, min(replicas + surge - (new_replicas + old_replicas), replicas - new_replicas))
    down = max(0, min(old_replicas, available - (replicas - unavailable)))
    return up, down


rolling_step = Slot(
    "controllers.rollout.rolling_step",
    reference_rolling_step,
    doc="(replicas, max_surge, max_unavailable, new_replicas, old_replicas, available) -> (scale_up, scale_down).",
)


def _step(d: Obj, all_rss: Sequence[Obj | None], old_rss: Sequence[Obj | None]) -> tuple[int, int]:
    """The slot asked about this Deployment, all its ReplicaSets and the old ones among them."""
    rolling = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    old = du.spec_replicas(old_rss)
    return rolling_step(du.replicas(d), rolling.get("maxSurge"), rolling.get("maxUnavailable"),
                        du.spec_replicas(all_rss) - old, old, du.status_replicas(all_rss, "availableReplicas"))


def _rolling_update(d: Obj) -> bool:
    return ((d.get("spec") or {}).get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"


class RolloutMixin:
    """The rollout strategies; mixed into the controller, which provides scaling and status writes."""

    # -- RollingUpdate (rolling.go) ------------------------------------------------------

    def rollout_rolling(self, d: Obj, rs_list: list[Obj]) -> None:
        """One step of a rolling update (``rolloutRolling``): up if we can, else down if we can."""
        new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(d, rs_list, create=True)
        all_rss = old_rss + [new_rs]
        if self.reconcile_new_replica_set(all_rss, new_rs, d):
            return self.sync_rollout_status(all_rss, new_rs, d)  # wait for the new Pods before going on
        if self.reconcile_old_replica_sets(all_rss, du.active(old_rss), new_rs, d):
            return self.sync_rollout_status(all_rss, new_rs, d)
        if du.deployment_complete(d, d.get("status") or {}):
            self.cleanup_deployment(old_rss, d)
        return self.sync_rollout_status(all_rss, new_rs, d)

    def reconcile_new_replica_set(self, all_rss: list[Obj], new_rs: Obj, d: Obj) -> bool:
        """Scale the new ReplicaSet towards ``replicas`` within the surge (``reconcileNewReplicaSet``)."""
        want = du.replicas(d)
        if du.replicas(new_rs) == want:
            return False
        if du.replicas(new_rs) > want:
            return self.scale_replica_set_and_record_event(new_rs, want, d)[0]
        return self.scale_replica_set_and_record_event(new_rs, self.new_rs_new_replicas(d, all_rss, new_rs), d)[0]

    @staticmethod
    def new_rs_new_replicas(d: Obj, all_rss: Sequence[Obj | None], new_rs: Obj) -> int:
        """The new ReplicaSet's size now (``NewRSNewReplicas``): the slot's scale-up for RollingUpdate."""
        if not _rolling_update(d):
            return du.new_rs_new_replicas(d, all_rss, new_rs)  # Recreate: all at once
        return du.replicas(new_rs) + _step(d, all_rss, [rs for rs in all_rss if rs is not new_rs])[0]

    def reconcile_old_replica_sets(self, all_rss: list[Obj], old_rss: list[Obj], new_rs: Obj, d: Obj) -> bool:
        """Scale old ReplicaSets down as far as availability allows (``reconcileOldReplicaSets``).

        ``maxScaledDown`` counts the new ReplicaSet's unavailable Pods as
        lost already: scaling old ones down while the new Pods cannot start
        would take the Deployment below its minimum for nothing.
        """
        if du.spec_replicas(old_rss) == 0:
            return False  # nothing to scale down
        min_available = du.replicas(d) - du.max_unavailable(d)
        new_unavailable = du.replicas(new_rs) - du.status_count(new_rs, "availableReplicas")
        max_scaled_down = du.spec_replicas(all_rss) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        # Unhealthy old replicas go first: they count for nothing and would block the rollout.
        old_rss, cleaned = self.cleanup_unhealthy_replicas(old_rss, d, max_scaled_down)
        scaled = self.scale_down_old_replica_sets_for_rolling_update(old_rss + [new_rs], old_rss, d)
        return cleaned + scaled > 0

    def cleanup_unhealthy_replicas(self, old_rss: list[Obj], d: Obj, max_cleanup: int) -> tuple[list[Obj], int]:
        """Remove old replicas that are not available, oldest ReplicaSet first (``cleanupUnhealthyReplicas``)."""
        old_rss = sorted(old_rss, key=du.creation_key)
        total = 0
        for i, rs in enumerate(old_rss):
            if total >= max_cleanup:
                break
            unhealthy = du.replicas(rs) - du.status_count(rs, "availableReplicas")
            if du.replicas(rs) == 0 or unhealthy <= 0:
                continue  # nothing there, or all healthy
            count = min(max_cleanup - total, unhealthy)
            _, old_rss[i] = self.scale_replica_set_and_record_event(rs, du.replicas(rs) - count, d)
            total += count
        return old_rss, total

    def scale_down_old_replica_sets_for_rolling_update(self, all_rss: list[Obj], old_rss: list[Obj], d: Obj) -> int:
        """Scale old ReplicaSets down by what is available above the minimum, oldest first."""
        total, budget = 0, _step(d, all_rss, old_rss)[1]
        if budget <= 0:
            return 0  # can't scale down further
        for rs in sorted(old_rss, key=du.creation_key):
            if total >= budget:
                break
            if du.replicas(rs) == 0:
                continue
            count = min(du.replicas(rs), budget - total)
            self.scale_replica_set_and_record_event(rs, du.replicas(rs) - count, d)
            total += count
        return total

    # -- Recreate (recreate.go) -----------------------------------------------------------

    def rollout_recreate(self, d: Obj, rs_list: list[Obj], pod_map: dict[str, list[Obj]]) -> None:
        """Kill every old Pod, then start the new ones (``rolloutRecreate``)."""
        new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(d, rs_list, create=False)
        all_rss = old_rss + [new_rs]
        scaled_down = False
        for rs in du.active(old_rss):
            scaled, _ = self.scale_replica_set_and_record_event(rs, 0, d)
            scaled_down = scaled_down or scaled
        if scaled_down:
            return self.sync_rollout_status(all_rss, new_rs, d)  # their Pods are now being deleted
        if self.old_pods_running(new_rs, old_rss, pod_map):
            return self.sync_rollout_status(all_rss, new_rs, d)  # never two versions at once
        if new_rs is None:
            new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(d, rs_list, create=True)
            all_rss = old_rss + [new_rs]
        self.scale_replica_set_and_record_event(new_rs, du.replicas(d), d)
        if du.deployment_complete(d, d.get("status") or {}):
            self.cleanup_deployment(old_rss, d)
        return self.sync_rollout_status(all_rss, new_rs, d)

    @staticmethod
    def old_pods_running(new_rs: Obj | None, old_rss: Sequence[Obj], pod_map: dict[str, list[Obj]]) -> bool:
        """Whether any Pod of an old ReplicaSet may still run (``oldPodsRunning``)."""
        if du.status_replicas(old_rss) > 0:
            return True
        for rs_uid, pods in pod_map.items():
            if new_rs is not None and uid(new_rs) == rs_uid:
                continue
            # Succeeded and Failed Pods run nothing; anything else (Unknown included) might.
            if any((p.get("status") or {}).get("phase") not in ("Succeeded", "Failed") for p in pods):
                return True
        return False

    # -- status and progress (sync.go's calculateStatus, progress.go) ----------------------

    def calculate_status(self, all_rss: list[Obj | None], new_rs: Obj | None, d: Obj) -> Obj:
        """The Deployment's status from its ReplicaSets' (``calculateStatus``).

        Counts are the ReplicaSets' ``status`` (what exists), but
        ``unavailableReplicas`` is measured against their ``spec`` (what is
        wanted). Zero counts are left out, as Go's ``omitempty`` does.
        """
        available = du.status_replicas(all_rss, "availableReplicas")
        old = d.get("status") or {}
        status: Obj = {
            "observedGeneration": (d.get("metadata") or {}).get("generation", 0),
            "replicas": du.status_replicas(all_rss),
            "updatedReplicas": du.status_replicas([new_rs]),
            "readyReplicas": du.status_replicas(all_rss, "readyReplicas"),
            "availableReplicas": available,
            "unavailableReplicas": max(0, du.spec_replicas(all_rss) - available),  # negative while scaling down
        }
        status = {k: v for k, v in status.items() if v}
        if old.get("collisionCount") is not None:
            status["collisionCount"] = old["collisionCount"]
        if old.get("conditions"):
            status["conditions"] = [dict(c) for c in old["conditions"]]
        now = self.clock.wall()
        if available >= du.replicas(d) - du.max_unavailable(d):
            du.set_condition(status, du.new_condition(du.AVAILABLE, "True", du.MINIMUM_REPLICAS_AVAILABLE,
                                                      "Deployment has minimum availability.", now))
        else:
            du.set_condition(status, du.new_condition(du.AVAILABLE, "False", du.MINIMUM_REPLICAS_UNAVAILABLE,
                                                      "Deployment does not have minimum availability.", now))
        return status

    def sync_rollout_status(self, all_rss: list[Obj | None], new_rs: Obj | None, d: Obj) -> None:
        """Write the status with the ``Progressing`` condition the rollout deserves (``syncRolloutStatus``)."""
        new_status = self.calculate_status(all_rss, new_rs, d)
        if not du.has_progress_deadline(d):
            du.remove_condition(new_status, du.PROGRESSING)
        current = du.get_condition(d.get("status") or {}, du.PROGRESSING)
        complete_already = (new_status.get("replicas", 0) == new_status.get("updatedReplicas", 0)
                            and current is not None and current.get("reason") == du.NEW_RS_AVAILABLE_REASON)
        now = self.clock.wall()
        if du.has_progress_deadline(d) and not complete_already:
            subject = f'ReplicaSet "{name(new_rs)}"' if new_rs is not None else f'Deployment "{name(d)}"'
            if du.deployment_complete(d, new_status):
                du.set_condition(new_status, du.new_condition(
                    du.PROGRESSING, "True", du.NEW_RS_AVAILABLE_REASON, f"{subject} has successfully progressed.", now))
            elif du.deployment_progressing(d, new_status):
                condition = du.new_condition(du.PROGRESSING, "True", du.RS_UPDATED_REASON,
                                             f"{subject} is progressing.", now)
                # Progress refreshes lastUpdateTime even with the same reason: the deadline counts from it.
                if current is not None:
                    if current.get("status") == "True":
                        condition["lastTransitionTime"] = current.get("lastTransitionTime")
                    du.remove_condition(new_status, du.PROGRESSING)
                du.set_condition(new_status, condition)
            elif du.deployment_timed_out(d, new_status, now):
                du.set_condition(new_status, du.new_condition(
                    du.PROGRESSING, "False", du.TIMED_OUT_REASON, f"{subject} has timed out progressing.", now))
        failure = du.get_condition((new_rs or {}).get("status") or {}, du.REPLICA_FAILURE)
        if failure is not None:
            du.set_condition(new_status, {"lastUpdateTime": failure.get("lastTransitionTime"), **failure})
        else:
            du.remove_condition(new_status, du.REPLICA_FAILURE)
        if (d.get("status") or {}) == new_status:
            self.requeue_stuck_deployment(d, new_status)
            return
        d["status"] = new_status
        self.update_deployment_status(d)

    def requeue_stuck_deployment(self, d: Obj, new_status: Obj) -> float | None:
        """Look again when the progress deadline passes, or progress would only be noticed at a resync.

        Returns the delay queued (kubernetes/kubernetes#34458), None if none.
        """
        current = du.get_condition(d.get("status") or {}, du.PROGRESSING)
        if not du.has_progress_deadline(d) or current is None:
            return None
        if du.deployment_complete(d, new_status) or current.get("reason") == du.TIMED_OUT_REASON:
            return None
        since = parse_rfc3339(current["lastUpdateTime"]) if current.get("lastUpdateTime") else self.clock.wall()
        after = since + d["spec"]["progressDeadlineSeconds"] - self.clock.wall()
        if after < 1:
            self.queue.add_rate_limited(key_of(d))  # about due: soon, but rate-limited
            return 0.0
        self.enqueue_after(d, after + 1)
        return after
