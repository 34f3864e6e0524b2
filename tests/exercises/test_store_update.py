"""The store-update grading scenarios, without nbgrader: right answers pass, wrong ones fail for the right reason.

Every case of :data:`kitlib.exercises.store_update.CASES` (the notebook's
visible and hidden tests) runs against several correct implementations and
against a table of deliberately wrong ones, each with the test cells it must
fail and a phrase its advice must contain.
"""

from __future__ import annotations

import threading
import time

import pytest

from kitlib.exercises import NotWrittenYet, check
from kitlib.exercises import store_update
from kitlib.exercises.store_update import CASES
from kitlib.store import Compare, Op
from kitlib.store.update import guaranteed_update, reference_guaranteed_update

ALL_CASES = [
    pytest.param(scenario, params, id=f"{cell}-{scenario.__name__}-{'hidden' if hidden else 'visible'}-{i}")
    for cell, cases in CASES.items()
    for i, (scenario, params, hidden) in enumerate(cases)
]

# A wrong version that never returns is stopped after this long (the notebook allows 10 s); the
# versions known to hang somewhere get less, to keep the suite quick.
WRONG_TIMEOUT = 3.0
HANGS = {"stale_retry": 1.0, "retries_refusal": 2.0, "compares_store_revision": 2.0}


# ---- correct implementations: the reference and two other honest ways -------------------------------

def version_compare(store, key, try_update):
    """Compares the key's version instead of its mod_revision: also changes on every write."""
    while True:
        kv = store.get(key)
        new = try_update(kv.value if kv else None)
        result = store.txn([Compare.version(key, "=", kv.version if kv else 0)], [Op.put(key, new)])
        if result.succeeded:
            return result.revision


def fresh_from_failure(store, key, try_update):
    """Kubernetes' refinement: the failed transaction returns the current value for the next attempt."""
    current = store.get(key)
    while True:
        seen = current.mod_revision if current else 0
        new = try_update(current.value if current else None)
        result = store.txn([Compare.mod_revision(key, "=", seen)], [Op.put(key, new)], [Op.range(key)])
        if result.succeeded:
            return result.revision
        kvs = result.responses[0].kvs
        current = kvs[0] if kvs else None


CORRECT = [reference_guaranteed_update, version_compare, fresh_from_failure]


@pytest.mark.parametrize("candidate", CORRECT, ids=lambda f: f.__name__)
@pytest.mark.parametrize("scenario,params", ALL_CASES)
def test_correct_implementations_pass(candidate, scenario, params):
    check(scenario, candidate, **params)


def test_scenarios_leave_the_reference_installed():
    check(store_update.single_update, version_compare)
    assert guaranteed_update.current is reference_guaranteed_update


# ---- wrong implementations -----------------------------------------------------------------------------

def not_written(store, key, try_update):
    # YOUR CODE HERE
    raise NotImplementedError()


def no_retry(store, key, try_update):
    kv = store.get(key)
    new = try_update(kv.value if kv else None)
    return store.txn([Compare.mod_revision(key, "=", kv.mod_revision if kv else 0)], [Op.put(key, new)]).revision


def blind_put(store, key, try_update):
    kv = store.get(key)
    return store.put(key, try_update(kv.value if kv else None)).revision


_lock = threading.Lock()


def locked(store, key, try_update):
    with _lock:
        kv = store.get(key)
        return store.put(key, try_update(kv.value if kv else None)).revision


def stale_retry(store, key, try_update):
    kv = store.get(key)
    new = try_update(kv.value if kv else None)
    while True:
        result = store.txn([Compare.mod_revision(key, "=", kv.mod_revision if kv else 0)], [Op.put(key, new)])
        if result.succeeded:
            return result.revision


def compares_store_revision(store, key, try_update):
    while True:
        kv = store.get(key)
        seen = store.revision if kv else 0
        new = try_update(kv.value if kv else None)
        result = store.txn([Compare.mod_revision(key, "=", seen)], [Op.put(key, new)])
        if result.succeeded:
            return result.revision


def swallows_refusal(store, key, try_update):
    while True:
        kv = store.get(key)
        try:
            new = try_update(kv.value if kv else None)
        except Exception:
            return None
        result = store.txn([Compare.mod_revision(key, "=", kv.mod_revision if kv else 0)], [Op.put(key, new)])
        if result.succeeded:
            return result.revision


def retries_refusal(store, key, try_update):
    while True:
        kv = store.get(key)
        try:
            new = try_update(kv.value if kv else None)
        except Exception:
            continue
        result = store.txn([Compare.mod_revision(key, "=", kv.mod_revision if kv else 0)], [Op.put(key, new)])
        if result.succeeded:
            return result.revision


def no_missing_key(store, key, try_update):
    while True:
        kv = store.get(key)
        new = try_update(kv.value)
        result = store.txn([Compare.mod_revision(key, "=", kv.mod_revision)], [Op.put(key, new)])
        if result.succeeded:
            return result.revision


def create_blind(store, key, try_update):
    while True:
        kv = store.get(key)
        if kv is None:
            return store.put(key, try_update(None)).revision
        new = try_update(kv.value)
        result = store.txn([Compare.mod_revision(key, "=", kv.mod_revision)], [Op.put(key, new)])
        if result.succeeded:
            return result.revision


def returns_nothing(store, key, try_update):
    while True:
        kv = store.get(key)
        new = try_update(kv.value if kv else None)
        if store.txn([Compare.mod_revision(key, "=", kv.mod_revision if kv else 0)], [Op.put(key, new)]).succeeded:
            return


