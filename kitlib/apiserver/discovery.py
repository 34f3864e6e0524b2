"""Discovery: the documents a client reads to learn what the server serves.

Before ``kubectl get deploy`` can send a request it must learn that
``deploy`` is a short name of ``deployments`` in ``apps/v1``, that they are
namespaced and that ``list`` is allowed. kube-apiserver publishes this in
two forms, both built here from the resource table:

- the legacy documents, one request per group version: ``/api``
  (``APIVersions``), ``/apis`` (``APIGroupList``), ``/api/v1`` and
  ``/apis/<group>/<version>`` (``APIResourceList``, subresources as
  ``pods/status`` entries);
- aggregated discovery (KEP-3352, GA in 1.30): ``/api`` and ``/apis``
  answer ``Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList``
  with every group, version, resource and subresource in one
  ``APIGroupDiscoveryList``. kubectl 1.32 asks for it first and falls back
  to the legacy documents when the server answers with another type.

``/version`` (:func:`version_info`) reports Kubernetes 1.32, the minor
version kubectl compares against its own for the skew warning.

Simplifications:
- One version per group, so every group's preferred version is its only one.
- No aggregated API servers or CRDs, so every freshness is ``Current``.
- No ``ETag``; kube-apiserver hashes the aggregated document so clients
  can revalidate with ``If-None-Match``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable

from kitlib.apiserver.resources import RESOURCES, Resource

# The media type of the aggregated document, which the handler must echo in
# Content-Type: client-go checks it to tell aggregated from legacy answers.
AGGREGATED_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
DEFAULT_SERVER_ADDRESS = "127.0.0.1:6443"

# What each subresource answers: (group, version, kind) of its body, and its
# verbs. "" group and version mean the parent's own. As kube-apiserver's
# registry: status is read and written like the object, scale speaks
# autoscaling/v1 Scale, binding and eviction are create-only POSTs.
_SUBRESOURCES: dict[str, tuple[str | None, str | None, str | None, tuple[str, ...]]] = {
    "status": (None, None, None, ("get", "patch", "update")),
    "scale": ("autoscaling", "v1", "Scale", ("get", "patch", "update")),
    "binding": ("", "v1", "Binding", ("create",)),
    "eviction": ("policy", "v1", "Eviction", ("create",)),
    "log": (None, None, None, ("get",)),
    "finalize": (None, None, None, ("update",)),
}


def storage_version_hash(group: str, version: str, kind: str) -> str:
    """``discovery.StorageVersionHash``: base64 of the first 8 bytes of sha256("group/version/kind").

    Clients (the storage version migrator) compare it to notice that the
    stored encoding changed; it is opaque to everyone else.
    """
    digest = hashlib.sha256(f"{group}/{version}/{kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _subresource_kind(resource: Resource, name: str) -> tuple[str, str, str, tuple[str, ...]]:
    group, version, kind, verbs = _SUBRESOURCES.get(name, (None, None, None, ("get",)))
    if kind is None:
        return resource.group, resource.version, resource.kind, verbs
    return group or "", version or "", kind, verbs


def _by_group_version(resources: Iterable[Resource]) -> dict[tuple[str, str], list[Resource]]:
    """Resources by (group, version), core first, then groups in table order; names sorted within."""
    out: dict[tuple[str, str], list[Resource]] = {}
    for resource in resources:
        out.setdefault((resource.group, resource.version), []).append(resource)
    # kube-apiserver's installer sorts paths, so resources list alphabetically.
    return {gv: sorted(items, key=lambda r: r.plural) for gv, items in out.items()}


# --- the legacy documents --------------------------------------------------------

def api_versions(server_address: str = DEFAULT_SERVER_ADDRESS) -> dict:
    """``GET /api``: the core group's versions (``APIVersions``).

    ``serverAddressByClientCIDRs`` tells clients which address reaches the
    server from their network; ``0.0.0.0/0`` means every client.
    """
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def api_group_list(resources: Iterable[Resource] = RESOURCES) -> dict:
    """``GET /apis``: every named group with its versions and preferred version (``APIGroupList``)."""
    groups: dict[str, list[str]] = {}
    for group, version in _by_group_version(resources):
        if group:  # the core group is served under /api, never listed here
            groups.setdefault(group, [])
            if version not in groups[group]:
                groups[group].append(version)
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": group,
                "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in versions],
                # The first listed version is the preferred one (the only one here).
                "preferredVersion": {"groupVersion": f"{group}/{versions[0]}", "version": versions[0]},
            }
            for group, versions in groups.items()
        ],
    }


def api_resource_list(group: str, version: str, resources: Iterable[Resource] = RESOURCES) -> dict | None:
    """``GET /api/v1`` or ``/apis/<group>/<version>`` (``APIResourceList``), or ``None`` if not served.

    Each subresource is an entry of its own named ``pods/status``, with an
    empty singularName, the parent's scope, and a group/version only when
    its kind lives elsewhere (``deployments/scale`` is ``autoscaling/v1 Scale``).
    """
    served = _by_group_version(resources).get((group, version))
    if served is None:
        return None
    entries = []
    for resource in served:
        entry = {
            "name": resource.plural,
            "singularName": resource.singular,
            "namespaced": resource.namespaced,
            "kind": resource.kind,
            "verbs": list(resource.verbs),
        }
        if resource.short_names:
            entry["shortNames"] = list(resource.short_names)
        if resource.categories:
            entry["categories"] = list(resource.categories)
        entry["storageVersionHash"] = storage_version_hash(resource.group, resource.version, resource.kind)
        entries.append(entry)
        for sub in sorted(resource.subresources):
            sub_group, sub_version, sub_kind, verbs = _subresource_kind(resource, sub)
            sub_entry = {"name": f"{resource.plural}/{sub}", "singularName": "", "namespaced": resource.namespaced}
            if (sub_group, sub_version) != (resource.group, resource.version):
                sub_entry.update(group=sub_group, version=sub_version)
            sub_entry.update(kind=sub_kind, verbs=list(verbs))
            entries.append(sub_entry)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": entries,
    }


# --- aggregated discovery (apidiscovery.k8s.io/v2) ----------------------------------

def _resource_discovery(resource: Resource) -> dict:
    """One ``APIResourceDiscovery``: the resource with its subresources nested inside it."""
    entry = {
        "resource": resource.plural,
        "responseKind": {"group": resource.group, "version": resource.version, "kind": resource.kind},
        "scope": "Namespaced" if resource.namespaced else "Cluster",
        "singularResource": resource.singular,
        "verbs": list(resource.verbs),
    }
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.categories:
        entry["categories"] = list(resource.categories)
    if resource.subresources:
        entry["subresources"] = []
        for sub in sorted(resource.subresources):
            group, version, kind, verbs = _subresource_kind(resource, sub)
            entry["subresources"].append({
                "subresource": sub,
                "responseKind": {"group": group, "version": version, "kind": kind},
                "verbs": list(verbs),
            })
    return entry


def aggregated_discovery(core: bool, resources: Iterable[Resource] = RESOURCES) -> dict:
    """``GET /api`` (``core=True``) or ``/apis`` as an ``apidiscovery.k8s.io/v2 APIGroupDiscoveryList``.

    ``/api`` holds one item, the core group, whose name is ``""`` (so its
    metadata has no name); ``/apis`` holds every named group. Versions are
    listed preferred first, which is how clients read the preference.
    """
    items: dict[str, list[dict]] = {}
    for (group, version), served in _by_group_version(resources).items():
        if bool(group) == core:
            continue
        items.setdefault(group, []).append({
            "version": version,
            "resources": [_resource_discovery(r) for r in served],
            "freshness": "Current",  # no aggregated server can be stale here
        })
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": [
            {"metadata": {"name": group} if group else {}, "versions": versions}
            for group, versions in items.items()
        ],
    }


def wants_aggregated(accept: str) -> bool:
    """Whether an ``Accept`` header asks for the v2 aggregated document.

    kubectl sends ``application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,
    ...;v=v2beta1;...,application/json``: any v2 entry wins; otherwise the
    legacy document is the answer (as for v2beta1 only, served by Kubernetes
    up to 1.32 but not here).
    """
    for media in accept.split(","):
        params = dict(
            part.strip().split("=", 1) for part in media.split(";")[1:] if "=" in part
        )
        if (params.get("g"), params.get("v"), params.get("as")) == ("apidiscovery.k8s.io", "v2", "APIGroupDiscoveryList"):
            return True
    return False


# --- /version -----------------------------------------------------------------

def version_info(platform: str = "linux/amd64") -> dict:
    """``GET /version``: ``k8s.io/apimachinery/pkg/version.Info`` for Kubernetes 1.32.

    kubectl prints it in ``kubectl version`` and warns when its own minor
    version is more than one away from ``minor``. The ``-kit`` pre-release
    suffix of ``gitVersion`` says the server is this kit, not kube-apiserver.
    """
    return {
        "major": "1",
        "minor": "32",
        "gitVersion": "v1.32.0-kit",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2024-12-11T00:00:00Z",
        "goVersion": "go1.23.3",
        "compiler": "gc",
        "platform": platform,
    }
