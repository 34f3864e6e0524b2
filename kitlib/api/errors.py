"""API errors: what the API server answers when a request fails, as Kubernetes ``Status`` objects.

A failed request gets a ``Status`` body (``kind: Status``, a ``reason`` a
program can branch on, a ``message`` a person can read, ``details`` naming
the object) and the HTTP code in it. ``kubectl`` prints the message after
``Error from server (NotFound):``; client libraries turn the body back into
an exception by its reason. Each class here is one reason, builds its
message exactly as ``k8s.io/apimachinery/pkg/api/errors`` does, renders the
same ``Status`` dict (:meth:`APIError.status`), and :func:`from_status` reads
one back into the right class: the client and the server share this file.

    >>> NotFound("pods", "web-0").status()["message"]
    'pods "web-0" not found'

``resource`` is the lower-case plural (``pods``), and ``group`` its API group
(``apps`` for Deployments, ``""`` for the core group): Kubernetes names the
resource, not the kind, in most messages, and puts it in ``details.kind``.
``Invalid`` alone names the Kind (``Pod "web-0" is invalid``).

Simplifications:
- ``Unauthorized()`` defaults to the message kube-apiserver's
  authentication filter sends (``Unauthorized``), not the Go constructor's
  ``not authorized``.
- ``MethodNotAllowed`` without a resource uses the generic message of
  ``NewGenericServerResponse`` but no ``causes``.
- ``ServerTimeout``, ``ServiceUnavailable`` and other rarer reasons have
  no class of their own; :func:`from_status` maps them to the class of
  their code (or :class:`APIError`) and keeps reason and code, so a round
  trip is exact.
"""

from __future__ import annotations

from typing import Any, Iterable

from kitlib.api.field import FieldError, aggregate_message, go_quote
from kitlib.errors import KitError

# The storage layer's words for a lost compare-and-swap (``OptimisticLockErrorMsg``).
OPTIMISTIC_LOCK_MESSAGE = "the object has been modified; please apply your changes to the latest version and try again"

_DETAIL_ORDER = ("name", "group", "kind", "uid", "causes", "retryAfterSeconds")


def qualified(name: str, group: str) -> str:
    """``pods`` or ``deployments.apps``: a resource (or a kind) with its group, as Kubernetes prints it."""
    return f"{name}.{group}" if group else name


def _details(**members: Any) -> dict[str, Any]:
    # metav1.StatusDetails: every member is omitempty. Members this version
    # does not know (a newer server's) are kept, after the known ones.
    known = {k: members[k] for k in _DETAIL_ORDER if members.get(k)}
    return known | {k: v for k, v in members.items() if k not in known and k not in _DETAIL_ORDER and v}


class APIError(KitError):
    """A request the API server refused: one ``metav1.Status`` with ``status: Failure``.

    ``code`` is the HTTP status, ``reason`` the machine-readable
    ``StatusReason``; ``details`` is the ``StatusDetails`` dict, or ``None``
    when Kubernetes sends none (then the key is absent from the body).
    """

    code: int = 500
    reason: str = ""

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        reason: str | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if reason is not None:
            self.reason = reason
        if code is not None:
            self.code = code

    def status(self) -> dict[str, Any]:
        """The ``Status`` body, keys in the order kube-apiserver writes them, empty ones omitted."""
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
        if self.message:
            body["message"] = self.message
        if self.reason:
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = _details(**self.details)
        if self.code:
            body["code"] = self.code
        return body

    # What clients most often ask of an error.
    @property
    def name(self) -> str:
        return (self.details or {}).get("name", "")

    @property
    def kind(self) -> str:
        return (self.details or {}).get("kind", "")

    @property
    def group(self) -> str:
        return (self.details or {}).get("group", "")

    @property
    def causes(self) -> list[dict[str, str]]:
        return list((self.details or {}).get("causes") or [])

    @property
    def retry_after_seconds(self) -> int:
        return int((self.details or {}).get("retryAfterSeconds") or 0)

    def __reduce__(self):  # pickles through its Status, whatever the subclass's arguments
        return (from_status, (self.status(),))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class BadRequest(APIError):
    """400: the request itself is malformed (a bad selector, a body that is not an object)."""

    code, reason = 400, "BadRequest"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class InvalidSelector(BadRequest):
    """A label or field selector that does not parse: the client's mistake, so ``400 BadRequest``."""


