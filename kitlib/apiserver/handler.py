"""The API server's request handler: one :class:`Request` in, one :class:`Response` out, with no socket in sight.

Every request takes the same path, as in kube-apiserver: **authentication**
(who is this? a client certificate or a bearer token, else ``401``), then
the request is named (:mod:`~kitlib.apiserver.requestinfo`: verb, resource,
namespace, name), then **authorisation** (may this user do this? RBAC,
else ``403``), then the REST handler of the verb, which decodes the body,
defaults it, runs **admission**, **validates** it and hands it to the
registry, which alone touches the store. Errors travel back as ``Status``
objects, the way :mod:`kitlib.api.errors` renders them.

Keeping the handler free of HTTP lets two transports share it, as DESIGN.md
asks: the HTTPS server (:mod:`~kitlib.apiserver.server`) for kubectl and
the Python client, and an in-process transport (``kitlib.client``) that
simulations of many nodes use without paying for TLS, and that still goes
through authentication, RBAC and admission.

This module routes: non-resource paths (``/version``, discovery,
``/openapi/v3``, health) are answered here, and a resource request goes to
:class:`~kitlib.apiserver.endpoints.ResourceRequest`, where the verbs are.

Simplifications:
- A path that starts like a resource request but names none
  (``/api/v1/watch``) is a 404 here; kube-apiserver answers 500 ("failed to
  create RequestInfo").
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

from kitlib.api.errors import APIError, NotFound, path_not_found
from kitlib.apiserver import discovery, openapi
from kitlib.apiserver.admission import Chain
from kitlib.apiserver.authn import Authenticator
from kitlib.apiserver.endpoints import ResourceRequest
from kitlib.apiserver.fieldmanager import FieldManager
from kitlib.apiserver.pods import NodeLogs
from kitlib.apiserver.rbac import RBACAuthorizer, forbidden
from kitlib.apiserver.registry import Registry
from kitlib.apiserver.request import MAX_BODY, Request, Response, decode_body, json_response
from kitlib.apiserver.requestinfo import RequestInfoError, request_info
from kitlib.apiserver.resources import lookup
from kitlib.clock import Clock

__all__ = ["MAX_BODY", "Handler", "Request", "Response", "decode_body", "json_response"]

log = logging.getLogger(__name__)


class Handler:
    """The REST API over a registry: ``handle(request) -> response``, safe to call from many threads."""

    def __init__(self, registry: Registry, authenticator: Authenticator, authorizer: RBACAuthorizer, clock: Clock,
                 *, admission: Chain | None = None, node_logs: NodeLogs | None = None,
                 bookmark_interval: float = 60.0) -> None:
        self.registry = registry
        self.admission = admission or Chain([])
        self.fields = FieldManager(clock)
        self.authenticator = authenticator
        self.authorizer = authorizer
        self.clock = clock
        self.node_logs = node_logs or NodeLogs()
        self.bookmark_interval = bookmark_interval

    def handle(self, request: Request) -> Response:
        try:
            return self._route(request)
        except APIError as err:
            return json_response(err.code, err.status())
        except Exception as err:  # noqa: BLE001  (a bug must be a 500 Status, never a dropped connection)
            log.exception("internal error serving %s %s", request.method, request.target)
            return json_response(500, APIError(f"Internal error occurred: {err}", reason="InternalError",
                                               code=500).status())

    def _route(self, request: Request) -> Response:
        url = urlsplit(request.target)
        query = parse_qs(url.query, keep_blank_values=True)
        user = self.authenticator.authenticate(request.headers, request.peer_cert).require()
        try:
            info = request_info(request.method, url.path, query)
        except RequestInfoError:
            # kube-apiserver answers 500 "failed to create RequestInfo" here (/api/v1/watch with
            # nothing after it); a path that names no resource is the client's mistake, so: 404.
            raise path_not_found() from None
        decision = self.authorizer.authorize(user, info)
        if not decision.allowed:
            raise forbidden(user, info, decision.reason)
        if not info.is_resource_request:
            return self._non_resource(request, url.path)
        resource = lookup(info.api_group, info.api_version, info.resource)
        if resource is None:
            raise path_not_found()
        if info.subresource and info.subresource not in resource.subresources:
            raise NotFound(f"{resource.plural}/{info.subresource}", info.name, group=resource.group)
        call = ResourceRequest(self, request, info, resource, {k: v[-1] for k, v in query.items()}, user)
        return call.serve()

    def _non_resource(self, request: Request, path: str) -> Response:
        path = path.rstrip("/") or "/"  # the Python client asks for /version/
        if path == "/version":
            return json_response(200, discovery.version_info())
        if path in ("/healthz", "/livez", "/readyz"):
            return Response(200, b"ok", "text/plain; charset=utf-8")
        if path in ("/api", "/apis"):
            if discovery.wants_aggregated(request.header("Accept")):
                return json_response(200, discovery.aggregated_discovery(core=path == "/api"),
                                     discovery.AGGREGATED_CONTENT_TYPE)
            return json_response(200, discovery.api_versions() if path == "/api" else discovery.api_group_list())
        if path == "/openapi/v3":
            return json_response(200, openapi.index())
        if path.startswith("/openapi/v3/"):
            return self._openapi(request, path)
        parts = path.strip("/").split("/")
        document = None
        if parts[0] == "api" and len(parts) == 2:
            document = discovery.api_resource_list("", parts[1])
        elif parts[0] == "apis" and len(parts) == 3:
            document = discovery.api_resource_list(parts[1], parts[2])
        elif parts[0] == "apis" and len(parts) == 2:
            groups = [g for g in discovery.api_group_list()["groups"] if g["name"] == parts[1]]
            document = {"kind": "APIGroup", "apiVersion": "v1", **groups[0]} if groups else None
        if document is None:
            raise path_not_found()
        return json_response(200, document)


    @staticmethod
    def _openapi(request: Request, path: str) -> Response:
        """One group version's OpenAPI v3 document, cached by clients under its hash (as kube-apiserver serves it)."""
        found = openapi.document_bytes(path)
        if found is None:
            raise path_not_found()
        body, digest = found
        asked = parse_qs(urlsplit(request.target).query).get("hash", [""])[-1]
        if asked and asked != digest:  # an old link: send the client to the current document
            return Response(301, b"", headers=[("Location", f"{path}?hash={digest}")])
        cache = "public, immutable" if asked else "no-cache, private"
        return Response(200, body, headers=[("ETag", f'"{digest}"'), ("Cache-Control", cache)])
