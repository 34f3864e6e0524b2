"""What the tests of the controller exercises share: their cases as pytest parameters, the wrong-version check,
and the notebook's calls read back as a CASES table."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from kitlib.exercises import check


def case_params(cases):
    """Every (scenario, parameters) of a CASES table, as pytest parameters named after their cell."""
    return [
        pytest.param(scenario, params, id=f"{cell}-{'hidden' if hidden else 'visible'}-{i}")
        for cell, cell_cases in cases.items()
        for i, (scenario, params, hidden) in enumerate(cell_cases)
    ]


def assert_fails_as(cases, candidate, failing):
    """``candidate`` fails exactly the cells of ``failing``, each with advice containing its phrase."""
    messages: dict[str, list[str]] = {}
    for cell, cell_cases in cases.items():
        for scenario, params, _hidden in cell_cases:
            try:
                check(scenario, candidate, **params)
            except AssertionError as failure:
                messages.setdefault(cell, []).append(str(failure))
    assert set(messages) == set(failing), {cell: msgs[0] for cell, msgs in messages.items()}
    for cell, phrase in failing.items():
        assert any(phrase in message for message in messages[cell]), (cell, messages[cell])


def notebook_calls(assignment, module, function):
    """grade_id -> the check() calls its cell makes, as (scenario, parameters, hidden), in CASES' shape and order.

    The points add up to 10, every cell has a hidden part.
    """
    notebook = Path(__file__).resolve().parents[2] / "solutions" / assignment / f"{assignment}.ipynb"
    hidden_block = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
    found, points = {}, 0
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if not meta.get("grade"):
            continue
        points += meta["points"]
        source = "".join(cell["source"])
        hidden = "".join(hidden_block.findall(source))
        assert hidden.strip(), f"{meta['grade_id']} has no hidden test"
        calls = []
        for text, is_hidden in ((hidden_block.sub("", source), False), (hidden, True)):
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "check":
                    scenario, candidate = node.args
                    assert candidate.id == function
                    params = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords}
                    calls.append((getattr(module, scenario.attr), params, is_hidden))
        found[meta["grade_id"]] = calls
    assert points == 10
    return found


def sorted_calls(table):
    """A CASES-shaped table with each cell's calls in one canonical order, to compare two tables."""
    return {cell: sorted(calls, key=repr) for cell, calls in table.items()}
