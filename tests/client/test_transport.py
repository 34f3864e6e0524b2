"""Transports: kubeconfigs, HTTPS with verified TLS, the in-process door, and both behaving alike.

The fixtures here (a real API server on an in-memory store, a client per
transport) are shared with ``test_rest.py``.
"""

from __future__ import annotations

import base64
import itertools
import json
import socket
import threading
import time
from pathlib import Path

import pytest

from kitlib.api.errors import APIError, BadRequest, Conflict, Forbidden, Gone, NotFound, Unauthorized
from kitlib.apiserver.authn import UserInfo
from kitlib.apiserver.pki import PKI
from kitlib.apiserver.server import APIServer
from kitlib.client.rest import Client
from kitlib.client.transport import (
    HTTPSTransport,
    InProcessTransport,
    ServerUnreachable,
    certificate_subject,
    decode_event,
    load_kubeconfig,
    raise_for_status,
    ssl_context,
)
from kitlib.errors import KitError
from kitlib.store import open_store

TRANSPORTS = ["https", "in-process"]
ADMIN = ("kit-admin", ("system:masters",))
TOKEN = "s3cr3t-t0ken"
# Every test watch asks the server to end it within a second: see drain_watches.
WATCH_TIMEOUT = 1


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("client")
    store = open_store("memory://", lessor=False)
    api = APIServer(store, root / "pki", tokens={TOKEN: UserInfo("token-admin", "", ("system:masters",))}).start()
    api.root = root
    api.store = store
    api.kubeconfigs = {user: api.write_kubeconfig(root / f"{user}.conf", name=user, user=user, groups=groups)
                       for user, groups in (ADMIN, ("nobody", ()))}
    yield api
    api.stop()
    drain_watches(store)
    store.close()


def drain_watches(store, timeout: float = 3.0) -> None:
    """Wait (a little) for the server's watches to end before the store closes.

    The handler's watch stream notices a client that went away only at its
    next event or at its timeoutSeconds, and once the store is closed under
    it, it loops without pause until that timeout. So every test watch asks
    for a short timeoutSeconds, and the fixture waits for them here.
    """
    deadline = time.monotonic() + timeout
    while store._watchers and time.monotonic() < deadline:  # the embedded store's open watches
        time.sleep(0.02)


def make_client(server, transport: str, user: str = ADMIN[0], groups: tuple[str, ...] = ADMIN[1]) -> Client:
    """A client for ``user`` (one with a kubeconfig from the fixture) over ``transport``."""
    if transport == "https":
        return Client.from_kubeconfig(server.kubeconfigs[user], timeout=5)
    return Client(InProcessTransport(server.handler, user, groups))


@pytest.fixture(params=TRANSPORTS)
def client(request, server):
    client = make_client(server, request.param)
    client.kind = request.param
    yield client
    client.close()


_names = itertools.count()


@pytest.fixture()
def ns(client):
    """A fresh namespace per test, so lists and watches see only the test's own objects."""
    name = f"t{next(_names)}-{client.kind}"
    client.resource("namespaces").create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def configmap(name: str, **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"k": name}}


def kubeconfig(path: Path, server: str, user: dict, cluster_extra: dict | None = None, **cluster) -> Path:
    config = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server, **cluster, **(cluster_extra or {})}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u", "namespace": "team"}}],
        "current-context": "ctx",
    }
    path.write_text(json.dumps(config))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- kubeconfig ----------------------------------------------------------------


def test_the_servers_kubeconfig_has_everything_inline(server):
    config = load_kubeconfig(server.kubeconfigs["kit-admin"])
    assert config.server == server.url and config.namespace == "default" and config.context == "kit-admin@kit"
    assert config.ca_pem == server.pki.ca.cert.read_bytes()
    assert config.client_cert_pem.startswith(b"-----BEGIN CERTIFICATE") and b"PRIVATE KEY" in config.client_key_pem


def test_a_yaml_kubeconfig_with_files_relative_to_it(server, tmp_path):
    pair = server.pki.client("kit-admin")
    (tmp_path / "ca.crt").write_bytes(server.pki.ca.cert.read_bytes())
    (tmp_path / "me.crt").write_bytes(pair.cert.read_bytes())
    (tmp_path / "me.key").write_bytes(pair.key.read_bytes())
    (tmp_path / "config").write_text(f"""
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {{server: "{server.url}", certificate-authority: ca.crt}}
users:
- name: u
  user: {{client-certificate: me.crt, client-key: me.key}}
contexts:
- name: other
  context: {{cluster: c, user: u, namespace: kube-system}}
current-context: other
""")
    client = Client.from_kubeconfig(tmp_path / "config")
    assert client.namespace == "kube-system"
    assert client.resource("namespaces").get("kube-system")["metadata"]["name"] == "kube-system"


