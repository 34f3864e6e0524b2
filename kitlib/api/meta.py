"""Object metadata: names, keys, UIDs, timestamps and owner references.

Every Kubernetes object is a plain JSON-shaped dict exactly as the API serves
it; these helpers read and build the ``metadata`` part that every component
shares. Controllers key their work queues by :func:`key_of` (client-go's
``MetaNamespaceKeyFunc``), the API server stamps :func:`new_uid` and
:func:`rfc3339` timestamps on create, and owner references tie a Pod to its
ReplicaSet so the garbage collector can find orphans.

The rule that keeps an informer's cache sound: never modify an object taken
from the cache; :func:`deep_copy` it first (client-go's ``DeepCopy``). The
getters below return the object's own dicts, so they are read-only too.

Simplifications:
- Timestamps are floats of wall-clock seconds from the component's clock,
  not Go's ``time.Time`` with a monotonic reading and a location.
- ``key_of`` does not unwrap informer tombstones
  (``DeletedFinalStateUnknown``); the client layer does that.
"""

from __future__ import annotations

import copy
import datetime as _dt
import math
import random
import re
import uuid
from typing import Any

from kitlib.errors import KitError

Obj = dict[str, Any]

# apiserver/pkg/storage/names: a generated name is the prefix plus five
# characters from utilrand's alphabet (no vowels, no look-alike 0/1/3), the
# prefix cut so the whole name stays a 63-character DNS label.
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_RANDOM_LENGTH = 5
MAX_GENERATED_NAME_LENGTH = 63 - _RANDOM_LENGTH


class MetaError(KitError, ValueError):
    """Malformed metadata input: a bad key, timestamp or owner."""


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def name(obj: Obj) -> str:
    return _meta(obj).get("name") or ""


def namespace(obj: Obj) -> str:
    """The namespace, ``""`` for cluster-scoped objects (Nodes, Namespaces)."""
    return _meta(obj).get("namespace") or ""


def uid(obj: Obj) -> str:
    return _meta(obj).get("uid") or ""


def labels(obj: Obj) -> dict[str, str]:
    """The object's labels (read-only: it is the object's own dict, or a fresh ``{}``)."""
    return _meta(obj).get("labels") or {}


def annotations(obj: Obj) -> dict[str, str]:
    """The object's annotations (read-only, as :func:`labels`)."""
    return _meta(obj).get("annotations") or {}


def key_of(obj: Obj | str) -> str:
    """``"namespace/name"``, or ``"name"`` for a cluster-scoped object.

    As client-go's ``MetaNamespaceKeyFunc``: the key a work queue holds, so
    a controller re-reads the newest object instead of acting on a stale
    copy. A string is taken as an already computed key (``ExplicitKey``).
    """
    if isinstance(obj, str):
        return obj
    ns = namespace(obj)
    return f"{ns}/{name(obj)}" if ns else name(obj)


def split_key(key: str) -> tuple[str, str]:
    """``(namespace, name)`` from a key; namespace ``""`` if cluster-scoped (``SplitMetaNamespaceKey``)."""
    parts = key.split("/")
    if len(parts) == 1:
        return "", parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise MetaError(f"unexpected key format: {key!r} (expected \"namespace/name\" or \"name\")")


