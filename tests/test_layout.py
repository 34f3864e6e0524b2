"""The repository keeps the shape the commission fixed, and its pins agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

REQUIRED = [
    "book", "kitlib", "exercises", "solutions", "tests", "bench", "environment.yml", "_config.yml",
    "_toc.yml", "pyproject.toml", "Makefile", "nbgrader_config.py", "README.md", ".ci/run",
]


@pytest.mark.parametrize("path", REQUIRED)
def test_top_level_entry_exists(path):
    assert (ROOT / path).exists(), f"{path} is part of the fixed layout (DESIGN.md)"


def _requirements():
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return pins


def test_environment_yml_mirrors_requirements_pins():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict))
    pins = _requirements()
    assert pip_section, "environment.yml has no pip section"
    for entry in pip_section:
        name, version = entry.split("==")
        key = re.sub(r"[-_.]+", "-", name).lower()
        assert key in pins, f"{name} is pinned in environment.yml but not in requirements.txt"
        assert pins[key] == version, f"{name}: environment.yml pins {version}, requirements.txt {pins[key]}"
    conda = [dep for dep in env["dependencies"] if isinstance(dep, str)]
    assert "graphviz" in conda and "python-graphviz" in conda


def test_readme_opens_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert "make book" in first_block and "make test" in first_block


def test_ci_runs_the_readme_test_command_with_privileged_tests_required():
    ci = (ROOT / ".ci/run").read_text()
    assert "KIT_REQUIRE_PRIVILEGED=1" in ci
    assert "make test" in ci
