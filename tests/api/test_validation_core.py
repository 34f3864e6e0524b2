"""Core (v1) validation: Pods and their containers, Services, and the small kinds, in kube v1.32's words."""

from __future__ import annotations

import pytest

from kitlib.api.validate import validate
from kitlib.api.validation_pod import validate_binding

from .manifests import DELETE, POD, RC, SERVICE, TEMPLATE, build, edit, stored
from .messages import DNS1035, DNS_LABEL, LABEL_VALUE, NAME_PART, SUBDOMAIN

PORT_RANGE = "must be between 1 and 65535, inclusive"
PORT_CHARS = "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
PORT_LETTER = "must contain at least one letter (a-z)"
ENV_NAME = "a valid environment variable name must consist only of printable ASCII characters other than '='"
CONFIG_KEY = ("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
              "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")
UPDATABLE = ("pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
             "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
             "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)")


def _errors(obj: dict, namespaced: bool = True, old: dict | None = None, subresource: str = "") -> list[str]:
    return [str(e) for e in validate(obj, namespaced=namespaced, old=old, subresource=subresource)]


# (id, changes to a valid Pod, expected errors)
POD_CASES = [
    ("valid", {}, []),
    ("no containers", {"spec.containers": []}, ["spec.containers: Required value"]),
    ("container name", {"spec.containers[0].name": "Web"},
     [f'spec.containers[0].name: Invalid value: "Web": {DNS_LABEL}']),
    ("no container name", {"spec.containers[0].name": DELETE}, ["spec.containers[0].name: Required value"]),
    ("no image", {"spec.containers[0].image": DELETE}, ["spec.containers[0].image: Required value"]),
    ("image with spaces", {"spec.containers[0].image": "nginx "},
     ['spec.containers[0].image: Invalid value: "nginx ": must not have leading or trailing whitespace']),
    ("duplicate containers", {"spec.containers[1]": {"name": "web", "image": "busybox"}},
     ['spec.containers[1].name: Duplicate value: "web"']),
    ("init container named like a container", {"spec.initContainers": [{"name": "web", "image": "busybox"}]},
     ['spec.initContainers[0].name: Duplicate value: "web"']),
    ("init container probe", {"spec.initContainers": [{"name": "init", "image": "busybox",
                                                       "readinessProbe": {"exec": {"command": ["true"]}}}]},
     ["spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always"]),
    ("restartPolicy on a container", {"spec.containers[0].restartPolicy": "Always"},
     ["spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers"]),
    ("port out of range", {"spec.containers[0].ports[0].containerPort": 70000},
     [f"spec.containers[0].ports[0].containerPort: Invalid value: 70000: {PORT_RANGE}"]),
    ("port missing", {"spec.containers[0].ports[0].containerPort": DELETE},
     ["spec.containers[0].ports[0].containerPort: Required value"]),
    ("port protocol", {"spec.containers[0].ports[0].protocol": "HTTP"},
     ['spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"']),
    ("port names", {"spec.containers[0].ports": [{"name": "http", "containerPort": 80}, {"name": "http", "containerPort": 81},
                                                 {"name": "HTTP_2", "containerPort": 82}]},
     ['spec.containers[0].ports[1].name: Duplicate value: "http"',
      f'spec.containers[0].ports[2].name: Invalid value: "HTTP_2": {PORT_CHARS}',
      f'spec.containers[0].ports[2].name: Invalid value: "HTTP_2": {PORT_LETTER}']),
    ("host port twice", {"spec.containers[0].ports": [{"containerPort": 80, "hostPort": 8080},
                                                      {"containerPort": 81, "hostPort": 8080}]},
     ['spec.containers[0].ports[1].hostPort: Duplicate value: "TCP//8080"']),
    ("host network", {"spec.hostNetwork": True, "spec.containers[0].ports[0].hostPort": 81},
     ["spec.containers[0].ports[0].hostPort: Invalid value: 81: must match `containerPort` when `hostNetwork` is true"]),
    ("env names", {"spec.containers[0].env": [{"name": "A=B", "value": "x"}, {"name": "", "value": "y"},
                                              {"name": "MY-VAR.1", "value": "fine since v1.32"}]},
     [f'spec.containers[0].env[0].name: Invalid value: "A=B": {ENV_NAME}', "spec.containers[0].env[1].name: Required value"]),
    ("env sources", {"spec.containers[0].env": [
        {"name": "A", "valueFrom": {}},
        {"name": "B", "value": "x", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "C", "valueFrom": {"fieldRef": {"fieldPath": "spec.hostname"}}},
        {"name": "D", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels"}}},
        {"name": "E", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "a b"}}}]},
     ['spec.containers[0].env[0].valueFrom: Invalid value: "": must specify one of: `fieldRef`, `resourceFieldRef`, '
      "`configMapKeyRef` or `secretKeyRef`",
      'spec.containers[0].env[1].valueFrom: Invalid value: "": may not be specified when `value` is not empty',
      'spec.containers[0].env[2].valueFrom.fieldRef.fieldPath: Invalid value: "spec.hostname": error converting '
      "fieldPath: field label not supported: spec.hostname",
      'spec.containers[0].env[3].valueFrom.fieldRef.fieldPath: Unsupported value: "metadata.labels": supported values: '
      '"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", '
      '"status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"',
      f'spec.containers[0].env[4].valueFrom.configMapKeyRef.key: Invalid value: "a b": {CONFIG_KEY}']),
    ("envFrom without a source", {"spec.containers[0].envFrom": [{"prefix": "X_"}]},
     ['spec.containers[0].envFrom: Invalid value: "": must specify one of: `configMapRef` or `secretRef`']),
    ("volumes", {"spec.volumes": [{"name": "data", "emptyDir": {}}, {"name": "data", "emptyDir": {}},
                                  {"name": "Conf", "configMap": {"name": "c"}}, {"name": "two", "emptyDir": {},
                                                                                 "hostPath": {"path": "/x"}}]},
     ['spec.volumes[1].name: Duplicate value: "data"', f'spec.volumes[2].name: Invalid value: "Conf": {DNS_LABEL}',
      "spec.volumes[3].hostPath: Forbidden: may not specify more than 1 volume type"]),
    ("volume sources", {"spec.volumes": [{"name": "a", "secret": {"defaultMode": 1000}}, {"name": "b", "hostPath": {"path": "/x/../etc"}},
                                         {"name": "c", "persistentVolumeClaim": {}}]},
     ["spec.volumes[0].secret.secretName: Required value",
      "spec.volumes[0].secret.defaultMode: Invalid value: 1000: must be a number between 0 and 0777 (octal), both inclusive",
      "spec.volumes[1].hostPath.path: Invalid value: \"/x/../etc\": must not contain '..'",
      "spec.volumes[2].persistentVolumeClaim.claimName: Required value"]),
    ("mounts", {"spec.volumes": [{"name": "data", "emptyDir": {}}],
                "spec.containers[0].volumeMounts": [{"name": "conf", "mountPath": "/etc/app"},
                                                    {"name": "data", "mountPath": "/etc/app"},
                                                    {"name": "data", "mountPath": "/var", "subPath": "../x"}]},
     ['spec.containers[0].volumeMounts[0].name: Not found: "conf"',
      'spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/etc/app": must be unique',
      "spec.containers[0].volumeMounts.subPath: Invalid value: \"../x\": must not contain '..'"]),
    ("requests above limits", {"spec.containers[0].resources": {"requests": {"cpu": "1000m", "memory": "1Gi"},
                                                                "limits": {"cpu": "0.5", "memory": "512Mi"}}},
     ['spec.containers[0].resources.requests: Invalid value: "1": must be less than or equal to cpu limit of 500m',
      'spec.containers[0].resources.requests: Invalid value: "1Gi": must be less than or equal to memory limit of 512Mi']),
    ("resource names", {"spec.containers[0].resources": {"requests": {"gpu": "1", "pods": "1", "example.com/gpu": "1"}}},
     ["spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable resources",
      'spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be a standard resource type or fully qualified',
      'spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be a standard resource for containers',
      'spec.containers[0].resources.requests[pods]: Invalid value: "pods": must be a standard resource for containers']),
    ("extended resources are not overcommitted", {"spec.containers[0].resources": {
        "requests": {"example.com/gpu": "1"}, "limits": {"example.com/gpu": "2"}}},
     ['spec.containers[0].resources.requests: Invalid value: "1": must be equal to example.com/gpu limit of 2']),
    ("negative quantity", {"spec.containers[0].resources": {"requests": {"memory": "-1Mi"}}},
     ['spec.containers[0].resources.requests[memory]: Invalid value: "-1Mi": must be greater than or equal to 0']),
    ("probes", {"spec.containers[0].livenessProbe": {"httpGet": {"port": "Web"}, "successThreshold": 3},
                "spec.containers[0].readinessProbe": {"periodSeconds": -1}},
     [f'spec.containers[0].livenessProbe.httpGet.port: Invalid value: "Web": {PORT_CHARS}',
      "spec.containers[0].livenessProbe.successThreshold: Invalid value: 3: must be 1",
      "spec.containers[0].readinessProbe: Required value: must specify a handler type",
      "spec.containers[0].readinessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0"]),
    ("pull policy", {"spec.containers[0].imagePullPolicy": "Sometimes"},
     ['spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"']),
    ("restart and dns policies", {"spec.restartPolicy": "Sometimes", "spec.dnsPolicy": "Google"},
     ['spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
      'spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", "ClusterFirst", '
      '"Default", "None"']),
    ("dns None needs a config", {"spec.dnsPolicy": "None"},
     ["spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"]),
    ("names", {"spec.nodeName": "Node_1", "spec.serviceAccountName": "-sa", "spec.hostname": "a.b"},
     [f'spec.serviceAccountName: Invalid value: "-sa": {SUBDOMAIN}', f'spec.nodeName: Invalid value: "Node_1": {SUBDOMAIN}',
      'spec.hostname: Invalid value: "a.b": must not contain dots']),
    ("node selector", {"spec.nodeSelector": {"disk": "ssd fast"}},
     [f'spec.nodeSelector: Invalid value: "ssd fast": {LABEL_VALUE}']),
    ("deadline", {"spec.activeDeadlineSeconds": 0},
     ["spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"]),
    ("tolerations", {"spec.tolerations": [{"operator": "Equal", "value": "x"},
                                          {"key": "gpu", "operator": "Exists", "value": "y", "effect": "NoSchedule",
                                           "tolerationSeconds": 5},
                                          {"key": "k", "operator": "Is", "effect": "Never"}]},
     ['spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which means '
      '"match all values and all keys"',
      "spec.tolerations[1].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
      "spec.tolerations[1].operator: Invalid value: \"y\": value must be empty when `operator` is 'Exists'",
      'spec.tolerations[2].operator: Unsupported value: "Is": supported values: "Equal", "Exists"',
      'spec.tolerations[2].effect: Unsupported value: "Never": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"']),
    ("run as user", {"spec.securityContext": {"runAsUser": -1}},
     ["spec.securityContext.runAsUser: Invalid value: -1: must be between 0 and 2147483647, inclusive"]),
    ("ephemeral containers on create", {"spec.ephemeralContainers": [{"name": "debug", "image": "busybox"}]},
     ["spec.ephemeralContainers: Forbidden: cannot be set on create"]),
    ("bad name and finalizer", {"metadata.name": "Web", "metadata.finalizers": ["my-finalizer"]},
     [f'metadata.name: Invalid value: "Web": {SUBDOMAIN}',
      'metadata.finalizers[0]: Invalid value: "my-finalizer": name is neither a standard finalizer name nor is it fully qualified']),
]


