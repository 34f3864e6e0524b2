"""Defaulting: each kind's input and the object kube-apiserver 1.32 would store."""

from __future__ import annotations

import copy

from pathlib import Path

import pytest
import yaml

from kitlib.apiserver import defaults
from kitlib.apiserver.defaults import (
    admit_pod_priority,
    apply_defaults,
    generate_job_selector,
    image_tag,
    prepare_namespace_for_create,
    service_ip_family_defaults,
)

# --- building blocks ----------------------------------------------------------

# What SetDefaults_PodSpec and SetDefaults_Container add to a one-container template.
TEMPLATE_SPEC = {
    "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
    "securityContext": {}, "terminationGracePeriodSeconds": 30,
}
CONTAINER = {"imagePullPolicy": "IfNotPresent", "resources": {},
             "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}
# What only a Pod gets on top: SetDefaults_Pod and the two admission plugins.
POD_ONLY = {
    "enableServiceLinks": True, "priority": 0, "preemptionPolicy": "PreemptLowerPriority",
    "tolerations": [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    ],
}


def c(image="nginx:1.27", **fields):
    return {"name": "c", "image": image, **fields}


def dc(image="nginx:1.27", **fields):
    """A container after defaulting."""
    return {**CONTAINER, **c(image), **fields}


def template(**spec):
    return {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [c()], **spec}}


def dtemplate(**spec):
    return {"metadata": {"labels": {"app": "web"}}, "spec": {**TEMPLATE_SPEC, "containers": [dc()], **spec}}


def obj(api_version, kind, spec=None, name="x", **rest):
    out = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, **rest}
    if spec is not None:
        out["spec"] = spec
    return out


def pod(**spec):
    return obj("v1", "Pod", {"containers": [c()], **spec})


def dpod(**spec):
    return obj("v1", "Pod", {**TEMPLATE_SPEC, **POD_ONLY, "containers": [dc()], **spec})


def run(given, expected):
    before = copy.deepcopy(given)
    assert apply_defaults(given) == expected
    assert given == before, "apply_defaults must return a new object, not modify its argument"


# --- one table per kind ---------------------------------------------------------

