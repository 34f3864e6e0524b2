"""Grading scenarios for the exercise ``store-update``: the guaranteed update.

The reader writes ``update_with_retry(store, key, try_update)``, the
optimistic-concurrency loop of :func:`kitlib.store.update.reference_guaranteed_update`.
Each scenario below installs the reader's function in the engine through the
slot :data:`kitlib.store.update.guaranteed_update`, drives the slot on a real
embedded store, and checks only what happened to the data: the values, the
revisions, how often ``try_update`` ran. It raises :class:`AssertionError`
with a message that says what went wrong and what to change.

The notebook's test cells call these through :func:`kitlib.exercises.check`;
:data:`CASES` lists the same calls (visible and hidden) for the test suite,
which runs them against the reference and against known-wrong versions.

Simplifications:
- Concurrent writers are threads of one process sharing one store, not API
  server replicas sharing an etcd cluster; the race is the same.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from kitlib.exercises.grading import TimedOut, Watchdog, run_alone, run_concurrently
from kitlib.store import open_store
from kitlib.store.update import guaranteed_update

# Keys look like the API server's; the counter is a ConfigMap's data.
KEY = "/registry/configmaps/default/visits"
LIST_KEY = "/registry/configmaps/default/guestbook"
DEFAULT_TIMEOUT = 10.0


class Refused(Exception):
    """What the scenarios' ``try_update`` raises to refuse an update."""


def _name(candidate: Callable[..., Any]) -> str:
    return getattr(candidate, "__name__", "your function")


@contextmanager
def _engine(candidate: Callable[..., Any], directory: str | None = None) -> Iterator[Any]:
    """A fresh real store, with the candidate installed as the engine's guaranteed update."""
    store = open_store(directory if directory is not None else "memory://")
    try:
        with guaranteed_update.installed(candidate):
            yield store
    finally:
        store.close()


@contextmanager
def _scratch(durable: bool) -> Iterator[str | None]:
    """A temporary directory for a durable store, or None for one in memory."""
    if not durable:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="kit-grading-", ignore_cleanup_errors=True) as directory:
        yield directory


class _TryUpdate:
    """Wraps a scenario's ``modify(current)`` as ``try_update``: counts calls, checks the argument."""

    def __init__(self, watchdog: Watchdog, modify: Callable[[bytes | None], Any]) -> None:
        self.watchdog = watchdog
        self.modify = modify
        self.seen: list[bytes | None] = []
        self._lock = threading.Lock()

    def __call__(self, current: Any) -> Any:
        self.watchdog.tick("try_update")
        if current is not None and not isinstance(current, bytes):
            raise AssertionError(
                f"try_update must receive the current value as bytes (the `value` of the KeyValue "
                f"that store.get returned), or None when the key does not exist; it received "
                f"{type(current).__name__} {current!r:.60}"
            )
        with self._lock:
            self.seen.append(current)
        try:
            return self.modify(current)
        except Refused:
            self.watchdog.tick("refused")
            raise

    @property
    def calls(self) -> int:
        with self._lock:
            return len(self.seen)


def _returned_revision(candidate: Callable[..., Any], revision: Any) -> int:
    if isinstance(revision, bool) or not isinstance(revision, int):
        raise AssertionError(
            f"{_name(candidate)} must return the revision of its successful write (an int: the "
            f"`revision` of the TxnResult whose `succeeded` is True); it returned {revision!r:.60}"
        )
    return revision