@pytest.mark.parametrize("changes,expected", [c[1:] for c in POD_CASES], ids=[c[0] for c in POD_CASES])
def test_pod_create(changes, expected):
    assert _errors(build(POD, changes)) == expected


def test_pod_template_labels_are_reported_at_template_labels():
    # ValidatePodTemplateSpec passes "spec.template" as the metadata path: kube's quirk, kept.
    rc = build(RC, {"spec.template.metadata.labels.bad key": "x", "spec.selector": {"app": "web"}})
    assert f'spec.template.labels: Invalid value: "bad key": {NAME_PART}' in _errors(rc)


POD_UPDATES = [
    ("image", {"spec.containers[0].image": "nginx:1.28"}, []),
    ("shorter deadline", {"spec.activeDeadlineSeconds": 30}, []),
    ("added toleration", {"spec.tolerations[3]": {"key": "disk", "operator": "Exists"}}, []),
    ("two containers", {"spec.containers[1]": {"name": "side", "image": "busybox"}},
     ["spec.containers: Forbidden: pod updates may not add or remove containers"]),
    ("changed toleration", {"spec.tolerations[0].operator": "Equal", "spec.tolerations[0].value": "a100"},
     ["spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"]),
    ("ports", {"spec.containers[0].ports[0].containerPort": 8080},
     ["spec: Forbidden: " + UPDATABLE + "\n  core.PodSpec{\n"
      '-\tcontainers: [{"image": "nginx:1.27", "imagePullPolicy": "IfNotPresent", "name": "web", "ports": '
      '[{"containerPort": 80, "protocol": "TCP"}], "resources": {}, "terminationMessagePath": "/dev/termination-log", '
      '"terminationMessagePolicy": "File"}],\n'
      '+\tcontainers: [{"image": "nginx:1.27", "imagePullPolicy": "IfNotPresent", "name": "web", "ports": '
      '[{"containerPort": 8080, "protocol": "TCP"}], "resources": {}, "terminationMessagePath": "/dev/termination-log", '
      '"terminationMessagePolicy": "File"}],\n  }\n']),
    ("name", {"metadata.name": "web2"}, ['metadata.name: Invalid value: "web2": field is immutable']),
]


