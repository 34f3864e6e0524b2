"""The etcd backend: the same Store contract, kept by a real etcd server.

A real cluster keeps its state in etcd, and the API server is etcd's only
client. :class:`EtcdStore` speaks to an etcd 3.4 server through the JSON
gateway etcd serves beside its gRPC API (``POST /v3/kv/range`` and friends),
so it needs nothing but the standard library; the contract test suite runs on
it and on the embedded store alike, which is how we know the embedded store
behaves like etcd. (:class:`~kitlib.store.local_etcd.LocalEtcd` starts a
throw-away single-member etcd on 127.0.0.1 for tests, benchmarks and the book.)

The JSON the gateway speaks is encoded and decoded in
:mod:`kitlib.store.etcd_json`.

Simplifications:
- Plain JSON over HTTP/1.1 instead of gRPC over HTTP/2: one connection per
  thread (so concurrent writers do not queue behind each other) and one per
  watch, where a real client multiplexes every call and watch on one
  connection.
- No TLS client certificates, no authentication, one endpoint: a real client
  balances over every member and fails over when one dies.
- A request is retried once, on a fresh connection, only when a kept-alive
  connection turns out to have been closed by the server before it answered;
  etcd's client retries more cases (leader changes, "too many requests").
- Keep-alives are sent one request at a time on demand; a real client keeps
  one stream open and refreshes every lease at a third of its TTL by itself.
- ``Compacted`` needs the compaction revision, which etcd's range error does
  not carry; it is learned from a short watch that etcd cancels with it.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
import weakref
from typing import Any
from urllib.parse import urlsplit

from kitlib.store.errors import (
    Compacted,
    DuplicateKey,
    FutureRevision,
    LeaseNotFound,
    StoreClosed,
    StoreError,
    StoreUnavailable,
)
from kitlib.store.etcd_json import (
    _b64,
    _compare_json,
    _event,
    _header_revision,
    _int,
    _key_fields,
    _key_text,
    _kv,
    _op_json,
    _op_result,
    _range_result,
    _single_key,
    _stream_messages,
)
from kitlib.store.types import (
    Compare,
    DeleteResult,
    KeyValue,
    Lease,
    LeaseInfo,
    Op,
    PutResult,
    RangeResult,
    TxnResult,
    Value,
    as_bytes,
)
from kitlib.store.watch import QueuedWatch

log = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:2379"

# etcd's messages (rpctypes / mvcc errors); the gateway passes them on as text.
_ERR_COMPACTED = "required revision has been compacted"
_ERR_FUTURE = "required revision is a future revision"
_ERR_DUPLICATE = "duplicate key given in txn request"
_ERR_LEASE = "requested lease not found"

# gRPC's status codes that mean etcd went away rather than refused: Unavailable
# (14: stopping, no leader, timed out) and Canceled (1: the gateway's own
# connection to etcd closing as etcd shuts down, "the client connection is
# closing").
_UNAVAILABLE = 14
_GONE_CODES = (1, _UNAVAILABLE)

# The connection-level failures that mean "nobody answered", as opposed to an
# answer we did not like.
_NETWORK_ERRORS = (OSError, http.client.HTTPException)


# -- the client -----------------------------------------------------------------


class EtcdWatch(QueuedWatch):
    """One watch stream on its own connection (see :class:`~kitlib.store.types.Watch`).

    A reader thread turns etcd's responses into events on a queue; ``get``
    takes them off. Compaction, a refusal or a lost connection becomes an
    exception that every later ``get`` raises again, as the embedded store
    does.
    """

    def __init__(self, store: "EtcdStore", request: dict, start_revision: int) -> None:
        super().__init__()
        self._store = store
        self.start_revision = start_revision
        self._conn = store._new_connection()
        try:
            body = json.dumps({"create_request": request}).encode()
            self._conn.request("POST", "/v3/watch", body=body, headers={"Content-Type": "application/json"})
            self._response = self._conn.getresponse()
            if self._response.status != 200:
                raise store._refusal("/v3/watch", self._response.status, self._response.read())
            # Wait for "created" before returning: from then on etcd sends
            # every change after the watch's start, so a write the caller
            # makes after watch() returns is never missed.
            first = self._read_message()
            if first is None or not first.get("result", {}).get("created"):
                raise StoreError(f"etcd did not create the watch: {first!r}")
        except BaseException as err:
            self._conn.close()
            if isinstance(err, _NETWORK_ERRORS) and not isinstance(err, StoreError):
                raise store._unavailable(err) from err
            if isinstance(err, ValueError):
                raise StoreError(f"etcd at {store.url} answered a watch with something that is not JSON") from err
            raise
        # The stream may stay silent for hours: no read timeout from now on.
        if self._conn.sock is not None:
            self._conn.sock.settimeout(None)
        self._handle(first["result"])
        self._reader = threading.Thread(target=self._read_loop, name="kit-etcd-watch", daemon=True)
        self._reader.start()

    def _read_message(self) -> dict | None:
        while True:
            line = self._response.readline()
            if not line:
                return None
            if line.strip():
                return json.loads(line)

    def _handle(self, result: dict) -> bool:
        """Queue what one watch response says; False when the stream is over."""
        compact_revision = _int(result, "compact_revision")
        if compact_revision:
            self._put(Compacted(self.start_revision, compact_revision))
            return False
        if result.get("canceled"):
            reason = result.get("cancel_reason") or "no reason given"
            self._put(StoreError(f"etcd cancelled the watch: {reason}"))
            return False
        for event in result.get("events", []):
            self._put(_event(event))
        return True

    def _read_loop(self) -> None:
        try:
            while True:
                message = self._read_message()
                if message is None:
                    break
                if "error" in message:
                    error = message["error"]
                    # "transport is closing" (14) or "the client connection is
                    # closing" (1) when etcd stops, depending on timing.
                    cls = StoreUnavailable if error.get("grpc_code") in _GONE_CODES else StoreError
                    raise cls(f"etcd at {self._store.url} ended the watch: {error.get('message', error)}")
                if not self._handle(message.get("result", {})):
                    return
            if not self.cancelled:
                ended = f"etcd at {self._store.url} closed the watch stream (did it stop?)"
                self._put(StoreUnavailable(ended))
        except Exception as err:  # noqa: BLE001  (a reader thread must never die with a traceback)
            # After cancel() the socket is shut down under the reader, which
            # then fails in whatever way http.client fails: that is the end.
            if not self.cancelled:
                if not isinstance(err, StoreError):
                    err = StoreUnavailable(f"lost the watch stream to etcd at {self._store.url}: {err!r}")
                self._put(err)
        finally:
            self._conn.close()

    def _stop(self) -> None:
        # shutdown() wakes the reader blocked in recv(); close() alone may not.
        # The reader thread closes the connection once it sees the end.
        sock = self._conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._store._forget(self)


class _ThreadConnection:
    """A thread's own connection; closed when the thread is gone or the store closes."""

    def __init__(self, conn: http.client.HTTPConnection) -> None:
        self.conn = conn


