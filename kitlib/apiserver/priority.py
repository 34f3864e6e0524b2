"""The Priority admission plugin: a Pod's ``priorityClassName`` becomes the number the scheduler compares.

A PriorityClass (``scheduling.k8s.io/v1``) names an integer: the higher,
the more important. When a Pod is created, kube-apiserver's Priority plugin
looks up the class the Pod names and writes its value into
``spec.priority`` (and its ``preemptionPolicy``), so the scheduler never
reads PriorityClasses itself: it orders its queue and chooses preemption
victims by that number. A Pod that names no class gets the class marked
``globalDefault``, or 0. The two system classes (``system-cluster-critical``,
``system-node-critical``) need no object; defaulting handles them.

Simplifications:
- Classes are read from the registry on every Pod create (kube reads an
  informer's cache).
- A ``spec.priority`` sent by the client is replaced by the class's value;
  kube refuses a Pod whose number differs from its class's (defaulting runs
  first here, so the plugin cannot tell a sent number from a default one).
"""

from __future__ import annotations

from kitlib.api.errors import NotFound
from kitlib.apiserver.admission import CREATE, Attributes
from kitlib.apiserver.defaults import SYSTEM_PRIORITY_CLASSES, admit_pod_priority
from kitlib.apiserver.registry import Registry
from kitlib.apiserver.resources import lookup

PRIORITY_CLASSES = lookup("scheduling.k8s.io", "v1", "priorityclasses")


class Priority:
    """``spec.priority`` and ``spec.preemptionPolicy`` of a new Pod, from its PriorityClass."""

    name = "Priority"

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def admit(self, attrs: Attributes) -> None:
        if attrs.operation != CREATE or attrs.resource.kind != "Pod" or attrs.subresource or attrs.object is None:
            return
        spec = attrs.object.setdefault("spec", {})
        name = spec.get("priorityClassName") or ""
        if name in SYSTEM_PRIORITY_CLASSES:
            return  # defaulting has set them
        if name:
            try:
                found = self.registry.get(PRIORITY_CLASSES, None, name)
            except NotFound:
                raise attrs.forbidden(f"no PriorityClass with name {name} was found") from None
        else:
            defaults = [c for c in self.registry.list(PRIORITY_CLASSES)["items"] if c.get("globalDefault")]
            # Several defaults can exist for a moment; kube takes the lowest value among them.
            found = min(defaults, key=lambda c: c.get("value", 0)) if defaults else None
            if found is not None:
                spec["priorityClassName"] = found["metadata"]["name"]
        # Defaulting already wrote 0 for a Pod without a class: the class's numbers replace it.
        spec.pop("priority", None)
        spec.pop("preemptionPolicy", None)
        admit_pod_priority(attrs.object, found)

    def validate(self, attrs: Attributes) -> None:
        pass
