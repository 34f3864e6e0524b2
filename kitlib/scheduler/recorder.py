"""The scheduler's Events: ``Scheduled``, ``FailedScheduling``, ``Preempted``, as kube's event recorder writes them.

What ``kubectl describe pod`` and ``kubectl get events`` show about a
Pod's scheduling comes from here. An Event is an ordinary core/v1 object
named ``<pod>.<unix nanoseconds in hex>``; the same event about the same
Pod again (the same type, reason and message) bumps the first one's
``count`` and ``lastTimestamp`` instead of making another, as client-go's
``EventCorrelator`` does, so a Pod that stays unschedulable for an hour
has one FailedScheduling Event with a large count, not thousands.

Simplifications:
- Only the exact-repeat aggregation; kube also folds similar events
  (same reason, different messages) into "combined from similar events"
  after ten of them in ten minutes, and rate-limits each source.
- Events are written on the caller's thread (kube queues them and writes
  them from a background goroutine, dropping them when the queue is full).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any

from kitlib.api.errors import AlreadyExists
from kitlib.api.meta import name, namespace, rfc3339, uid
from kitlib.client.rest import Client
from kitlib.clock import Clock
from kitlib.errors import KitError

log = logging.getLogger(__name__)
Obj = dict[str, Any]

# How many distinct events the correlator remembers (client-go's maxLruCacheEntries).
MAX_REMEMBERED = 4096


class EventRecorder:
    """core/v1 Events about Pods, as kube's recorder writes them; a repeat bumps ``count`` instead.

    kube's EventCorrelator aggregates identical events (same object, type,
    reason and message) into one whose ``count`` and ``lastTimestamp`` grow.
    """

    def __init__(self, client: Client, clock: Clock, component: str, instance: str) -> None:
        self.client, self.clock, self.component, self.instance = client, clock, component, instance
        self._lock = threading.Lock()
        # (object, type, reason, message) -> (event name, count), least recently used first.
        self._seen: OrderedDict[tuple, tuple[str, int]] = OrderedDict()

    def event(self, obj: Obj, type_: str, reason: str, action: str, message: str) -> None:
        ns = namespace(obj) or "default"
        events = self.client.resource("v1", "Event", namespace=ns)
        stamp = rfc3339(self.clock.wall())
        key = (ns, name(obj), uid(obj), type_, reason, message)
        try:
            with self._lock:
                seen = self._seen.get(key)
                if seen is not None:
                    events.patch(seen[0], {"count": seen[1] + 1, "lastTimestamp": stamp}, "merge")
                    self._seen[key] = (seen[0], seen[1] + 1)
                    self._seen.move_to_end(key)
                    return
                # kube names an Event "<object>.<unix nanoseconds in hex>"; a suffix keeps a FakeClock's apart.
                base = f"{name(obj)}.{int(self.clock.wall() * 1e9):x}"
                event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": base, "namespace": ns},
                         "involvedObject": {"apiVersion": "v1", "kind": "Pod", "namespace": ns, "name": name(obj),
                                            "uid": uid(obj),
                                            "resourceVersion": obj["metadata"].get("resourceVersion", "")},
                         "reason": reason, "message": message, "type": type_, "action": action,
                         "source": {"component": self.component}, "firstTimestamp": stamp, "lastTimestamp": stamp,
                         "count": 1, "reportingComponent": self.component, "reportingInstance": self.instance}
                for attempt in range(1, 100):
                    try:
                        events.create(event)
                        break
                    except AlreadyExists:
                        event["metadata"]["name"] = f"{base}{attempt:x}"
                self._seen[key] = (event["metadata"]["name"], 1)
                while len(self._seen) > MAX_REMEMBERED:
                    self._seen.popitem(last=False)
        except KitError as err:  # an Event is best effort, as in kube
            log.warning("could not record event %s for %s/%s: %s", reason, ns, name(obj), err)