POD_CASES = [
    ("minimal", pod(), dpod()),
    ("restartPolicy Never and OnFailure stay", pod(restartPolicy="Never"), dpod(restartPolicy="Never")),
    ("user values stay", pod(dnsPolicy="Default", schedulerName="mine", terminationGracePeriodSeconds=0,
                             enableServiceLinks=False, securityContext={"runAsUser": 1}),
     dpod(dnsPolicy="Default", schedulerName="mine", terminationGracePeriodSeconds=0, enableServiceLinks=False,
          securityContext={"runAsUser": 1})),
    ("requests default to limits, per resource",
     pod(containers=[c(resources={"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}})]),
     dpod(containers=[dc(resources={"limits": {"cpu": "1", "memory": "1Gi"},
                                    "requests": {"cpu": "500m", "memory": "1Gi"}})])),
    ("hostNetwork makes container ports host ports",
     pod(hostNetwork=True, containers=[c(ports=[{"containerPort": 80}])]),
     dpod(hostNetwork=True, containers=[dc(ports=[{"containerPort": 80, "hostPort": 80, "protocol": "TCP"}])])),
    ("probes, lifecycle hooks and grpc",
     pod(containers=[c(livenessProbe={"httpGet": {"port": 80}},
                       readinessProbe={"tcpSocket": {"port": 80}, "periodSeconds": 5, "timeoutSeconds": 0},
                       startupProbe={"grpc": {"port": 9000}},
                       lifecycle={"preStop": {"httpGet": {"port": 80, "path": "/stop"}}})]),
     dpod(containers=[dc(
         livenessProbe={"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                        "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
         readinessProbe={"tcpSocket": {"port": 80}, "timeoutSeconds": 1, "periodSeconds": 5,
                         "successThreshold": 1, "failureThreshold": 3},
         startupProbe={"grpc": {"port": 9000, "service": ""}, "timeoutSeconds": 1, "periodSeconds": 10,
                       "successThreshold": 1, "failureThreshold": 3},
         lifecycle={"preStop": {"httpGet": {"port": 80, "path": "/stop", "scheme": "HTTP"}}})])),
    ("env field and resource references",
     pod(containers=[c(env=[{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                            {"name": "M", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory"}}},
                            {"name": "V", "value": "1"}])]),
     dpod(containers=[dc(env=[{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name", "apiVersion": "v1"}}},
                              {"name": "M", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "0"}}},
                              {"name": "V", "value": "1"}])])),
    ("volumes",
     pod(volumes=[{"name": "a"}, {"name": "b", "configMap": {"name": "cm"}}, {"name": "s", "secret": {"secretName": "s", "defaultMode": 256}},
                  {"name": "h", "hostPath": {"path": "/tmp"}},
                  {"name": "p", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}},
                  {"name": "d", "downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}},
                  {"name": "e", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}},
                  {"name": "c", "persistentVolumeClaim": {"claimName": "data"}}]),
     dpod(volumes=[{"name": "a", "emptyDir": {}}, {"name": "b", "configMap": {"name": "cm", "defaultMode": 420}},
                   {"name": "s", "secret": {"secretName": "s", "defaultMode": 256}},
                   {"name": "h", "hostPath": {"path": "/tmp", "type": ""}},
                   {"name": "p", "projected": {"defaultMode": 420, "sources": [
                       {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}]}},
                   {"name": "d", "downwardAPI": {"defaultMode": 420, "items": [
                       {"path": "n", "fieldRef": {"fieldPath": "metadata.name", "apiVersion": "v1"}}]}},
                   {"name": "e", "ephemeral": {"volumeClaimTemplate": {"spec": {
                       "accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem"}}}},
                   {"name": "c", "persistentVolumeClaim": {"claimName": "data"}}])),
    ("init and ephemeral containers are containers too",
     pod(initContainers=[c("busybox")], ephemeralContainers=[c("busybox:1.36")]),
     dpod(initContainers=[dc("busybox", imagePullPolicy="Always")], ephemeralContainers=[dc("busybox:1.36")])),
    ("a toleration of the taint keeps the default one out",
     pod(tolerations=[{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                       "tolerationSeconds": 6000}]),
     dpod(tolerations=[{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                        "tolerationSeconds": 6000}, POD_ONLY["tolerations"][0]])),
    ("an all-tolerating toleration adds none", pod(tolerations=[{"operator": "Exists"}]),
     dpod(tolerations=[{"operator": "Exists"}])),
    ("system priority class", pod(priorityClassName="system-node-critical"),
     dpod(priorityClassName="system-node-critical", priority=2000001000)),
]

PULL_POLICY_CASES = [
    # (image, imagePullPolicy after defaulting)
    ("nginx", "Always"),
    ("nginx:latest", "Always"),
    ("nginx:1.7.9", "IfNotPresent"),
    ("localhost:5000/team/app", "Always"),
    ("localhost:5000/team/app:v2", "IfNotPresent"),
    ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
    ("nginx:latest@sha256:" + "a" * 64, "Always"),
    ("team/NGINX", "IfNotPresent"),  # unparsable (upper case in a path): ParseImageName's error is ignored
    ("Registry/app", "Always"),  # an upper-case first component is a registry host
    ("", "IfNotPresent"),
]

DEPLOYMENT_CASES = [
    ("minimal", obj("apps/v1", "Deployment", {"selector": {"matchLabels": {"app": "web"}}, "template": template()}),
     obj("apps/v1", "Deployment", {
         "replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
         "selector": {"matchLabels": {"app": "web"}},
         "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
         "template": dtemplate()})),
    ("Recreate gets no rollingUpdate; zeros stay",
     obj("apps/v1", "Deployment", {"replicas": 0, "revisionHistoryLimit": 0, "strategy": {"type": "Recreate"},
                                   "template": template()}),
     obj("apps/v1", "Deployment", {"replicas": 0, "revisionHistoryLimit": 0, "progressDeadlineSeconds": 600,
                                   "strategy": {"type": "Recreate"}, "template": dtemplate()})),
    ("a partial rollingUpdate is completed",
     obj("apps/v1", "Deployment", {"strategy": {"rollingUpdate": {"maxSurge": 0}}}),
     obj("apps/v1", "Deployment", {"replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                                   "strategy": {"type": "RollingUpdate",
                                                "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "25%"}}})),
]

REPLICA_SET_CASES = [
    ("minimal", obj("apps/v1", "ReplicaSet", {"template": template()}),
     obj("apps/v1", "ReplicaSet", {"replicas": 1, "template": dtemplate()})),
    ("replicas 0 stays", obj("apps/v1", "ReplicaSet", {"replicas": 0}), obj("apps/v1", "ReplicaSet", {"replicas": 0})),
]

REPLICATION_CONTROLLER_CASES = [
    ("selector and labels from the template", obj("v1", "ReplicationController", {"template": template()}),
     {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "x", "labels": {"app": "web"}},
      "spec": {"replicas": 1, "selector": {"app": "web"}, "template": dtemplate()}}),
    ("given selector and labels stay",
     {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "x", "labels": {"a": "b"}},
      "spec": {"selector": {"app": "web", "tier": "1"}, "replicas": 3, "template": template()}},
     {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "x", "labels": {"a": "b"}},
      "spec": {"selector": {"app": "web", "tier": "1"}, "replicas": 3, "template": dtemplate()}}),
]

DAEMON_SET_CASES = [
    ("minimal", obj("apps/v1", "DaemonSet", {"template": template()}),
     obj("apps/v1", "DaemonSet", {"revisionHistoryLimit": 10, "template": dtemplate(), "updateStrategy": {
         "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}})),
    ("OnDelete", obj("apps/v1", "DaemonSet", {"updateStrategy": {"type": "OnDelete"}}),
     obj("apps/v1", "DaemonSet", {"revisionHistoryLimit": 10, "updateStrategy": {"type": "OnDelete"}})),
]

STATEFUL_SET_CASES = [
    ("minimal", obj("apps/v1", "StatefulSet", {"serviceName": "web", "template": template()}),
     obj("apps/v1", "StatefulSet", {
         "serviceName": "web", "replicas": 1, "revisionHistoryLimit": 10, "podManagementPolicy": "OrderedReady",
         "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
         "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
         "template": dtemplate()})),
    ("explicit RollingUpdate without rollingUpdate stays without one",
     obj("apps/v1", "StatefulSet", {"updateStrategy": {"type": "RollingUpdate"},
                                    "persistentVolumeClaimRetentionPolicy": {"whenScaled": "Delete"}}),
     obj("apps/v1", "StatefulSet", {
         "replicas": 1, "revisionHistoryLimit": 10, "podManagementPolicy": "OrderedReady",
         "updateStrategy": {"type": "RollingUpdate"},
         "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Delete"}})),
    ("claim templates",
     obj("apps/v1", "StatefulSet", {"podManagementPolicy": "Parallel", "volumeClaimTemplates": [
         {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]}),
     obj("apps/v1", "StatefulSet", {
         "replicas": 1, "revisionHistoryLimit": 10, "podManagementPolicy": "Parallel",
         "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
         "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
         "volumeClaimTemplates": [{"metadata": {"name": "data"}, "status": {"phase": "Pending"},
                                   "spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem"}}]})),
]

JOB_DEFAULTS = {"backoffLimit": 6, "completionMode": "NonIndexed", "suspend": False, "manualSelector": False,
                "podReplacementPolicy": "TerminatingOrFailed"}
JOB_CASES = [
    ("minimal: labels from the template",
     obj("batch/v1", "Job", {"template": template(restartPolicy="Never")}),
     {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "x", "labels": {"app": "web"}},
      "spec": {**JOB_DEFAULTS, "completions": 1, "parallelism": 1, "template": dtemplate(restartPolicy="Never")}}),
    ("parallelism alone leaves completions unset", obj("batch/v1", "Job", {"parallelism": 3}),
     obj("batch/v1", "Job", {**JOB_DEFAULTS, "parallelism": 3})),
    ("completions alone", obj("batch/v1", "Job", {"completions": 5}),
     obj("batch/v1", "Job", {**JOB_DEFAULTS, "completions": 5, "parallelism": 1})),
    ("backoffLimitPerIndex lifts backoffLimit; pod failure policy",
     obj("batch/v1", "Job", {"completions": 2, "completionMode": "Indexed", "backoffLimitPerIndex": 1,
                             "podFailurePolicy": {"rules": [{"action": "Ignore",
                                                             "onPodConditions": [{"type": "DisruptionTarget"}]}]}}),
     obj("batch/v1", "Job", {**JOB_DEFAULTS, "completions": 2, "parallelism": 1, "completionMode": "Indexed",
                             "backoffLimitPerIndex": 1, "backoffLimit": 2147483647, "podReplacementPolicy": "Failed",
                             "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [
                                 {"type": "DisruptionTarget", "status": "True"}]}]}})),
]

CRON_JOB_CASES = [
    ("minimal: only the pod template inside the job template",
     obj("batch/v1", "CronJob", {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template(restartPolicy="OnFailure")}}}),
     obj("batch/v1", "CronJob", {"schedule": "* * * * *", "concurrencyPolicy": "Allow", "suspend": False,
                                 "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
                                 "jobTemplate": {"spec": {"template": dtemplate(restartPolicy="OnFailure")}}})),
    ("user values stay",
     obj("batch/v1", "CronJob", {"concurrencyPolicy": "Forbid", "suspend": True, "successfulJobsHistoryLimit": 0,
                                 "failedJobsHistoryLimit": 0}),
     obj("batch/v1", "CronJob", {"concurrencyPolicy": "Forbid", "suspend": True, "successfulJobsHistoryLimit": 0,
                                 "failedJobsHistoryLimit": 0})),
]

SERVICE_CASES = [
    ("ClusterIP", obj("v1", "Service", {"selector": {"app": "web"}, "ports": [{"port": 80}]}),
     obj("v1", "Service", {"selector": {"app": "web"}, "type": "ClusterIP", "sessionAffinity": "None",
                           "internalTrafficPolicy": "Cluster",
                           "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]})),
    ("named targetPort stays; UDP stays",
     obj("v1", "Service", {"ports": [{"port": 53, "protocol": "UDP", "targetPort": "dns"}]}),
     obj("v1", "Service", {"type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
                           "ports": [{"port": 53, "protocol": "UDP", "targetPort": "dns"}]})),
    ("NodePort", obj("v1", "Service", {"type": "NodePort", "ports": [{"port": 80, "targetPort": 0}]}),
     obj("v1", "Service", {"type": "NodePort", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
                           "externalTrafficPolicy": "Cluster",
                           "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]})),
    ("LoadBalancer", obj("v1", "Service", {"type": "LoadBalancer", "externalTrafficPolicy": "Local"}),
     obj("v1", "Service", {"type": "LoadBalancer", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
                           "externalTrafficPolicy": "Local", "allocateLoadBalancerNodePorts": True})),
    ("ClusterIP with externalIPs is externally accessible",
     obj("v1", "Service", {"externalIPs": ["192.0.2.1"]}),
     obj("v1", "Service", {"externalIPs": ["192.0.2.1"], "type": "ClusterIP", "sessionAffinity": "None",
                           "internalTrafficPolicy": "Cluster", "externalTrafficPolicy": "Cluster"})),
    ("ExternalName gets no traffic policies", obj("v1", "Service", {"type": "ExternalName", "externalName": "a.b"}),
     obj("v1", "Service", {"type": "ExternalName", "externalName": "a.b", "sessionAffinity": "None"})),
    ("ClientIP affinity gets its 3-hour timeout", obj("v1", "Service", {"sessionAffinity": "ClientIP"}),
     obj("v1", "Service", {"type": "ClusterIP", "sessionAffinity": "ClientIP", "internalTrafficPolicy": "Cluster",
                           "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}}})),
    ("affinity None drops a stray config",
     obj("v1", "Service", {"sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}}}),
     obj("v1", "Service", {"type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster"})),
]

NAMESPACE_CASES = [
    ("label and phase", obj("v1", "Namespace"),
     {"apiVersion": "v1", "kind": "Namespace", "status": {"phase": "Active"},
      "metadata": {"name": "x", "labels": {"kubernetes.io/metadata.name": "x"}}}),
    ("the name label is forced, other labels stay",
     {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "labels": {"kubernetes.io/metadata.name": "y", "a": "b"}},
      "status": {"phase": "Terminating"}},
     {"apiVersion": "v1", "kind": "Namespace", "status": {"phase": "Terminating"},
      "metadata": {"name": "x", "labels": {"kubernetes.io/metadata.name": "x", "a": "b"}}}),
    ("no name (generateName): no label",
     {"apiVersion": "v1", "kind": "Namespace", "metadata": {"generateName": "t-"}},
     {"apiVersion": "v1", "kind": "Namespace", "metadata": {"generateName": "t-"}, "status": {"phase": "Active"}}),
]

HPA = "autoscaling/v2"
HPA_CASES = [
    ("minimal: minReplicas and the 80% CPU metric; no behavior",
     obj(HPA, "HorizontalPodAutoscaler", {"maxReplicas": 5}),
     obj(HPA, "HorizontalPodAutoscaler", {"maxReplicas": 5, "minReplicas": 1, "metrics": [
         {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]})),
    ("a behavior is completed rule by rule",
     obj(HPA, "HorizontalPodAutoscaler", {"minReplicas": 2, "maxReplicas": 5, "metrics": [{"type": "Pods"}],
                                          "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}),
     obj(HPA, "HorizontalPodAutoscaler", {"minReplicas": 2, "maxReplicas": 5, "metrics": [{"type": "Pods"}], "behavior": {
         "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
             {"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}]},
         "scaleDown": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max", "policies": [
             {"type": "Percent", "value": 100, "periodSeconds": 15}]}}})),
    ("scale-down gets no stabilization window from the API",
     obj(HPA, "HorizontalPodAutoscaler", {"behavior": {"scaleUp": {"selectPolicy": "Disabled"}}}),
     obj(HPA, "HorizontalPodAutoscaler", {"minReplicas": 1, "metrics": [
         {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}],
         "behavior": {
             "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Disabled", "policies": [
                 {"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}]},
             "scaleDown": {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}}})),
]

RBAC = "rbac.authorization.k8s.io"
OTHER_CASES = [
    ("Secret type", obj("v1", "Secret", data={"a": "Yg=="}), obj("v1", "Secret", data={"a": "Yg=="}, type="Opaque")),
    ("Secret type stays", obj("v1", "Secret", type="kubernetes.io/tls"), obj("v1", "Secret", type="kubernetes.io/tls")),
    ("Endpoints port protocol",
     obj("v1", "Endpoints", subsets=[{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]}]),
     obj("v1", "Endpoints", subsets=[{"addresses": [{"ip": "10.0.0.1"}],
                                      "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}])),
    ("Node allocatable from capacity", obj("v1", "Node", {}, status={"capacity": {"cpu": "2", "pods": "110"}}),
     obj("v1", "Node", {}, status={"capacity": {"cpu": "2", "pods": "110"}, "allocatable": {"cpu": "2", "pods": "110"}})),
    ("Node allocatable stays", obj("v1", "Node", status={"capacity": {"cpu": "2"}, "allocatable": {"cpu": "1"}}),
     obj("v1", "Node", status={"capacity": {"cpu": "2"}, "allocatable": {"cpu": "1"}})),
    ("ConfigMap: nothing", obj("v1", "ConfigMap", data={"k": "v"}), obj("v1", "ConfigMap", data={"k": "v"})),
    ("Event: nothing", obj("v1", "Event", reason="Started"), obj("v1", "Event", reason="Started")),
    ("ServiceAccount: nothing", obj("v1", "ServiceAccount"), obj("v1", "ServiceAccount")),
    ("Lease: nothing", obj("coordination.k8s.io/v1", "Lease", {"holderIdentity": "n1"}),
     obj("coordination.k8s.io/v1", "Lease", {"holderIdentity": "n1"})),
    ("PriorityClass preemptionPolicy", obj("scheduling.k8s.io/v1", "PriorityClass", value=1000),
     obj("scheduling.k8s.io/v1", "PriorityClass", value=1000, preemptionPolicy="PreemptLowerPriority")),
    ("PriorityClass Never stays", obj("scheduling.k8s.io/v1", "PriorityClass", value=1, preemptionPolicy="Never"),
     obj("scheduling.k8s.io/v1", "PriorityClass", value=1, preemptionPolicy="Never")),
    ("Role: nothing", obj(f"{RBAC}/v1", "Role", rules=[{"verbs": ["get"], "resources": ["pods"], "apiGroups": [""]}]),
     obj(f"{RBAC}/v1", "Role", rules=[{"verbs": ["get"], "resources": ["pods"], "apiGroups": [""]}])),
    ("ClusterRole: nothing", obj(f"{RBAC}/v1", "ClusterRole"), obj(f"{RBAC}/v1", "ClusterRole")),
    ("RoleBinding roleRef and subjects",
     obj(f"{RBAC}/v1", "RoleBinding", roleRef={"kind": "Role", "name": "r"}, subjects=[
         {"kind": "User", "name": "alice"}, {"kind": "Group", "name": "devs"},
         {"kind": "ServiceAccount", "name": "default", "namespace": "default"}]),
     obj(f"{RBAC}/v1", "RoleBinding", roleRef={"kind": "Role", "name": "r", "apiGroup": RBAC}, subjects=[
         {"kind": "User", "name": "alice", "apiGroup": RBAC}, {"kind": "Group", "name": "devs", "apiGroup": RBAC},
         {"kind": "ServiceAccount", "name": "default", "namespace": "default"}])),
    ("ClusterRoleBinding roleRef", obj(f"{RBAC}/v1", "ClusterRoleBinding", roleRef={"kind": "ClusterRole", "name": "r"}),
     obj(f"{RBAC}/v1", "ClusterRoleBinding", roleRef={"kind": "ClusterRole", "name": "r", "apiGroup": RBAC})),
    ("unknown kind: unchanged", obj("example.com/v1", "Widget", {"a": 1}), obj("example.com/v1", "Widget", {"a": 1})),
]

TABLES = {
    "pod": POD_CASES, "deployment": DEPLOYMENT_CASES, "replicaset": REPLICA_SET_CASES,
    "replicationcontroller": REPLICATION_CONTROLLER_CASES, "daemonset": DAEMON_SET_CASES,
    "statefulset": STATEFUL_SET_CASES, "job": JOB_CASES, "cronjob": CRON_JOB_CASES, "service": SERVICE_CASES,
    "namespace": NAMESPACE_CASES, "hpa": HPA_CASES, "other": OTHER_CASES,
}
ALL_CASES = [(f"{table}: {name}", given, expected) for table, cases in TABLES.items() for name, given, expected in cases]


@pytest.mark.parametrize("name, given, expected", ALL_CASES, ids=[row[0] for row in ALL_CASES])
def test_defaults(name, given, expected):
    run(given, expected)


@pytest.mark.parametrize("name, given, expected", ALL_CASES, ids=[row[0] for row in ALL_CASES])
def test_idempotent_defaulting_twice_equals_once(name, given, expected):
    once = apply_defaults(given)
    assert apply_defaults(once) == once


def test_every_served_kind_has_a_table_row():
    from kitlib.apiserver.resources import RESOURCES

    covered = {(g["apiVersion"], g["kind"]) for _, g, _ in ALL_CASES}
    assert {(r.api_version, r.kind) for r in RESOURCES} <= covered
    assert set(defaults.DEFAULTERS) <= covered


@pytest.mark.parametrize("image, policy", PULL_POLICY_CASES, ids=[row[0] or "empty" for row in PULL_POLICY_CASES])
def test_image_pull_policy(image, policy):
    defaulted = apply_defaults(pod(containers=[c(image)]))
    assert defaulted["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_image_tag():
    assert image_tag("registry.example.com:443/a/b:1.0") == "1.0"
    assert image_tag("nginx@sha256:" + "f" * 64) == ""


# --- the canonical manifest, against a real 1.32 cluster -----------------------

NGINX_DEPLOYMENT = (Path(__file__).resolve().parents[2] / "book/part04-declarative-api/nginx-deployment.yaml").read_text()

# `kubectl get deploy nginx-deployment -o yaml`, the spec part, on v1.32.
KUBECTL_GET_SPEC = """
progressDeadlineSeconds: 600
replicas: 2
revisionHistoryLimit: 10
selector:
  matchLabels:
    app: nginx
strategy:
  rollingUpdate:
    maxSurge: 25%
    maxUnavailable: 25%
  type: RollingUpdate
template:
  metadata:
    creationTimestamp: null
    labels:
      app: nginx
  spec:
    containers:
    - image: nginx:1.7.9
      imagePullPolicy: IfNotPresent
      name: nginx
      ports:
      - containerPort: 80
        protocol: TCP
      resources: {}
      terminationMessagePath: /dev/termination-log
      terminationMessagePolicy: File
    dnsPolicy: ClusterFirst
    restartPolicy: Always
    schedulerName: default-scheduler
    securityContext: {}
    terminationGracePeriodSeconds: 30
"""


def test_nginx_deployment_matches_kubectl_get():
    expected = yaml.safe_load(KUBECTL_GET_SPEC)
    # Not a default: Go serializes the template's zero ObjectMeta.creationTimestamp
    # as null. The kit's objects omit it (see the module's Simplifications).
    assert expected["template"]["metadata"].pop("creationTimestamp") is None
    assert apply_defaults(yaml.safe_load(NGINX_DEPLOYMENT))["spec"] == expected


# --- what the registry calls, outside defaulting -------------------------------


def test_job_selector_generation_on_create():
    job = apply_defaults(obj("batch/v1", "Job", {"template": template(restartPolicy="Never")}, name="pi"))
    job["metadata"]["uid"] = "u-1"
    generated = generate_job_selector(job)
    labels = {"app": "web", "job-name": "pi", "batch.kubernetes.io/job-name": "pi",
              "controller-uid": "u-1", "batch.kubernetes.io/controller-uid": "u-1"}
    assert generated["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}
    assert generated["spec"]["template"]["metadata"]["labels"] == labels
    # The job's own labels were copied from the template by defaulting: {"app": "web"} stays.
    assert generated["metadata"]["labels"] == {"app": "web"}
    assert apply_defaults(generated) == generated


def test_job_selector_generation_gives_a_label_less_job_the_template_labels():
    job = obj("batch/v1", "Job", {"template": {"spec": {"containers": [c()], "restartPolicy": "Never"}}}, name="pi")
    job["metadata"]["uid"] = "u-2"
    generated = generate_job_selector(apply_defaults(job))
    assert generated["metadata"]["labels"] == generated["spec"]["template"]["metadata"]["labels"]
    assert generated["metadata"]["labels"]["batch.kubernetes.io/controller-uid"] == "u-2"


def test_job_selector_left_alone_with_manual_selector():
    job = obj("batch/v1", "Job", {"manualSelector": True, "selector": {"matchLabels": {"a": "b"}},
                                  "template": template()})
    assert generate_job_selector(copy.deepcopy(job)) == job


NAMESPACE_CREATE_CASES = [
    ({}, {"finalizers": ["kubernetes"]}),
    ({"finalizers": ["example.com/x"]}, {"finalizers": ["example.com/x", "kubernetes"]}),
    ({"finalizers": ["kubernetes"]}, {"finalizers": ["kubernetes"]}),
]


@pytest.mark.parametrize("spec, expected", NAMESPACE_CREATE_CASES)
def test_namespace_create_adds_the_kubernetes_finalizer(spec, expected):
    ns = {"metadata": {"name": "x"}, "spec": spec, "status": {"phase": "Terminating"}}
    created = prepare_namespace_for_create(ns)
    assert created["spec"] == expected and created["status"] == {"phase": "Active"}


def test_namespace_finalizer_is_not_a_default():
    # The namespace controller empties spec.finalizers; a read must not restore it.
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}, "spec": {"finalizers": []}}
    assert apply_defaults(ns)["spec"] == {"finalizers": []}


SERVICE_FAMILY_CASES = [
    # (spec, cluster families, expected ipFamilyPolicy, expected ipFamilies)
    ({"type": "ClusterIP", "selector": {"a": "b"}}, ("IPv4",), "SingleStack", ["IPv4"]),
    ({"type": "NodePort"}, ("IPv6", "IPv4"), "SingleStack", ["IPv6"]),
    ({"ipFamilyPolicy": "PreferDualStack"}, ("IPv4",), "PreferDualStack", ["IPv4"]),
    ({"ipFamilyPolicy": "PreferDualStack"}, ("IPv4", "IPv6"), "PreferDualStack", ["IPv4", "IPv6"]),
    ({"clusterIP": "None", "selector": {"a": "b"}}, ("IPv4",), "SingleStack", ["IPv4"]),
    ({"clusterIP": "None"}, ("IPv4",), "RequireDualStack", ["IPv4", "IPv6"]),
    ({"ipFamilies": ["IPv6"]}, ("IPv4", "IPv6"), "SingleStack", ["IPv6"]),
]


@pytest.mark.parametrize("spec, families, policy, expected", SERVICE_FAMILY_CASES)
def test_service_ip_families_from_the_registry(spec, families, policy, expected):
    svc = service_ip_family_defaults({"spec": dict(spec)}, families)
    assert (svc["spec"]["ipFamilyPolicy"], svc["spec"]["ipFamilies"]) == (policy, expected)


def test_external_name_service_gets_no_families():
    assert service_ip_family_defaults({"spec": {"type": "ExternalName"}}) == {"spec": {"type": "ExternalName"}}


def test_service_families_are_not_defaults():
    assert "ipFamilyPolicy" not in apply_defaults(obj("v1", "Service", {}))["spec"]


def test_pod_priority_from_a_looked_up_class():
    p = pod(priorityClassName="high")
    assert "priority" not in apply_defaults(p)["spec"]  # left for the registry's lookup
    admitted = admit_pod_priority(apply_defaults(p), {"value": 1000, "preemptionPolicy": "Never"})
    assert (admitted["spec"]["priority"], admitted["spec"]["preemptionPolicy"]) == (1000, "Never")


def test_templates_get_no_pod_only_fields():
    spec = apply_defaults(obj("apps/v1", "ReplicaSet", {"template": template()}))["spec"]["template"]["spec"]
    assert not set(POD_ONLY) & set(spec)