class EtcdStore:
    """The Store contract on a running etcd 3.4+ server (``url`` of a client endpoint)."""

    def __init__(self, url: str = DEFAULT_URL, *, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"an etcd URL looks like http://127.0.0.1:2379, not {url!r}")
        self.url = f"{parts.scheme}://{parts.hostname}:{parts.port or 2379}"
        self._host = parts.hostname
        self._port = parts.port or 2379
        self._https = parts.scheme == "https"
        self.timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._finalizers: list[weakref.finalize] = []
        self._watches: set[EtcdWatch] = set()
        self._closed = False
        # Fail here, with a message that says what to do, rather than at the
        # first write deep inside the API server.
        self.revision  # noqa: B018

    # -- HTTP ------------------------------------------------------------------

    def _new_connection(self, timeout: float | None = None) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        return cls(self._host, self._port, timeout=self.timeout if timeout is None else timeout)

    def _connection(self) -> http.client.HTTPConnection:
        holder = getattr(self._local, "holder", None)
        if holder is None:
            holder = _ThreadConnection(self._new_connection())
            with self._lock:
                if self._closed:
                    raise StoreClosed("the etcd store is closed; open it again")
                # When the thread ends its holder is collected and the
                # connection closed; close() closes the ones still alive.
                self._finalizers = [f for f in self._finalizers if f.alive]
                self._finalizers.append(weakref.finalize(holder, holder.conn.close))
            self._local.holder = holder
        return holder.conn

    def _unavailable(self, err: BaseException) -> StoreUnavailable:
        if isinstance(err, (socket.timeout, TimeoutError)):
            return StoreUnavailable(
                f"etcd at {self.url} did not answer within {self.timeout:g} s: is it overloaded or stopped?"
            )
        return StoreUnavailable(
            f"no etcd at {self.url} ({err.__class__.__name__}: {err}): start one with "
            f"`etcd --data-dir /tmp/kit-etcd --listen-client-urls {self.url} --advertise-client-urls {self.url}` "
            "(or kitlib.store.local_etcd.LocalEtcd), or use the embedded store: open_store('memory://')"
        )

    def _refusal(self, path: str, status: int, raw: bytes, *, revision: int = 0, lease: int = 0) -> StoreError:
        """Turn etcd's error answer into the store's exception for it."""
        try:
            body = json.loads(raw)
            message = str(body.get("message") or body.get("error") or body)
            code = body.get("code")
        except ValueError:
            message, code = raw[:200].decode("utf-8", "replace"), None
        if _ERR_COMPACTED in message:
            return Compacted(revision, self._compact_revision(default=revision))
        if _ERR_FUTURE in message:
            return FutureRevision(revision, self.revision)
        if _ERR_DUPLICATE in message:
            return DuplicateKey(f"{_ERR_DUPLICATE}: a transaction may write each key once")
        if _ERR_LEASE in message:
            return LeaseNotFound(lease)
        if code in _GONE_CODES:
            return StoreUnavailable(f"etcd at {self.url} is unavailable ({path}): {message}")
        return StoreError(f"etcd at {self.url} refused {path} (HTTP {status}, gRPC code {code}): {message}")

    def _call(self, path: str, body: dict, *, revision: int = 0, lease: int = 0) -> bytes:
        """POST ``body`` to the gateway and return the raw answer, or raise the store's error."""
        if self._closed:
            raise StoreClosed("the etcd store is closed; open it again")
        data = json.dumps(body).encode()
        for attempt in (1, 2):
            conn = self._connection()
            reused = conn.sock is not None
            try:
                conn.request("POST", path, body=data, headers={"Content-Type": "application/json"})
                response = conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as err:
                conn.close()
                # Most likely the server closed this idle kept-alive
                # connection as we sent on it, before reading the request;
                # so retry once on a fresh one, as Go's and urllib3's
                # clients do. (Had etcd applied it and then died, the retry
                # finds nobody listening.)
                if reused and attempt == 1:
                    log.debug("etcd closed a kept-alive connection (%s); retrying once", err)
                    continue
                raise self._unavailable(err) from err
            except _NETWORK_ERRORS as err:
                conn.close()
                raise self._unavailable(err) from err
            break
        try:
            raw = response.read()
        except _NETWORK_ERRORS as err:
            # The answer began, so the request may have been applied: never retried.
            conn.close()
            raise self._unavailable(err) from err
        if response.status != 200:
            raise self._refusal(path, response.status, raw, revision=revision, lease=lease)
        return raw

    def _json(self, path: str, body: dict, **context: int) -> dict:
        raw = self._call(path, body, **context)
        try:
            return json.loads(raw)
        except ValueError as err:
            raise StoreError(
                f"etcd at {self.url} answered {path} with something that is not JSON: {raw[:200]!r}"
            ) from err

    def _compact_revision(self, default: int) -> int:
        """The revision of the last compaction, learned from a watch etcd cancels with it.

        A watch from revision 1 is older than any compaction, so etcd answers
        it with ``compact_revision``; if none comes (never compacted beyond
        1), ``default`` stands in.
        """
        try:
            conn = self._new_connection(timeout=2.0)
            try:
                body = json.dumps({"create_request": {"key": _b64(b"\0"), "start_revision": "1"}}).encode()
                conn.request("POST", "/v3/watch", body=body, headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                for _ in range(4):
                    line = response.readline()
                    if not line:
                        break
                    if line.strip():
                        found = _int(json.loads(line).get("result", {}), "compact_revision")
                        if found:
                            return found
            finally:
                conn.close()
        except (ValueError, *_NETWORK_ERRORS) as err:
            log.debug("could not learn etcd's compaction revision: %s", err)
        return default

    # -- the Store contract ---------------------------------------------------

    @property
    def revision(self) -> int:
        # Counting one key is the cheapest read; its header carries the revision.
        body = self._json("/v3/kv/range", {"key": _b64(b"\0"), "count_only": True})
        return _header_revision(body)

    def put(self, key: str, value: Value, *, lease: int = 0, prev_kv: bool = False) -> PutResult:
        body: dict[str, Any] = {"key": _b64(_single_key(key)), "value": _b64(as_bytes(value))}
        if lease:
            body["lease"] = str(lease)
        if prev_kv:
            body["prev_kv"] = True
        answer = self._json("/v3/kv/put", body, lease=lease)
        prev = answer.get("prev_kv")
        return PutResult(_header_revision(answer), _kv(prev) if prev else None)

    def get(self, key: str, *, revision: int = 0) -> KeyValue | None:
        result = self.range(key, revision=revision)
        return result.kvs[0] if result.kvs else None

    def range(
        self,
        key: str,
        range_end: str | None = None,
        *,
        prefix: bool = False,
        revision: int = 0,
        limit: int = 0,
        count_only: bool = False,
        keys_only: bool = False,
    ) -> RangeResult:
        body: dict[str, Any] = _key_fields(key, range_end, prefix)
        if revision > 0:
            body["revision"] = str(revision)
        if limit:
            body["limit"] = str(limit)
        if count_only:
            body["count_only"] = True
        if keys_only:
            body["keys_only"] = True
        return _range_result(self._json("/v3/kv/range", body, revision=revision))

    def delete(
        self, key: str, range_end: str | None = None, *, prefix: bool = False, prev_kv: bool = False
    ) -> DeleteResult:
        body: dict[str, Any] = _key_fields(key, range_end, prefix)
        if prev_kv:
            body["prev_kv"] = True
        answer = self._json("/v3/kv/deleterange", body)
        prev_kvs = [_kv(kv) for kv in answer.get("prev_kvs", [])]
        return DeleteResult(_header_revision(answer), _int(answer, "deleted"), prev_kvs)

    def txn(self, compare: list[Compare], success: list[Op], failure: list[Op] | None = None) -> TxnResult:
        body = {
            "compare": [_compare_json(c) for c in compare],
            "success": [_op_json(op) for op in success],
            "failure": [_op_json(op) for op in failure or []],
        }
        # If etcd says a lease is missing, name the first one the request uses.
        leases = [op.lease for op in [*success, *(failure or [])] if op.kind == "put" and op.lease]
        answer = self._json("/v3/kv/txn", body, lease=leases[0] if leases else 0)
        return TxnResult(
            succeeded=bool(answer.get("succeeded", False)),
            responses=[_op_result(r) for r in answer.get("responses", [])],
            revision=_header_revision(answer),
        )

    def watch(
        self,
        key: str,
        range_end: str | None = None,
        *,
        prefix: bool = False,
        start_revision: int = 0,
        prev_kv: bool = False,
    ) -> EtcdWatch:
        if self._closed:
            raise StoreClosed("the etcd store is closed; open it again")
        request: dict[str, Any] = _key_fields(key, range_end, prefix)
        if start_revision > 0:
            request["start_revision"] = str(start_revision)
        if prev_kv:
            request["prev_kv"] = True
        watch = EtcdWatch(self, request, start_revision)
        with self._lock:
            self._watches.add(watch)
        return watch

    def _forget(self, watch: EtcdWatch) -> None:
        with self._lock:
            self._watches.discard(watch)

    def compact(self, revision: int) -> None:
        # physical=true: etcd answers once the old revisions are really gone,
        # so a read right after sees the compaction.
        self._json("/v3/kv/compaction", {"revision": str(revision), "physical": True}, revision=revision)

    # -- leases -----------------------------------------------------------------

    def lease_grant(self, ttl: int) -> Lease:
        if ttl < 1:
            raise ValueError("a lease's TTL is a whole number of seconds, at least 1")
        # etcd raises a TTL below its minimum (about 1.5 election timeouts,
        # 2 s by default) to that minimum; the Lease reports what it granted.
        answer = self._json("/v3/lease/grant", {"TTL": str(int(ttl))})
        if answer.get("error"):
            raise StoreError(f"etcd refused the lease: {answer['error']}")
        return Lease(_int(answer, "ID"), _int(answer, "TTL"))

    def lease_keepalive(self, lease_id: int) -> int:
        raw = self._call("/v3/lease/keepalive", {"ID": str(lease_id)}, lease=lease_id)
        # The keep-alive call is a stream: one answer per request sent.
        try:
            messages = _stream_messages(raw)
        except ValueError as err:
            raise StoreError(
                f"etcd at {self.url} answered a keep-alive with something that is not JSON: {raw[:200]!r}"
            ) from err
        if messages and "error" in messages[0]:
            raise StoreError(f"etcd at {self.url} refused the keep-alive: {messages[0]['error']}")
        # An unknown or expired lease is not an error to etcd: it answers TTL 0.
        ttl = _int(messages[0].get("result", {}), "TTL") if messages else 0
        if ttl <= 0:
            raise LeaseNotFound(lease_id)
        return ttl

    def lease_revoke(self, lease_id: int) -> None:
        self._json("/v3/lease/revoke", {"ID": str(lease_id)}, lease=lease_id)

    def lease_time_to_live(self, lease_id: int) -> LeaseInfo:
        answer = self._json("/v3/lease/timetolive", {"ID": str(lease_id), "keys": True}, lease=lease_id)
        ttl = _int(answer, "TTL")
        # etcd reports an unknown lease as TTL -1 rather than as an error.
        if ttl < 0:
            raise LeaseNotFound(lease_id)
        keys = sorted(_key_text(k) for k in answer.get("keys", []))
        return LeaseInfo(lease_id, ttl, _int(answer, "grantedTTL"), keys)

    def lease_leases(self) -> list[int]:
        """Every lease etcd holds now (etcd's ``LeaseLeases``); not part of the Store contract."""
        answer = self._json("/v3/lease/leases", {})
        return sorted(_int(lease, "ID") for lease in answer.get("leases", []))

    # -- shutdown -----------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            finalizers, self._finalizers = self._finalizers, []
            watches = list(self._watches)
        for watch in watches:
            watch.cancel()
        for finalizer in finalizers:
            finalizer()  # closes that thread's connection (once)

    def __enter__(self) -> "EtcdStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<EtcdStore {self.url}{' closed' if self._closed else ''}>"


__all__ = ["DEFAULT_URL", "EtcdStore", "EtcdWatch"]