@pytest.mark.parametrize("changes,expected", [c[1:] for c in POD_UPDATES], ids=[c[0] for c in POD_UPDATES])
def test_pod_update(changes, expected):
    old = stored(POD, {"spec.activeDeadlineSeconds": 60, "spec.tolerations": [{"key": "gpu", "operator": "Exists"}]})
    assert _errors(edit(old, changes), old=old) == expected


def test_pod_deadline_may_only_shrink_and_not_go_away():
    old = stored(POD, {"spec.activeDeadlineSeconds": 60})
    assert _errors(edit(old, {"spec.activeDeadlineSeconds": 90}), old=old) == [
        "spec.activeDeadlineSeconds: Invalid value: 90: must be less than or equal to previous value"]
    assert _errors(edit(old, {"spec.activeDeadlineSeconds": DELETE}), old=old) == [
        'spec.activeDeadlineSeconds: Invalid value: "null": must not update from a positive integer to nil value']


def test_pod_status_update_cannot_move_the_pod():
    old = stored(POD, {"spec.nodeName": "node-1"})
    assert _errors(edit(old, {"status.phase": "Running"}), old=old, subresource="status") == []
    assert _errors(edit(old, {"spec.nodeName": "node-2"}), old=old, subresource="status") == [
        "status.nodeName: Forbidden: may not be changed directly"]


