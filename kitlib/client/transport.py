"""Transports: how a request reaches the API server, over HTTPS or by a plain function call.

Everything a component asks of the cluster goes through one :class:`Transport`:
``request`` sends one REST call and returns the raw answer, ``stream``
opens a watch and yields its events. There are two, and they behave alike
(the same answers, the same exceptions, the same events):

- :class:`HTTPSTransport` is what kubectl and client-go do: read a
  kubeconfig (:mod:`~kitlib.client.kubeconfig`), verify the server's
  certificate against the cluster CA, authenticate with a client
  certificate or a bearer token, keep one keep-alive connection per thread,
  and read a watch as a chunked response, one JSON event per line;
- :class:`InProcessTransport` hands a :class:`~kitlib.apiserver.request.Request`
  straight to the API server's handler, with a client certificate's subject
  standing in for the TLS handshake, so a simulation of a thousand nodes
  skips TLS and sockets but not authentication, RBAC, admission or validation.

A refused request is raised as the exception its ``Status`` names
(:func:`raise_for_status`, through :func:`kitlib.api.errors.from_status`);
a server that cannot be reached is a :class:`ServerUnreachable` that says so.

Simplifications:
- HTTP/1.1 only: one connection per thread for requests and one per watch
  (client-go multiplexes everything over one HTTP/2 connection).
- What a kubeconfig may say is limited as :mod:`~kitlib.client.kubeconfig` says.
- A stale keep-alive connection is retried once, whatever the method (Go's
  transport retries only when it knows the request was not sent).
- The in-process watch runs the handler's event stream on a helper thread,
  so that ``close()`` ends the reader at once; it also cancels the server's
  watch (``Response.cancel``), and the helper finishes within a second.
"""

from __future__ import annotations

import http.client
import json
import logging
import queue
import socket
import ssl
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Protocol
from urllib.parse import urlencode, urlsplit

from kitlib.api.errors import APIError, from_status
from kitlib.apiserver.handler import Handler
from kitlib.apiserver.request import Request
from kitlib.client.kubeconfig import KubeConfig, load_kubeconfig, ssl_context  # noqa: F401 (KubeConfig: re-exported)
from kitlib.errors import KitError

log = logging.getLogger(__name__)

JSON = "application/json"
USER_AGENT = "kitlib/0.1"
DEFAULT_TIMEOUT = 30.0  # seconds for one request (kubectl's --request-timeout is unlimited by default)

Event = dict[str, Any]


# What a keep-alive connection the server has already closed fails with.
_STALE = (http.client.RemoteDisconnected, ConnectionError, ssl.SSLEOFError, ssl.SSLZeroReturnError)


class ServerUnreachable(KitError):
    """The API server could not be reached, or could not be trusted; the message says what to check."""


@dataclass(frozen=True)
class RawResponse:
    """An answer as it came: the HTTP code, lower-case headers, the body bytes."""

    code: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class EventStream(Protocol):
    """An open watch: iterate for ``{"type": ..., "object": ...}`` dicts; ``close()`` from any thread ends it."""

    def __iter__(self) -> Iterator[Event]: ...

    def close(self) -> None: ...


class Transport(Protocol):
    """One door to the API server. Paths are absolute (``/api/v1/namespaces/default/pods``)."""

    def request(self, method: str, path: str, *, query: Mapping[str, str] | None = None, body: bytes | None = None,
                content_type: str = JSON, accept: str = JSON) -> RawResponse: ...

    def stream(self, path: str, query: Mapping[str, str] | None = None) -> EventStream: ...

    def close(self) -> None: ...


def raise_for_status(code: int, body: bytes, what: str) -> None:
    """Raise the exception a non-2xx answer stands for; ``what`` (``GET /api/v1/...``) goes in odd messages.

    A ``Status`` body becomes its class (:func:`from_status`). Anything else
    (a proxy's HTML page, plain text) becomes the class of its code, as
    client-go's ``NewGenericServerResponse`` does, with the body quoted.
    """
    if 200 <= code < 300:
        return
    try:
        err = from_status(json.loads(body) if body else None, code)
    except ValueError:  # not JSON, or JSON that is not a Status
        text = body.decode("utf-8", "replace").strip()[:200]
        err = from_status({"kind": "Status", "status": "Failure", "code": code,
                           "message": f"the server answered {code} to {what} with no Status"
                                      + (f": {text}" if text else "")})
        err.reason = type(err).reason
    raise err


def decode_event(line: bytes) -> Event:
    """One watch line as an event; a line that does not decode is an ERROR event (client-go's StreamWatcher)."""
    try:
        event = json.loads(line)
        if isinstance(event, dict) and isinstance(event.get("type"), str) and isinstance(event.get("object"), dict):
            return event
        why = "not a watch event"
    except ValueError as err:
        why = str(err)
    message = f"unable to decode an event from the watch stream: {why}: {line[:200]!r}"
    return {"type": "ERROR", "object": APIError(message, reason="InternalError", code=500).status()}


