"""The store: the cluster's memory, with etcd's v3 semantics.

Everything Kubernetes knows lives in one revisioned key-value store, and only
the API server talks to it. Two backends keep one contract
(:class:`~kitlib.store.types.Store`): the embedded store (in memory, made
durable by a write-ahead log and snapshots) and a real etcd server.

    >>> from kitlib.store import open_store
    >>> store = open_store("memory://")
    >>> store.put("/registry/namespaces/default", b"{}").revision
    2
"""

from __future__ import annotations

from pathlib import Path

from kitlib.store.errors import (
    Compacted,
    DuplicateKey,
    FutureRevision,
    LeaseNotFound,
    StoreClosed,
    StoreCorrupted,
    StoreError,
    StoreUnavailable,
)
from kitlib.store.types import (
    Compare,
    DeleteResult,
    Event,
    EventType,
    KeyValue,
    Lease,
    LeaseInfo,
    Op,
    PutResult,
    RangeResult,
    Store,
    TxnResult,
    Watch,
    prefix_end,
)

__all__ = [
    "Compacted", "Compare", "DeleteResult", "DuplicateKey", "Event", "EventType", "FutureRevision",
    "KeyValue", "Lease", "LeaseInfo", "LeaseNotFound", "Op", "PutResult", "RangeResult", "Store",
    "StoreClosed", "StoreCorrupted", "StoreError", "StoreUnavailable", "TxnResult", "Watch",
    "open_store", "prefix_end",
]


def open_store(url: str | Path = "memory://", **options: object) -> Store:
    """Open a store by URL.

    - ``memory://``: embedded, in memory only (lost when the process ends);
    - a directory path or ``file:///path``: embedded and durable in that directory;
    - ``etcd://127.0.0.1:2379`` (or ``http://...``): a running etcd server.
    """
    text = str(url)
    if text == "memory://":
        from kitlib.store.embedded import EmbeddedStore

        return EmbeddedStore(None, **options)  # type: ignore[arg-type]
    if text.startswith(("etcd://", "http://")):
        from kitlib.store.etcd import EtcdStore

        return EtcdStore(text.replace("etcd://", "http://", 1), **options)  # type: ignore[arg-type]
    if text.startswith("file://"):
        text = text[len("file://"):]
    if "://" in text:
        raise ValueError(f"unknown store URL {text!r}: use memory://, a directory, or etcd://host:port")
    from kitlib.store.embedded import EmbeddedStore

    return EmbeddedStore(Path(text), **options)  # type: ignore[arg-type]