def test_binding():
    assert [str(e) for e in validate_binding({"target": {"kind": "Pod"}})] == [
        'target.kind: Unsupported value: "Pod": supported values: "Node", "<empty>"', "target.name: Required value"]
    assert validate_binding({"target": {"kind": "Node", "name": "node-1"}}) == []


SERVICE_CASES = [
    ("valid", {}, []),
    ("name", {"metadata.name": "1web"}, [f'metadata.name: Invalid value: "1web": {DNS1035}']),
    ("no ports", {"spec.ports": []}, ["spec.ports: Required value"]),
    ("headless without ports", {"spec.ports": [], "spec.clusterIP": "None"}, []),
    ("two ports, one unnamed", {"spec.ports[1]": {"name": "https", "port": 443}}, ["spec.ports[0].name: Required value"]),
    ("port 0", {"spec.ports[0].port": 0, "spec.ports[0].targetPort": DELETE},
     [f"spec.ports[0].port: Invalid value: 0: {PORT_RANGE}", f"spec.ports[0].targetPort: Invalid value: 0: {PORT_RANGE}"]),
    ("same port twice", {"spec.ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80}]},
     ['spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), Port:80, '
      'TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}']),
    ("target port name", {"spec.ports[0].targetPort": "HTTP"},
     [f'spec.ports[0].targetPort: Invalid value: "HTTP": {PORT_CHARS}', f'spec.ports[0].targetPort: Invalid value: "HTTP": {PORT_LETTER}']),
    ("type", {"spec.type": "Ingress"},
     ['spec.type: Unsupported value: "Ingress": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"']),
    ("nodePort on ClusterIP", {"spec.ports[0].nodePort": 30080},
     ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]),
    ("duplicate nodePort", {"spec.type": "NodePort", "spec.ports": [{"name": "a", "port": 80, "nodePort": 30080},
                                                                    {"name": "b", "port": 81, "nodePort": 30080}]},
     ["spec.ports[1].nodePort: Duplicate value: 30080"]),
    ("selector", {"spec.selector": {"app": "a b"}}, [f'spec.selector: Invalid value: "a b": {LABEL_VALUE}']),
    ("affinity", {"spec.sessionAffinity": "Sticky"},
     ['spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None"']),
    ("affinity timeout", {"spec.sessionAffinity": "ClientIP", "spec.sessionAffinityConfig.clientIP.timeoutSeconds": 90000},
     ["spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 90000: must be greater than 0 and less than 86400"]),
    ("external name", {"spec.type": "ExternalName", "spec.externalName": "db.example.com."}, []),
    ("external name missing", {"spec.type": "ExternalName"}, ["spec.externalName: Required value"]),
    ("headless load balancer", {"spec.type": "LoadBalancer", "spec.clusterIP": "None"},
     ["spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for LoadBalancer services"]),
    ("traffic policy", {"spec.externalTrafficPolicy": "Local"},
     ['spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services']),
    ("source ranges", {"spec.loadBalancerSourceRanges": ["10.0.0.0/8", "10.0.0.1"]},
     ["spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'",
      'spec.LoadBalancerSourceRanges[1]: Invalid value: "10.0.0.1": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)']),
    ("external IPs", {"spec.externalIPs": ["1.2.3.x"]},
     ['spec.externalIPs[0]: Invalid value: "1.2.3.x": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']),
]


