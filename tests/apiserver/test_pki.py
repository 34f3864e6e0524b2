"""The cluster's certificates: a real TLS handshake with client certificates, and openssl's verdict."""

from __future__ import annotations

import shutil
import socket
import ssl
import stat
import subprocess
import threading

import pytest

from kitlib.apiserver.authn import user_from_certificate
from kitlib.apiserver.pki import PKI


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    pki = PKI(tmp_path_factory.mktemp("pki")).ensure()
    pki.issue_client("admin", "kit-admin", ("system:masters",))
    pki.issue_client("scheduler", "system:kube-scheduler")
    return pki


def _handshake(pki, client_name, server_name="localhost"):
    """Serve TLS on 127.0.0.1 with the server certificate; connect as ``client_name``; return what the server saw."""
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca.cert))
    server_ctx.load_cert_chain(pki.server.cert, pki.server.key)
    server_ctx.verify_mode = ssl.CERT_OPTIONAL
    seen = {}
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve():
            conn, _ = listener.accept()
            try:
                with server_ctx.wrap_socket(conn, server_side=True) as tls:
                    seen["peer"] = tls.getpeercert()
                    tls.sendall(b"ok")
            except ssl.SSLError:
                conn.close()  # the client refused us: what the refusal test expects

        thread = threading.Thread(target=serve)
        thread.start()
        client_ctx = ssl.create_default_context(cafile=str(pki.ca.cert))
        if client_name:
            pair = pki.client(client_name)
            client_ctx.load_cert_chain(pair.cert, pair.key)
        with socket.create_connection(("127.0.0.1", port)) as raw, client_ctx.wrap_socket(raw, server_hostname=server_name) as tls:
            assert tls.recv(2) == b"ok"
        thread.join(5)
    return seen["peer"]


@pytest.mark.parametrize(
    "client, server_name, user, groups",
    [
        ("admin", "localhost", "kit-admin", {"system:masters"}),
        ("scheduler", "kubernetes.default.svc", "system:kube-scheduler", set()),
        ("admin", "127.0.0.1", "kit-admin", {"system:masters"}),
    ],
)
def test_clients_are_known_by_their_certificates(pki, client, server_name, user, groups):
    peer = _handshake(pki, client, server_name)
    who = user_from_certificate(peer)
    assert who.name == user and set(who.groups) == groups


def test_a_name_the_certificate_does_not_carry_is_refused(pki):
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(pki, "admin", server_name="example.com")


def test_keys_are_private_and_certificates_are_reused(pki):
    assert stat.S_IMODE(pki.ca.key.stat().st_mode) == 0o600
    before = pki.server.cert.read_bytes()
    pki.ensure()
    assert pki.server.cert.read_bytes() == before


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_verifies_the_chain(pki):
    for pair in (pki.server, pki.client("admin")):
        result = subprocess.run(["openssl", "verify", "-CAfile", str(pki.ca.cert), str(pair.cert)],
                                capture_output=True, text=True)
        assert result.returncode == 0 and result.stdout.strip().endswith(": OK"), result.stdout + result.stderr
