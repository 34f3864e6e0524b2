"""The REST verbs of one resource: what kube-apiserver's ``endpoints/handlers`` do once a request is named.

:class:`ResourceRequest` serves one request for one resource, once the
handler (:mod:`~kitlib.apiserver.handler`) has authenticated, named and
authorised it. Reads go to the registry (and come back as ``Table`` when
kubectl asks). Writes take kube-apiserver's path, in its order:

1. **decode**: the body becomes the kind's object: apiVersion and kind
   checked against the URL, wrong types refused, unknown fields dropped and
   reported as ``fieldValidation`` asks (:mod:`~kitlib.apiserver.schema`);
2. **default** (:mod:`~kitlib.apiserver.defaults`);
3. **field ownership** (:mod:`~kitlib.apiserver.fieldmanager`): who set
   what, in ``metadata.managedFields``; server-side apply merges here;
4. **mutating admission**, then **validation** (422 ``Invalid``), then
   **validating admission** (:mod:`~kitlib.apiserver.admission`);
5. the **registry**, which alone writes to the store, by compare-and-swap;
   an update that loses the race runs steps 3 and 4 again on the new
   object, as kube's ``GuaranteedUpdate`` does.

A watch answers with a stream: newline-terminated JSON events that the
transport sends as they come. With ``allowWatchBookmarks=true`` the stream
carries ``BOOKMARK`` events that move the watcher's resourceVersion on when
nothing it watches changed, so a restarted watch need not go back far.

Simplifications:
- ``dryRun=All`` is honoured by creates only (checked and admitted, not
  written); other verbs refuse it with a 400.
- A bookmark's resourceVersion is the newest revision the watch has read
  from the store, matching or not: always safe, but a quiet watch's
  bookmark does not advance past writes to other resources.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable, Iterator
from urllib.parse import parse_qs, urlsplit

from kitlib.api import field as fielderrors
from kitlib.api.errors import (
    APIError,
    BadRequest,
    Conflict,
    Invalid,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
    UnsupportedMediaType,
    success_status,
)
from kitlib.api.fields import parse_field_selector
from kitlib.api.meta import deep_copy
from kitlib.api.selectors import parse_label_selector
from kitlib.api.validate import validate_or_raise
from kitlib.apiserver.admission import CREATE, DELETE, UPDATE, Attributes, ensure_default_service_account
from kitlib.apiserver.authn import UserInfo
from kitlib.apiserver.defaults import (
    apply_defaults,
    generate_job_selector,
    prepare_namespace_for_create,
    prepare_pod_for_create,
    service_ip_family_defaults,
)
from kitlib.apiserver.fieldmanager import manager_from_user_agent, validate_manager
from kitlib.apiserver.namespaces import delete_namespace
from kitlib.apiserver.patch import PATCH_TYPES, apply_patch
from kitlib.apiserver.pods import bind, read_logs
from kitlib.apiserver.request import APPLY_PATCH, JSON, MAX_BODY, Request, Response, decode_body, json_response
from kitlib.apiserver.requestinfo import RequestInfo
from kitlib.apiserver.resources import Resource, selectable_fields
from kitlib.apiserver.scale import replicas_of, to_scale
from kitlib.apiserver.schema import STRICT, check_fields, parse_mode, patch_strict_error, validate_fields, warning_header
from kitlib.apiserver.table import to_table

if TYPE_CHECKING:
    from kitlib.apiserver.handler import Handler

# Each kind's create strategy beyond defaulting (kube's PrepareForCreate and friends), which needs the
# uid and name the registry has just set.
PREPARE_FOR_CREATE: dict[str, Callable[[dict], dict]] = {
    "Job": generate_job_selector,
    "Namespace": prepare_namespace_for_create,
    "Pod": prepare_pod_for_create,
    "Service": service_ip_family_defaults,
}


class ResourceRequest:
    """One request for one resource being served: the verb handlers, sharing the request's parts."""

    def __init__(self, handler: Handler, request: Request, info: RequestInfo, resource: Resource, q: dict[str, str],
                 user: UserInfo):
        self.handler, self.request, self.info, self.resource, self.q, self.user = handler, request, info, resource, q, user
        self.registry = handler.registry
        self.namespace = info.namespace or None
        self.content_type = request.header("Content-Type")

    def serve(self) -> Response:
        verb, resource = self.info.verb, self.resource
        if self.info.subresource == "scale":
            return self.scale()
        if self.info.subresource in ("binding", "log"):
            return self.pod_subresource()
        handlers: dict[str, Callable[[], Response]] = {
            "list": self.list, "watch": self.watch, "get": self.get, "create": self.create, "update": self.update,
            "patch": self.patch, "delete": self.delete, "deletecollection": self.delete_collection,
        }
        if verb not in handlers or (verb in ("update", "patch") and not self.info.name):
            # PUT and PATCH name one object; on a collection kube has no route for them.
            raise MethodNotAllowed(resource.plural, verb, group=resource.group)
        if verb in ("update", "patch", "delete", "deletecollection") and self.dry_run():
            # Refused rather than carried out: a dry run that wrote would be worse than none.
            raise BadRequest(f"dryRun is supported on create only by the kit's API server, not on {verb}")
        return handlers[verb]()

    # -- helpers ----------------------------------------------------------------

    def body(self) -> Any:
        return decode_body(self.request.body, self.content_type)

    def object_body(self, what: str) -> dict:
        body = self.body()
        if not isinstance(body, dict):
            raise BadRequest(f"the body of {what} must be a JSON object")
        return body

    def decode_object(self, what: str, options_kind: str, body: Any = None) -> tuple[dict, list[str]]:
        """The body as the kind's object: kind checked, unknown fields dropped (and reported as fieldValidation asks)."""
        mode = parse_mode(self.q.get("fieldValidation"), options_kind)
        body = self.object_body(what) if body is None else body
        if not isinstance(body, dict):
            raise BadRequest(f"the body of {what} must be a JSON object")
        resource = self.resource
        for member, expected in (("apiVersion", resource.api_version), ("kind", resource.kind)):
            value = body.get(member)
            if value in (None, ""):
                continue  # kube fills both from the URL
            if not isinstance(value, str):
                raise BadRequest(f"{member} must be a string, not {json.dumps(value)[:60]}")
            if value != expected:
                noun = "API version" if member == "apiVersion" else "kind"
                raise BadRequest(f"the {noun} in the data ({value}) does not match the expected {noun} ({expected})")
        media_type = self.content_type.split(";")[0].strip()
        raw = self.request.body if media_type in (JSON, "") else None
        obj, warnings = validate_fields(body, resource.api_version, resource.kind, mode, raw=raw)
        # Kube fills both from the URL when the body leaves them out: later steps (field ownership) need them.
        return {"apiVersion": resource.api_version, "kind": resource.kind,
                **{k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}}, warnings

    def checked_patch(self, patched: dict, mode: str, warnings: list[str]) -> dict:
        """A patch's result, decoded as a body would be: unknown fields dropped, a 422 in Strict mode."""
        pruned, problems = check_fields(patched, self.resource.api_version, self.resource.kind)
        if problems and mode == STRICT:
            raise patch_strict_error(problems, json.dumps(patched, separators=(",", ":")))
        warnings[:] = problems
        return pruned

    def manager(self, options_kind: str, *, apply: bool = False) -> str:
        """The request's field manager: ``?fieldManager=``, checked, else named after the User-Agent."""
        asked = self.q.get("fieldManager", "")
        validate_manager(asked, options_kind, apply=apply)
        if self.q.get("force") and not apply:
            raise Invalid("PatchOptions", "", [fielderrors.forbidden("force", "may not be specified for non-apply patch")],
                          group="meta.k8s.io")
        return asked or manager_from_user_agent(self.request.header("User-Agent"))

    def attributes(self, operation: str, obj: dict | None, old: dict | None = None) -> Attributes:
        md = (obj or old or {}).get("metadata") or {}
        namespace = ""
        if self.resource.namespaced:
            namespace = self.namespace or md.get("namespace") or "default"
        return Attributes(operation, self.resource, namespace, self.info.name or md.get("name", ""), obj, old,
                          self.info.subresource, self.user, dry_run=self.dry_run())

    def dry_run(self) -> bool:
        values = parse_qs(urlsplit(self.request.target).query).get("dryRun", [])
        for value in values:
            if value != "All":
                raise Invalid("", "", [fielderrors.not_supported("dryRun", value, ["All"])])
        return bool(values)

    def validate(self, attrs: Attributes) -> None:
        """Object validation, between mutating and validating admission (kube's strategy Validate): 422 if broken."""
        obj, old = attrs.object, attrs.old_object
        if obj is None:
            return
        if old is not None and not obj["metadata"].get("resourceVersion"):
            # An unconditional update: the stored version stands in, as in kube's update handler.
            obj["metadata"]["resourceVersion"] = old["metadata"].get("resourceVersion", "")
        validate_or_raise(obj, namespaced=self.resource.namespaced, old=old, group=self.resource.group,
                          subresource=attrs.subresource if attrs.subresource in ("status", "finalize") else "")

    def respond(self, code: int, obj: dict, warnings: list[str]) -> Response:
        return json_response(code, obj, headers=[("Warning", warning_header(w)) for w in warnings])

    def wants_table(self) -> bool:
        return "as=Table" in self.request.header("Accept")

    def table(self, items: list[dict], list_metadata: dict) -> dict:
        return to_table(self.resource, items, now_wall=self.handler.clock.wall(),
                        include_object=self.q.get("includeObject", "Metadata"), list_metadata=list_metadata)

    def selectors(self):
        fields = parse_field_selector(self.q.get("fieldSelector", ""))
        allowed = selectable_fields(self.resource)
        for name in sorted(fields.fields()):
            if name not in allowed:  # kube refuses what the kind does not index, rather than scanning objects
                raise BadRequest(f'"{name}" is not a known field selector: only '
                                 + ", ".join(f'"{a}"' for a in allowed))
        return parse_label_selector(self.q.get("labelSelector", "")), fields

    # -- verbs ------------------------------------------------------------------

    def list(self) -> Response:
        labels, fields = self.selectors()
        limit = self.q.get("limit") or "0"
        if not limit.lstrip("-").isdigit():
            raise BadRequest(f'limit: invalid value "{limit}": an integer is required')
        listed = self.registry.list(self.resource, self.namespace, label_selector=labels, field_selector=fields,
                                    limit=max(0, int(limit)), continue_token=self.q.get("continue", ""),
                                    resource_version=self.q.get("resourceVersion", ""))
        if self.wants_table():
            return json_response(200, self.table(listed["items"], listed["metadata"]))
        return json_response(200, listed)

    def get(self) -> Response:
        obj = self.registry.get(self.resource, self.namespace, self.info.name)
        if self.wants_table():
            return json_response(200, self.table([obj], {"resourceVersion": obj["metadata"]["resourceVersion"]}))
        return json_response(200, obj)

    def create(self) -> Response:
        manager = self.manager("CreateOptions")
        obj, warnings = self.decode_object("a create", "CreateOptions")
        obj = self.handler.fields.update(None, apply_defaults(obj), manager)
        return self.create_object(obj, warnings)

    def create_object(self, obj: dict, warnings: list[str]) -> Response:
        """Admit, validate and store a new object (a create, or an apply to a name not yet taken)."""
        dry_run = self.dry_run()
        with self.handler.admission.session() as session:
            def admit(candidate: dict) -> dict:
                prepare = PREPARE_FOR_CREATE.get(self.resource.kind)
                if prepare is not None:  # the kind's strategy, once the uid and name are known
                    candidate = prepare(candidate)
                return session.run(self.attributes(CREATE, candidate), check=self.validate)

            # dry run: checked and admitted, not written (kubectl --dry-run=server)
            created = self.registry.create(self.resource, obj, self.namespace, admit=admit, dry_run=dry_run)
            if dry_run:
                return self.respond(201, created, warnings)
        if self.resource.kind == "Namespace":
            ensure_default_service_account(self.registry, created["metadata"]["name"])
        return self.respond(201, created, warnings)

    def admitted(self, session, manager: str | None):
        """The registry's ``admit`` hook for one update: field ownership, admission and validation, on each attempt."""
        def admit(current: dict, new: dict) -> dict:
            if manager is not None:
                new = self.handler.fields.update(current, new, manager, subresource=self.info.subresource)
            return session.run(self.attributes(UPDATE, new, current), check=self.validate)
        return admit

    def update(self) -> Response:
        manager = self.manager("UpdateOptions")
        obj, warnings = self.decode_object("an update", "UpdateOptions")
        obj = apply_defaults(obj)
        with self.handler.admission.session() as session:
            updated = self.registry.update(self.resource, self.namespace, self.info.name, obj,
                                           subresource=self.info.subresource, admit=self.admitted(session, manager))
        return self.respond(200, updated, warnings)

    def patch(self) -> Response:
        raw, resource = self.request.body, self.resource
        if len(raw) > MAX_BODY:
            raise RequestEntityTooLarge("Request entity too large: limit is 3145728")
        media_type = self.content_type.split(";")[0].strip().lower()
        if media_type == APPLY_PATCH:
            return self.apply()
        if media_type not in PATCH_TYPES:  # before looking the object up, as kube's router does
            raise UnsupportedMediaType("the body of the request was in an unknown format - accepted media types "
                                       "include: " + ", ".join(PATCH_TYPES + (APPLY_PATCH,)))
        manager = self.manager("PatchOptions")
        mode = parse_mode(self.q.get("fieldValidation"), "PatchOptions")
        warnings: list[str] = []
        with self.handler.admission.session() as session:
            admit = self.admitted(session, manager)

            def patched(current: dict) -> dict:
                new = apply_patch(current, raw, self.content_type, kind=resource.kind, api_version=resource.api_version)
                new = apply_defaults(self.checked_patch(new, mode, warnings))
                return admit(current, self.registry.merge_update(resource, current, new, self.info.subresource))

            obj = self.registry.guaranteed_update(resource, self.namespace, self.info.name, patched)
        return self.respond(200, obj, warnings)

    def apply(self) -> Response:
        """Server-side apply: merge the configuration, own what it sets, refuse to take fields from others unforced."""
        resource, info = self.resource, self.info
        manager = self.manager("PatchOptions", apply=True)
        force = self.q.get("force", "") in ("true", "1")
        body = decode_body(self.request.body, "application/yaml")  # YAML, of which JSON is a part
        applied, warnings = self.decode_object("an apply patch", "PatchOptions", body)
        name = (applied.get("metadata") or {}).get("name")
        if name != info.name:
            raise BadRequest(f"the name of the object ({name}) does not match the name on the URL ({info.name})")
        fields = self.handler.fields
        try:
            self.registry.get(resource, self.namespace, info.name)
        except NotFound:
            if info.subresource:
                raise
            obj = apply_defaults(fields.apply(None, applied, manager, force=force))
            return self.create_object(obj, warnings)
        with self.handler.admission.session() as session:
            admit = self.admitted(session, None)

            def patched(current: dict) -> dict:
                new = apply_defaults(fields.apply(current, applied, manager, force=force, subresource=info.subresource))
                return admit(current, self.registry.merge_update(resource, current, new, info.subresource))

            obj = self.registry.guaranteed_update(resource, self.namespace, info.name, patched)
        return self.respond(200, obj, warnings)

    def delete(self) -> Response:
        options = self.body() or {}
        if not isinstance(options, dict):
            raise BadRequest("the body of a delete must be DeleteOptions, a JSON object")
        preconditions = options.get("preconditions") or {}
        if not isinstance(preconditions, dict):
            raise BadRequest("DeleteOptions.preconditions must be an object")
        resource = self.resource
        current = self.registry.get(resource, self.namespace, self.info.name)
        with self.handler.admission.session() as session:
            session.run(self.attributes(DELETE, None, current))
            if resource.kind == "Namespace":
                return json_response(200, delete_namespace(self.registry, self.info.name, self.handler.clock.wall()))
            deleted = self.registry.delete(
                resource, self.namespace, self.info.name, uid=str(preconditions.get("uid") or ""),
                resource_version=str(preconditions.get("resourceVersion") or ""),
                propagation_policy=str(options.get("propagationPolicy") or self.q.get("propagationPolicy", "")))
        if deleted["metadata"].get("finalizers") or resource.kind == "Pod":
            return json_response(200, deleted)  # still there (finalizers), or a kind that answers with the object
        return json_response(200, success_status(resource.plural, self.info.name, deleted["metadata"].get("uid", ""),
                                                 group=resource.group))

    def delete_collection(self) -> Response:
        labels, fields = self.selectors()
        for obj in self.registry.list(self.resource, self.namespace, label_selector=labels,
                                      field_selector=fields)["items"]:
            try:
                self.registry.delete(self.resource, obj["metadata"].get("namespace"), obj["metadata"]["name"])
            except NotFound:
                pass  # deleted by someone else meanwhile: the collection is still going away
        return json_response(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"})

    def scale(self) -> Response:
        """GET, PUT and PATCH of ``<workload>/scale``: the workload's replicas as a Scale."""
        resource, info, registry = self.resource, self.info, self.registry
        if info.verb == "get":
            return json_response(200, to_scale(registry.get(resource, self.namespace, info.name)))
        if info.verb not in ("update", "patch"):
            raise MethodNotAllowed(f"{resource.plural}/scale", info.verb, group=resource.group)
        raw = self.request.body
        body = None if info.verb == "patch" else self.body()
        manager = self.manager("PatchOptions" if info.verb == "patch" else "UpdateOptions")

        def rescale(current: dict) -> dict:
            scale = to_scale(current)
            if info.verb == "patch":
                wanted = apply_patch(scale, raw, self.content_type, kind="Scale", api_version="autoscaling/v1")
            else:
                wanted = body if isinstance(body, dict) else {}
                version = (wanted.get("metadata") or {}).get("resourceVersion")
                if version and version != scale["metadata"]["resourceVersion"]:
                    raise Conflict(resource.plural, info.name, group=resource.group)
            new = deep_copy(current)
            new.setdefault("spec", {})["replicas"] = replicas_of(wanted)
            # The scaler owns spec.replicas from now on, recorded "with subresource scale".
            new = self.handler.fields.update(current, new, manager, subresource="scale")
            return registry.merge_update(resource, current, new)

        return json_response(200, to_scale(registry.guaranteed_update(resource, self.namespace, info.name, rescale)))

    def pod_subresource(self) -> Response:
        info, resource = self.info, self.resource
        if info.subresource == "binding" and info.verb == "create":
            binding = self.object_body("a binding")
            return json_response(201, bind(self.registry, resource, self.namespace, info.name, binding,
                                           self.handler.clock.wall()))
        if info.subresource == "log" and info.verb == "get":
            pod = self.registry.get(resource, self.namespace, info.name)
            chunks = read_logs(pod, self.q, self.handler.node_logs)
            return Response(200, content_type="text/plain", stream=iter(chunks))
        raise MethodNotAllowed(f"{resource.plural}/{info.subresource}", info.verb, group=resource.group)

    def watch(self) -> Response:
        labels, fields = self.selectors()
        timeout = self.q.get("timeoutSeconds") or "1800"
        watch = self.registry.watch(self.resource, self.namespace, resource_version=self.q.get("resourceVersion", ""),
                                    label_selector=labels, field_selector=fields)
        bookmarks = self.q.get("allowWatchBookmarks", "") in ("true", "1")
        return Response(200, stream=self._events(watch, float(timeout) if timeout.isdigit() else 1800.0, bookmarks),
                        cancel=watch.cancel)

    def _events(self, watch, timeout: float, bookmarks: bool) -> Iterator[bytes]:
        clock, resource, table = self.handler.clock, self.resource, self.wants_table()
        deadline = clock.now() + timeout
        next_bookmark = clock.now() + self.handler.bookmark_interval
        try:
            while clock.now() < deadline:
                try:
                    event = watch.get(timeout=min(1.0, max(0.01, deadline - clock.now())))
                except APIError as err:  # 410 Gone: sent as an ERROR event, as kube does
                    yield _line({"type": "ERROR", "object": err.status()})
                    return
                if event is None:
                    if watch.cancelled:  # cancelled from outside, or the store closed
                        return
                    yield b""  # nothing happened: lets the transport check that its client is still there
                else:
                    obj = event.object
                    if table:
                        obj = self.table([obj], {"resourceVersion": obj["metadata"]["resourceVersion"]})
                    yield _line({"type": event.type, "object": obj})
                if bookmarks and clock.now() >= next_bookmark:
                    next_bookmark = clock.now() + self.handler.bookmark_interval
                    yield _line({"type": "BOOKMARK", "object": {
                        "kind": resource.kind, "apiVersion": resource.api_version,
                        "metadata": {"resourceVersion": str(watch.progress)}}})
        finally:
            watch.cancel()


def _line(event: dict) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode() + b"\n"