@pytest.mark.parametrize("changes,expected", [c[1:] for c in SERVICE_CASES], ids=[c[0] for c in SERVICE_CASES])
def test_service(changes, expected):
    assert _errors(build(SERVICE, changes)) == expected


def _kind(api_version: str, kind: str, name: str, namespace: str | None = "default", **fields) -> dict:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **fields}


RC_SELECTED = {"spec.selector": {"app": "web"}}
# (id, object, namespaced, expected)
SMALL_KINDS = [
    ("rc defaults its selector", build(RC), True, []),
    ("rc selector mismatch", build(RC, {"spec.selector": {"app": "db"}}), True,
     ['spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`']),
    ("rc negative replicas", build(RC, {"spec.replicas": -1}), True,
     ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]),
    ("rc restart policy", build(RC, {"spec.template.spec.restartPolicy": "OnFailure"}), True,
     ['spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"']),
    ("rc without labels", build(RC, {"spec.template.metadata": {}}), True,
     ["spec.selector: Required value"]),
    ("namespace", build(_kind("v1", "Namespace", "dev", None)), False, []),
    ("namespace name", build(_kind("v1", "Namespace", "dev.team", None)), False,
     ['metadata.name: Invalid value: "dev.team": must not contain dots']),
    ("namespace finalizer", build(_kind("v1", "Namespace", "dev", None, spec={"finalizers": ["cleanup"]})), False,
     ['spec.finalizers: Invalid value: "cleanup": name is neither a standard finalizer name nor is it fully qualified']),
    ("node", build(_kind("v1", "Node", "node-1", None, status={"capacity": {"cpu": "4", "memory": "8Gi"}})), False, []),
    ("node taints", build(_kind("v1", "Node", "node-1", None, spec={"taints": [
        {"key": "gpu", "effect": "NoSchedule"}, {"key": "gpu", "effect": "NoSchedule"}, {"key": "x", "effect": "Never"}]})),
     False,
     ['metadata.taints[1]: Duplicate value: core.Taint{Key:"gpu", Value:"", Effect:"NoSchedule", TimeAdded:(*v1.Time)(nil)}: '
      "taints must be unique by key and effect pair",
      'metadata.taints[2].effect: Unsupported value: "Never": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"']),
    ("node capacity", build(_kind("v1", "Node", "node-1", None, status={"capacity": {"cpu": "-2"}})), False,
     ['status.capacity.cpu: Invalid value: "-2": must be greater than or equal to 0',
      'status.allocatable.cpu: Invalid value: "-2": must be greater than or equal to 0']),  # defaulted from capacity
    ("node pod CIDRs", build(_kind("v1", "Node", "node-1", None, spec={"podCIDRs": ["10.244.1.0/33"]})), False,
     ['spec.podCIDRs[0]: Invalid value: "10.244.1.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)']),
    ("configmap", build(_kind("v1", "ConfigMap", "cfg", data={"app.conf": "x", ".env": "y"})), True, []),
    ("configmap keys", build(_kind("v1", "ConfigMap", "cfg", data={"a b": "x", "..": "y", "dup": "z"},
                                   binaryData={"dup": "eA=="})), True,
     ['data[..]: Invalid value: "..": must not be \'..\'', f'data[a b]: Invalid value: "a b": {CONFIG_KEY}',
      'data[dup]: Invalid value: "dup": duplicate of key present in binaryData']),
    ("configmap too big", build(_kind("v1", "ConfigMap", "cfg", data={"big": "x" * (1024 * 1024 + 1)})), True,
     [": Too long: may not be more than 1048576 bytes"]),
    ("secret", build(_kind("v1", "Secret", "s", data={"password": "c2VjcmV0"})), True, []),
    ("secret key", build(_kind("v1", "Secret", "s", stringData={"my key": "v"})), True,
     [f'data[my key]: Invalid value: "my key": {CONFIG_KEY}']),
    ("tls secret", build(_kind("v1", "Secret", "s", type="kubernetes.io/tls", data={"tls.crt": "eA=="})), True,
     ["data[tls.key]: Required value"]),
    ("token secret", build(_kind("v1", "Secret", "s", type="kubernetes.io/service-account-token")), True,
     ["metadata.annotations[kubernetes.io/service-account.name]: Required value"]),
    ("service account", build(_kind("v1", "ServiceAccount", "build-bot")), True, []),
    ("endpoints", build(_kind("v1", "Endpoints", "web", subsets=[
        {"addresses": [{"ip": "10.1.0.5"}], "ports": [{"port": 80}]}])), True, []),
    ("endpoints errors", build(_kind("v1", "Endpoints", "web", subsets=[
        {"ports": [{"port": 80}, {"name": "b", "port": 0}]}, {"addresses": [{"ip": "10.1.0.300"}]}])), True,
     ["subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`", "subsets[0].ports[0].name: Required value",
      f"subsets[0].ports[1].port: Invalid value: 0: {PORT_RANGE}",
      'subsets[1].addresses[0].ip: Invalid value: "10.1.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']),
    ("event", build(_kind("v1", "Event", "web.1", involvedObject={"kind": "Pod", "name": "web", "namespace": "default"})),
     True, []),
    ("event elsewhere", build(_kind("v1", "Event", "web.1", involvedObject={"kind": "Pod", "name": "web", "namespace": "prod"})),
     True, ['involvedObject.namespace: Invalid value: "prod": does not match event.namespace']),
    ("event without a name", build(_kind("v1", "Event", "", involvedObject={"namespace": "default"})), True,
     ["metadata.name: Required value: name or generateName is required"]),
]