class Unauthorized(APIError):
    """401: the request carries no credentials the server accepts (a bad bearer token)."""

    code, reason = 401, "Unauthorized"

    def __init__(self, message: str = "Unauthorized") -> None:
        super().__init__(message or "not authorized")


class Forbidden(APIError):
    """403: the caller is known but no role allows this verb on this resource."""

    code, reason = 403, "Forbidden"

    def __init__(self, resource: str = "", name: str = "", why: str = "", *, group: str = "") -> None:
        if not resource and not group:
            message = f"forbidden: {why}"
        elif not name:
            message = f"{qualified(resource, group)} is forbidden: {why}"
        else:
            message = f"{qualified(resource, group)} {go_quote(name)} is forbidden: {why}"
        super().__init__(message, details=_details(name=name, group=group, kind=resource))


class NotFound(APIError):
    """404: no object of this resource has this name (in this namespace)."""

    code, reason = 404, "NotFound"

    def __init__(self, resource: str, name: str, *, group: str = "") -> None:
        super().__init__(f"{qualified(resource, group)} {go_quote(name)} not found",
                         details=_details(name=name, group=group, kind=resource))


class MethodNotAllowed(APIError):
    """405: the resource does not support this verb (``create`` on ``nodes/proxy``...)."""

    code, reason = 405, "MethodNotAllowed"

    def __init__(self, resource: str = "", action: str = "", *, group: str = "") -> None:
        if not resource:
            super().__init__("the server does not allow this method on the requested resource")
            return
        super().__init__(f"{action} is not supported on resources of kind {go_quote(qualified(resource, group))}",
                         details=_details(group=group, kind=resource))


class AlreadyExists(APIError):
    """409: a create named an object that exists (names are unique per resource and namespace)."""

    code, reason = 409, "AlreadyExists"

    def __init__(self, resource: str, name: str, *, group: str = "") -> None:
        super().__init__(f"{qualified(resource, group)} {go_quote(name)} already exists",
                         details=_details(name=name, group=group, kind=resource))


class Conflict(APIError):
    """409: the write lost a race: the object changed since the ``resourceVersion`` you read.

    The cure is always the same: read it again, re-apply your change, retry
    (client-go's ``RetryOnConflict``).
    """

    code, reason = 409, "Conflict"

    def __init__(self, resource: str, name: str, why: str = OPTIMISTIC_LOCK_MESSAGE, *, group: str = "") -> None:
        super().__init__(f"Operation cannot be fulfilled on {qualified(resource, group)} {go_quote(name)}: {why}",
                         details=_details(name=name, group=group, kind=resource))


class Gone(APIError):
    """410: the history asked for was compacted (``too old resource version``).

    Kubernetes sends reason ``Expired`` for a watch or a continue token that
    is too old (``NewResourceExpired``) and ``Gone`` for other vanished
    resources (``NewGone``); either way an informer lists again.
    """

    code, reason = 410, "Expired"

    def __init__(self, message: str, *, reason: str = "Expired") -> None:
        super().__init__(message, reason=reason)


class Invalid(APIError):
    """422: the object breaks validation rules; one ``cause`` per :class:`FieldError`.

    ``kind`` is the Kind (``Pod``), not the resource. ``errors`` holds the
    field errors when raised here; an error read back by :func:`from_status`
    has only their ``causes``.
    """

    code, reason = 422, "Invalid"

    def __init__(self, kind: str, name: str, errors: Iterable[FieldError] = (), *, group: str = "") -> None:
        self.errors = list(errors)
        message = f"{qualified(kind, group)} {go_quote(name)} is invalid"
        if self.errors:
            message += ": " + aggregate_message(self.errors)
        super().__init__(message, details=_details(
            name=name, group=group, kind=kind, causes=[e.cause() for e in self.errors]))