@pytest.mark.parametrize("token, error", [(TOKEN, None), ("wrong", Unauthorized)], ids=["good-token", "bad-token"])
def test_bearer_token(server, tmp_path, token, error):
    ca = base64.b64encode(server.pki.ca.cert.read_bytes()).decode()
    path = kubeconfig(tmp_path / "config", server.url, {"token": token}, **{"certificate-authority-data": ca})
    client = Client.from_kubeconfig(path)
    assert client.namespace == "team"
    if error:
        with pytest.raises(error):
            client.resource("namespaces").list()
    else:
        assert client.resource("namespaces").get("default")["metadata"]["name"] == "default"


@pytest.mark.parametrize(
    "cluster, context, message",
    [
        (None, None, "no kubeconfig at"),
        ({}, "elsewhere", "context 'elsewhere' not found in"),
        ({"insecure-skip-tls-verify": True}, None, "asks to skip TLS verification"),
        ({"server": "http://127.0.0.1:8080"}, None, "the kit speaks only https://"),
    ],
    ids=["missing-file", "missing-context", "insecure", "plain-http"],
)
def test_kubeconfig_mistakes_are_explained(tmp_path, cluster, context, message):
    path = tmp_path / "config"
    if cluster is not None:
        kubeconfig(path, "https://127.0.0.1:6443", {}, cluster)
    with pytest.raises(KitError, match=message):
        load_kubeconfig(path, context)


# -- HTTPS ------------------------------------------------------------------------


def test_an_unreachable_server_says_what_to_do(server, tmp_path):
    port = free_port()
    ca = base64.b64encode(server.pki.ca.cert.read_bytes()).decode()
    path = kubeconfig(tmp_path / "config", f"https://127.0.0.1:{port}", {}, **{"certificate-authority-data": ca})
    with pytest.raises(ServerUnreachable) as caught:
        Client.from_kubeconfig(path).version()
    assert str(caught.value) == (f"cannot reach the API server at https://127.0.0.1:{port}: connection refused; "
                                 "is it running? (kit status)")


def test_a_server_the_cluster_ca_did_not_sign_is_not_trusted(server, tmp_path):
    other = PKI(tmp_path / "other").ensure()
    ca = base64.b64encode(other.ca.cert.read_bytes()).decode()
    path = kubeconfig(tmp_path / "config", server.url, {}, **{"certificate-authority-data": ca})
    with pytest.raises(ServerUnreachable, match="cannot trust the API server .*certificate"):
        Client.from_kubeconfig(path).version()


def test_keep_alive_connections_are_reused_per_thread(server):
    transport = HTTPSTransport.from_kubeconfig(server.kubeconfigs["kit-admin"])
    transport.request("GET", "/version")
    first = transport._local.conn
    transport.request("GET", "/healthz", accept="text/plain")
    assert transport._local.conn is first
    other = []

    def another_thread():
        transport.request("GET", "/version")
        other.append(transport._local.conn)

    thread = threading.Thread(target=another_thread)
    thread.start()
    thread.join()
    assert other[0] is not first and len(transport._connections) == 2
    socket.socket.shutdown(first.sock, socket.SHUT_RDWR)  # as if the server had dropped it: retried once
    assert transport.request("GET", "/version").json()["major"] == "1"
    transport.close()
    assert transport._connections == []


# -- both transports ------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_no_credentials_is_unauthorized(server, tmp_path, transport):
    if transport == "https":
        ca = base64.b64encode(server.pki.ca.cert.read_bytes()).decode()
        client = Client.from_kubeconfig(kubeconfig(tmp_path / "c", server.url, {}, **{"certificate-authority-data": ca}))
    else:
        client = Client(InProcessTransport(server.handler, ""))  # no user: no certificate subject
    with pytest.raises(Unauthorized, match="^Unauthorized$"):
        client.pods().list()


