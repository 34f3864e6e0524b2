"""A Pod's QoS class, as kube's GetPodQOS decides it."""

from __future__ import annotations

import pytest

from kitlib.api.qos import qos_class


def pod(*containers, init=()):
    def container(i, resources):
        return {"name": f"c{i}", "resources": resources}

    return {"spec": {"containers": [container(i, r) for i, r in enumerate(containers)],
                     "initContainers": [container(100 + i, r) for i, r in enumerate(init)]}}


BOTH = {"cpu": "1", "memory": "1Gi"}


@pytest.mark.parametrize(
    "obj, expected",
    [
        (pod({}), "BestEffort"),
        (pod({"requests": {"cpu": "0"}}), "BestEffort"),  # a zero request is no request
        (pod({"requests": {"storage": "1Gi"}}), "BestEffort"),  # only cpu and memory count
        (pod({"requests": {"cpu": "100m"}}), "Burstable"),
        (pod({"limits": BOTH, "requests": BOTH}), "Guaranteed"),
        (pod({"limits": BOTH, "requests": {"cpu": "1000m", "memory": "1024Mi"}}), "Guaranteed"),  # equal amounts
        (pod({"limits": BOTH, "requests": {"cpu": "500m", "memory": "1Gi"}}), "Burstable"),
        (pod({"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}), "Burstable"),  # no memory limit
        (pod({"limits": BOTH, "requests": BOTH}, {}), "Burstable"),  # one container without limits
        (pod({"limits": BOTH, "requests": BOTH}, init=[{}]), "Burstable"),
        (pod({"limits": {"cpu": "lots"}}), "BestEffort"),  # unparsable: validation's business, ignored here
    ],
    ids=["empty", "zero", "not-compute", "cpu-request", "equal", "equal-in-other-units", "request-below-limit",
         "cpu-only", "two-containers", "init-container", "unparsable"],
)
def test_qos_class(obj, expected):
    assert qos_class(obj) == expected
