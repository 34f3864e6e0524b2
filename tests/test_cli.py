"""The ``kit`` command: expected failures print one line, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kitlib.store.embedded import EmbeddedStore


def kit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kitlib.cli", *args], capture_output=True, text=True, timeout=120)


def test_doctor_reports_each_tool():
    result = kit("doctor")
    assert result.returncode == 0
    for tool in ("root", "cgroups", "dot", "etcd", "busybox", "chromium", "kubectl"):
        assert f"{tool}:" in result.stdout


def test_store_ls_lists_keys_with_their_revisions(tmp_path):
    with EmbeddedStore(tmp_path, lessor=False) as store:
        store.put("/registry/pods/default/web-0", '{"kind":"Pod"}')
        store.put("/registry/pods/default/web-0", '{"kind":"Pod","spec":{}}')
        store.put("/registry/namespaces/default", '{"kind":"Namespace"}')
    result = kit("store", "ls", str(tmp_path), "/registry/pods/")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "revision 4, 1 keys under '/registry/pods/'",
        '/registry/pods/default/web-0  (created 2, modified 3, version 2)  {"kind":"Pod","spec":{}}',
    ]
    past = kit("store", "ls", str(tmp_path), "/registry/pods/", "--revision", "2")
    assert "modified 2, version 1" in past.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (("store", "ls", "/nonexistent/dir"), "is not a directory"),
        (("store", "ls", "{busy}"), "is already open"),
    ],
    ids=["missing-directory", "store-in-use"],
)
def test_expected_failures_print_one_line(tmp_path, args, message):
    with EmbeddedStore(tmp_path, lessor=False):
        result = kit(*[a.replace("{busy}", str(tmp_path)) for a in args])
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_crash_trials_command_reports_nothing_lost(tmp_path):
    result = kit("store", "crash-trials", str(tmp_path / "data"), "--trials", "3", "--seed", "7")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 lost, 3/3 restarts" in result.stdout