@pytest.mark.parametrize("obj,namespaced,expected", [c[1:] for c in SMALL_KINDS], ids=[c[0] for c in SMALL_KINDS])
def test_small_kinds(obj, namespaced, expected):
    assert _errors(obj, namespaced) == expected


UPDATES = [
    ("rc scale", RC, {"spec.replicas": 5}, "", []),
    ("secret type", _kind("v1", "Secret", "s", data={"a": "eA=="}), {"type": "kubernetes.io/tls"}, "",
     ['type: Invalid value: "kubernetes.io/tls": field is immutable', "data[tls.crt]: Required value",
      "data[tls.key]: Required value"]),
    ("immutable configmap", _kind("v1", "ConfigMap", "c", data={"a": "1"}, immutable=True), {"data.a": "2"}, "",
     ["data: Forbidden: field is immutable when `immutable` is set"]),
    ("node pod CIDR", _kind("v1", "Node", "n", None, spec={"podCIDRs": ["10.244.1.0/24"]}),
     {"spec.podCIDRs": ["10.244.2.0/24"]}, "",
     ['spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid']),
    ("namespace phase", _kind("v1", "Namespace", "dev", None), {"status.phase": "Terminating"}, "status",
     ["status.Phase: Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is empty"]),
    ("rc status", RC, {"status": {"replicas": 1, "readyReplicas": 2}}, "status",
     ["status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas"]),
    ("namespace finalize", _kind("v1", "Namespace", "dev", None), {"spec.finalizers": ["kubernetes", "x y"]}, "finalize",
     [f'spec.finalizers[1]: Invalid value: "x y": {NAME_PART}',
      'spec.finalizers[1]: Invalid value: "x y": name is neither a standard finalizer name nor is it fully qualified']),
]


@pytest.mark.parametrize("base,changes,subresource,expected", [c[1:] for c in UPDATES], ids=[c[0] for c in UPDATES])
def test_updates(base, changes, subresource, expected):
    old = stored(base)
    namespaced = bool(old["metadata"].get("namespace"))
    assert _errors(edit(old, changes), namespaced, old=old, subresource=subresource) == expected


def test_template_shared_by_workloads_is_valid():
    assert _errors(build(RC, {"spec.template": TEMPLATE, **RC_SELECTED})) == []
