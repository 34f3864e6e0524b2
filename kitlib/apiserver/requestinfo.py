"""Request info: what a request asks for, read from its method, path and query alone.

The first thing kube-apiserver does with a request, before it knows who
sent it, is to name what is asked: ``GET /api/v1/namespaces/default/pods``
is the verb ``list`` on the resource ``pods`` of the core group in the
namespace ``default``. Authorisation (:mod:`kitlib.apiserver.rbac`), audit
and the REST handlers all work from that :class:`RequestInfo`, so the rules
here are those of ``RequestInfoFactory.NewRequestInfo``
(``k8s.io/apiserver/pkg/endpoints/request/requestinfo.go``) to the letter,
quirks included:

- a path is a *resource request* only under ``/api/<version>/...`` or
  ``/apis/<group>/<version>/...``; ``/api``, ``/apis/apps/v1``, ``/version``,
  ``/healthz`` and ``/openapi/v3`` are non-resource URLs, whose verb is the
  HTTP method in lower case (``get``, ``head``, ``post``);
- ``GET`` without a name is ``list``, or ``watch`` with ``?watch=true``
  (any value but ``false`` or ``0``, even empty); ``DELETE`` without a name
  is ``deletecollection``;
- a list or watch whose field selector pins ``metadata.name`` carries that
  name, so a rule with ``resourceNames`` can allow a kubelet to watch one
  Secret;
- ``/namespaces/<ns>`` is read both ways: the namespace ``<ns>`` *and* the
  resource ``namespaces`` named ``<ns>`` (so a RoleBinding in ``team-a``
  granting ``get namespaces`` lets you read ``team-a`` itself);
- the legacy prefixes ``/watch/`` and ``/proxy/`` set the verb.

    >>> info = request_info("GET", "/apis/apps/v1/namespaces/web/deployments/front/scale", {})
    >>> info.verb, info.api_group, info.namespace, info.resource, info.name, info.subresource
    ('get', 'apps', 'web', 'deployments', 'front', 'scale')
    >>> request_info("GET", "/api/v1/pods", {"watch": ["1"]}).verb
    'watch'

Simplifications:
- The API prefixes are fixed (``api`` groupless, ``apis`` grouped), as
  kube-apiserver configures them; aggregated API servers may add others.
- ``query`` is the decoded query as ``urllib.parse.parse_qs(...,
  keep_blank_values=True)`` returns it (blank values matter: ``?watch=``
  means watch). Of the ``ListOptions`` that Kubernetes decodes before
  deciding list or watch, only those that can fail to decode are checked
  (``labelSelector``, ``fieldSelector``, ``limit``, ``timeoutSeconds``); as
  in Kubernetes a failure there still gives ``list``/``watch`` but no name.
- The selectors are kept as raw strings (``AuthorizeWithSelectors``, beta
  and on in v1.32); RBAC ignores them, as Kubernetes' RBAC does.
- An unparsable path raises :class:`RequestInfoError`; kube-apiserver
  answers it with a plain-text ``500 Internal Server Error`` (not a
  ``Status``), which is the caller's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence
from urllib.parse import urlencode

from kitlib.api.errors import InvalidSelector
from kitlib.api.fields import parse_field_selector
from kitlib.api.selectors import parse_label_selector
from kitlib.api.validation import name_is_path_segment
from kitlib.errors import KitError

# kube-apiserver's RequestInfoFactory: APIPrefixes and GrouplessAPIPrefixes.
API_PREFIXES = frozenset({"api", "apis"})
GROUPLESS_API_PREFIXES = frozenset({"api"})

# Path segments that name a verb rather than a resource (the legacy
# /api/v1/watch/pods and /api/v1/proxy/nodes/n1 forms). Proxy paths take
# everything after the name as the proxied path, so never a subresource.
SPECIAL_VERBS = frozenset({"proxy", "watch"})
SPECIAL_VERBS_NO_SUBRESOURCES = frozenset({"proxy"})

# /namespaces/<ns>/status and /namespaces/<ns>/finalize are subresources of
# the Namespace; any other word after the namespace is a namespaced resource.
NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})

# Only these verbs take label and field selectors (``verbsWithSelectors``).
VERBS_WITH_SELECTORS = frozenset({"list", "watch", "deletecollection"})

_METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


class RequestInfoError(KitError):
    """The path starts like a resource request but names no resource (``/api/v1/watch``)."""


@dataclass(frozen=True)
class RequestInfo:
    """What one request asks for: Kubernetes' ``request.RequestInfo``, field for field.

    ``parts`` is the path from the resource on, ``(resource, name,
    subresource, ...)``; for a non-resource request only ``path`` and
    ``verb`` are set.
    """

    is_resource_request: bool
    path: str
    verb: str
    api_prefix: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    parts: tuple[str, ...] = ()
    field_selector: str = ""
    label_selector: str = ""


def split_path(path: str) -> list[str]:
    """The segments of a URL path, outer slashes ignored (``splitPath``): ``/api/v1/`` -> ``['api', 'v1']``."""
    path = path.strip("/")
    return path.split("/") if path else []


def query_bool(values: Sequence[str] | None) -> bool:
    """A boolean query parameter as Kubernetes converts it.

    Absent, ``false`` (any case) or ``0`` is false; anything else, even ``""``, is true.
    """
    if not values:
        return False
    return not (values[0] == "0" or values[0].lower() == "false")


def _is_int64(text: str) -> bool:
    # strconv.ParseInt(text, 10, 64): an optional sign and ASCII digits, in range.
    digits = text[1:] if text[:1] in "+-" else text
    return bool(digits) and digits.isascii() and digits.isdigit() and -(2**63) <= int(text) < 2**63


def _list_options(query: Mapping[str, Sequence[str]]) -> tuple[bool, str] | None:
    """``(watch, name from the field selector)``, or None if the ListOptions do not decode."""
    try:
        for key in ("limit", "timeoutSeconds"):
            if query.get(key) and not _is_int64(query[key][0]):
                return None
        if query.get("labelSelector"):
            parse_label_selector(query["labelSelector"][0])
        name = ""
        if query.get("fieldSelector"):
            selector = parse_field_selector(query["fieldSelector"][0])
            pinned = selector.requires_exact_match("metadata.name")
            # A name that could not be one URL segment is not taken (it could
            # never match a resourceNames entry of a real object anyway).
            if pinned is not None and not name_is_path_segment(pinned):
                name = pinned
    except InvalidSelector:
        return None
    return query_bool(query.get("watch")), name


def _url(path: str, query: Mapping[str, Sequence[str]]) -> str:
    return f"{path}?{urlencode(query, doseq=True)}" if query else path


def request_info(method: str, path: str, query: Mapping[str, Sequence[str]] | None = None) -> RequestInfo:
    """Name what a request asks for, as ``RequestInfoFactory.NewRequestInfo`` does.

    ``path`` is the decoded URL path, ``query`` the decoded query parameters
    (each a list of values). Raises :class:`RequestInfoError` for
    ``/api/v1/watch`` and ``/api/v1/proxy`` with nothing after the verb.
    """
    query = query or {}
    non_resource = RequestInfo(is_resource_request=False, path=path, verb=method.lower())
    parts = split_path(path)
    if len(parts) < 3 or parts[0] not in API_PREFIXES:
        return non_resource
    prefix, parts = parts[0], parts[1:]
    group = ""
    if prefix not in GROUPLESS_API_PREFIXES:
        # /apis/<group>/<version> is the group's discovery document, not a resource.
        if len(parts) < 3:
            return non_resource
        group, parts = parts[0], parts[1:]
    version, parts = parts[0], parts[1:]

    verb_via_path = parts[0] in SPECIAL_VERBS
    if verb_via_path:
        if len(parts) < 2:
            raise RequestInfoError(f"unable to determine kind and namespace from url, {_url(path, query)}")
        verb, parts = parts[0], parts[1:]
    else:
        verb = _METHOD_VERBS.get(method, "")  # methods are case-sensitive: "get" is no GET

    namespace = ""
    if parts[0] == "namespaces" and len(parts) > 1:
        namespace = parts[1]
        # /namespaces/<ns>/<resource>/...: the parts start again at the resource.
        # /namespaces/<ns> and /namespaces/<ns>/status stay the Namespace itself.
        if len(parts) > 2 and parts[2] not in NAMESPACE_SUBRESOURCES:
            parts = parts[2:]

    resource = parts[0]
    name = parts[1] if len(parts) >= 2 else ""
    subresource = parts[2] if len(parts) >= 3 and verb not in SPECIAL_VERBS_NO_SUBRESOURCES else ""

    if not name and verb == "get":
        options = _list_options(query)
        if options is None:
            # Kubernetes logs "Couldn't parse request", keeps only ?watch, and sets no name.
            verb = "watch" if query_bool(query.get("watch")) else "list"
        else:
            watch, name = options
            verb = "watch" if watch else "list"
    if not name and verb == "delete":
        verb = "deletecollection"

    field_selector = label_selector = ""
    # The deprecated /watch/ prefix does not support selectors consistently,
    # so Kubernetes does not offer them to authorisation on that path.
    if not verb_via_path and verb in VERBS_WITH_SELECTORS:
        field_selector = (query.get("fieldSelector") or [""])[0]
        label_selector = (query.get("labelSelector") or [""])[0]

    return RequestInfo(
        is_resource_request=True, path=path, verb=verb, api_prefix=prefix, api_group=group, api_version=version,
        namespace=namespace, resource=resource, subresource=subresource, name=name, parts=tuple(parts),
        field_selector=field_selector, label_selector=label_selector,
    )
