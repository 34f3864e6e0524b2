"""NodeName: a Pod naming a Node fits only that Node."""

from __future__ import annotations

import pytest

from kitlib.scheduler.framework import Code
from kitlib.scheduler.plugins.node_name import NodeName

from .helpers import info, node, pod, run_filter

CASES = [("no node name", None, "n1", Code.Success), ("same name", "n1", "n1", Code.Success),
         ("another name", "n2", "n1", Code.UnschedulableAndUnresolvable)]


@pytest.mark.parametrize("name,wanted,node_name,code", CASES, ids=[c[0] for c in CASES])
def test_filter(name, wanted, node_name, code):
    status = run_filter(NodeName(), pod("p", node_name=wanted), info(node(node_name)))
    assert status.code == code
    if code != Code.Success:
        assert status.message() == "node(s) didn't match the requested node name"
