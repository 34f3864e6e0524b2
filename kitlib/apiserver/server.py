"""The API server: the cluster's one door, serving the Kubernetes REST API over HTTPS.

Every request takes the same path, as in kube-apiserver: TLS (the client
may show a certificate), then **authentication** (who is this? a bearer
token or a client certificate, else ``401``), then the request is parsed
into its Kubernetes meaning (:mod:`~kitlib.apiserver.requestinfo`: verb,
resource, namespace, name), then **authorisation** (may this user do this?
RBAC, else ``403``), then defaulting, and finally the registry, which alone
touches the store. Errors travel back as ``Status`` objects.

Discovery (``/api``, ``/apis``, aggregated or not) and ``/version`` let
``kubectl`` learn what is served; ``kubectl get`` asks for ``Table``
answers and the server prints them (:mod:`~kitlib.apiserver.table`);
watches stream newline-delimited JSON events over a chunked response.

Simplifications (this first version):
- No admission chain beyond defaulting, no OpenAPI documents, no
  server-side apply, no ClusterIP allocation, no ``log``/``binding``
  subresources yet; no watch bookmarks.
- One thread per connection (Python's ThreadingHTTPServer).
"""

from __future__ import annotations

import base64
import json
import logging
import random
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from kitlib.api.errors import APIError, BadRequest, Conflict, MethodNotAllowed, NotFound, success_status
from kitlib.api.fields import parse_field_selector
from kitlib.api.meta import deep_copy
from kitlib.api.selectors import parse_label_selector
from kitlib.apiserver import discovery
from kitlib.apiserver.authn import Authenticator, UserInfo
from kitlib.apiserver.bootstrappolicy import bootstrap_policy
from kitlib.apiserver.defaults import apply_defaults
from kitlib.apiserver.patch import apply_patch
from kitlib.apiserver.pki import PKI
from kitlib.apiserver.rbac import RBACAuthorizer, forbidden
from kitlib.apiserver.registry import Registry
from kitlib.apiserver.requestinfo import request_info
from kitlib.apiserver.resources import Resource, for_kind, lookup
from kitlib.apiserver.scale import replicas_of, to_scale
from kitlib.apiserver.table import to_table
from kitlib.clock import Clock, RealClock
from kitlib.store import Store

log = logging.getLogger(__name__)

ADMIN_USER, ADMIN_GROUPS = "kit-admin", ("system:masters",)
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_MAX_BODY = 3 * 1024 * 1024  # kube-apiserver refuses request bodies past 3 MiB


