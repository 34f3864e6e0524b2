"""Requests become users as kube-apiserver makes them: client certificates, then bearer tokens, no anonymous."""

from __future__ import annotations

import doctest
import email.parser
import logging
import shutil
import socket
import ssl
import subprocess
import threading

import pytest

from kitlib.api.errors import Unauthorized
from kitlib.apiserver import authn
from kitlib.apiserver.authn import (
    EXTRA_SPACE_WARNING,
    Authentication,
    Authenticator,
    TokenFileError,
    UserInfo,
    bearer_token,
    is_service_account,
    node_user,
    parse_token_file,
    service_account_user,
    user_from_certificate,
    with_authenticated_group,
)

AUTH = "system:authenticated"


@pytest.mark.parametrize("header, token, warning", [
    (None, "", ""),
    ("", "", ""),
    ("   ", "", ""),
    ("Bearer abc", "abc", ""),
    ("bearer abc", "abc", ""),  # the scheme in any case
    ("BEARER abc", "abc", ""),
    ("  Bearer abc  ", "abc", ""),  # the header is trimmed first
    ("Bearer abc def", "abc", ""),  # whatever follows another space is ignored
    ("Bearer a.b-c_d=", "a.b-c_d=", ""),
    ("Bearer", "", ""),
    ("Bearer ", "", ""),  # trimmed to "Bearer"
    ("Bearer  abc", "", EXTRA_SPACE_WARNING),  # two spaces: an empty token, and a warning
    ("Bearer\tabc", "", ""),  # only spaces separate
    ("Basic YWxpY2U6cHc=", "", ""),  # not ours
    ("Bearerabc", "", ""),
])
def test_bearer_token(header, token, warning):
    assert bearer_token(header) == (token, warning)


def cert(*rdns, **extra):
    # The shape ssl.SSLSocket.getpeercert() returns: RDNs, each a tuple of (attribute, value) pairs.
    return {"subject": tuple(tuple(rdn) for rdn in rdns), "issuer": ((("commonName", "kubernetes"),),),
            "version": 3, **extra}


CN = lambda v: [("commonName", v)]  # noqa: E731 (a table helper)
O = lambda v: [("organizationName", v)]  # noqa: E731,E741


@pytest.mark.parametrize("peer_cert, user", [
    (None, None),
    ({}, None),  # what getpeercert() gives for a certificate it did not verify
    (cert(O("system:masters"), CN("kubernetes-admin")), UserInfo("kubernetes-admin", "", ("system:masters",))),
    (cert(O("system:nodes"), CN("system:node:node-1")), UserInfo("system:node:node-1", "", ("system:nodes",))),
    (cert(CN("alice")), UserInfo("alice")),
    (cert(O("b"), CN("alice"), O("a")), UserInfo("alice", "", ("b", "a"))),  # groups in certificate order
    (cert([("countryName", "FR")], O("dev"), [("organizationalUnitName", "ops")], CN("alice")),
     UserInfo("alice", "", ("dev",))),  # only O counts as a group
    (cert([("organizationName", "dev"), ("commonName", "alice")]), UserInfo("alice", "", ("dev",))),  # multi-valued
    (cert(CN("first"), CN("last")), UserInfo("last")),  # Go keeps the last Common Name
    (cert(O("system:masters")), None),  # no Common Name: no user from this certificate
    (cert(CN("")), None),
])
def test_user_from_certificate(peer_cert, user):
    assert user_from_certificate(peer_cert) == user


TOKENS = {
    "admin-token": UserInfo("admin", "1", ("system:masters",)),
    "alice-token": UserInfo("alice", "2", ("dev", "ops")),
    "already": UserInfo("bob", "3", (AUTH, "dev")),
    "sa-token": service_account_user("team-a", "builder", "4"),
}
ADMIN_CERT = cert(O("system:masters"), CN("kubernetes-admin"))

