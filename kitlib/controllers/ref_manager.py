"""Claiming Pods: which Pods a controller owns, adopting orphans and releasing strays.

A ReplicaSet's selector says which Pods it *wants*; the Pods' controller
references say who *has* them. Before counting replicas, a controller
reconciles the two (kube's ``PodControllerRefManager.ClaimPods``,
``pkg/controller/controller_ref_manager.go``), for each Pod in its
namespace:

=====================  ===================  ==========================================
controller reference   selector matches     outcome
=====================  ===================  ==========================================
this controller        yes                  claimed
this controller        no                   released: our reference is removed
another controller     any                  left alone (never stolen)
none (an orphan)       yes                  adopted: our reference is added
none                   no                   ignored
=====================  ===================  ==========================================

Adoption and release are strategic merge patches of ``ownerReferences``
(merge key ``uid``) that also carry the Pod's UID, so a Pod deleted and
created again under the same name is not touched by mistake. Before the
first adoption the owner is read again from the API server, not the cache:
an owner being deleted must not adopt (``RecheckDeletionTimestamp``).

Simplifications:
- Pods only (kube has the same manager for ReplicaSets and
  ControllerRevisions, behind one ``ClaimObject``).
- Errors are raised together once every Pod has been considered (kube
  returns the claimed list with an aggregate error; its caller then gives
  up on the sync just the same).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from kitlib.api.errors import Invalid, NotFound
from kitlib.api.meta import controller_of, key_of, labels, name, namespace, owner_reference, uid
from kitlib.api.selectors import Selector
from kitlib.client.rest import Client
from kitlib.errors import KitError

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class ClaimError(KitError):
    """Some Pods could not be adopted or released; ``errors`` says why, one per Pod."""

    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(err) for err in errors))


def recheck_deletion_timestamp(get_fresh: Callable[[], Obj], owner: Obj) -> Callable[[], None]:
    """A ``can_adopt`` check: the owner, read fresh, is still the same object and not being deleted."""

    def check() -> None:
        fresh = get_fresh()
        if uid(fresh) != uid(owner):
            raise KitError(f"original {key_of(owner)} is gone: got uid {uid(fresh)}, wanted {uid(owner)}")
        if (fresh.get("metadata") or {}).get("deletionTimestamp"):
            raise KitError(f"{key_of(owner)} has just been deleted at {fresh['metadata']['deletionTimestamp']}")

    return check


class PodControllerRefManager:
    """Claims Pods for one controller object (a ReplicaSet) with its selector."""

    def __init__(self, client: Client, controller: Obj, selector: Selector, api_version: str, kind: str,
                 can_adopt: Callable[[], None]) -> None:
        self.pods = client.pods(namespace(controller))
        self.controller, self.selector = controller, selector
        self.api_version, self.kind = api_version, kind
        self._can_adopt = can_adopt
        self._can_adopt_result: Exception | None | bool = False  # False: not asked yet (sync.Once)

    def can_adopt(self) -> None:
        """Raise if the controller may not adopt; asked once, on the first adoption."""
        if self._can_adopt_result is False:
            try:
                self._can_adopt()
                self._can_adopt_result = None
            except Exception as err:  # noqa: BLE001 (remembered, and raised to every adoption)
                self._can_adopt_result = err
        if isinstance(self._can_adopt_result, Exception):
            raise self._can_adopt_result

    def _being_deleted(self) -> bool:
        return bool((self.controller.get("metadata") or {}).get("deletionTimestamp"))

    def claim_pods(self, pods: list[Obj]) -> list[Obj]:
        """The Pods this controller owns once orphans are adopted and strays released (``ClaimPods``)."""
        claimed: list[Obj] = []
        errors: list[Exception] = []
        for pod in pods:
            try:
                if self._claim(pod):
                    claimed.append(pod)
            except KitError as err:
                errors.append(err)
        if errors:
            raise ClaimError(errors)
        return claimed

    def _claim(self, pod: Obj) -> bool:
        matches = self.selector.matches(labels(pod))
        ref = controller_of(pod)
        if ref is not None:
            if ref.get("uid") != uid(self.controller):
                return False  # someone else's
            if matches:
                return True
            if self._being_deleted():
                return False  # the garbage collector will deal with its Pods
            self._release(pod)
            return False
        # An orphan.
        if self._being_deleted() or not matches:
            return False
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            return False  # ignore if the Pod is being deleted
        if namespace(pod) != namespace(self.controller):
            return False  # owners and dependents share a namespace
        return self._adopt(pod)

    def _adopt(self, pod: Obj) -> bool:
        try:
            self.can_adopt()
        except Exception as err:
            raise KitError(f"can't adopt Pod {key_of(pod)} ({uid(pod)}): {err}") from err
        ref = owner_reference(self.controller, api_version=self.api_version, kind=self.kind)
        log.info("%s %s adopting Pod %s", self.kind, key_of(self.controller), key_of(pod))
        try:
            self.pods.patch(name(pod), {"metadata": {"ownerReferences": [ref], "uid": uid(pod)}}, "strategic")
        except NotFound:
            return False  # gone meanwhile: nothing to claim
        return True

    def _release(self, pod: Obj) -> None:
        log.info("%s %s releasing Pod %s: its labels no longer match", self.kind, key_of(self.controller),
                 key_of(pod))
        patch = {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": uid(self.controller)}],
                              "uid": uid(pod)}}
        try:
            self.pods.patch(name(pod), patch, "strategic")
        except (NotFound, Invalid):
            # Gone, or no longer ours, or recreated under the same name (its UID differs): nothing to release.
            pass