def stale_value(store, key, try_update):
    first = store.get(key)
    while True:
        kv = store.get(key)
        new = try_update(first.value if first else None)
        result = store.txn([Compare.mod_revision(key, "=", kv.mod_revision if kv else 0)], [Op.put(key, new)])
        if result.succeeded:
            return result.revision


def passes_keyvalue(store, key, try_update):
    while True:
        kv = store.get(key)
        new = try_update(kv)
        result = store.txn([Compare.mod_revision(key, "=", kv.mod_revision if kv else 0)], [Op.put(key, new)])
        if result.succeeded:
            return result.revision


def writes_twice(store, key, try_update):
    while True:
        kv = store.get(key)
        new = try_update(kv.value if kv else None)
        result = store.txn([Compare.mod_revision(key, "=", kv.mod_revision if kv else 0)], [Op.put(key, new)])
        if result.succeeded:
            store.put(key, new)
            return result.revision


ALL_CELLS = set(CASES)

# wrong version -> {test cell it must fail: a phrase of the advice it gets there}; every other cell passes.
WRONG = [
    (not_written, {cell: "is not written yet: replace `raise NotImplementedError()`" for cell in ALL_CELLS}),
    (no_retry, {"test-rival-writer": "gave up", "test-concurrent-writers": "lost"}),
    (blind_put, {"test-rival-writer": "overwrote its change", "test-concurrent-writers": "lost"}),
    (locked, {"test-rival-writer": "overwrote its change", "test-concurrent-writers": "are you holding a lock"}),
    (stale_retry, {"test-rival-writer": "read the key again", "test-concurrent-writers": "read the key again"}),
    (compares_store_revision, {"test-single-update": "not the store's revision"}),
    (swallows_refusal, {"test-refusal": "let the exception reach the caller",
                        "test-rival-writer": "let the exception reach the caller"}),
    (retries_refusal, {"test-refusal": "a refusal is not a conflict",
                       "test-rival-writer": "a refusal is not a conflict"}),
    (no_missing_key, {"test-create-missing": "store.get returns None",
                      "test-refusal": "AttributeError",
                      "test-concurrent-writers": "at line"}),
    (create_blind, {"test-concurrent-writers": "creating it must be conditional too"}),
    (returns_nothing, {cell: "must return the revision" for cell in ALL_CELLS - {"test-refusal"}}),
    (stale_value, {"test-rival-writer": "fresh store.get", "test-concurrent-writers": "lost"}),
    (passes_keyvalue, {cell: "as bytes" for cell in ALL_CELLS - {"test-create-missing"}}),
    (writes_twice, {"test-single-update": "one write", "test-create-missing": "one write",
                    "test-rival-writer": "revision", "test-concurrent-writers": "revision"}),
]


@pytest.mark.parametrize("candidate,failing", WRONG, ids=[w[0].__name__ for w in WRONG])
def test_wrong_implementations_fail_with_advice(candidate, failing):
    messages: dict[str, list[str]] = {}
    for cell, cases in CASES.items():
        for scenario, params, _hidden in cases:
            try:
                timeout = HANGS.get(candidate.__name__, WRONG_TIMEOUT)
                check(scenario, candidate, **{**params, "timeout": timeout})
            except AssertionError as failure:
                messages.setdefault(cell, []).append(str(failure))
    assert set(messages) == set(failing), {cell: msgs[0] for cell, msgs in messages.items()}
    for cell, phrase in failing.items():
        assert any(phrase in message for message in messages[cell]), (cell, messages[cell])
    assert guaranteed_update.current is reference_guaranteed_update


# ---- the helpers a student meets -------------------------------------------------------------------------

def test_untouched_function_gets_one_line_not_a_traceback():
    with pytest.raises(NotWrittenYet) as info:
        check(store_update.single_update, not_written)
    assert str(info.value).startswith("not_written is not written yet: replace `raise NotImplementedError()`")
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_unexpected_error_names_the_line_of_the_readers_code():
    def typo(store, key, try_update):
        kv = store.gett(key)  # the reader's typo
        return kv

    with pytest.raises(AssertionError) as info:
        check(store_update.single_update, typo)
    message = str(info.value)
    assert message.startswith("typo raised AttributeError")
    assert "`kv = store.gett(key)  # the reader's typo`" in message


def test_a_function_that_never_returns_is_stopped():
    before = {t.ident for t in threading.enumerate()}
    with pytest.raises(AssertionError, match="did not finish within 0.5 s"):
        check(store_update.rival_writer, stale_retry, timeout=0.5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        leftover = [t for t in threading.enumerate() if t.ident not in before and t.name.startswith("writer-")]
        if not leftover:
            break
        time.sleep(0.05)
    assert not leftover, "the stuck writer kept running after the scenario gave up"


def test_the_notebook_runs_exactly_the_table():
    """solutions/store-update spells out the calls of CASES, cell by cell, visible and hidden alike."""
    import ast
    import json
    import re
    from pathlib import Path

    notebook = Path(__file__).resolve().parents[2] / "solutions" / "store-update" / "store-update.ipynb"
    hidden_block = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
    found = {}
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if not meta.get("grade"):
            continue
        source = "".join(cell["source"])
        hidden = "".join(hidden_block.findall(source))
        calls = []
        for text, is_hidden in ((hidden_block.sub("", source), False), (hidden, True)):
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "check":
                    scenario, candidate = node.args
                    assert candidate.id == "update_with_retry"
                    params = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords}
                    calls.append((getattr(store_update, scenario.attr), params, is_hidden))
        found[meta["grade_id"]] = sorted(calls, key=repr)
    assert found == {cell: sorted(cases, key=repr) for cell, cases in CASES.items()}