@pytest.mark.parametrize(
    "user, method, path, query, error, message",
    [
        (ADMIN, "GET", "/api/v1/namespaces/default/configmaps/nope", None, NotFound, 'configmaps "nope" not found'),
        (ADMIN, "GET", "/apis/apps/v1/namespaces/default/widgets", None, NotFound,
         "the server could not find the requested resource"),
        (ADMIN, "GET", "/api/v1/namespaces/default/pods", {"labelSelector": "a===b"}, BadRequest, "unable to parse"),
        (("nobody", ()), "POST", "/api/v1/namespaces", None, Forbidden,
         'namespaces is forbidden: User "nobody" cannot create resource "namespaces"'),
    ],
    ids=["not-found", "no-such-resource", "bad-selector", "forbidden"],
)
def test_both_transports_raise_the_same_exceptions(server, user, method, path, query, error, message):
    seen = []
    for transport in TRANSPORTS:
        with pytest.raises(error) as caught:
            make_client(server, transport, *user).transport.request(
                method, path, query=query, body=b"{}" if method == "POST" else None)
        assert message in caught.value.message
        seen.append(caught.value.status())
    assert seen[0] == seen[1]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_close_from_another_thread_ends_a_blocked_watch(server, transport):
    stream = make_client(server, transport).transport.stream("/api/v1/namespaces/kube-public/configmaps",
                                                             {"watch": "true", "resourceVersion": "1",
                                                              "timeoutSeconds": str(WATCH_TIMEOUT)})
    events, done = [], threading.Event()

    def read():
        events.extend(stream)
        done.set()

    threading.Thread(target=read, daemon=True).start()
    time.sleep(0.1)  # the reader is now blocked: nothing happens in kube-public
    started = time.monotonic()
    stream.close()
    assert done.wait(1.0), "close() did not end the blocked read"
    assert time.monotonic() - started < 0.5 and events == []


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_an_old_version_streams_a_410_error_event(server, transport):
    client = make_client(server, transport)
    cms = client.resource("configmaps", namespace="kube-public")
    old = cms.create(configmap(f"compacted-{transport}"))["metadata"]["resourceVersion"]
    for value in ("1", "2"):
        latest = cms.patch(f"compacted-{transport}", {"data": {"k": value}}, "merge")
    server.store.compact(int(latest["metadata"]["resourceVersion"]))
    with cms.watch(resource_version=old, timeout_seconds=WATCH_TIMEOUT) as watch:
        event_type, status = next(iter(watch))
    assert event_type == "ERROR" and status["code"] == 410 and status["reason"] == "Expired"
    cms.delete(f"compacted-{transport}")


# -- the pieces ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, body, error, message",
    [
        (200, b"{}", None, ""),
        (201, b"", None, ""),
        (409, json.dumps(Conflict("pods", "p").status()).encode(), Conflict, 'Operation cannot be fulfilled on pods "p"'),
        (410, json.dumps(Gone("too old resource version: 1 (5)").status()).encode(), Gone, "too old resource version"),
        (502, b"<html>Bad Gateway</html>", APIError, "the server answered 502 to GET /x with no Status: <html>Bad Gateway"),
        (404, b"404 page not found", NotFound, "the server answered 404 to GET /x with no Status: 404 page not found"),
        (403, b"", Forbidden, "the server answered 403 to GET /x with no Status"),
    ],
    ids=["ok", "created-empty", "conflict", "gone", "html", "text-404", "empty-403"],
)
def test_raise_for_status(code, body, error, message):
    if error is None:
        raise_for_status(code, body, "GET /x")
        return
    with pytest.raises(error) as caught:
        raise_for_status(code, body, "GET /x")
    assert caught.value.code == code and caught.value.message.startswith(message)


@pytest.mark.parametrize(
    "line, event_type, check",
    [
        (b'{"type":"ADDED","object":{"kind":"Pod"}}\n', "ADDED", lambda o: o == {"kind": "Pod"}),
        (b"{not json\n", "ERROR", lambda o: o["code"] == 500 and "unable to decode an event" in o["message"]),
        (b'{"type":"ADDED"}\n', "ERROR", lambda o: "not a watch event" in o["message"]),
    ],
    ids=["event", "garbage", "no-object"],
)
def test_decode_event(line, event_type, check):
    event = decode_event(line)
    assert event["type"] == event_type and check(event["object"])


@pytest.mark.parametrize(
    "user, groups, subject",
    [
        ("alice", (), ((("commonName", "alice"),),)),
        ("system:node:n1", ("system:nodes",),
         ((("organizationName", "system:nodes"),), (("commonName", "system:node:n1"),))),
        ("", (), ()),
    ],
    ids=["user", "user-and-group", "nobody"],
)
def test_certificate_subject(user, groups, subject):
    assert certificate_subject(user, groups) == {"subject": subject}


def test_ssl_context_refuses_an_unverified_server(server):
    context = ssl_context(load_kubeconfig(server.kubeconfigs["kit-admin"]))
    assert context.verify_mode.name == "CERT_REQUIRED" and context.check_hostname