def new_uid(rng: random.Random) -> str:
    """A version-4 UUID drawn from ``rng``, so seeded runs name objects identically."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def generate_name(base: str, rng: random.Random) -> str:
    """``metadata.generateName`` made concrete, as the API server does on create.

    Kubernetes' ``SimpleNameGenerator``: the base cut to 58 characters, then
    five random characters; ``web-`` becomes e.g. ``web-7xk2q``.
    """
    if len(base) > MAX_GENERATED_NAME_LENGTH:
        base = base[:MAX_GENERATED_NAME_LENGTH]
    return base + "".join(rng.choice(_NAME_ALPHABET) for _ in range(_RANDOM_LENGTH))


def _utc(wall_seconds: float) -> _dt.datetime:
    return _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc) + _dt.timedelta(seconds=wall_seconds)


def rfc3339(wall_seconds: float) -> str:
    """``metav1.Time`` as JSON: UTC, whole seconds, ``Z`` (``2026-11-23T11:34:38Z``).

    Go's ``time.Format`` truncates the fraction, so 38.9 s prints as 38.
    """
    return _utc(math.floor(wall_seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_micro(wall_seconds: float) -> str:
    """``metav1.MicroTime`` as JSON (Lease ``renewTime``, Event ``eventTime``): six fraction digits."""
    micros = round(wall_seconds * 1_000_000)
    seconds, fraction = divmod(micros, 1_000_000)
    return _utc(seconds).strftime("%Y-%m-%dT%H:%M:%S") + f".{fraction:06d}Z"


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})"
)


def parse_rfc3339(text: str) -> float:
    """Wall-clock seconds from an RFC 3339 timestamp (``Z`` or ``+hh:mm``, optional fraction).

    Accepts what Go's ``time.Parse(time.RFC3339, ...)`` accepts, which is
    how ``metav1.Time`` and ``MicroTime`` read JSON.
    """
    match = _RFC3339.fullmatch(text) if isinstance(text, str) else None
    if not match:
        raise MetaError(f"invalid timestamp {text!r}: expected RFC 3339, e.g. \"2026-11-23T11:34:38Z\"")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zone = match.group(7), match.group(8)
    try:
        stamp = _dt.datetime(year, month, day, hour, minute, second, tzinfo=_dt.timezone.utc)
    except ValueError as err:
        raise MetaError(f"invalid timestamp {text!r}: {err}") from None
    seconds = (stamp - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)).total_seconds()
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return seconds + (float(fraction) if fraction else 0.0)


def owner_reference(
    owner: Obj,
    controller: bool = True,
    block_owner_deletion: bool = True,
    *,
    api_version: str | None = None,
    kind: str | None = None,
) -> Obj:
    """An ``ownerReferences`` entry pointing at ``owner`` (``metav1.NewControllerRef`` by default).

    Items of a list response carry no ``apiVersion``/``kind`` for built-in
    types, so pass them when ``owner`` came from a list.
    """
    api_version = api_version or owner.get("apiVersion")
    kind = kind or owner.get("kind")
    if not api_version or not kind:
        raise MetaError(
            f"owner {key_of(owner)!r} has no apiVersion/kind (list items omit them): "
            "pass api_version= and kind="
        )
    if not uid(owner):
        raise MetaError(f"owner {key_of(owner)!r} has no metadata.uid: read it back from the API server first")
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name(owner),
        "uid": uid(owner),
        "controller": controller,
        "blockOwnerDeletion": block_owner_deletion,
    }


def owner_references(obj: Obj) -> list[Obj]:
    return _meta(obj).get("ownerReferences") or []


def controller_of(obj: Obj) -> Obj | None:
    """The owner reference with ``controller: true``, or ``None`` (``metav1.GetControllerOf``).

    At most one owner may be the controller; it is the one that manages the
    object (the ReplicaSet of a Pod), the others only keep it alive.
    """
    for ref in owner_references(obj):
        if ref.get("controller"):
            return ref
    return None


def is_owned_by(obj: Obj, owner: Obj) -> bool:
    """Whether any owner reference of ``obj`` names ``owner`` (compared by UID, as the garbage collector does)."""
    owner_uid = uid(owner)
    return bool(owner_uid) and any(ref.get("uid") == owner_uid for ref in owner_references(obj))


def is_controlled_by(obj: Obj, owner: Obj) -> bool:
    """Whether ``owner`` is ``obj``'s controller (``metav1.IsControlledBy``)."""
    ref = controller_of(obj)
    return ref is not None and bool(uid(owner)) and ref.get("uid") == uid(owner)


_ATOMS = frozenset({str, int, float, bool, type(None)})  # immutable: shared, never copied


def deep_copy(obj: Any) -> Any:
    """A copy sharing nothing mutable with ``obj``: copy before you modify a cached object."""
    # Every write copies whole objects several times, so leaves are tested inline by exact type
    # rather than by a recursive call each (about twice as fast as the plain recursion).
    cls = type(obj)
    if cls is dict:
        return {k: v if type(v) in _ATOMS else deep_copy(v) for k, v in obj.items()}
    if cls is list:
        return [v if type(v) in _ATOMS else deep_copy(v) for v in obj]
    if cls in _ATOMS:
        return obj
    if isinstance(obj, dict):
        return {k: deep_copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [deep_copy(v) for v in obj]
    return copy.deepcopy(obj)
