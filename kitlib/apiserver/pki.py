"""The cluster's certificates, made the way ``kubeadm init`` makes them.

A cluster has its own certificate authority. The API server serves HTTPS
with a certificate that authority signed for every name clients use to
reach it (``127.0.0.1``, ``localhost``, ``kubernetes.default.svc``...), and
clients prove who they are with certificates it signed too: the subject's
common name (CN) is the user, its organisations (O) are the groups. The
administrator's certificate carries ``O=system:masters``, the group that
RBAC lets do anything. ``kubectl`` insists on HTTPS before it sends any
credential, which is why even a teaching cluster needs all this.

Everything is written to one directory (kubeadm uses
``/etc/kubernetes/pki``), private keys readable by their owner only, and
reused on the next start while still valid.

Simplifications:
- One CA for everything; kubeadm keeps separate ones for etcd and the
  front proxy, and signs service-account tokens with yet another key.
- ECDSA P-256 keys (fast to make; kubeadm defaults to RSA 2048).
- No rotation: certificates last a year (kubeadm's default too), and
  ``kit`` makes new ones when they are close to expiring.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The names a client may use for the API server (kubeadm adds the same, plus
# the node's own name and the first address of the Service range).
SERVER_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local")
SERVER_ADDRESSES = ("127.0.0.1",)
VALID_FOR = _dt.timedelta(days=365)
RENEW_BEFORE = _dt.timedelta(days=30)


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key, as files."""

    cert: Path
    key: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write(path: Path, data: bytes, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _save(pair: KeyPair, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    _write(pair.key, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()), private=True)
    _write(pair.cert, cert.public_bytes(serialization.Encoding.PEM))


def _name(common_name: str, organisations: tuple[str, ...] = ()) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organisations]
    return x509.Name(parts + [x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _still_valid(pair: KeyPair, now: _dt.datetime) -> bool:
    if not (pair.cert.exists() and pair.key.exists()):
        return False
    cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
    return cert.not_valid_after_utc - now > RENEW_BEFORE


class PKI:
    """The certificates of one cluster, in ``directory``."""

    def __init__(self, directory: Path | str) -> None:
        self.dir = Path(directory)
        self.ca = KeyPair(self.dir / "ca.crt", self.dir / "ca.key")
        self.server = KeyPair(self.dir / "apiserver.crt", self.dir / "apiserver.key")

    def client(self, name: str) -> KeyPair:
        """Where the client certificate for ``name`` (``admin``, ``kube-scheduler``...) lives."""
        return KeyPair(self.dir / f"{name}.crt", self.dir / f"{name}.key")

    def ensure(self, now: _dt.datetime | None = None) -> "PKI":
        """Create the CA and the server certificate unless valid ones exist."""
        now = now or _dt.datetime.now(_dt.timezone.utc)
        if not _still_valid(self.ca, now):
            key = _key()
            subject = _name("kubernetes")
            cert = (
                x509.CertificateBuilder()
                .subject_name(subject)
                .issuer_name(subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - _dt.timedelta(minutes=5))
                .not_valid_after(now + 10 * VALID_FOR)  # kubeadm's CA lasts ten years
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, key_cert_sign=True,
                                             crl_sign=True, content_commitment=False, data_encipherment=False,
                                             key_agreement=False, encipher_only=False, decipher_only=False),
                               critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256())
            )
            _save(self.ca, cert, key)
            for stale in (self.server,):  # signed by a CA that is gone
                stale.cert.unlink(missing_ok=True)
        if not _still_valid(self.server, now):
            sans = [x509.DNSName(n) for n in SERVER_NAMES] + [x509.IPAddress(ipaddress.ip_address(a)) for a in SERVER_ADDRESSES]
            self._issue(self.server, "kube-apiserver", (), now, ExtendedKeyUsageOID.SERVER_AUTH, sans)
        return self

    def issue_client(self, name: str, user: str, groups: tuple[str, ...] = (), now: _dt.datetime | None = None) -> KeyPair:
        """A client certificate for ``user`` in ``groups`` (kept as ``<name>.crt``/``<name>.key``)."""
        pair = self.client(name)
        now = now or _dt.datetime.now(_dt.timezone.utc)
        if _still_valid(pair, now) and self._subject_of(pair) == _name(user, tuple(groups)):
            return pair
        self._issue(pair, user, tuple(groups), now, ExtendedKeyUsageOID.CLIENT_AUTH, [])
        return pair

    @staticmethod
    def _subject_of(pair: KeyPair) -> x509.Name:
        return x509.load_pem_x509_certificate(pair.cert.read_bytes()).subject

    def _issue(self, pair: KeyPair, cn: str, groups: tuple[str, ...], now: _dt.datetime, usage, sans: list) -> None:
        ca_cert = x509.load_pem_x509_certificate(self.ca.cert.read_bytes())
        ca_key = serialization.load_pem_private_key(self.ca.key.read_bytes(), password=None)
        key = _key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn, groups))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(minutes=5))
            .not_valid_after(now + VALID_FOR)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, key_cert_sign=False,
                                         crl_sign=False, content_commitment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        _save(pair, builder.sign(ca_key, hashes.SHA256()), key)
