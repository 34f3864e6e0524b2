"""Optimistic concurrency: read, modify, compare-and-swap, retry on conflict.

This is the loop at the heart of every update the API server makes
(``GuaranteedUpdate`` in Kubernetes' ``storage.Interface``): nobody takes a
lock. A writer reads the key and remembers its ``mod_revision``, computes the
new value, and writes it in a transaction that succeeds only if the key still
has that ``mod_revision``. If another writer got there first, the comparison
fails, nothing is written, and the loop starts again from a fresh read. No
update is lost and nobody waits for a lock holder that may have crashed.

The function is a slot (``store.guaranteed_update``): the first exercise asks
the reader to write it, and the autograder installs the reader's version in
the engine in place of this one.

Simplifications:
- Kubernetes compares the object's ``resourceVersion`` (which is this
  ``mod_revision``) and also checks preconditions on the UID; here the
  caller's ``try_update`` can raise to refuse an update instead.
"""

from __future__ import annotations

from typing import Callable

from kitlib.slots import Slot
from kitlib.store.errors import StoreError
from kitlib.store.types import Compare, Op, Store, as_bytes

TryUpdate = Callable[["bytes | None"], "bytes | str"]

DEFAULT_MAX_ATTEMPTS = 1000


class TooManyConflicts(StoreError):
    """Every attempt lost the race; the key is too hot for optimistic updates."""


def reference_guaranteed_update(
    store: Store, key: str, try_update: TryUpdate, max_attempts: int = DEFAULT_MAX_ATTEMPTS
) -> int:
    """Apply ``try_update`` to the value at ``key`` without losing a concurrent update.

    ``try_update`` receives the current value (``None`` if the key does not
    exist) and returns the new one; if it raises, nothing is written and the
    exception reaches the caller. Returns the revision of the successful
    write. A conflict (the key changed between the read and the write) makes
    the loop read again and call ``try_update`` on the newer value.
    """
    for _ in range(max_attempts):
        current = store.get(key)
        # mod_revision 0 stands for "the key does not exist", so one
        # comparison covers both creating and updating.
        seen = current.mod_revision if current is not None else 0
        new_value = as_bytes(try_update(current.value if current is not None else None))
        result = store.txn(
            compare=[Compare.mod_revision(key, "=", seen)],
            success=[Op.put(key, new_value)],
        )
        if result.succeeded:
            return result.revision
    raise TooManyConflicts(f"gave up updating {key!r} after {max_attempts} conflicting attempts")


guaranteed_update = Slot(
    "store.guaranteed_update",
    reference_guaranteed_update,
    doc="Read-modify-write one key with compare-and-swap, retrying on conflict.",
)