def _timed_out(candidate: Callable[..., Any], timeout: float, watchdog: Watchdog) -> AssertionError:
    """Explain a function that never returned, from what it kept calling."""
    txns, reads, tries = watchdog.count("txn"), watchdog.count("get") + watchdog.count("range"), watchdog.count("try_update")
    text = f"{_name(candidate)} did not finish within {timeout:g} s"
    if watchdog.count("refused") > 1:
        text += (
            f" (try_update refused the update and was called again, {watchdog.count('refused')} times): "
            f"a refusal is not a conflict; let try_update's exception reach your caller, do not retry it"
        )
    elif txns > 2 * max(reads, 1):
        text += (
            f" ({txns} transactions but only {reads} reads): after a failed transaction, read the key "
            f"again, because its mod_revision has moved on and comparing with the old one fails forever"
        )
    elif txns > 20:
        text += (
            f" ({txns} transactions, every one failing): compare the key's mod_revision as you read it "
            f"(kv.mod_revision, or 0 when store.get returned None), not the store's revision or the "
            f"key's version, with Compare.mod_revision(key, '=', seen)"
        )
    elif tries > 20:
        text += f" (try_update ran {tries} times): does your loop stop once a transaction succeeds?"
    else:
        text += ": does your loop stop once a transaction succeeds (txn(...).succeeded is True)?"
    return AssertionError(text)


def _run_one(candidate: Callable[..., Any], watchdog: Watchdog, job: Callable[[], Any], timeout: float) -> Any:
    try:
        return run_alone(job, watchdog, timeout)
    except TimedOut:
        raise _timed_out(candidate, timeout, watchdog) from None


def _number(raw: Any, key: str) -> int:
    """The counter at ``key`` (0 if missing), or advice if the reader's write left something else there."""
    kv = raw.get(key)
    if kv is None:
        return 0
    try:
        return int(kv.value)
    except ValueError:
        raise AssertionError(
            f"{key} holds {kv.value!r:.60}, not a number: write exactly the value try_update returned"
        ) from None


def _increment(current: bytes | None) -> bytes:
    return str(int(current or b"0") + 1).encode()


def single_update(candidate: Callable[..., Any], *, start: int = 41, neighbours: int = 0,
                  timeout: float = DEFAULT_TIMEOUT) -> None:
    """One writer, no contention: the value is updated once, with one write.

    ``neighbours`` keys sharing the key's prefix are written after it, so the
    store's revision is ahead of the key's mod_revision.
    """
    with _engine(candidate) as raw:
        watchdog = Watchdog()
        store = watchdog.watch(raw)
        raw.put(KEY, str(start))
        others = {f"{KEY}-{i}": f"neighbour {i}".encode() for i in range(neighbours)}
        for key, value in others.items():
            raw.put(key, value)
        before = raw.revision
        try_update = _TryUpdate(watchdog, _increment)
        revision = _run_one(candidate, watchdog, lambda: guaranteed_update(store, KEY, try_update), timeout)
        kv = raw.get(KEY)
        assert kv is not None, f"{KEY} vanished: update the key with a put inside your txn, never delete it"
        assert try_update.seen[:1] == [str(start).encode()], (
            f"try_update must receive the key's current value ({str(start).encode()!r}); it received "
            f"{try_update.seen[0]!r:.60}" if try_update.seen else "try_update was never called"
        )
        assert kv.value == str(start + 1).encode(), (
            f"after one update of {start} by +1 the value is {kv.value!r:.60}, not {str(start + 1).encode()!r}: "
            f"write the value try_update returned"
        )
        assert try_update.calls == 1, (
            f"with no other writer, try_update should run exactly once, but it ran {try_update.calls} "
            f"times: call it once per attempt, and stop once the transaction succeeds"
        )
        writes = raw.revision - before
        assert writes == 1, (
            f"one update should be one write (one transaction), but the store's revision moved by "
            f"{writes}: put the new value inside the txn's success operations only"
        )
        for key, value in others.items():
            other = raw.get(key)
            assert other is not None and other.value == value, (
                f"updating {KEY} changed another key, {key}: read and write exactly the key you were given"
            )
        revision = _returned_revision(candidate, revision)
        assert revision == kv.mod_revision, (
            f"{_name(candidate)} returned {revision}, but its write has revision {kv.mod_revision}: return "
            f"the `revision` of the successful TxnResult"
        )