class TooManyRequests(APIError):
    """429: come back later (an eviction blocked by a PodDisruptionBudget, an overloaded server)."""

    code, reason = 429, "TooManyRequests"

    def __init__(self, message: str, retry_after_seconds: int = 0) -> None:
        super().__init__(message, details=_details(retryAfterSeconds=retry_after_seconds))


class InternalError(APIError):
    """500: the server failed in a way that is not the caller's fault."""

    code, reason = 500, "InternalError"

    def __init__(self, why: str) -> None:
        super().__init__(f"Internal error occurred: {why}", details=_details(causes=[{"message": why}]))


class Timeout(APIError):
    """504: the request did not complete in time (a watch or a long list); retry it."""

    code, reason = 504, "Timeout"

    def __init__(self, message: str, retry_after_seconds: int = 0) -> None:
        super().__init__(f"Timeout: {message}", details=_details(retryAfterSeconds=retry_after_seconds))


class RequestEntityTooLarge(APIError):
    """413: a request body past the server's limit (3 MiB in kube-apiserver)."""

    code, reason = 413, "RequestEntityTooLarge"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class UnsupportedMediaType(APIError):
    """415: a body in a format the endpoint does not take (a strategic merge patch of a custom resource)."""

    code, reason = 415, "UnsupportedMediaType"

    def __init__(self, message: str) -> None:
        super().__init__(message)


def path_not_found() -> APIError:
    """The bare 404 kube-apiserver sends for a URL that names no resource (``details`` present and empty)."""
    return APIError("the server could not find the requested resource", details={}, reason="NotFound", code=404)


_BY_REASON: dict[str, type[APIError]] = {
    cls.reason: cls
    for cls in (BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed, AlreadyExists,
                Conflict, Invalid, TooManyRequests, InternalError, Timeout, RequestEntityTooLarge, UnsupportedMediaType)
}
_BY_REASON["Expired"] = _BY_REASON["Gone"] = Gone
_BY_CODE: dict[int, type[APIError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 405: MethodNotAllowed,
    409: Conflict, 410: Gone, 413: RequestEntityTooLarge, 415: UnsupportedMediaType, 422: Invalid,
    429: TooManyRequests, 500: InternalError, 504: Timeout,
}


def from_status(status: dict[str, Any], http_code: int | None = None) -> APIError:
    """The exception a failure ``Status`` stands for, chosen by reason, then by code.

    ``http_code`` stands in when the body carries no ``code``. The result
    renders the same ``Status`` again, member for member.
    """
    if not isinstance(status, dict) or status.get("kind") != "Status":
        raise ValueError(f"not a Status object: {status!r:.200}")
    if status.get("status") == "Success":
        raise ValueError("a Success Status is not an error")
    reason = status.get("reason") or ""
    code = status.get("code") or http_code or 0
    cls = _BY_REASON.get(reason) or _BY_CODE.get(code) or APIError
    err = cls.__new__(cls)
    details = status.get("details")
    APIError.__init__(err, status.get("message") or "",
                      details=dict(details) if isinstance(details, dict) else None, reason=reason, code=code)
    if isinstance(err, Invalid):
        err.errors = []
    return err


def success_status(resource: str, name: str, uid: str = "", *, group: str = "") -> dict[str, Any]:
    """The body of a successful DELETE for resources that answer with a Status, not the object.

    kube-apiserver's generic registry returns this when the object is gone
    (ConfigMaps, Secrets, Nodes, Deployments...); Pods and a few others
    return the deleted object instead. It carries no ``code``.
    """
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": _details(name=name, group=group, kind=resource, uid=uid),
    }
