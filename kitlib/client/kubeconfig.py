"""Kubeconfig files: where the API server is, how to trust it, and who we are.

kubectl, client-go and the kit's client all start from a kubeconfig (what
``kubeadm`` writes as ``admin.conf`` and :meth:`APIServer.write_kubeconfig
<kitlib.apiserver.server.APIServer.write_kubeconfig>` writes): clusters
(a server URL and its CA), users (a client certificate and key, or a bearer
token) and contexts naming one of each plus a default namespace. This is
client-go's ``k8s.io/client-go/tools/clientcmd``, reduced to one file and
one context: :func:`load_kubeconfig` reads it, :func:`ssl_context` turns it
into a TLS context that always verifies the server.

Simplifications:
- Only the first file of ``$KUBECONFIG`` is read (kubectl merges them all).
- Credentials are client certificates and bearer tokens (inline, or in
  files relative to the kubeconfig); no exec plugins, auth providers,
  proxies, ``tls-server-name`` or impersonation.
- ``insecure-skip-tls-verify`` and ``http://`` servers are refused, not obeyed.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kitlib.errors import KitError


@dataclass(frozen=True)
class KubeConfig:
    """What one kubeconfig context says: where the server is, how to trust it, who we are."""

    server: str
    ca_pem: bytes | None = None  # None: the system's trust store
    client_cert_pem: bytes | None = None
    client_key_pem: bytes | None = None
    token: str = ""
    namespace: str = "default"
    context: str = ""


def default_kubeconfig_path() -> Path:
    """``$KUBECONFIG`` (its first file), else ``~/.kube/config``, as kubectl looks."""
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), "")
    return Path(first) if first else Path.home() / ".kube" / "config"


def _named(entries: Any, name: str, what: str, path: Path) -> dict:
    for entry in entries or ():
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry.get(what) or {}
    raise KitError(f"{path}: the kubeconfig names {what} {name!r} but does not define it")


def load_kubeconfig(path: Path | str | None = None, context: str | None = None) -> KubeConfig:
    """Read a kubeconfig (YAML or JSON) for ``context`` (default: its current-context).

    Certificates may be inline (``*-data``, base64) or files, which are
    relative to the kubeconfig's directory as kubectl reads them.
    """
    path = Path(path) if path else default_kubeconfig_path()
    try:
        config = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise KitError(f"no kubeconfig at {path}: start a cluster with `kit init`, or give the path of one") from None
    except (OSError, yaml.YAMLError) as err:
        raise KitError(f"cannot read the kubeconfig {path}: {err}") from None
    if not isinstance(config, dict):
        raise KitError(f"{path} is not a kubeconfig (expected a YAML mapping with clusters, users and contexts)")
    name = context or config.get("current-context") or ""
    contexts = {c.get("name"): c.get("context") or {} for c in config.get("contexts") or () if isinstance(c, dict)}
    if name not in contexts:
        known = ", ".join(sorted(map(str, contexts))) or "none"
        raise KitError(f"context {name!r} not found in {path} (it has: {known})" if name
                       else f"{path} has no current-context; choose one of: {known}")
    ctx = contexts[name]
    cluster = _named(config.get("clusters"), ctx.get("cluster", ""), "cluster", path)
    user = _named(config.get("users"), ctx.get("user", ""), "user", path) if ctx.get("user") else {}
    server = cluster.get("server") or ""
    if not server.startswith("https://"):
        raise KitError(f"{path}: cluster {ctx.get('cluster')!r} has server {server!r}; the kit speaks only https://")
    if cluster.get("insecure-skip-tls-verify"):
        raise KitError(f"{path}: cluster {ctx.get('cluster')!r} asks to skip TLS verification; the kit always "
                       "verifies the server against the cluster CA (set certificate-authority-data instead)")

    def pem(data_key: str, file_key: str, where: dict) -> bytes | None:
        if where.get(data_key):
            return base64.b64decode(where[data_key])
        if where.get(file_key):
            try:
                return (path.parent / where[file_key]).read_bytes()
            except OSError as err:
                raise KitError(f"{path}: cannot read {file_key} {where[file_key]}: {err.strerror}") from None
        return None

    token = user.get("token") or ""
    if not token and user.get("tokenFile"):
        token = (path.parent / user["tokenFile"]).read_text().strip()
    return KubeConfig(
        server=server.rstrip("/"),
        ca_pem=pem("certificate-authority-data", "certificate-authority", cluster),
        client_cert_pem=pem("client-certificate-data", "client-certificate", user),
        client_key_pem=pem("client-key-data", "client-key", user),
        token=token,
        namespace=ctx.get("namespace") or "default",
        context=name,
    )


def ssl_context(config: KubeConfig) -> ssl.SSLContext:
    """A TLS context that verifies the server against the cluster CA and shows our certificate, if any."""
    context = ssl.create_default_context(cadata=config.ca_pem.decode() if config.ca_pem else None)
    if config.client_cert_pem and config.client_key_pem:
        # The ssl module loads a key pair only from files: write them to a private directory, briefly.
        with tempfile.TemporaryDirectory(prefix="kit-tls-") as tmp:
            cert, key = Path(tmp) / "client.crt", Path(tmp) / "client.key"
            cert.write_bytes(config.client_cert_pem)
            key.touch(mode=0o600)
            key.write_bytes(config.client_key_pem)
            context.load_cert_chain(cert, key)
    return context