def create_missing(candidate: Callable[..., Any], *, value: str = '{"visits": 1}', recreated: bool = False,
                   neighbour: bool = False, timeout: float = DEFAULT_TIMEOUT) -> None:
    """The key does not exist: try_update gets None and the key is created.

    ``recreated``: the key existed and was deleted before. ``neighbour``: a
    longer key that starts with the same text exists.
    """
    with _engine(candidate) as raw:
        watchdog = Watchdog()
        store = watchdog.watch(raw)
        if recreated:
            raw.put(KEY, "old")
            raw.delete(KEY)
        if neighbour:
            raw.put(KEY + "-0", "a different key")
        before = raw.revision
        try_update = _TryUpdate(watchdog, lambda current: value)
        try:
            revision = _run_one(candidate, watchdog, lambda: guaranteed_update(store, KEY, try_update), timeout)
        except (AttributeError, TypeError) as error:
            if "NoneType" not in str(error):
                raise
            raise AssertionError(
                f"{_name(candidate)} failed on a missing key ({type(error).__name__}: {error}): store.get "
                f"returns None when the key does not exist; then call try_update(None) and compare "
                f"mod_revision with 0, which is what a missing key has"
            ) from None
        assert try_update.seen[:1] == [None], (
            f"the key does not exist, so try_update must receive None; it received {try_update.seen[0]!r:.60}"
            if try_update.seen else "try_update was never called for a missing key"
        )
        kv = raw.get(KEY)
        assert kv is not None, (
            f"{KEY} was missing and is still missing: write the value try_update returned, in a txn whose "
            f"comparison says the key does not exist yet (Compare.mod_revision(key, '=', 0))"
        )
        assert kv.value == value.encode(), (
            f"the new key holds {kv.value!r:.60}, not what try_update returned ({value.encode()!r})"
        )
        assert try_update.calls == 1 and raw.revision - before == 1, (
            f"creating a key with no other writer should take one try_update call and one write; it took "
            f"{try_update.calls} calls and {raw.revision - before} writes"
        )
        if neighbour:
            other = raw.get(KEY + "-0")
            assert other is not None and other.value == b"a different key", (
                f"creating {KEY} changed {KEY}-0: read the key itself with store.get, not a prefix range"
            )
        revision = _returned_revision(candidate, revision)
        assert revision == kv.mod_revision, (
            f"{_name(candidate)} returned {revision}, but the key was created at revision {kv.mod_revision}: "
            f"return the `revision` of the successful TxnResult"
        )


def refusal_writes_nothing(candidate: Callable[..., Any], *, existing: bool = True,
                           timeout: float = DEFAULT_TIMEOUT) -> None:
    """try_update raises: the same exception reaches the caller and nothing is written."""
    with _engine(candidate) as raw:
        watchdog = Watchdog()
        store = watchdog.watch(raw)
        if existing:
            raw.put(KEY, "7")
        before = raw.revision
        refusal = Refused("replicas must not go below zero")

        def refuse(current: bytes | None) -> bytes:
            raise refusal

        try_update = _TryUpdate(watchdog, refuse)
        try:
            _run_one(candidate, watchdog, lambda: guaranteed_update(store, KEY, try_update), timeout)
        except Refused as error:
            assert error is refusal, "re-raise the exception try_update raised, not a new one"
        else:
            raise AssertionError(
                f"try_update raised Refused, but {_name(candidate)} returned normally: let the exception "
                f"reach the caller (do not catch it), so the caller knows the update was refused"
            )
        assert try_update.calls == 1, (
            f"try_update refused the update, yet it was called {try_update.calls} times: a refusal is "
            f"not a conflict, so do not retry it"
        )
        assert raw.revision == before, (
            f"try_update refused the update, yet the store was written ({raw.revision - before} writes): "
            f"call try_update before you write anything"
        )
        kv = raw.get(KEY)
        if existing:
            assert kv is not None and kv.value == b"7", f"a refused update changed the value to {kv!r:.80}"
        else:
            assert kv is None, "a refused update of a missing key created it"


