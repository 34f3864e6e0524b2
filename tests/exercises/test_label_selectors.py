"""The label-selectors grading scenarios, without nbgrader: right answers pass, wrong ones fail for the right reason.

Every case of :data:`kitlib.exercises.label_selectors.CASES` (the notebook's
visible and hidden tests) runs against several correct implementations and
against a table of deliberately wrong ones, each with the test cells it must
fail and a phrase its advice must contain.
"""

from __future__ import annotations

import pytest

from kitlib.api.selectors import label_selector_matches, parse_label_selector, reference_label_selector_matches
from kitlib.exercises import NotWrittenYet, check
from kitlib.exercises import label_selectors
from kitlib.exercises.label_selectors import CASES

from .helpers import assert_fails_as, notebook_calls, sorted_calls

ALL_CASES = [
    pytest.param(scenario, params, id=f"{cell}-{scenario.__name__}-{'hidden' if hidden else 'visible'}-{i}")
    for cell, cases in CASES.items()
    for i, (scenario, params, hidden) in enumerate(cases)
]


# ---- correct implementations: the reference and two other honest ways -------------------------------

def with_all(requirements, labels):
    """One expression per operator, ANDed with all()."""
    def holds(req):
        if req.operator in ("=", "==", "in"):
            return labels.get(req.key) in req.values and req.key in labels
        if req.operator in ("!=", "notin"):
            return req.key not in labels or labels[req.key] not in req.values
        if req.operator == "exists":
            return req.key in labels
        if req.operator == "!":
            return req.key not in labels
        return False
    return all(holds(req) for req in requirements)


def negated_pairs(requirements, labels):
    """!= is the negation of =, notin of in, ! of exists: decide the positive form, flip it."""
    positive = {"!=": "=", "notin": "in", "!": "exists"}
    for req in requirements:
        op = positive.get(req.operator, req.operator)
        if op in ("=", "==", "in"):
            ok = req.key in labels and labels[req.key] in set(req.values)
        elif op == "exists":
            ok = req.key in labels
        else:
            return False
        if ok == (req.operator in positive):
            return False
    return True


CORRECT = [reference_label_selector_matches, with_all, negated_pairs]


@pytest.mark.parametrize("candidate", CORRECT, ids=lambda f: f.__name__)
@pytest.mark.parametrize("scenario,params", ALL_CASES)
def test_correct_implementations_pass(candidate, scenario, params):
    check(scenario, candidate, **params)


def test_scenarios_leave_the_reference_installed():
    check(label_selectors.registry_list, with_all, pods={"a": {"x": "1"}}, selectors=["x"])
    assert label_selector_matches.current is reference_label_selector_matches


# ---- wrong implementations -----------------------------------------------------------------------------

def not_written(requirements, labels):
    # YOUR CODE HERE
    raise NotImplementedError()


def _rule(req, labels):
    """The right answer for one requirement (the wrong versions below break one piece of it)."""
    return reference_label_selector_matches([req], labels)


def absent_fails_negation(requirements, labels):
    """!= and notin fail when the key is absent."""
    return all((req.key in labels or req.operator not in ("!=", "notin")) and _rule(req, labels) for req in requirements)


def subscript_lookup(requirements, labels):
    """labels[key]: a KeyError on every object without the label."""
    for req in requirements:
        if req.operator in ("exists", "!"):
            ok = _rule(req, labels)
        else:
            value = labels[req.key]
            ok = (value in req.values) == (req.operator in ("=", "==", "in"))
        if not ok:
            return False
    return True


def notin_ignored(requirements, labels):
    """notin is skipped (treated as always true)."""
    return all(req.operator == "notin" or _rule(req, labels) for req in requirements)


def notin_as_in(requirements, labels):
    return all(_rule(req._replace(operator="in") if req.operator == "notin" else req, labels) for req in requirements)


def any_instead_of_all(requirements, labels):
    return any(_rule(req, labels) for req in requirements)


def or_but_empty_matches(requirements, labels):
    return not requirements or any(_rule(req, labels) for req in requirements)


def first_requirement_only(requirements, labels):
    return not requirements or _rule(requirements[0], labels)


def empty_matches_nothing(requirements, labels):
    return bool(requirements) and all(_rule(req, labels) for req in requirements)


def exists_by_truth(requirements, labels):
    """exists / ! decided by the value's truth: an empty-string label counts as absent."""
    def holds(req):
        if req.operator == "exists":
            return bool(labels.get(req.key))
        if req.operator == "!":
            return not labels.get(req.key)
        return _rule(req, labels)
    return all(holds(req) for req in requirements)


def equality_only(requirements, labels):
    """Set-based operators unsupported (never match)."""
    return all(req.operator in ("=", "==", "!=") and _rule(req, labels) for req in requirements)


def single_equals_only(requirements, labels):
    """`==` unknown (never matches)."""
    return all(req.operator != "==" and _rule(req, labels) for req in requirements)


def exists_inverted(requirements, labels):
    swap = {"exists": "!", "!": "exists"}
    return all(_rule(req._replace(operator=swap.get(req.operator, req.operator)), labels) for req in requirements)