def _target(path: str, query: Mapping[str, str] | None) -> str:
    return f"{path}?{urlencode(query)}" if query else path


# -- HTTPS -----------------------------------------------------------------------


class HTTPSTransport:
    """REST over HTTPS with TLS verification, keep-alive connections per thread, and chunked watches."""

    def __init__(self, server: str, context: ssl.SSLContext, *, token: str = "", timeout: float = DEFAULT_TIMEOUT):
        url = urlsplit(server)
        if url.scheme != "https" or not url.hostname:
            raise KitError(f"the API server address must be https://host:port, not {server!r}")
        self.server, self.host, self.port = server.rstrip("/"), url.hostname, url.port or 443
        self.context, self.token, self.timeout = context, token, timeout
        self._local = threading.local()
        self._lock = threading.Lock()  # guards _connections
        self._connections: list[http.client.HTTPSConnection] = []

    @classmethod
    def from_kubeconfig(cls, path: Path | str | None = None, context: str | None = None,
                        timeout: float = DEFAULT_TIMEOUT) -> "HTTPSTransport":
        config = load_kubeconfig(path, context)
        return cls(config.server, ssl_context(config), token=config.token, timeout=timeout)

    def _headers(self, accept: str, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": accept, "User-Agent": USER_AGENT}
        if content_type:
            headers["Content-Type"] = content_type
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def _connect(self, timeout: float | None) -> http.client.HTTPSConnection:
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=timeout)
        try:
            conn.connect()
        except OSError as err:
            conn.close()
            raise self._unreachable(err) from None
        return conn

    def _unreachable(self, err: OSError) -> ServerUnreachable:
        if isinstance(err, ssl.SSLCertVerificationError):
            return ServerUnreachable(f"cannot trust the API server at {self.server}: {err.verify_message}; "
                                     "is the kubeconfig for this cluster?")
        if isinstance(err, ConnectionRefusedError):
            why = "connection refused"
        elif isinstance(err, socket.gaierror):
            why = f"unknown host {self.host!r}"
        elif isinstance(err, TimeoutError):
            why = f"no answer within {self.timeout:g} s"
        else:
            why = err.strerror or str(err) or type(err).__name__
        return ServerUnreachable(f"cannot reach the API server at {self.server}: {why}; is it running? (kit status)")

    def request(self, method: str, path: str, *, query: Mapping[str, str] | None = None, body: bytes | None = None,
                content_type: str = JSON, accept: str = JSON) -> RawResponse:
        target = _target(path, query)
        headers = self._headers(accept, content_type if body is not None else None)
        for attempt in (1, 2):
            conn = getattr(self._local, "conn", None)
            reused = conn is not None
            if conn is None:
                conn = self._local.conn = self._connect(self.timeout)
                with self._lock:
                    self._connections.append(conn)
            try:
                conn.request(method, target, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except (http.client.HTTPException, OSError) as err:
                self._drop_local()
                # The server closed an idle keep-alive connection just as we sent: try once on a fresh one.
                if reused and attempt == 1 and isinstance(err, _STALE):
                    continue
                if isinstance(err, OSError):
                    raise self._unreachable(err) from None
                raise ServerUnreachable(f"the API server at {self.server} broke off {method} {path}: {err!r}") from None
            if response.will_close:
                self._drop_local()
            answer = RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
            raise_for_status(answer.code, answer.body, f"{method} {path}")
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    def _drop_local(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()
            with self._lock:
                if conn in self._connections:
                    self._connections.remove(conn)

    def stream(self, path: str, query: Mapping[str, str] | None = None) -> "HTTPWatchStream":
        # A watch holds its connection until it ends, so it gets one of its own.
        # Reads wait as long as the server may keep the watch open, and a little more.
        limit = (query or {}).get("timeoutSeconds")
        conn = self._connect(self.timeout)
        try:
            conn.request("GET", _target(path, query), headers=self._headers(JSON, None))
            response = conn.getresponse()
            if response.status != 200:
                raise_for_status(response.status, response.read(), f"GET {path}")
            conn.sock.settimeout(float(limit) + self.timeout if limit else None)
        except OSError as err:
            conn.close()
            raise self._unreachable(err) from None
        except http.client.HTTPException as err:
            conn.close()
            raise ServerUnreachable(f"the API server at {self.server} broke off a watch of {path}: {err!r}") from None
        except BaseException:
            conn.close()
            raise
        return HTTPWatchStream(conn, response)

    def close(self) -> None:
        """Close every keep-alive connection (watches are closed by their own ``close()``)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()


class HTTPWatchStream:
    """A chunked watch response read line by line; ``close()`` from any thread ends a blocked read."""

    def __init__(self, conn: http.client.HTTPSConnection, response: http.client.HTTPResponse) -> None:
        self._conn, self._response = conn, response
        self._closed = threading.Event()
        self._reading = False  # once iteration starts, the reader closes the connection when it ends

    def __iter__(self) -> Iterator[Event]:
        self._reading = True
        try:
            while not self._closed.is_set():
                try:
                    line = self._response.readline()
                except (OSError, ValueError, http.client.HTTPException) as err:
                    # A broken or timed-out stream ends the watch quietly; the reflector
                    # resumes from the last version it saw (client-go: IsProbableEOF).
                    if not self._closed.is_set():
                        log.debug("watch stream ended: %r", err)
                    return
                if not line or self._closed.is_set():
                    return
                if line.strip():
                    yield decode_event(line)
        finally:
            self._conn.close()

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        sock = self._conn.sock
        if sock is not None:
            try:
                # shutdown(2) on the raw socket wakes a reader blocked in recv on another
                # thread; SSLSocket.shutdown would also drop its SSL object under that reader.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass  # already closed
        if not self._reading:
            self._conn.close()


# -- in process --------------------------------------------------------------------


def certificate_subject(user: str, groups: tuple[str, ...] | list[str] = ()) -> dict:
    """A ``getpeercert()``-style dict for ``CN=user, O=group...``: how the handler learns who calls."""
    rdns = tuple(((("organizationName", g),) for g in groups)) + (((("commonName", user),),) if user else ())
    return {"subject": rdns}


_END = object()


class InProcessTransport:
    """Requests handed to the API server's :class:`~kitlib.apiserver.handler.Handler` directly, as ``user``.

    The caller is authenticated as if it had shown a client certificate for
    ``CN=user, O=groups`` (an empty ``user``: no credentials, so ``401``).
    """

    def __init__(self, handler: Handler, user: str, groups: tuple[str, ...] | list[str] = ()) -> None:
        self.handler = handler
        self.user, self.groups = user, tuple(groups)
        self._peer_cert = certificate_subject(user, self.groups)

    def _call(self, method: str, path: str, query: Mapping[str, str] | None, body: bytes | None,
              content_type: str, accept: str):
        headers = {"accept": accept, "user-agent": USER_AGENT}
        if body is not None:
            headers["content-type"] = content_type
        return self.handler.handle(Request(method, _target(path, query), headers, body or b"", self._peer_cert))

    def request(self, method: str, path: str, *, query: Mapping[str, str] | None = None, body: bytes | None = None,
                content_type: str = JSON, accept: str = JSON) -> RawResponse:
        response = self._call(method, path, query, body, content_type, accept)
        data = response.body if response.stream is None else b"".join(response.stream)  # a log: read it all
        headers = {"content-type": response.content_type, **{k.lower(): v for k, v in response.headers}}
        raise_for_status(response.code, data, f"{method} {path}")
        return RawResponse(response.code, headers, data)

    def stream(self, path: str, query: Mapping[str, str] | None = None) -> "InProcessWatchStream":
        response = self._call("GET", path, query, None, JSON, JSON)
        if response.stream is None:
            raise_for_status(response.code, response.body, f"GET {path}")
            raise KitError(f"GET {path} answered {response.code} without a watch stream")
        return InProcessWatchStream(response.stream, path, response.cancel)

    def close(self) -> None:
        pass  # nothing held between requests


class InProcessWatchStream:
    """The handler's event lines, pumped by a helper thread so that ``close()`` ends a blocked read at once."""

    live: "weakref.WeakSet[InProcessWatchStream]" = weakref.WeakSet()  # for backlog()

    def __init__(self, lines: Iterator[bytes], path: str, cancel: Callable[[], None] | None = None) -> None:
        self._lines = lines
        self._cancel = cancel  # ends the server's watch from this thread, so the pump stops at once
        self._queue: queue.Queue = queue.Queue()
        self._closed = threading.Event()
        self._holding = False  # the reader holds an event: from the yield until it asks for the next one
        self._pump = threading.Thread(target=self._run, name=f"kit-watch {path}", daemon=True)
        InProcessWatchStream.live.add(self)
        self._pump.start()

    @classmethod
    def backlog(cls) -> bool:
        """Whether some in-process watch holds events its reader has not finished with (a simulation's settle)."""
        return any(not s._closed.is_set() and s._queue.unfinished_tasks > 0 for s in list(cls.live))

    def _run(self) -> None:
        try:
            for line in self._lines:
                if self._closed.is_set():
                    break
                self._queue.put(line)
        except Exception:  # noqa: BLE001 (over HTTPS a failing handler drops the connection: the watch ends)
            log.exception("the API server's watch stream failed")
        finally:
            close = getattr(self._lines, "close", None)
            if close is not None:
                close()  # cancels the server's watch
            self._queue.put(_END)

    def __iter__(self) -> Iterator[Event]:
        while not self._closed.is_set():
            line = self._queue.get()
            try:
                if line is _END or self._closed.is_set():
                    return
                if line.strip():
                    yield decode_event(line)  # the reader handles it before it resumes us
            finally:
                self._queue.task_done()  # done with it (see backlog())

    def close(self) -> None:
        self._closed.set()
        if self._cancel is not None:
            self._cancel()
        self._queue.put(_END)  # wakes the reader
