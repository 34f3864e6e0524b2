"""Valid manifests of the kinds the kit serves, and a way to break one field at a time.

The validation tables start from these, change a few fields by path
(``"spec.containers[0].image"``), and default the result as kube-apiserver
would before validating (``kitlib.apiserver.defaults``: tests may reach
above the api layer). :func:`edit` does the same starting from a stored
object, as an update does.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from kitlib.apiserver.defaults import apply_defaults, generate_job_selector

DELETE = object()  # a change that removes the field

TEMPLATE = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}}


def _meta(name: str, namespace: str | None = "default") -> dict:
    return {"name": name, **({"namespace": namespace} if namespace else {})}


POD = {"apiVersion": "v1", "kind": "Pod", "metadata": _meta("web"), "spec": copy.deepcopy(TEMPLATE["spec"])}
SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": _meta("web"),
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}
RC = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": _meta("web"),
      "spec": {"replicas": 2, "template": TEMPLATE}}
DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta("web"),
              "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE}}
REPLICA_SET = {**DEPLOYMENT, "kind": "ReplicaSet"}
DAEMON_SET = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": _meta("agent"),
              "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE}}
STATEFUL_SET = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": _meta("db"),
                "spec": {"serviceName": "db", "replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                         "template": TEMPLATE}}
JOB = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {**_meta("pi"), "uid": "6a1e-uid"},
       "spec": {"template": {"spec": {"restartPolicy": "Never",
                                      "containers": [{"name": "pi", "image": "perl", "command": ["perl", "-e", "1"]}]}}}}
CRON_JOB = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": _meta("hello"),
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": copy.deepcopy(JOB["spec"])}}}
HPA = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": _meta("web"),
       "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 2, "maxReplicas": 10}}


def set_path(obj: dict, path: str, value: Any) -> None:
    """Set (or with :data:`DELETE`, remove) ``obj`` at a dotted path with ``[i]`` indexes."""
    parts = re.findall(r"\[\d+\]|[^.\[\]]+", path)
    for i, part in enumerate(parts):
        key: Any = int(part[1:-1]) if part.startswith("[") else part
        if i == len(parts) - 1:
            if value is DELETE:
                del obj[key]
            elif isinstance(obj, list) and key == len(obj):
                obj.append(copy.deepcopy(value))  # "[n]" one past the end appends
            else:
                obj[key] = copy.deepcopy(value)
        else:
            if isinstance(obj, dict) and key not in obj:
                obj[key] = {}
            obj = obj[key]


def build(base: dict, changes: dict | None = None) -> dict:
    """A copy of ``base`` with ``changes``, defaulted (and, for a Job, given its generated selector)."""
    obj = copy.deepcopy(base)
    for path, value in (changes or {}).items():
        set_path(obj, path, value)
    obj = apply_defaults(obj)
    return generate_job_selector(obj) if obj.get("kind") == "Job" else obj


def stored(base: dict, changes: dict | None = None) -> dict:
    """What the store holds after a create: defaulted, with a UID and a resourceVersion."""
    obj = build(base, changes)
    obj["metadata"].setdefault("uid", "uid-1")
    obj["metadata"]["resourceVersion"] = "7"
    return obj


def edit(current: dict, changes: dict) -> dict:
    """An update's body: the stored object with ``changes``, defaulted again."""
    obj = copy.deepcopy(current)
    for path, value in changes.items():
        set_path(obj, path, value)
    return apply_defaults(obj)