class RegistryRBAC:
    """RBAC objects read from the registry, for the authorizer (an ``RBACSource``)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def _get(self, kind: str, namespace: str, name: str) -> dict | None:
        try:
            return self.registry.get(for_kind("rbac.authorization.k8s.io/v1", kind), namespace or None, name)
        except NotFound:
            return None

    def list_cluster_role_bindings(self):
        return self.registry.list(for_kind("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"))["items"]

    def get_cluster_role(self, name: str):
        return self._get("ClusterRole", "", name)

    def list_role_bindings(self, namespace: str):
        return self.registry.list(for_kind("rbac.authorization.k8s.io/v1", "RoleBinding"), namespace)["items"]

    def get_role(self, namespace: str, name: str):
        return self._get("Role", namespace, name)


class APIServer:
    """Store + registry + HTTPS front door. ``start()``, then point kubectl at :meth:`write_kubeconfig`."""

    def __init__(
        self,
        store: Store,
        pki_dir: Path | str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: dict[str, UserInfo] | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.clock = clock or RealClock()
        self.registry = Registry(store, clock=self.clock, rng=rng or random.Random())
        self.pki = PKI(pki_dir)
        self.authenticator = Authenticator(tokens or {})
        self.authorizer = RBACAuthorizer(RegistryRBAC(self.registry))
        self.host, self.port = host, port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def bootstrap(self) -> None:
        """Create what every cluster starts with: the system namespaces and the default RBAC policy."""
        for name in SYSTEM_NAMESPACES:
            self._ensure(lookup("", "v1", "namespaces"), {"metadata": {"name": name}}, None)
        for obj in bootstrap_policy():
            resource = for_kind(obj["apiVersion"], obj["kind"])
            self._ensure(resource, obj, obj["metadata"].get("namespace"))

    def _ensure(self, resource: Resource, obj: dict, namespace: str | None) -> None:
        try:
            self.registry.get(resource, namespace, obj["metadata"]["name"])
        except NotFound:
            self.registry.create(resource, apply_defaults({"apiVersion": resource.api_version, "kind": resource.kind, **obj}),
                                 namespace)

    def start(self) -> "APIServer":
        self.pki.ensure()
        self.bootstrap()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(self.pki.ca.cert))
        context.load_cert_chain(self.pki.server.cert, self.pki.server.key)
        context.verify_mode = ssl.CERT_OPTIONAL  # a certificate is one way in; a token is the other
        server = self

        class Handler(_Handler):
            api = server

        try:
            httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        except OSError as err:
            raise APIError(f"cannot listen on {self.host}:{self.port} ({err.strerror}): is another API server running? "
                           "stop it or choose another port") from None
        httpd.daemon_threads = True
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="kit-apiserver", daemon=True)
        self._thread.start()
        log.info("API server serving %s", self.url)
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def write_kubeconfig(self, path: Path | str, name: str = "admin", user: str = ADMIN_USER,
                         groups: tuple[str, ...] = ADMIN_GROUPS) -> Path:
        """A kubeconfig (JSON, which is YAML too) for ``user``, as kubeadm writes admin.conf."""
        pair = self.pki.issue_client(name, user, groups)
        b64 = lambda p: base64.b64encode(Path(p).read_bytes()).decode()  # noqa: E731
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "kit", "cluster": {"server": self.url, "certificate-authority-data": b64(self.pki.ca.cert)}}],
            "users": [{"name": user, "user": {"client-certificate-data": b64(pair.cert), "client-key-data": b64(pair.key)}}],
            "contexts": [{"name": f"{user}@kit", "context": {"cluster": "kit", "user": user, "namespace": "default"}}],
            "current-context": f"{user}@kit",
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(config, indent=2))
        path.chmod(0o600)
        return path


class _Handler(BaseHTTPRequestHandler):
    """One request: the path described in the module docstring."""

    protocol_version = "HTTP/1.1"  # keep-alive, and chunked watch streams
    api: APIServer

    def log_message(self, fmt: str, *args: Any) -> None:  # the engine logs, it does not print
        log.debug("%s %s", self.address_string(), fmt % args)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    # -- plumbing ---------------------------------------------------------------

    def _send(self, code: int, body: Any, content_type: str = "application/json") -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            raise APIError("the request body is too large (at most 3 MiB)", reason="RequestEntityTooLarge", code=413)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        if "patch" in (self.headers.get("Content-Type") or ""):
            return raw
        try:
            return json.loads(raw)
        except ValueError as err:
            raise BadRequest(f"the body of the request was in an unknown format: {err}") from None

    def _serve(self, method: str) -> None:
        try:
            self._route(method)
        except APIError as err:
            self._send(err.code, err.status())
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away: nothing to answer
        except Exception as err:  # noqa: BLE001  (a bug must be a 500 Status, never a dropped connection)
            log.exception("internal error serving %s %s", method, self.path)
            self._send(500, APIError(f"Internal error occurred: {err}", reason="InternalError", code=500).status())

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        peer = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
        user = self.api.authenticator.authenticate(self.headers, peer).require()
        info = request_info(method, url.path, query)
        decision = self.api.authorizer.authorize(user, info)
        if not decision.allowed:
            raise forbidden(user, info, decision.reason)
        if not info.is_resource_request:
            return self._non_resource(url.path)
        resource = lookup(info.api_group, info.api_version, info.resource)
        if resource is None:
            raise APIError("the server could not find the requested resource", reason="NotFound", code=404)
        if info.subresource and info.subresource not in resource.subresources:
            raise NotFound(f"{resource.plural}/{info.subresource}", info.name, group=resource.group)
        self._resource(info, resource, query)

    def _non_resource(self, path: str) -> None:
        accept = self.headers.get("Accept") or ""
        if path == "/version":
            return self._send(200, discovery.version_info())
        if path in ("/healthz", "/livez", "/readyz"):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            return None
        if path in ("/api", "/apis"):
            if discovery.wants_aggregated(accept):
                return self._send(200, discovery.aggregated_discovery(core=path == "/api"), discovery.AGGREGATED_CONTENT_TYPE)
            return self._send(200, discovery.api_versions() if path == "/api" else discovery.api_group_list())
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            document = discovery.api_resource_list("", parts[1])
        elif parts[0] == "apis" and len(parts) == 3:
            document = discovery.api_resource_list(parts[1], parts[2])
        elif parts[0] == "apis" and len(parts) == 2:
            groups = [g for g in discovery.api_group_list()["groups"] if g["name"] == parts[1]]
            document = {"kind": "APIGroup", "apiVersion": "v1", **groups[0]} if groups else None
        else:
            document = None
        if document is None:
            raise APIError("the server could not find the requested resource", reason="NotFound", code=404)
        return self._send(200, document)

    # -- resources ---------------------------------------------------------------

    def _wants_table(self) -> bool:
        return "as=Table" in (self.headers.get("Accept") or "")

    def _resource(self, info, resource: Resource, query: dict[str, list[str]]) -> None:
        q = {k: v[-1] for k, v in query.items()}
        registry = self.api.registry
        namespace = info.namespace or None
        verb = info.verb
        if info.subresource == "scale":
            return self._scale(resource, namespace, info)
        if verb in ("list", "watch"):
            labels = parse_label_selector(q.get("labelSelector", ""))
            fields = parse_field_selector(q.get("fieldSelector", ""))
            if verb == "watch":
                return self._watch(resource, namespace, q, labels, fields)
            listed = registry.list(resource, namespace, label_selector=labels, field_selector=fields,
                                   limit=int(q.get("limit") or 0), continue_token=q.get("continue", ""),
                                   resource_version=q.get("resourceVersion", ""))
            if self._wants_table():
                return self._send(200, to_table(resource, listed["items"], now_wall=self.api.clock.wall(),
                                                include_object=q.get("includeObject", "Metadata"),
                                                list_metadata=listed["metadata"]))
            return self._send(200, listed)
        if verb == "get":
            obj = registry.get(resource, namespace, info.name)
            if self._wants_table():
                return self._send(200, to_table(resource, [obj], now_wall=self.api.clock.wall(),
                                                include_object=q.get("includeObject", "Metadata"),
                                                list_metadata={"resourceVersion": obj["metadata"]["resourceVersion"]}))
            return self._send(200, obj)
        if verb == "create":
            body = self._body()
            if not isinstance(body, dict):
                raise BadRequest("the body of a create must be a JSON object")
            return self._send(201, registry.create(resource, apply_defaults(body), namespace))
        if verb == "update":
            body = self._body()
            if not isinstance(body, dict):
                raise BadRequest("the body of an update must be a JSON object")
            return self._send(200, registry.update(resource, namespace, info.name, apply_defaults(body),
                                                   subresource=info.subresource))
        if verb == "patch":
            patch = self._body()
            content_type = self.headers.get("Content-Type") or ""

            def patched(current: dict) -> dict:
                new = apply_defaults(apply_patch(current, patch, content_type, kind=resource.kind,
                                                 api_version=resource.api_version))
                return registry.merge_update(resource, current, new, info.subresource)

            return self._send(200, registry.guaranteed_update(resource, namespace, info.name, patched))
        if verb == "delete":
            options = self._body() or {}
            preconditions = options.get("preconditions") or {}
            deleted = registry.delete(resource, namespace, info.name, uid=preconditions.get("uid", ""),
                                      resource_version=preconditions.get("resourceVersion", ""),
                                      propagation_policy=options.get("propagationPolicy", "") or q.get("propagationPolicy", ""))
            if deleted["metadata"].get("finalizers"):
                return self._send(200, deleted)
            return self._send(200, deleted if resource.kind == "Pod" else success_status(
                resource.plural, info.name, deleted["metadata"].get("uid", ""), group=resource.group))
        if verb == "deletecollection":
            labels = parse_label_selector(q.get("labelSelector", ""))
            for obj in registry.list(resource, namespace, label_selector=labels)["items"]:
                registry.delete(resource, obj["metadata"].get("namespace"), obj["metadata"]["name"])
            return self._send(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"})
        raise MethodNotAllowed(resource.plural, verb, group=resource.group)

    def _scale(self, resource: Resource, namespace: str | None, info) -> None:
        """GET, PUT and PATCH of ``<workload>/scale``: the workload's replicas as a Scale."""
        registry = self.api.registry
        if info.verb == "get":
            return self._send(200, to_scale(registry.get(resource, namespace, info.name)))
        if info.verb not in ("update", "patch"):
            raise MethodNotAllowed(f"{resource.plural}/scale", info.verb, group=resource.group)
        body = self._body()
        content_type = self.headers.get("Content-Type") or ""

        def rescale(current: dict) -> dict:
            scale = to_scale(current)
            if info.verb == "patch":
                wanted = apply_patch(scale, body, content_type, kind="Scale", api_version="autoscaling/v1")
            else:
                wanted = body if isinstance(body, dict) else {}
                version = (wanted.get("metadata") or {}).get("resourceVersion")
                if version and version != scale["metadata"]["resourceVersion"]:
                    raise Conflict(resource.plural, info.name, group=resource.group)
            new = deep_copy(current)
            new.setdefault("spec", {})["replicas"] = replicas_of(wanted)
            return registry.merge_update(resource, current, new)

        return self._send(200, to_scale(registry.guaranteed_update(resource, namespace, info.name, rescale)))

    def _watch(self, resource: Resource, namespace: str | None, q: dict[str, str], labels, fields) -> None:
        timeout = float(q.get("timeoutSeconds") or 1800)
        deadline = self.api.clock.now() + timeout
        watch = self.api.registry.watch(resource, namespace, resource_version=q.get("resourceVersion", ""),
                                        label_selector=labels, field_selector=fields)
        table = self._wants_table()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            while self.api.clock.now() < deadline:
                try:
                    event = watch.get(timeout=1.0)
                except APIError as err:  # 410 Gone: sent as an ERROR event, as kube does
                    self._chunk({"type": "ERROR", "object": err.status()})
                    break
                if event is None:
                    continue
                obj = event.object
                if table:
                    obj = to_table(resource, [obj], now_wall=self.api.clock.wall(),
                                   include_object=q.get("includeObject", "Metadata"),
                                   list_metadata={"resourceVersion": obj["metadata"]["resourceVersion"]})
                self._chunk({"type": event.type, "object": obj})
            self.wfile.write(b"0\r\n\r\n")
        finally:
            watch.cancel()

    def _chunk(self, event: dict) -> None:
        data = json.dumps(event).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()
