"""Requests and responses as the API server's handler sees them, and the decoding of request bodies.

A :class:`Request` is what any transport hands the handler (the HTTPS server,
or the in-process transport of :mod:`kitlib.client`); a :class:`Response` is
what it gets back: bytes, or a stream of byte chunks for a watch or a
followed log. :func:`decode_body` turns a body into JSON values with the
limits kube-apiserver keeps: 3 MiB, a bounded depth, and only the media
types the kit reads.

Simplifications:
- Bodies are JSON, or YAML for the ``yaml`` media types; Kubernetes
  protobuf only where :mod:`kitlib.apiserver.protobuf` has the kind's table
  (kubectl's generators, ``kubectl create configmap NAME``, send it); other
  protobuf bodies get a 415 that says to go through a manifest instead.
  YAML anchors and aliases are refused (kube's decoder bounds them; here a
  body without them is always enough).
- Nesting deeper than :data:`MAX_DEPTH` levels is refused with a 400
  (kube-apiserver's JSON decoder allows 10,000).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import yaml

from kitlib.api.errors import BadRequest, RequestEntityTooLarge, UnsupportedMediaType
from kitlib.apiserver import protobuf

MAX_BODY = 3 * 1024 * 1024  # kube-apiserver refuses request bodies past 3 MiB
MAX_DEPTH = 100
JSON = "application/json"
APPLY_PATCH = "application/apply-patch+yaml"
BODY_TYPES = (JSON, "application/yaml", "")  # a missing Content-Type is read as JSON


@dataclass
class Request:
    """An HTTP request as the handler sees it. Header names are lower case."""

    method: str
    target: str  # path and query, as on the request line
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    peer_cert: dict | None = None  # the verified client certificate (``getpeercert()``), if any

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclass
class Response:
    """The answer: ``body`` bytes, or a ``stream`` of byte lines for a watch."""

    code: int
    body: bytes = b""
    content_type: str = JSON
    headers: list[tuple[str, str]] = field(default_factory=list)
    stream: Iterator[bytes] | None = None
    # Ends the stream from any thread (a transport whose client went away); the stream then finishes.
    cancel: Callable[[], None] | None = None

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def json_response(code: int, obj: Any, content_type: str = JSON, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(code, json.dumps(obj, separators=(",", ":")).encode(), content_type, headers or [])


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: a few hundred bytes of aliases can expand to gigabytes."""

    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("YAML aliases are not accepted")
        return super().compose_node(parent, index)


def decode_body(raw: bytes, content_type: str) -> Any:
    """The request body as JSON values, whatever the media type; a 400 that says why otherwise."""
    if len(raw) > MAX_BODY:
        raise RequestEntityTooLarge("Request entity too large: limit is 3145728")
    if not raw:
        return None
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == protobuf.PROTOBUF:  # kubectl's generators: `kubectl create namespace NAME`
        return protobuf.decode(raw)
    if media_type not in BODY_TYPES:
        message = ("the body of the request was in an unknown format - accepted media types include: "
                   + ", ".join(t for t in BODY_TYPES if t))
        raise UnsupportedMediaType(message)
    try:
        if "yaml" in media_type:
            value = yaml.load(raw, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
        else:
            value = json.loads(raw)
    except (ValueError, yaml.YAMLError) as err:
        raise BadRequest(f"the body of the request was in an unknown format: {err}".replace("\n", " ")) from None
    except RecursionError:
        raise BadRequest(f"the body of the request nests deeper than {MAX_DEPTH} levels") from None
    if raw.count(b"{") + raw.count(b"[") >= MAX_DEPTH or "yaml" in media_type:
        _check_depth(value)  # fewer brackets than that cannot nest that deep: most bodies skip the walk
    return value


def _check_depth(value: Any) -> None:
    # Iterative, so that checking depth cannot itself overflow the stack.
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BadRequest(f"the body of the request nests deeper than {MAX_DEPTH} levels")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