# (headers, peer certificate, user, method, warnings, error)
AUTHENTICATIONS = [
    ({}, None, None, "", (), ""),  # no credentials: 401, never anonymous
    (None, None, None, "", (), ""),
    ({"Authorization": "Bearer alice-token"}, None, UserInfo("alice", "2", ("dev", "ops", AUTH)), "token", (), ""),
    ({"authorization": "Bearer alice-token"}, None, UserInfo("alice", "2", ("dev", "ops", AUTH)), "token", (), ""),
    ({"Authorization": "Bearer already"}, None, UserInfo("bob", "3", (AUTH, "dev")), "token", (), ""),
    ({"Authorization": "Bearer sa-token"}, None,
     UserInfo("system:serviceaccount:team-a:builder", "4",
              ("system:serviceaccounts", "system:serviceaccounts:team-a", AUTH)), "token", (), ""),
    ({"Authorization": "Bearer wrong"}, None, None, "", (), "invalid bearer token"),
    ({"Authorization": "Bearer  alice-token"}, None, None, "", (EXTRA_SPACE_WARNING,), ""),
    ({"Authorization": "Basic YWxpY2U6cHc="}, None, None, "", (), ""),
    # The certificate is tried first and wins; a bad token beside it is never looked at.
    ({}, ADMIN_CERT, UserInfo("kubernetes-admin", "", ("system:masters", AUTH)), "x509", (), ""),
    ({"Authorization": "Bearer alice-token"}, ADMIN_CERT,
     UserInfo("kubernetes-admin", "", ("system:masters", AUTH)), "x509", (), ""),
    ({"Authorization": "Bearer wrong"}, ADMIN_CERT,
     UserInfo("kubernetes-admin", "", ("system:masters", AUTH)), "x509", (), ""),
    # A certificate without a Common Name names nobody: the token gets its turn.
    ({"Authorization": "Bearer alice-token"}, cert(O("x")),
     UserInfo("alice", "2", ("dev", "ops", AUTH)), "token", (), ""),
    ({}, cert(O("x")), None, "", (), ""),
]


@pytest.mark.parametrize("headers, peer_cert, user, method, warnings, error", AUTHENTICATIONS)
def test_authenticate(headers, peer_cert, user, method, warnings, error):
    assert Authenticator(TOKENS).authenticate(headers, peer_cert) == Authentication(user, method, warnings, error)


def test_certificates_can_be_turned_off():
    auth = Authenticator(TOKENS, client_certificates=False)
    assert auth.authenticate({}, ADMIN_CERT).user is None
    assert auth.authenticate({"Authorization": "Bearer alice-token"}, ADMIN_CERT).user.name == "alice"


def test_headers_from_http_server():
    # http.server hands handlers an email.message.Message: case-insensitive, first value wins.
    headers = email.parser.Parser().parsestr("AUTHORIZATION: Bearer alice-token\r\nAuthorization: Bearer x\r\n\r\n")
    assert Authenticator(TOKENS).authenticate(headers).method == "token"


def test_require_raises_unauthorized_with_kubes_status():
    with pytest.raises(Unauthorized) as caught:
        Authenticator(TOKENS).authenticate({"Authorization": "Bearer wrong"}).require()
    assert caught.value.status() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                     "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
    assert Authenticator(TOKENS).authenticate({"Authorization": "Bearer admin-token"}).require().name == "admin"


@pytest.mark.parametrize("user, groups", [
    (UserInfo("alice"), ("system:authenticated",)),
    (UserInfo("alice", groups=("dev",)), ("dev", "system:authenticated")),
    (UserInfo("alice", groups=("system:authenticated", "dev")), ("system:authenticated", "dev")),
    (UserInfo("alice", groups=("system:unauthenticated",)), ("system:unauthenticated",)),
    (UserInfo("system:anonymous"), ()),
])
def test_with_authenticated_group(user, groups):
    assert with_authenticated_group(user).groups == groups


def test_user_info_is_frozen_and_keeps_groups_as_a_tuple():
    user = UserInfo("alice", groups=["a", "b"])
    assert user.groups == ("a", "b") and hash(user) == hash(UserInfo("alice", groups=("a", "b")))
    with pytest.raises(AttributeError):
        user.name = "mallory"


