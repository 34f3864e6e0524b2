"""``kit describe``'s describers against what kubectl 1.32 printed for the same objects.

Each expected text below is ``kubectl describe`` run on the object as a kit
API server served it (for the Node, without the Lease, pods and allocated
resources sections the kit leaves out). Times print in the local zone, as
kubectl's do, so the tests run in UTC.
"""

from __future__ import annotations

import time

import pytest

from kitlib.api.errors import NotFound
from kitlib.cli.describe import describe, events_lines

T = "2026-11-23T14:30:00Z"

POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "fe"},
                 "annotations": {"note": "hello"}},
    "spec": {"containers": [{"command": ["sleep", "3600"], "env": [{"name": "A", "value": "b"}], "image": "busybox",
                             "name": "app", "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                             "resources": {"limits": {"cpu": "100m"}, "requests": {"cpu": "100m", "memory": "10Mi"}}},
                            {"image": "nginx", "name": "side", "resources": {}}],
             "nodeName": "node-1", "priority": 0, "serviceAccountName": "default",
             "tolerations": [{"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists",
                              "tolerationSeconds": 300},
                             {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists",
                              "tolerationSeconds": 300}]},
    "status": {"conditions": [{"lastTransitionTime": T, "status": "True", "type": "Initialized"},
                              {"lastTransitionTime": T, "status": "False", "type": "Ready"}],
               "containerStatuses": [
                   {"containerID": "kit://123", "image": "busybox", "imageID": "docker://sha256:abc", "name": "app",
                    "ready": True, "restartCount": 0, "state": {"running": {"startedAt": T}}},
                   {"containerID": "kit://456", "image": "nginx", "imageID": "", "name": "side", "ready": False,
                    "restartCount": 3, "state": {"waiting": {"message": "back-off", "reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 1, "finishedAt": T, "reason": "Error", "startedAt": T}}}],
               "hostIP": "10.0.0.5", "phase": "Running", "podIP": "10.244.1.7", "podIPs": [{"ip": "10.244.1.7"}],
               "qosClass": "Burstable", "startTime": T},
}

POD_TEXT = """\
Name:             web
Namespace:        default
Priority:         0
Service Account:  default
Node:             node-1/10.0.0.5
Start Time:       Mon, 23 Nov 2026 14:30:00 +0000
Labels:           app=web
                  tier=fe
Annotations:      note: hello
Status:           Running
IP:               10.244.1.7
IPs:
  IP:  10.244.1.7
Containers:
  app:
    Container ID:  kit://123
    Image:         busybox
    Image ID:      docker://sha256:abc
    Port:          8080/TCP
    Host Port:     0/TCP
    Command:
      sleep
      3600
    State:          Running
      Started:      Mon, 23 Nov 2026 14:30:00 +0000
    Ready:          True
    Restart Count:  0
    Limits:
      cpu:  100m
    Requests:
      cpu:     100m
      memory:  10Mi
    Environment:
      A:     b
    Mounts:  <none>
  side:
    Container ID:   kit://456
    Image:          nginx
    Image ID:       
    Port:           <none>
    Host Port:      <none>
    State:          Waiting
      Reason:       CrashLoopBackOff
    Last State:     Terminated
      Reason:       Error
      Exit Code:    1
      Started:      Mon, 23 Nov 2026 14:30:00 +0000
      Finished:     Mon, 23 Nov 2026 14:30:00 +0000
    Ready:          False
    Restart Count:  3
    Environment:    <none>
    Mounts:         <none>
Conditions:
  Type           Status
  Initialized    True 
  Ready          False 
Volumes:         <none>
QoS Class:       Burstable
Node-Selectors:  <none>
Tolerations:     node.kubernetes.io/not-ready:NoExecute op=Exists for 300s
                 node.kubernetes.io/unreachable:NoExecute op=Exists for 300s
Events:          <none>"""

SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
           "spec": {"clusterIP": "10.111.134.112", "clusterIPs": ["10.111.134.112"], "internalTrafficPolicy": "Cluster",
                    "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                    "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
                    "selector": {"app": "web"}, "sessionAffinity": "None", "type": "ClusterIP"}}

SERVICE_TEXT = """\
Name:                     web
Namespace:                default
Labels:                   <none>
Annotations:              <none>
Selector:                 app=web
Type:                     ClusterIP
IP Family Policy:         SingleStack
IP Families:              IPv4
IP:                       10.111.134.112
IPs:                      10.111.134.112
Port:                     http  80/TCP
TargetPort:               8080/TCP
Endpoints:                {endpoints}
Session Affinity:         None
Internal Traffic Policy:  Cluster
Events:                   <none>"""

NODE = {"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "node-1", "creationTimestamp": "2026-11-23T14:25:40Z",
                     "labels": {"kubernetes.io/hostname": "node-1", "node-role.kubernetes.io/control-plane": ""}},
        "spec": {"podCIDR": "10.244.1.0/24", "taints": [{"effect": "NoSchedule", "key": "dedicated", "value": "gpu"}]},
        "status": {"addresses": [{"address": "10.0.0.5", "type": "InternalIP"}, {"address": "node-1", "type": "Hostname"}],
                   "allocatable": {"cpu": "3900m", "memory": "7Gi", "pods": "110"},
                   "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                   "conditions": [{"lastHeartbeatTime": T, "lastTransitionTime": T, "message": "kubelet is posting ready status",
                                   "reason": "KubeletReady", "status": "True", "type": "Ready"},
                                  {"lastHeartbeatTime": T, "lastTransitionTime": T, "message": "ok",
                                   "reason": "KubeletHasSufficientMemory", "status": "False", "type": "MemoryPressure"}],
                   "nodeInfo": {"architecture": "amd64", "bootID": "b1", "containerRuntimeVersion": "kit://0.1",
                                "kernelVersion": "6.1", "kubeProxyVersion": "", "kubeletVersion": "v1.32.0",
                                "machineID": "m1", "operatingSystem": "linux", "osImage": "Debian", "systemUUID": "u1"}}}

