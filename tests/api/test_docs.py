"""Each module of kitlib.api states its role and its simplifications, and its examples run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["kitlib.api", "kitlib.api.meta", "kitlib.api.field", "kitlib.api.validation", "kitlib.api.errors",
           "kitlib.api.selectors", "kitlib.api.fields"]


@pytest.mark.parametrize("name", MODULES)
def test_module_docstring_and_examples(name):
    module = importlib.import_module(name)
    assert module.__doc__ and "Simplifications:" in module.__doc__, f"{name}: DESIGN.md asks for a Simplifications: section"
    result = doctest.testmod(module)
    assert result.failed == 0
