"""The rule that a skipped privileged test fails under KIT_REQUIRE_PRIVILEGED=1."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

CASES = [
    # (environment value, expected pytest exit code, expected word in the summary)
    ("1", 1, "failed"),
    ("", 0, "skipped"),
]


@pytest.mark.parametrize("require, exit_code, word", CASES, ids=["required", "optional"])
def test_skipped_privileged_test_fails_only_when_required(tmp_path, require, exit_code, word):
    (tmp_path / "conftest.py").write_text(open(__file__.replace("test_require_privileged.py", "conftest.py")).read())
    (tmp_path / "test_probe.py").write_text(
        textwrap.dedent(
            """
            import pytest

            @pytest.mark.privileged
            def test_needs_the_kernel():
                pytest.skip("pretend the kernel lacks a feature")
            """
        )
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    privileged: needs root\n")
    env = {"KIT_REQUIRE_PRIVILEGED": require, "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == exit_code, result.stdout + result.stderr
    assert word in result.stdout.splitlines()[-1]
