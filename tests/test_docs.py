"""Every module of kitlib states its role and its simplifications (DESIGN.md), and its examples run."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import kitlib

MODULES = sorted(m.name for m in pkgutil.walk_packages(kitlib.__path__, "kitlib.") if not m.name.endswith("__main__"))
PACKAGES = {m.name for m in pkgutil.walk_packages(kitlib.__path__, "kitlib.") if m.ispkg} | {"kitlib"}


@pytest.mark.parametrize("name", MODULES)
def test_module_docstring_and_examples(name):
    module = importlib.import_module(name)
    assert module.__doc__, f"{name}: a module opens with its role in the cluster (DESIGN.md)"
    if name not in PACKAGES:  # a package's docstring is a map of its modules
        assert "Simplifications:" in module.__doc__, f"{name}: DESIGN.md asks for a Simplifications: section"
    assert doctest.testmod(module).failed == 0