def returns_none(requirements, labels):
    """Falls off the end instead of returning True."""
    for req in requirements:
        if not _rule(req, labels):
            return False


def pops_labels(requirements, labels):
    """Consumes the labels it checked."""
    for req in requirements:
        if not _rule(req, labels):
            return False
        labels.pop(req.key, None)
    return True


ALL_CELLS = set(CASES)
SET_BASED = "matches when the label"

# wrong version -> {test cell it must fail: a phrase of the advice it gets there}; every other cell passes.
WRONG = [
    (not_written, {cell: "is not written yet: replace `raise NotImplementedError()`" for cell in ALL_CELLS}),
    (absent_fails_negation, {cell: "also matches an object with no" for cell in ALL_CELLS}),
    (subscript_lookup, {cell: "raised KeyError" for cell in ALL_CELLS}),
    (notin_ignored, {cell: "is absent or its value is none of" for cell in ALL_CELLS - {"test-equality"}}),
    (notin_as_in, {cell: "none of" for cell in ALL_CELLS - {"test-equality"}}),
    (any_instead_of_all, {"test-and-empty": "(an AND)", "test-registry-list": "matches every object",
                          "test-registry-watch": "(an AND)"}),
    (or_but_empty_matches, {"test-and-empty": "EVERY requirement holds", "test-registry-list": "(an AND)",
                            "test-registry-watch": "(an AND)"}),
    (first_requirement_only, {"test-and-empty": "EVERY requirement holds", "test-registry-list": "(an AND)",
                              "test-registry-watch": "(an AND)"}),
    (empty_matches_nothing, {"test-and-empty": "matches every object", "test-registry-list": "matches every object"}),
    (exists_by_truth, {"test-set-based": "even the empty string", "test-registry-list": "even the empty string"}),
    (equality_only, {cell: SET_BASED for cell in ALL_CELLS - {"test-equality"}}),
    (single_equals_only, {"test-equality": "(`=` and `==` mean the same)"}),
    (exists_inverted, {"test-set-based": "operator 'exists'", "test-and-empty": "operator '!'",
                       "test-registry-list": "operator", "test-registry-watch": "operator '!'"}),
    (returns_none, {cell: "return True or False" for cell in ALL_CELLS}),
    (pops_labels, {cell: "changed the labels it was given" for cell in ("test-equality", "test-set-based",
                                                                        "test-and-empty")}
     | {"test-registry-watch": "state your function keeps"}),
]


@pytest.mark.parametrize("candidate,failing", WRONG, ids=[w[0].__name__ for w in WRONG])
def test_wrong_implementations_fail_with_advice(candidate, failing):
    assert_fails_as(CASES, candidate, failing)
    assert label_selector_matches.current is reference_label_selector_matches


@pytest.mark.parametrize("candidate", [equality_only, absent_fails_negation, any_instead_of_all],
                         ids=lambda f: f.__name__)
def test_visible_tests_alone_catch_the_common_mistakes(candidate):
    """A reader who passes every visible test has not made these mistakes: hidden tests are not the only net."""
    failed = set()
    for cell, cases in CASES.items():
        for scenario, params, hidden in cases:
            if hidden:
                continue
            try:
                check(scenario, candidate, **params)
            except AssertionError:
                failed.add(cell)
    assert failed


# ---- the engine really uses the reader's function ----------------------------------------------------------

def test_the_installed_function_decides_what_selector_matches_returns():
    seen = []

    def spy(requirements, labels):
        seen.append((tuple(requirements), dict(labels)))
        return True

    with label_selector_matches.installed(spy):
        assert parse_label_selector("app=web").matches({"app": "db"}) is True
    assert seen == [(parse_label_selector("app=web").requirements, {"app": "db"})]
    assert parse_label_selector("app=web").matches({"app": "db"}) is False


def test_a_wrong_rule_changes_what_the_api_server_lists():
    with pytest.raises(AssertionError) as info:
        check(label_selectors.registry_list, absent_fails_negation,
              pods={"a": {"env": "prod"}, "b": {}}, selectors=["env!=dev"])
    assert str(info.value).startswith("`kubectl get pods -l 'env!=dev'` should list ['a', 'b'], but with your "
                                      "function the API server listed ['a']")


# ---- the helpers a student meets -------------------------------------------------------------------------

def test_untouched_function_gets_one_line_not_a_traceback():
    with pytest.raises(NotWrittenYet) as info:
        check(label_selectors.registry_list, not_written, pods={"a": {}}, selectors=[""])
    assert str(info.value).startswith("not_written is not written yet: replace `raise NotImplementedError()`")
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_an_error_in_the_readers_code_names_its_line():
    with pytest.raises(AssertionError) as info:
        check(label_selectors.selector_matches, subscript_lookup, selectors=["app!=web"], label_sets=[{}])
    message = str(info.value)
    assert message.startswith("subscript_lookup raised KeyError: 'app'")
    assert "`value = labels[req.key]`" in message


def test_the_notebook_runs_exactly_the_table():
    """solutions/label-selectors spells out the calls of CASES, cell by cell, visible and hidden alike."""
    assert sorted_calls(notebook_calls("label-selectors", label_selectors, "matches")) == sorted_calls(CASES)