def rival_writer(candidate: Callable[..., Any], *, rivals: int = 1, refuse_after: bool = False,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
    """Another writer changes the key between the read and the write, ``rivals`` times in a row.

    Each of the first ``rivals`` calls of try_update first writes the key
    itself, +100 (as another API server would, at that very moment), then
    answers +1. The update must fail, retry from a fresh read, and finally
    apply its +1 on top of every rival write. With ``refuse_after``, the call
    after the rivals raises instead, and nothing of the reader's is written.
    """
    with _engine(candidate) as raw:
        watchdog = Watchdog()
        store = watchdog.watch(raw)
        raw.put(KEY, "0")
        before = raw.revision

        def modify(current: bytes | None) -> bytes:
            value = int(current or b"0")
            if try_update.calls <= rivals:
                raw.put(KEY, str(value + 100))  # the other writer, straight to the store
            elif refuse_after:
                raise Refused("the other writer's change made this update invalid")
            return str(value + 1).encode()

        try_update = _TryUpdate(watchdog, modify)
        revision = None
        try:
            revision = _run_one(candidate, watchdog, lambda: guaranteed_update(store, KEY, try_update), timeout)
        except Refused:
            if not refuse_after or try_update.calls <= rivals:
                raise
        else:
            if refuse_after and try_update.calls > rivals:
                raise AssertionError(
                    f"after a conflict, the retry's try_update raised Refused, but {_name(candidate)} "
                    f"returned normally: let the exception reach the caller, on every attempt"
                )
        final = _number(raw, KEY)
        rival_value = 100 * min(try_update.calls, rivals)
        for attempt, seen in enumerate(try_update.seen[1:rivals + 1], start=1):
            fresh = str(100 * attempt).encode()
            if seen != fresh:
                raise AssertionError(
                    f"after a conflict, try_update received {seen!r:.40} instead of the other writer's "
                    f"newer value {fresh!r}: each retry must start from a fresh store.get"
                )
        if final == 1:
            raise AssertionError(
                f"another writer changed the key between your read and your write, and your write "
                f"overwrote its change (the value is 1; it should be {100 * rivals + 1}): write with "
                f"store.txn(compare=[Compare.mod_revision(key, '=', <the mod_revision you read>)], "
                f"success=[Op.put(key, new_value)]), so that the write fails if the key changed"
            )
        if try_update.calls <= rivals and final == rival_value:
            raise AssertionError(
                f"another writer changed the key between your read and your write, your transaction "
                f"failed (good), and then {_name(candidate)} gave up: when txn(...).succeeded is False, "
                f"read the key again and call try_update again, until a transaction succeeds"
            )
        assert try_update.calls == rivals + 1, (
            f"the key changed under you {rivals} time(s), so try_update should run {rivals + 1} times "
            f"(once per attempt); it ran {try_update.calls} times"
        )
        wanted = 100 * rivals + (0 if refuse_after else 1)
        assert final == wanted, (
            f"after {rivals} write(s) by another writer the value should be {wanted}, but it is {final}: "
            f"each attempt must read the key afresh and write only if it did not change since that read"
        )
        if refuse_after:
            assert raw.revision == before + rivals, (
                "try_update raised on the retry, yet your function wrote to the store: write nothing "
                "when try_update raises"
            )
            return
        revision = _returned_revision(candidate, revision)
        assert revision == raw.get(KEY).mod_revision, (  # type: ignore[union-attr]
            f"{_name(candidate)} returned {revision}, not the revision of its successful write "
            f"({raw.get(KEY).mod_revision}): return the `revision` of the TxnResult that succeeded"  # type: ignore[union-attr]
        )


def _lost_updates_message(lost: int, total: int, what: str, writers: int) -> str:
    text = (
        f"lost {lost} of {total} {what}: your write must fail when the key changed since you read it "
        f"(compare its mod_revision in the txn) and you must then retry from a fresh read"
    )
    if lost < writers:
        # So few losses that they can all come from the writers' first, key-creating writes.
        text += (
            "; the key starts missing, so creating it must be conditional too: compare mod_revision "
            "with 0, and two writers cannot both create it"
        )
    return text


def _check_revisions(candidate: Callable[..., Any], raw: Any, key: str, revisions: list[Any]) -> None:
    """Each returned revision is a different write of ``key``, and the last one is the key's."""
    revisions = [_returned_revision(candidate, r) for r in revisions]
    assert len(set(revisions)) == len(revisions), (
        f"{_name(candidate)} returned the same revision for two different writes: return the `revision` "
        f"of your own successful TxnResult, not the store's revision read afterwards"
    )
    kv = raw.get(key)
    assert max(revisions) == kv.mod_revision, (
        f"the last write of {key} has revision {kv.mod_revision}, but the largest revision "
        f"{_name(candidate)} returned is {max(revisions)}: return the `revision` of the successful TxnResult"
    )


def concurrent_counter(candidate: Callable[..., Any], *, writers: int = 4, increments: int = 50,
                       pause: float = 0.001, durable: bool = False, timeout: float = DEFAULT_TIMEOUT) -> None:
    """``writers`` threads each add 1 ``increments`` times to one counter; no update may be lost.

    ``pause`` (seconds) is spent inside try_update, between the read and the
    write: it widens the race window, so conflicts happen, and then the
    function must have retried. ``durable``: the store is on disk, and is
    closed and opened again before the counter is checked.
    """
    with _scratch(durable) as directory:
        _counter(candidate, directory, writers, increments, pause, timeout)


def _counter(candidate: Callable[..., Any], directory: str | None, writers: int, increments: int,
             pause: float, timeout: float) -> None:
    total = writers * increments
    with _engine(candidate, directory) as raw:
        watchdog = Watchdog()
        store = watchdog.watch(raw)

        def slow_increment(current: bytes | None) -> bytes:
            if pause:
                time.sleep(pause)
            return _increment(current)

        try_update = _TryUpdate(watchdog, slow_increment)

        def writer() -> list[Any]:
            return [guaranteed_update(store, KEY, try_update) for _ in range(increments)]

        try:
            results = run_concurrently([writer] * writers, watchdog, timeout)
        except TimedOut:
            raise _timed_out(candidate, timeout, watchdog) from None
        revisions = [r for result in results for r in result]
        final = _number(raw, KEY)
        if final < total:
            raise AssertionError(_lost_updates_message(total - final, total, "increments", writers))
        assert final == total, (
            f"{writers} writers added 1 {increments} times each, so the counter should be {total}, but it "
            f"is {final}: write only when your transaction's comparison holds, exactly once per update"
        )
        if pause:
            assert try_update.calls > total, (
                f"{writers} writers raced with a pause between read and write, yet no update ever had to "
                f"be retried ({try_update.calls} try_update calls for {total} updates): are you holding a "
                f"lock? The API server never locks; it writes only if the key is unchanged (a txn comparing "
                f"mod_revision), and retries when it changed"
            )
        _check_revisions(candidate, raw, KEY, revisions)
    if directory is not None:
        reopened = open_store(directory)
        try:
            kv = reopened.get(KEY)
            assert kv is not None and int(kv.value) == total, (
                f"after the store was closed and opened again, the counter is "
                f"{kv.value if kv else None!r}, not {total}: write through the store you were given"
            )
        finally:
            reopened.close()


def concurrent_json_list(candidate: Callable[..., Any], *, writers: int = 8, appends: int = 25,
                         pause: float = 0.0, durable: bool = False, timeout: float = DEFAULT_TIMEOUT) -> None:
    """``writers`` threads append to a JSON list that does not exist yet; every item must land once, in order.

    Every writer's first append races to create the key. ``pause`` as in
    :func:`concurrent_counter`.
    """
    with _scratch(durable) as directory:
        _json_list(candidate, directory, writers, appends, pause, timeout)


def _json_list(candidate: Callable[..., Any], directory: str | None, writers: int, appends: int,
               pause: float, timeout: float) -> None:
    total = writers * appends
    with _engine(candidate, directory) as raw:
        watchdog = Watchdog()
        store = watchdog.watch(raw)

        def writer(w: int) -> Callable[[], list[Any]]:
            def run() -> list[Any]:
                revisions = []
                for i in range(appends):
                    item = f"w{w}-{i}"

                    def append(current: bytes | None) -> str:
                        items = json.loads(current) if current is not None else []
                        if pause:
                            time.sleep(pause)
                        return json.dumps(items + [item])

                    revisions.append(guaranteed_update(store, LIST_KEY, _TryUpdate(watchdog, append)))
                return revisions
            return run

        try:
            results = run_concurrently([writer(w) for w in range(writers)], watchdog, timeout)
        except TimedOut:
            raise _timed_out(candidate, timeout, watchdog) from None
        kv = raw.get(LIST_KEY)
        try:
            items = json.loads(kv.value) if kv is not None else []
        except ValueError:
            raise AssertionError(
                f"{LIST_KEY} holds {kv.value!r:.60}, not JSON: write exactly the value try_update returned"
            ) from None
        missing = total - len(set(items))
        if missing:
            raise AssertionError(_lost_updates_message(missing, total, "appends to one list", writers))
        assert len(items) == total, (
            f"{len(items) - total} items were appended twice: write once per update, and only when the "
            f"transaction's comparison holds"
        )
        for w in range(writers):
            mine = [item for item in items if item.startswith(f"w{w}-")]
            assert mine == [f"w{w}-{i}" for i in range(appends)], (
                f"one writer's items are out of order ({mine[:4]}...): each call must return only after "
                f"its own write succeeded"
            )
        _check_revisions(candidate, raw, LIST_KEY, [r for result in results for r in result])
    if directory is not None:
        reopened = open_store(directory)
        try:
            kv = reopened.get(LIST_KEY)
            assert kv is not None and len(json.loads(kv.value)) == total, (
                "after the store was closed and opened again, appends were missing: write through the store "
                "you were given"
            )
        finally:
            reopened.close()


# The notebook's test cells, as data: test cell -> [(scenario, parameters, hidden)].
# The notebook spells the same calls out; tests/exercises runs this table.
CASES: dict[str, list[tuple[Callable[..., None], dict[str, Any], bool]]] = {
    "test-single-update": [
        (single_update, {"start": 41}, False),
        (single_update, {"start": -7, "neighbours": 3}, True),
    ],
    "test-create-missing": [
        (create_missing, {}, False),
        (create_missing, {"value": "[]", "recreated": True, "neighbour": True}, True),
    ],
    "test-refusal": [
        (refusal_writes_nothing, {"existing": True}, False),
        (refusal_writes_nothing, {"existing": False}, True),
    ],
    "test-rival-writer": [
        (rival_writer, {"rivals": 1}, False),
        (rival_writer, {"rivals": 3}, True),
        (rival_writer, {"rivals": 1, "refuse_after": True}, True),
    ],
    "test-concurrent-writers": [
        (concurrent_counter, {"writers": 4, "increments": 50, "pause": 0.001}, False),
        (concurrent_json_list, {"writers": 8, "appends": 25, "pause": 0.0002}, True),
        (concurrent_counter, {"writers": 3, "increments": 20, "pause": 0.001, "durable": True}, True),
        (concurrent_counter, {"writers": 3, "increments": 10, "pause": 0.02}, True),
    ],
}
