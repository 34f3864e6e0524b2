"""The REST client: Kubernetes' verbs on plain dicts, over any :mod:`~kitlib.client.transport`.

Every component talks to the cluster through a :class:`Client`, as every
Kubernetes component does through client-go. It knows how a resource's URL
is built (``/apis/apps/v1/namespaces/default/deployments/web``), which verb
is which HTTP method, how a patch names its format, and how a failure comes
back: as the exception its ``Status`` names (``NotFound``, ``Conflict``,
``Invalid``, ``Forbidden``, ``Gone``...; :mod:`kitlib.api.errors`).

    client = Client.from_kubeconfig("~/.kit/admin.conf")
    deployments = client.resource("deployments")          # or ("apps/v1", "Deployment"), or "deploy"
    web = deployments.get("web")                          # namespace "default", as kubectl
    web["spec"]["replicas"] = 3
    deployments.update(web)                               # Conflict if someone wrote it meanwhile
    for event_type, obj in deployments.watch(resource_version=web["metadata"]["resourceVersion"]):
        ...

Objects are the JSON the API serves, as dicts; there are no generated
classes. :meth:`ResourceClient.list_watch` gives an informer its source:

    informer = SharedInformer(client.pods(ALL_NAMESPACES).list_watch(), name="pods")

Namespaces follow client-go and kubectl: ``namespace=None`` means the
client's namespace (the kubeconfig context's, else ``default``),
:data:`ALL_NAMESPACES` (``""``, client-go's ``metav1.NamespaceAll``) means
every namespace for a list, a watch or a delete-collection; cluster-scoped
resources ignore it.

Simplifications:
- Resources come from the kit's own table
  (:mod:`kitlib.apiserver.resources`), not from the server's discovery
  documents; no custom resources.
- No client-side rate limiting (client-go's QPS 5, burst 10), no retries
  of failed requests, no protobuf.
- :meth:`Client.apply` falls back to create-or-strategic-merge-patch when
  the server does not take server-side apply (``415``): no field ownership
  and no removal of fields dropped from the manifest.
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path
from typing import Any, Iterator, Mapping
from urllib.parse import quote

from kitlib.api.errors import AlreadyExists, NotFound, UnsupportedMediaType
from kitlib.apiserver.resources import Resource, for_kind, resolve
from kitlib.client.kubeconfig import load_kubeconfig, ssl_context
from kitlib.client.transport import DEFAULT_TIMEOUT, EventStream, HTTPSTransport, Transport
from kitlib.errors import KitError

log = logging.getLogger(__name__)

Obj = dict[str, Any]

ALL_NAMESPACES = ""  # client-go's metav1.NamespaceAll: a list or watch across every namespace
FIELD_MANAGER = "kit"

PATCH_TYPES = {
    "json": "application/json-patch+json",
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",  # JSON is YAML, so the body is sent as JSON
}

# A reflector's watch asks the server to end it after 5 to 10 minutes, so
# watches are renewed at random moments (client-go's minWatchTimeout).
MIN_WATCH_TIMEOUT = 300


def _encode(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class Watch:
    """An open watch: iterate for ``(type, object)``; ``close()`` ends it, from any thread.

    Implements the reflector's :class:`~kitlib.client.reflector.WatchStream`.
    A resourceVersion the server has forgotten arrives as an ``ERROR`` event
    whose object is a ``410`` Status, as kube-apiserver sends it.
    """

    def __init__(self, events: EventStream) -> None:
        self._events = events

    def __iter__(self) -> Iterator[tuple[str, Obj]]:
        for event in self._events:
            yield event["type"], event["object"]

    def close(self) -> None:
        self._events.close()

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ResourceClient:
    """The verbs of one resource (``client.resource("pods")``); ``namespace`` is its default namespace."""

    def __init__(self, client: "Client", resource: Resource, namespace: str | None = None) -> None:
        self.client, self.resource = client, resource
        self.namespace = client.namespace if namespace is None else namespace

    def __repr__(self) -> str:
        where = f" in {self.namespace!r}" if self.resource.namespaced else ""
        return f"ResourceClient({self.resource.group_resource}{where})"

    # -- URLs -------------------------------------------------------------------

    def _namespace(self, namespace: str | None, obj: Mapping[str, Any] | None = None) -> str:
        if not self.resource.namespaced:
            return ""
        if namespace is None:
            namespace = (obj or {}).get("metadata", {}).get("namespace") or self.namespace
        return namespace

    def path(self, namespace: str | None = None, name: str = "", subresource: str = "", *,
             collection: bool = False) -> str:
        """``/api/v1/namespaces/<ns>/pods/<name>/<subresource>``.

        Only a ``collection`` request (list, watch, delete-collection) may
        span every namespace (``/api/v1/pods``).
        """
        r = self.resource
        parts = ["/api/v1" if not r.group else f"/apis/{r.group}/{r.version}"]
        ns = self._namespace(namespace)
        if ns:
            parts.append(f"namespaces/{quote(ns, safe='')}")
        elif r.namespaced and not collection:
            raise KitError(f"{r.group_resource} live in namespaces: name one (ALL_NAMESPACES is only for lists)")
        parts.append(r.plural)
        if name:
            parts.append(quote(name, safe=""))
        if subresource:
            if subresource not in r.subresources:
                raise KitError(f"{r.group_resource} have no {subresource!r} subresource (they have: "
                               f"{', '.join(r.subresources) or 'none'})")
            parts.append(subresource)
        return "/".join(parts)

    def _send(self, method: str, path: str, body: Any = None, *, query: Mapping[str, str] | None = None,
              content_type: str = "application/json") -> Any:
        data = None if body is None else _encode(body)
        return self.client.transport.request(method, path, query=query, body=data, content_type=content_type).json()

    # -- reads --------------------------------------------------------------------

    def get(self, name: str, namespace: str | None = None) -> Obj:
        return self._send("GET", self.path(namespace, name))

    def list(self, namespace: str | None = None, label_selector: str = "", field_selector: str = "",
             limit: int = 0, continue_token: str = "", resource_version: str = "") -> Obj:
        """The List object; its items carry ``kind`` and ``apiVersion``, as ``kubectl get -o json`` shows them."""
        query = _query(labelSelector=label_selector, fieldSelector=field_selector, limit=str(limit) if limit else "",
                       resourceVersion=resource_version, **{"continue": continue_token})
        listed = self._send("GET", self.path(namespace, collection=True), query=query)
        for item in listed.get("items") or []:
            item.setdefault("apiVersion", self.resource.api_version)
            item.setdefault("kind", self.resource.kind)
        return listed

    def watch(self, namespace: str | None = None, resource_version: str = "", label_selector: str = "",
              field_selector: str = "", timeout_seconds: int | None = None, allow_bookmarks: bool = True) -> Watch:
        """Changes after ``resource_version``; without one, every current object as ADDED first."""
        query = _query(watch="true", resourceVersion=resource_version, labelSelector=label_selector,
                       fieldSelector=field_selector, allowWatchBookmarks="true" if allow_bookmarks else "",
                       timeoutSeconds=str(int(timeout_seconds)) if timeout_seconds is not None else "")
        return Watch(self.client.transport.stream(self.path(namespace, collection=True), query))

    def list_watch(self, namespace: str | None = None, *, label_selector: str = "", field_selector: str = "",
                   rng: random.Random | None = None) -> "ResourceListWatch":
        """An informer's source (the reflector's :class:`~kitlib.client.reflector.ListWatch`) for this resource."""
        return ResourceListWatch(self, self._namespace(namespace), label_selector=label_selector,
                                 field_selector=field_selector, rng=rng)

    # -- writes -------------------------------------------------------------------

    def create(self, obj: Obj, namespace: str | None = None, *, subresource: str = "") -> Obj:
        """Create; the namespace is ``namespace``, else the object's, else this client's.

        With ``subresource``, POST to ``<resource>/<name>/<subresource>``, the
        name taken from ``obj``: a ``Binding`` to ``pods/<name>/binding`` is how
        kube-scheduler assigns a Pod (client-go's ``Pods().Bind``).
        """
        ns = self._namespace(namespace, obj)
        if subresource:
            return self._send("POST", self.path(ns, obj["metadata"]["name"], subresource), obj)
        return self._send("POST", self.path(ns), obj)

    def update(self, obj: Obj) -> Obj:
        """Replace the object; ``409 Conflict`` if its ``resourceVersion`` is no longer the stored one."""
        return self._send("PUT", self.path(self._namespace(None, obj), obj["metadata"]["name"]), obj)

    def update_status(self, obj: Obj) -> Obj:
        """Replace only ``status`` (the ``/status`` subresource: controllers and kubelets write it)."""
        return self._send("PUT", self.path(self._namespace(None, obj), obj["metadata"]["name"], "status"), obj)

    def patch(self, name: str, patch: Any, type: str = "strategic", namespace: str | None = None, *,
              field_manager: str = "", force: bool = False, subresource: str = "") -> Obj:
        """Patch in one of ``kubectl patch --type``'s formats, or ``apply`` (server-side apply).

        ``patch`` is a dict (a list of operations for ``json``), or bytes sent as they are.
        """
        if type not in PATCH_TYPES:
            raise KitError(f"unknown patch type {type!r}: use one of {', '.join(PATCH_TYPES)}")
        if type == "apply":
            field_manager = field_manager or FIELD_MANAGER  # the server requires one for apply
        query = _query(fieldManager=field_manager, force="true" if force and type == "apply" else "")
        body = patch if isinstance(patch, bytes) else _encode(patch)
        path = self.path(namespace, name, subresource)
        return self.client.transport.request("PATCH", path, query=query, body=body,
                                             content_type=PATCH_TYPES[type]).json()

    def delete(self, name: str, namespace: str | None = None, propagation_policy: str | None = None,
               uid: str | None = None, resource_version: str | None = None) -> Obj:
        """Delete; the answer is a Success Status, or the object (Pods, or one kept by finalizers).

        ``uid`` and ``resource_version`` are preconditions: the delete fails
        with ``409 Conflict`` unless the object still has them.
        """
        return self._send("DELETE", self.path(namespace, name),
                          _delete_options(propagation_policy, uid, resource_version))

    def delete_collection(self, namespace: str | None = None, label_selector: str = "", field_selector: str = "",
                          propagation_policy: str | None = None) -> Obj:
        query = _query(labelSelector=label_selector, fieldSelector=field_selector)
        return self._send("DELETE", self.path(namespace, collection=True), _delete_options(propagation_policy),
                          query=query)

    # -- scale --------------------------------------------------------------------

    def get_scale(self, name: str, namespace: str | None = None) -> Obj:
        """The ``autoscaling/v1`` Scale of a workload (``spec.replicas``, ``status.selector``)."""
        return self._send("GET", self.path(namespace, name, "scale"))

    def update_scale(self, name: str, scale: Obj | int, namespace: str | None = None) -> Obj:
        """Set a workload's replicas through ``/scale`` (what ``kubectl scale`` and the HPA do).

        ``scale`` is a Scale (its ``resourceVersion``, if any, must be current) or just the replicas.
        """
        if isinstance(scale, int):
            ns = self._namespace(namespace)
            scale = {"apiVersion": "autoscaling/v1", "kind": "Scale",
                     "metadata": {"name": name, **({"namespace": ns} if ns else {})}, "spec": {"replicas": scale}}
        return self._send("PUT", self.path(namespace, name, "scale"), scale)


def _query(**params: str) -> dict[str, str]:
    return {k: v for k, v in params.items() if v}


def _delete_options(propagation_policy: str | None, uid: str | None = None,
                    resource_version: str | None = None) -> Obj:
    options: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
    if propagation_policy:
        options["propagationPolicy"] = propagation_policy
    preconditions = {k: v for k, v in (("uid", uid), ("resourceVersion", resource_version)) if v}
    if preconditions:
        options["preconditions"] = preconditions
    return options


class ResourceListWatch:
    """client-go's ``ListWatch`` for one resource: the reflector lists, then watches from the list's version.

    Lists come in pages of ``page_size`` (client-go's pager asks for 500),
    all at the first page's revision; a watch asks for bookmarks and for the
    server to end it after a random 5 to 10 minutes, as client-go's
    reflector does, so a thousand informers do not reconnect in step.
    The reflector's ``options`` may override ``label_selector`` and
    ``field_selector``, and set ``timeout_seconds``.
    """

    def __init__(self, resources: ResourceClient, namespace: str, *, label_selector: str = "",
                 field_selector: str = "", page_size: int = 500, rng: random.Random | None = None) -> None:
        self.resources, self.namespace = resources, namespace
        self.label_selector, self.field_selector = label_selector, field_selector
        self.page_size = page_size
        self.rng = rng or random.Random()

    def __repr__(self) -> str:
        return f"ResourceListWatch({self.resources.resource.plural})"

    def _selectors(self, options: Mapping[str, Any]) -> dict[str, str]:
        return {"label_selector": options.get("label_selector", self.label_selector),
                "field_selector": options.get("field_selector", self.field_selector)}

    def list(self, **options: Any) -> tuple[list[Obj], str]:
        page = self.resources.list(self.namespace, limit=self.page_size, **self._selectors(options))
        items, version = page.get("items") or [], page["metadata"].get("resourceVersion", "")
        while page["metadata"].get("continue"):  # every page is read at the first page's revision
            page = self.resources.list(self.namespace, limit=self.page_size,
                                       continue_token=page["metadata"]["continue"], **self._selectors(options))
            items.extend(page.get("items") or [])
        return items, version

    def watch(self, resource_version: str, **options: Any) -> Watch:
        timeout = options.get("timeout_seconds") or int(MIN_WATCH_TIMEOUT * (1 + self.rng.random()))
        return self.resources.watch(self.namespace, resource_version=resource_version, timeout_seconds=timeout,
                                    **self._selectors(options))


class Client:
    """The cluster's REST API over a transport: ``client.resource("pods").list()``."""

    def __init__(self, transport: Transport, *, namespace: str = "default") -> None:
        self.transport = transport
        self.namespace = namespace  # where namespaced requests go when none is named
        self._server_side_apply = True  # until the server says it does not take it

    @classmethod
    def from_kubeconfig(cls, path: Path | str | None = None, context: str | None = None,
                        timeout: float = DEFAULT_TIMEOUT) -> "Client":
        """A client over HTTPS, as the kubeconfig's context says (default: ``$KUBECONFIG`` or ``~/.kube/config``)."""
        config = load_kubeconfig(Path(path).expanduser() if path else None, context)
        transport = HTTPSTransport(config.server, ssl_context(config), token=config.token, timeout=timeout)
        return cls(transport, namespace=config.namespace)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def resource(self, name: str, kind: str | None = None, *, namespace: str | None = None) -> ResourceClient:
        """A resource by ``(apiVersion, kind)``, or by any name kubectl accepts: plural, singular, short, kind."""
        if kind is not None:
            found = for_kind(name, kind)
            if found is None:
                raise KitError(f"the server has no resource for kind {kind!r} in {name!r}")
            return ResourceClient(self, found, namespace)
        matches = resolve(name)
        if not matches:
            raise KitError(f'the server doesn\'t have a resource type "{name}"')
        if len(matches) > 1:
            raise KitError(f"{name!r} is ambiguous: it could be "
                           + ", ".join(m.group_resource for m in matches) + "; name the group")
        return ResourceClient(self, matches[0], namespace)

    # The resources nearly every component uses.
    def pods(self, namespace: str | None = None) -> ResourceClient:
        return self.resource("v1", "Pod", namespace=namespace)

    def nodes(self) -> ResourceClient:
        return self.resource("v1", "Node")

    def services(self, namespace: str | None = None) -> ResourceClient:
        return self.resource("v1", "Service", namespace=namespace)

    def deployments(self, namespace: str | None = None) -> ResourceClient:
        return self.resource("apps/v1", "Deployment", namespace=namespace)

    def replicasets(self, namespace: str | None = None) -> ResourceClient:
        return self.resource("apps/v1", "ReplicaSet", namespace=namespace)

    def version(self) -> Obj:
        """The server's ``/version`` (``major``, ``minor``, ``gitVersion``...)."""
        return self.transport.request("GET", "/version").json()

    def apply(self, manifest: Obj, *, field_manager: str = FIELD_MANAGER, force: bool = False) -> Obj:
        """Create or update an object from its manifest, by server-side apply (``kubectl apply --server-side``).

        If the server does not take apply patches, this falls back to a
        create, then to a strategic merge patch of the manifest when the
        object exists (close to client-side ``kubectl apply``, without its
        last-applied annotation).
        """
        resources = self.resource(manifest.get("apiVersion", ""), manifest.get("kind", ""))
        name = manifest["metadata"]["name"]
        namespace = resources._namespace(None, manifest)
        if self._server_side_apply:
            try:
                return resources.patch(name, manifest, "apply", namespace, field_manager=field_manager, force=force)
            except UnsupportedMediaType:
                log.info("the API server does not take server-side apply: creating or patching instead")
                self._server_side_apply = False
            except NotFound:
                pass  # apply creates a missing object; a server without apply answers 404 before reading the type
        try:
            return resources.create(manifest, namespace)
        except AlreadyExists:
            changes = {k: v for k, v in manifest.items() if k != "status"}
            return resources.patch(name, changes, "strategic", namespace, field_manager=field_manager)
