"""apps/v1 validation: Deployments, ReplicaSets, DaemonSets and StatefulSets, as kube v1.32 words it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kitlib.api.validate import validate
from kitlib.apiserver.defaults import apply_defaults

from .manifests import DAEMON_SET, DELETE, DEPLOYMENT, REPLICA_SET, STATEFUL_SET, build, edit, stored
from .messages import DNS_LABEL, NAME_PART

BOOK = Path(__file__).resolve().parents[2] / "book"
MISMATCH = "`selector` does not match template `labels`"
NIL_EXPRESSIONS = "MatchExpressions:[]v1.LabelSelectorRequirement(nil)"
PERCENT = ("a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used "
           "for validation is '[0-9]+%')")


def _errors(obj: dict, old: dict | None = None, subresource: str = "") -> list[str]:
    return [str(e) for e in validate(obj, namespaced=True, old=old, subresource=subresource)]


def test_the_books_deployment_is_valid():
    manifest = yaml.safe_load((BOOK / "part04-declarative-api" / "nginx-deployment.yaml").read_text())
    manifest["metadata"]["namespace"] = "default"
    assert _errors(apply_defaults(manifest)) == []


DEPLOYMENT_CASES = [
    ("valid", {}, []),
    ("no selector", {"spec.selector": DELETE},
     ["spec.selector: Required value",
      f'spec.template.metadata.labels: Invalid value: map[string]string{{"app":"web"}}: {MISMATCH}']),
    ("empty selector", {"spec.selector": {}},
     [f"spec.selector: Invalid value: v1.LabelSelector{{MatchLabels:map[string]string(nil), {NIL_EXPRESSIONS}}}: "
      "empty selector is invalid for deployment"]),
    ("selector mismatch", {"spec.template.metadata.labels": {"app": "x"}},
     [f'spec.template.metadata.labels: Invalid value: map[string]string{{"app":"x"}}: {MISMATCH}']),
    ("template without labels", {"spec.template.metadata": DELETE},
     [f"spec.template.metadata.labels: Invalid value: map[string]string(nil): {MISMATCH}"]),
    ("expression selector", {"spec.selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]}},
     []),
    ("bad operator", {"spec.selector": {"matchExpressions": [{"key": "app", "operator": "Is", "values": ["web"]}]}},
     ['spec.selector.matchExpressions[0].operator: Invalid value: "Is": not a valid selector operator',
      'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:'
      '[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"app", Operator:"Is", Values:[]string{"web"}}}}: '
      "invalid label selector"]),
    ("negative counts", {"spec.replicas": -1, "spec.minReadySeconds": -1, "spec.revisionHistoryLimit": -1},
     ["spec.replicas: Invalid value: -1: must be greater than or equal to 0",
      "spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0",
      "spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0"]),
    ("restart policy", {"spec.template.spec.restartPolicy": "Never"},
     ['spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"']),
    ("deadline", {"spec.template.spec.activeDeadlineSeconds": 60},
     ["spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported"]),
    ("template spec", {"spec.template.spec.containers[0].name": "Web"},
     [f'spec.template.spec.containers[0].name: Invalid value: "Web": {DNS_LABEL}']),
    ("template labels", {"spec.template.metadata.labels.bad key": "x"},
     [f'spec.template.labels: Invalid value: "bad key": {NAME_PART}']),
    ("surge and unavailable zero", {"spec.strategy.rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}},
     ['spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:""}: '
      "may not be 0 when `maxSurge` is 0"]),
    ("percentages", {"spec.strategy.rollingUpdate": {"maxSurge": "25", "maxUnavailable": "120%"}},
     [f'spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{{Type:1, IntVal:0, StrVal:"25"}}: {PERCENT}',
      'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"120%"}: '
      "must not be greater than 100%"]),
    ("recreate with rolling update", {"spec.strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}},
     ["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]),
    ("strategy type", {"spec.strategy": {"type": "BlueGreen"}},
     ['spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:"BlueGreen", '
      'RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: "Recreate", "RollingUpdate"']),
    ("progress deadline", {"spec.minReadySeconds": 30, "spec.progressDeadlineSeconds": 30},
     ["spec.progressDeadlineSeconds: Invalid value: 30: must be greater than minReadySeconds"]),
]


@pytest.mark.parametrize("changes,expected", [c[1:] for c in DEPLOYMENT_CASES], ids=[c[0] for c in DEPLOYMENT_CASES])
def test_deployment(changes, expected):
    assert _errors(build(DEPLOYMENT, changes)) == expected


OTHER_CASES = [
    ("replicaset", REPLICA_SET, {}, []),
    ("replicaset empty selector", REPLICA_SET, {"spec.selector": {"matchLabels": {}}},
     [f"spec.selector: Invalid value: v1.LabelSelector{{MatchLabels:map[string]string{{}}, {NIL_EXPRESSIONS}}}: "
      "empty selector is invalid for deployment"]),  # sic: the ReplicaSet rule says "deployment"
    ("replicaset mismatch", REPLICA_SET, {"spec.selector.matchLabels.tier": "fe"},
     [f'spec.template.metadata.labels: Invalid value: map[string]string{{"app":"web"}}: {MISMATCH}']),
    ("daemonset", DAEMON_SET, {}, []),
    ("daemonset without selector", DAEMON_SET, {"spec.selector": DELETE},
     [f'spec.template.metadata.labels: Invalid value: map[string]string{{"app":"web"}}: {MISMATCH}']),
    ("daemonset surge and unavailable", DAEMON_SET,
     {"spec.updateStrategy.rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}},
     ['spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:0, IntVal:1, StrVal:""}: '
      "may not be set when maxUnavailable is non-zero"]),
    ("daemonset neither", DAEMON_SET, {"spec.updateStrategy.rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}},
     ["spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"]),
    ("daemonset strategy", DAEMON_SET, {"spec.updateStrategy": {"type": "Fast"}},
     ['spec.updateStrategy: Unsupported value: apps.DaemonSetUpdateStrategy{Type:"Fast", '
      'RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}: supported values: "RollingUpdate", "OnDelete"']),
    ("daemonset restart policy", DAEMON_SET, {"spec.template.spec.restartPolicy": "OnFailure"},
     ['spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"']),
    ("statefulset", STATEFUL_SET, {}, []),
    ("statefulset name is a DNS label", STATEFUL_SET, {"metadata.name": "db.v1"},
     ['metadata.name: Invalid value: "db.v1": must not contain dots']),
    ("statefulset policy", STATEFUL_SET, {"spec.podManagementPolicy": "Fast"},
     ["spec.podManagementPolicy: Invalid value: \"Fast\": must be 'OrderedReady' or 'Parallel'"]),
    ("statefulset strategy", STATEFUL_SET, {"spec.updateStrategy": {"type": "Blue"}},
     ['spec.updateStrategy: Invalid value: apps.StatefulSetUpdateStrategy{Type:"Blue", '
      "RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy)(nil)}: must be 'RollingUpdate' or 'OnDelete'"]),
    ("statefulset partition", STATEFUL_SET, {"spec.updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": -1}}},
     ["spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0"]),
    ("statefulset empty selector", STATEFUL_SET, {"spec.selector": {}},
     [f"spec.selector: Invalid value: v1.LabelSelector{{MatchLabels:map[string]string(nil), {NIL_EXPRESSIONS}}}: "
      "empty selector is invalid for statefulset"]),
    ("statefulset template spec is not checked", STATEFUL_SET, {"spec.template.spec.containers": []}, []),
    ("statefulset retention", STATEFUL_SET, {"spec.persistentVolumeClaimRetentionPolicy.whenDeleted": "Keep"},
     ['spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value: "Keep": supported values: "Retain", "Delete"']),
]


@pytest.mark.parametrize("base,changes,expected", [c[1:] for c in OTHER_CASES], ids=[c[0] for c in OTHER_CASES])
def test_other_workloads(base, changes, expected):
    assert _errors(build(base, changes)) == expected


def _selector_change(base: dict) -> list[str]:
    old = stored(base)
    return _errors(edit(old, {"spec.selector.matchLabels.tier": "fe", "spec.template.metadata.labels.tier": "fe"}), old)


@pytest.mark.parametrize("base", [DEPLOYMENT, REPLICA_SET, DAEMON_SET], ids=["deployment", "replicaset", "daemonset"])
def test_selector_is_immutable(base):
    assert _selector_change(base) == [
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "tier":"fe"}, '
        f"{NIL_EXPRESSIONS}}}: field is immutable"]


UPDATES = [
    ("scale and new image", DEPLOYMENT, {"spec.replicas": 5, "spec.template.spec.containers[0].image": "nginx:1.28"}, []),
    ("statefulset scale", STATEFUL_SET, {"spec.replicas": 1}, []),
    ("statefulset service", STATEFUL_SET, {"spec.serviceName": "db2"},
     ["spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
      "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"]),
    ("resourceVersion missing", DEPLOYMENT, {"metadata.resourceVersion": DELETE},
     ['metadata.resourceVersion: Invalid value: "": must be specified for an update']),
]


@pytest.mark.parametrize("base,changes,expected", [c[1:] for c in UPDATES], ids=[c[0] for c in UPDATES])
def test_updates(base, changes, expected):
    old = stored(base)
    assert _errors(edit(old, changes), old) == expected


STATUS = [
    (DEPLOYMENT, {"replicas": 2, "readyReplicas": 1, "availableReplicas": 2},
     ["status.availableReplicas: Invalid value: 2: cannot be greater than readyReplicas"]),
    (DEPLOYMENT, {"replicas": -1},  # and every zero counter is now "greater" than -1, as kube says too
     ["status.replicas: Invalid value: -1: must be greater than or equal to 0"]
     + [f"status.{key}: Invalid value: 0: cannot be greater than status.replicas"
        for key in ("updatedReplicas", "readyReplicas", "availableReplicas")]),
    (REPLICA_SET, {"replicas": 1, "fullyLabeledReplicas": 2},
     ["status.fullyLabeledReplicas: Invalid value: 2: cannot be greater than status.replicas"]),
    (STATEFUL_SET, {"replicas": 3, "readyReplicas": 1, "availableReplicas": 2},
     ["status.availableReplicas: Invalid value: 2: cannot be greater than status.readyReplicas"]),
    (DAEMON_SET, {"numberReady": -1}, ["status.numberReady: Invalid value: -1: must be greater than or equal to 0"]),
    (DEPLOYMENT, {"replicas": 2, "readyReplicas": 2, "availableReplicas": 2}, []),
]


@pytest.mark.parametrize("base,status,expected", STATUS, ids=[str(i) for i in range(len(STATUS))])
def test_status_updates(base, status, expected):
    old = stored(base)
    assert _errors(edit(old, {"status": status}), old, subresource="status") == expected


def test_collision_count_never_goes_down():
    old = stored(DEPLOYMENT, {"status": {"collisionCount": 2}})
    assert _errors(edit(old, {"status.collisionCount": 1}), old, subresource="status") == [
        "status.collisionCount: Invalid value: 1: cannot be decremented"]
