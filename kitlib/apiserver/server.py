"""The API server: the cluster's one door, serving the Kubernetes REST API over HTTPS.

:class:`APIServer` puts the pieces together as kube-apiserver does at start:
the registry over a store, the cluster's certificate authority and the
server's certificate (:mod:`~kitlib.apiserver.pki`, as kubeadm makes them),
the authenticator and the RBAC authoriser, and the request handler
(:mod:`~kitlib.apiserver.handler`, where a request's path through
authentication, authorisation, admission and validation is told). On first
start it creates what every cluster begins with: the system namespaces and
the default RBAC policy. :meth:`APIServer.write_kubeconfig` writes the file
kubectl and the Python client read.

The HTTPS side is small: TLS (a client may show a certificate, which is one
way to authenticate), HTTP/1.1 with keep-alive, and watches sent as chunked
responses, one JSON event per line, as kube-apiserver sends them.

Each connection has a thread that reads requests and writes answers (and
streams watches); the requests themselves are handled by a small pool of
workers in arrival order, which keeps the slowest requests close to the
typical one when many clients are busy at once.

Simplifications:
- HTTP/1.1 with one thread per connection (Python's ThreadingHTTPServer),
  no HTTP/2; no priority and fairness between users (kube's API Priority
  and Fairness), only the first-come order of the worker queue.
- One API server per store; kube-apiserver runs several behind a load
  balancer, with leases electing which one runs the singleton loops.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import select
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from kitlib.api.errors import APIError, BadRequest, NotFound, RequestEntityTooLarge
from kitlib.apiserver.admission import default_chain, ensure_default_service_account, ensure_kubernetes_service
from kitlib.apiserver.allocator import PortAllocator, ServiceIPAllocator
from kitlib.apiserver.authn import Authenticator, UserInfo
from kitlib.apiserver.bootstrappolicy import bootstrap_policy
from kitlib.apiserver.defaults import apply_defaults
from kitlib.apiserver.handler import MAX_BODY, Handler, Request, Response, json_response
from kitlib.apiserver.pki import PKI
from kitlib.apiserver.priority import Priority
from kitlib.apiserver.rbac import RBACAuthorizer
from kitlib.apiserver.rbac_source import RegistryRBAC
from kitlib.apiserver.registry import Registry
from kitlib.apiserver.resources import Resource, for_kind, lookup
from kitlib.apiserver.schema import check_fields
from kitlib.apiserver.service_allocation import ServiceAllocation
from kitlib.clock import Clock, RealClock
from kitlib.store import Store

log = logging.getLogger(__name__)

ADMIN_USER, ADMIN_GROUPS = "kit-admin", ("system:masters",)
HANDSHAKE_TIMEOUT = 10.0  # seconds a client has to finish TLS before its connection is dropped
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


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
        service_cidr: str = "10.96.0.0/12",  # kubeadm's default --service-cluster-ip-range
        node_port_range: str = "30000-32767",
        workers: int = 4,  # enough to keep the store's group commit busy; more only lengthened the tail
    ) -> None:
        self.clock = clock or RealClock()
        self.registry = Registry(store, clock=self.clock, rng=rng or random.Random())
        self.pki = PKI(pki_dir)
        self.authenticator = Authenticator(tokens or {})
        self.rbac_source = RegistryRBAC(self.registry)  # cached, kept fresh by watches (kube: informers)
        self.authorizer = RBACAuthorizer(self.rbac_source)
        rng = self.registry.rng
        self.service_ips = ServiceIPAllocator(store, service_cidr, rng=rng)
        self.node_ports = PortAllocator(store, node_port_range, rng=rng)
        self.admission = default_chain(self.registry, Priority(self.registry),
                                       ServiceAllocation(self.registry, self.service_ips, self.node_ports))
        self.handler = Handler(self.registry, self.authenticator, self.authorizer, self.clock, admission=self.admission)
        self.host, self.port = host, port
        # Connection threads only read and write; requests are handled by a few workers, in the order they
        # came (a FIFO queue). With every connection's thread handling its own request, 32 clients
        # competed for the interpreter in no order, and the unlucky ones waited twice as long (p99).
        self.workers = ThreadPoolExecutor(workers, thread_name_prefix="kit-apiserver-worker")
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
        for name in SYSTEM_NAMESPACES:
            ensure_default_service_account(self.registry, name)
        ensure_kubernetes_service(self.registry, self.admission, self.service_ips.first_ip, self.port or 6443)

    def _ensure(self, resource: Resource, obj: dict, namespace: str | None) -> None:
        try:
            self.registry.get(resource, namespace, obj["metadata"]["name"])
        except NotFound:
            self.registry.create(resource, apply_defaults({"apiVersion": resource.api_version, "kind": resource.kind, **obj}),
                                 namespace)

    def start(self) -> "APIServer":
        self.pki.ensure()
        check_fields({}, "v1", "ConfigMap")  # loads the schemas now, not during the first client's request
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(self.pki.ca.cert))
        context.load_cert_chain(self.pki.server.cert, self.pki.server.key)
        context.verify_mode = ssl.CERT_OPTIONAL  # a certificate is one way in; a token is the other
        server = self

        class HTTPHandler(_HTTPHandler):
            api = server

        try:
            httpd = _HTTPServer((self.host, self.port), HTTPHandler)
        except OSError as err:
            raise APIError(f"cannot listen on {self.host}:{self.port} ({err.strerror}): is another API server running? "
                           "stop it or choose another port") from None
        httpd.daemon_threads = True
        # The TLS handshake happens in each connection's own thread (_HTTPHandler.setup), not in the
        # accept loop, where one silent client would keep every other one from connecting.
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
        self.port = httpd.server_address[1]
        try:
            self.bootstrap()  # after the bind: the kubernetes Service names the port
        except BaseException:
            httpd.server_close()
            raise
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
        self.workers.shutdown(wait=False, cancel_futures=True)
        self.rbac_source.close()

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


_MAX_LINE, _MAX_HEADERS = 65536, 100  # http.client's own limits


class _Headers(dict):
    """Request headers by lower-case name, read back case-insensitively (as ``http.client`` messages are)."""

    def add(self, name: str, value: str) -> None:
        key = name.lower()
        self[key] = f"{self[key]}, {value}" if key in self else value

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name.lower(), default)


class _HTTPServer(ThreadingHTTPServer):
    request_queue_size = 128  # socketserver's 5 drops connections when many clients start at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s failed", client_address, exc_info=True)  # never a traceback on stderr


class _HTTPHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 in, :class:`~kitlib.apiserver.handler.Handler` behind: parse, hand over, write back."""

    protocol_version = "HTTP/1.1"  # keep-alive, and chunked watch streams
    # Headers and body go out in separate writes; with Nagle's algorithm the second waits for the
    # client's delayed ACK (about 40 ms on Linux) on every response.
    disable_nagle_algorithm = True
    api: APIServer

    def log_message(self, fmt: str, *args: Any) -> None:  # the engine logs, it does not print
        log.debug("%s %s", self.address_string(), fmt % args)

    def parse_request(self) -> bool:
        """The request line and headers, read without the email package (which http.server uses).

        Parsing headers with ``email.feedparser`` was a fifth of the server's CPU time per request.
        Only what this server needs is kept: the method, the target, HTTP/1.0 or 1.1, and the
        headers as a case-insensitive mapping; ``Expect: 100-continue`` is answered as usual.
        """
        self.close_connection = True
        line = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        self.requestline = line
        parts = line.split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self.request_version = "HTTP/1.0"
            self.send_error(400, f"Bad request line ({line[:80]!r})")
            return False
        self.command, self.path, self.request_version = parts
        headers = _Headers()
        for _ in range(_MAX_HEADERS + 1):
            raw = self.rfile.readline(_MAX_LINE + 1)
            if len(raw) > _MAX_LINE:
                self.send_error(431, "Request header line too long")
                return False
            if raw in (b"\r\n", b"\n", b""):
                break
            name, sep, value = str(raw, "iso-8859-1").partition(":")
            if not sep:
                self.send_error(400, "Malformed header line")
                return False
            headers.add(name.strip(), value.strip())
        else:
            self.send_error(431, "Too many headers")
            return False
        self.headers = headers
        connection = headers.get("Connection", "").lower()
        self.close_connection = connection == "close" or (self.request_version == "HTTP/1.0"
                                                          and connection != "keep-alive")
        if headers.get("Expect", "").lower() == "100-continue":
            return self.handle_expect_100()
        return True

    def setup(self) -> None:
        super().setup()
        self.handshake_failed = False
        try:
            self.connection.settimeout(HANDSHAKE_TIMEOUT)
            self.connection.do_handshake()
            self.connection.settimeout(None)
        except (ssl.SSLError, OSError) as err:
            log.debug("TLS handshake with %s failed: %s", self.client_address, err)
            self.handshake_failed = True

    def handle(self) -> None:
        if not self.handshake_failed:
            super().handle()

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

    def _serve(self, method: str) -> None:
        try:
            response = self._answer(method)
            self.send_response(response.code)
            self.send_header("Content-Type", response.content_type)
            for name, value in response.headers:
                self.send_header(name, value)
            if response.stream is None:
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)
                return
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            try:
                for line in response.stream:
                    if not line:  # an idle moment: stop if the client has hung up
                        if self._client_gone():
                            break
                        continue
                    self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            finally:
                close = getattr(response.stream, "close", None)
                if close is not None:
                    close()  # cancels a watch even when the client went away
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True  # the client went away: nothing to answer

    def _client_gone(self) -> bool:
        """During a stream the client sends nothing: a readable socket means it closed (or broke) the connection."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and not self.connection.recv(1)
        except (OSError, ValueError):
            return True

    def _answer(self, method: str) -> Response:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            error = RequestEntityTooLarge("Request entity too large: limit is 3145728") if length > 0 else \
                BadRequest("the Content-Length header is not a number")
            # Refused unread, so the connection cannot carry another request. A body not far past the
            # limit is drained first, so the client, still sending, reads the 413 instead of a reset.
            self.close_connection = True
            if 0 < length <= 2 * MAX_BODY:
                while length > 0:
                    chunk = self.rfile.read(min(length, 1 << 16))
                    if not chunk:
                        break
                    length -= len(chunk)
            return json_response(error.code, error.status())
        body = self.rfile.read(length) if length else b""
        peer = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
        request = Request(method, self.path, dict(self.headers), body, peer)
        return self.api.workers.submit(self.api.handler.handle, request).result()