@pytest.mark.parametrize("username, namespace, name, expected", [
    ("system:serviceaccount:team-a:builder", "team-a", "builder", True),
    ("system:serviceaccount:team-a:builder", "team-b", "builder", False),
    ("system:serviceaccount:team-a:builder", "team-a", "other", False),
    ("system:serviceaccount:team-a:builder:x", "team-a", "builder", False),
    ("system:serviceaccounts:team-a:builder", "team-a", "builder", False),
    ("builder", "team-a", "builder", False),
])
def test_is_service_account(username, namespace, name, expected):
    assert is_service_account(username, namespace, name) is expected


def test_well_known_identities():
    assert node_user("node-1") == UserInfo("system:node:node-1", "", ("system:nodes",))
    assert service_account_user("kube-system", "default") == UserInfo(
        "system:serviceaccount:kube-system:default", "",
        ("system:serviceaccounts", "system:serviceaccounts:kube-system"))


@pytest.mark.parametrize("text, tokens", [
    ("", {}),
    ("t1,alice,1\n", {"t1": UserInfo("alice", "1")}),
    ('t1,alice,1,"dev,ops"\nt2,bob,2,dev\n',
     {"t1": UserInfo("alice", "1", ("dev", "ops")), "t2": UserInfo("bob", "2", ("dev",))}),
    ("t1,alice,1,dev,ignored\n", {"t1": UserInfo("alice", "1", ("dev",))}),
    ('t1,alice,1,""\n', {"t1": UserInfo("alice", "1", ("",))}),  # Go's strings.Split("", ",") is [""]
    ("\nt1,alice,1\n\n", {"t1": UserInfo("alice", "1")}),  # empty lines are skipped
    (",alice,1\nt2,bob,2\n", {"t2": UserInfo("bob", "2")}),  # an empty token is skipped
    ("t1,alice,1\nt1,bob,2\n", {"t1": UserInfo("bob", "2")}),  # a repeated token: the last wins
])
def test_parse_token_file(text, tokens):
    assert parse_token_file(text) == tokens


def test_token_file_warnings(caplog):
    with caplog.at_level(logging.WARNING, logger="kitlib.apiserver.authn"):
        parse_token_file(",a,1\nt,b,2\nt,c,3\n", "tokens.csv")
    assert [r.getMessage() for r in caplog.records] == [
        "empty token has been found in token file 'tokens.csv', record number '1'",
        "duplicate token has been found in token file 'tokens.csv', record number '3'",
    ]


def test_token_file_with_too_few_columns():
    with pytest.raises(TokenFileError) as caught:
        parse_token_file("t1,alice\n", "/etc/kit/tokens.csv")
    assert str(caught.value) == ("token file '/etc/kit/tokens.csv' must have at least 3 columns "
                                 "(token, user name, user uid), found 2")


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make certificates")
def test_a_real_client_certificate(tmp_path):
    # The subject shape comes from a real handshake, not from our own idea of it.
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=kit-ca", "-days", "1",
             cwd=tmp_path)
    for name, subj in (("client", "/O=system:masters/O=dev/CN=alice"), ("server", "/CN=localhost")):
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subj, cwd=tmp_path)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.crt", "-days", "1", cwd=tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "server.crt", tmp_path / "server.key")
    server_ctx.load_verify_locations(tmp_path / "ca.crt")
    server_ctx.verify_mode = ssl.CERT_OPTIONAL
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname, client_ctx.verify_mode = False, ssl.CERT_NONE
    client_ctx.load_cert_chain(tmp_path / "client.crt", tmp_path / "client.key")

    server_sock, client_sock = socket.socketpair()
    seen = {}

    def serve():
        with server_ctx.wrap_socket(server_sock, server_side=True) as tls:
            seen["cert"] = tls.getpeercert()
            tls.recv(1)

    thread = threading.Thread(target=serve)
    thread.start()
    with client_ctx.wrap_socket(client_sock) as tls:
        tls.sendall(b"x")
        thread.join(timeout=10)
    auth = Authenticator().authenticate({}, seen["cert"])
    assert auth.user == UserInfo("alice", "", ("system:masters", "dev", AUTH)) and auth.method == "x509"


def test_module_docstring_and_examples():
    assert "Simplifications:" in authn.__doc__
    assert doctest.testmod(authn).failed == 0