NODE_TEXT = """\
Name:               node-1
Roles:              control-plane
Labels:             kubernetes.io/hostname=node-1
                    node-role.kubernetes.io/control-plane=
Annotations:        <none>
CreationTimestamp:  Mon, 23 Nov 2026 14:25:40 +0000
Taints:             dedicated=gpu:NoSchedule
Unschedulable:      false
Conditions:
  Type             Status  LastHeartbeatTime                 LastTransitionTime                Reason                       Message
  ----             ------  -----------------                 ------------------                ------                       -------
  Ready            True    Mon, 23 Nov 2026 14:30:00 +0000   Mon, 23 Nov 2026 14:30:00 +0000   KubeletReady                 kubelet is posting ready status
  MemoryPressure   False   Mon, 23 Nov 2026 14:30:00 +0000   Mon, 23 Nov 2026 14:30:00 +0000   KubeletHasSufficientMemory   ok
Addresses:
  InternalIP:  10.0.0.5
  Hostname:    node-1
Capacity:
  cpu:     4
  memory:  8Gi
  pods:    110
Allocatable:
  cpu:     3900m
  memory:  7Gi
  pods:    110
System Info:
  Machine ID:                 m1
  System UUID:                u1
  Boot ID:                    b1
  Kernel Version:             6.1
  OS Image:                   Debian
  Operating System:           linux
  Architecture:               amd64
  Container Runtime Version:  kit://0.1
  Kubelet Version:            v1.32.0
  Kube-Proxy Version:         
PodCIDR:                      10.244.1.0/24
Events:                       <none>"""

SECRET = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": "sec", "namespace": "default"},
          "data": {"a": "aGVsbG8=", "b": "eHk="}}

SECRET_TEXT = """\
Name:         sec
Namespace:    default
Labels:       <none>
Annotations:  <none>

Type:  Opaque

Data
====
a:  5 bytes
b:  2 bytes"""

ENDPOINTS = {"subsets": [{"addresses": [{"ip": f"10.244.1.{i}"} for i in range(1, 6)],
                          "ports": [{"name": "http", "port": 8080}]}]}


class Endpoints:
    """Just enough of a client for the Service describer: the Endpoints it reads, or NotFound."""

    def __init__(self, endpoints):
        self.endpoints = endpoints

    def resource(self, *args, **kwargs):
        return self

    def get(self, name, namespace=None):
        if self.endpoints is None:
            raise NotFound("endpoints", name)
        return self.endpoints


@pytest.fixture(autouse=True)
def _in_utc(utc):  # every describe output here is compared in UTC (the utc fixture: conftest.py)
    yield


@pytest.mark.parametrize("obj, endpoints, text", [
    (POD, None, POD_TEXT),
    (SERVICE, None, SERVICE_TEXT.format(endpoints="<none>")),
    (SERVICE, ENDPOINTS, SERVICE_TEXT.format(endpoints="10.244.1.1:8080,10.244.1.2:8080,10.244.1.3:8080 + 2 more...")),
    (NODE, None, NODE_TEXT),
    (SECRET, None, SECRET_TEXT),  # values are never printed, and kubectl lists no events for a Secret
], ids=["pod", "service", "service-endpoints", "node", "secret"])
def test_describe_as_kubectl(obj, endpoints, text):
    assert "\n".join(describe(obj, [], Endpoints(endpoints))) == text


def test_events_are_a_table_oldest_first():
    now = 1_800_000_000.0
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3 * 3600))
    recent = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 90))
    events = [
        {"type": "Normal", "reason": "Again", "message": "again and again", "reportingComponent": "other-ctl",
         "firstTimestamp": stamp, "lastTimestamp": recent, "count": 4},
        {"type": "Warning", "reason": "Changed", "message": "the color changed ", "source": {"component": "kit-test"},
         "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1},
    ]
    assert events_lines(events, now) == [
        "Events:",
        "  Type\tReason\tAge\tFrom\tMessage",
        "  ----\t------\t----\t----\t-------",
        "  Warning\tChanged\t3h\tkit-test\tthe color changed",
        "  Normal\tAgain\t90s (x4 over 3h)\tother-ctl\tagain and again",
    ]
    assert events_lines([]) == ["Events:\t<none>"]
