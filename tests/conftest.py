"""Suite-wide rules.

Privileged tests (namespaces, mounts, netlink, iptables) carry the
``privileged`` mark. Without root they skip with a reason; with
``KIT_REQUIRE_PRIVILEGED=1`` (set by CI, which runs as root) any skip of such
a test is turned into a failure, so nothing real is skipped silently.
"""

from __future__ import annotations

import os

import pytest

REQUIRE_PRIVILEGED = os.environ.get("KIT_REQUIRE_PRIVILEGED") == "1"


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    for item in items:
        if item.get_closest_marker("privileged"):
            item.add_marker(pytest.mark.skip(reason="needs root: run the suite as root (sudo make test)"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_PRIVILEGED and report.skipped and item.get_closest_marker("privileged"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.longrepr = f"privileged test skipped while KIT_REQUIRE_PRIVILEGED=1: {reason}"
