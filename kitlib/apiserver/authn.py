"""Authentication: who sent this request, as kube-apiserver decides it.

Every request to the API server is first turned into a user: a name, a uid
and groups (:class:`UserInfo`). Authorisation (:mod:`kitlib.apiserver.rbac`)
then decides what that user may do; authentication never decides that.
The kit uses the two methods a kubeadm cluster uses most:

- **X.509 client certificates**, checked by the TLS layer against the
  cluster CA: the certificate's Common Name is the user name and each
  Organization is a group (``CN=admin, O=system:masters`` is how kubeadm's
  ``admin.conf`` becomes all-powerful; ``CN=system:node:n1,
  O=system:nodes`` is a kubelet);
- **static bearer tokens**: ``Authorization: Bearer <token>`` looked up in a
  table, as ``--token-auth-file`` does (:func:`parse_token_file` reads that
  file's CSV format).

As in kube-apiserver the certificate is tried first, then the token; the
first that names a user wins, and that user also gets the group
``system:authenticated``.

    >>> auth = Authenticator({"s3cr3t": UserInfo("alice", "1", ("dev",))})
    >>> auth.authenticate({"Authorization": "Bearer s3cr3t"}).user
    UserInfo(name='alice', uid='1', groups=('dev', 'system:authenticated'))

Simplifications:
- Anonymous requests are DISABLED (kube-apiserver's
  ``--anonymous-auth=false``): a request with no credentials, or with
  credentials nobody accepts, gets ``401 Unauthorized``
  (:meth:`Authentication.require` raises :class:`kitlib.api.errors.Unauthorized`);
  it never becomes ``system:anonymous``.
- Service account tokens (signed JWTs, the TokenRequest API, bound
  tokens) are out of scope for now; :func:`service_account_user` gives the
  identity they would carry, to put in the static token table.
- No bootstrap tokens, OIDC, webhook, front-proxy headers or
  impersonation; no ``extra`` map on users; no token cache.
- Certificates are not verified here: the caller passes the peer
  certificate only if its TLS socket verified it against the cluster CA
  (``ssl.CERT_OPTIONAL`` with the CA loaded; OpenSSL also checks the client
  purpose, as Go checks ``ExtKeyUsageClientAuth``). A certificate that fails
  there ends the handshake, where kube-apiserver would log the error and
  still try the bearer token. Revocation is not checked, in Kubernetes either.
- The ``Authorization`` header is not removed after use (kube-apiserver
  deletes it so no handler is tempted to forward it); handlers here simply
  never read it.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

from kitlib.api.errors import Unauthorized
from kitlib.errors import KitError

log = logging.getLogger(__name__)

# The well-known names of k8s.io/apiserver/pkg/authentication/user.
AUTHENTICATED_GROUP = "system:authenticated"
UNAUTHENTICATED_GROUP = "system:unauthenticated"
ANONYMOUS_USER = "system:anonymous"
MASTERS_GROUP = "system:masters"  # kube-apiserver lets this group do anything, whatever RBAC says
NODES_GROUP = "system:nodes"
NODE_USER_PREFIX = "system:node:"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"
KUBE_SCHEDULER_USER = "system:kube-scheduler"
KUBE_CONTROLLER_MANAGER_USER = "system:kube-controller-manager"
KUBE_PROXY_USER = "system:kube-proxy"

# The warning kube-apiserver sends for "Bearer  <token>" (two spaces).
EXTRA_SPACE_WARNING = "the provided Authorization header contains extra space before the bearer token, and is ignored"
INVALID_BEARER_TOKEN = "invalid bearer token"


@dataclass(frozen=True)
class UserInfo:
    """A user as authentication found it (``user.DefaultInfo``): a name, a uid, and groups in order."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Accept any iterable (a list read from YAML) but keep the value immutable.
        object.__setattr__(self, "groups", tuple(self.groups))


def with_authenticated_group(user: UserInfo) -> UserInfo:
    """The user with ``system:authenticated`` appended (``AuthenticatedGroupAdder``).

    Not added twice, not to a user already in ``system:unauthenticated``,
    and never to ``system:anonymous``: the same exceptions Kubernetes makes.
    """
    if user.name == ANONYMOUS_USER or AUTHENTICATED_GROUP in user.groups or UNAUTHENTICATED_GROUP in user.groups:
        return user
    return UserInfo(user.name, user.uid, user.groups + (AUTHENTICATED_GROUP,))


def service_account_user(namespace: str, name: str, uid: str = "") -> UserInfo:
    """The identity a ServiceAccount's token carries: ``system:serviceaccount:<ns>:<name>`` in its two groups."""
    return UserInfo(f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}", uid,
                    (SERVICE_ACCOUNTS_GROUP, f"{SERVICE_ACCOUNTS_GROUP}:{namespace}"))


def node_user(node_name: str) -> UserInfo:
    """The identity of a kubelet: ``system:node:<node>`` in ``system:nodes`` (what its certificate says)."""
    return UserInfo(f"{NODE_USER_PREFIX}{node_name}", "", (NODES_GROUP,))


def is_service_account(username: str, namespace: str, name: str) -> bool:
    """Whether ``username`` is that ServiceAccount's (``serviceaccount.MatchesUsername``)."""
    return username == f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"


def bearer_token(authorization: str | None) -> tuple[str, str]:
    """``(token, warning)`` from an ``Authorization`` header, by kube's rules; ``""`` when none.

    The header is trimmed, then split on single spaces into at most three
    parts: the scheme (``bearer`` in any case) and the token; anything after
    a further space is ignored. ``Bearer  x`` (two spaces) is an empty token,
    so no token at all, plus a warning; ``Basic ...`` is not ours.
    """
    auth = (authorization or "").strip()
    if not auth:
        return "", ""
    parts = auth.split(" ", 2)
    if len(parts) < 2 or parts[0].lower() != "bearer":
        return "", ""
    if not parts[1]:
        return "", EXTRA_SPACE_WARNING if len(parts) == 3 else ""
    return parts[1], ""


def user_from_certificate(peer_cert: Mapping[str, Any] | None) -> UserInfo | None:
    """The user a verified client certificate names (``CommonNameUserConversion``), or None.

    ``peer_cert`` is what ``ssl.SSLSocket.getpeercert()`` returns: the
    subject is a tuple of relative distinguished names, each a tuple of
    ``(attribute, value)`` pairs. The Common Name is the user (the last one,
    if several, as Go's ``pkix.Name`` keeps the last); every Organization is
    a group, in order. No Common Name: no user (other methods get a try).
    """
    if not peer_cert:
        return None
    common_name, organizations = "", []
    for rdn in peer_cert.get("subject") or ():
        for attribute, value in rdn:
            if attribute == "commonName":
                common_name = value
            elif attribute == "organizationName":
                organizations.append(value)
    if not common_name:
        return None
    return UserInfo(common_name, "", tuple(organizations))


class TokenFileError(KitError):
    """A static token file that kube-apiserver would refuse to start with."""


def parse_token_file(text: str, path: str = "<tokens>") -> dict[str, UserInfo]:
    """Read a ``--token-auth-file``: CSV lines ``token,user,uid,"group1,group2"``.

    As kube's ``tokenfile.NewCSV``: at least three columns (or
    :class:`TokenFileError` with its message), an empty token is skipped, a
    repeated token replaces the earlier one (both with a warning in the
    log), and the optional fourth column is split on commas.
    """
    tokens: dict[str, UserInfo] = {}
    number = 0
    for record in csv.reader(io.StringIO(text)):
        if not record:  # Go's csv reader skips empty lines
            continue
        if len(record) < 3:
            raise TokenFileError(f"token file '{path}' must have at least 3 columns (token, user name, user uid), "
                                 f"found {len(record)}")
        number += 1
        if not record[0]:
            log.warning("empty token has been found in token file '%s', record number '%d'", path, number)
            continue
        if record[0] in tokens:
            log.warning("duplicate token has been found in token file '%s', record number '%d'", path, number)
        groups = tuple(record[3].split(",")) if len(record) >= 4 else ()
        tokens[record[0]] = UserInfo(record[1], record[2], groups)
    return tokens


def _header(headers: Any, name: str) -> str | None:
    # Header names are case-insensitive; the first value counts (Go's Header.Get).
    # http.server's message objects already look up that way.
    if headers is None:
        return None
    if not isinstance(headers, Mapping):
        return headers.get(name)
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


@dataclass(frozen=True)
class Authentication:
    """The outcome for one request: the user, or None (then answer 401).

    ``method`` says which authenticator accepted (``x509`` or ``token``);
    ``warnings`` go back to the client in ``Warning`` headers, even on a 401;
    ``error`` says why credentials were refused, for the server's log only
    (the client is told just ``Unauthorized``).
    """

    user: UserInfo | None
    method: str = ""
    warnings: tuple[str, ...] = field(default=())
    error: str = ""

    def require(self) -> UserInfo:
        """The user, or :class:`~kitlib.api.errors.Unauthorized` (anonymous access is disabled)."""
        if self.user is None:
            raise Unauthorized()
        return self.user


class Authenticator:
    """Client certificates, then static bearer tokens: kube-apiserver's union of authenticators, for the kit's two.

    ``tokens`` maps a token to its user (without ``system:authenticated``,
    which is added here); ``client_certificates=False`` ignores certificates.
    """

    def __init__(self, tokens: Mapping[str, UserInfo] | None = None, *, client_certificates: bool = True) -> None:
        self.tokens = dict(tokens or {})
        self.client_certificates = client_certificates

    def authenticate(self, headers: Any = None, peer_cert: Mapping[str, Any] | None = None) -> Authentication:
        """Who sent a request with these headers over a connection with this verified peer certificate.

        ``headers`` is a mapping or an ``http.server`` message; ``peer_cert``
        is ``getpeercert()``'s dict, or None when there is none (plain HTTP,
        or no certificate offered).
        """
        if self.client_certificates:
            user = user_from_certificate(peer_cert)
            if user is not None:
                return Authentication(with_authenticated_group(user), "x509")
        token, warning = bearer_token(_header(headers, "Authorization"))
        warnings = (warning,) if warning else ()
        if not token:
            return Authentication(None, warnings=warnings)
        user = self.tokens.get(token)
        if user is None:
            # The request did carry a token, and it is wrong: an error, not "no opinion".
            return Authentication(None, warnings=warnings, error=INVALID_BEARER_TOKEN)
        return Authentication(with_authenticated_group(user), "token", warnings)
