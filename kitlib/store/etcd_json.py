"""The etcd JSON gateway's encoding: the Store's types to and from etcd's JSON.

Besides its gRPC API, etcd serves the same calls as JSON over HTTP (the
grpc-gateway: ``POST /v3/kv/range`` and friends), which is what
:class:`~kitlib.store.etcd.EtcdStore` speaks. These functions turn the
store's requests (:class:`~kitlib.store.types.Compare`,
:class:`~kitlib.store.types.Op`, keys, ranges and prefixes) into that JSON,
and etcd's answers back into :class:`~kitlib.store.types.KeyValue`,
:class:`~kitlib.store.types.Event` and the results of the Store contract.

The gateway's JSON is protobuf's: keys and values are base64, 64-bit
integers arrive as strings, and a field whose value is zero, false or empty
is left out (a PUT event has no ``type``; a missing key's lease is absent).

Simplifications:
- Only what the Store contract uses is encoded: no nested transactions
  (``request_txn``) and no comparison over a range of keys
  (``Compare.range_end``), both of which etcd accepts since 3.3.
"""

from __future__ import annotations

import json
from base64 import b64decode, b64encode
from typing import Any

from kitlib.store.errors import StoreError
from kitlib.store.types import (
    Compare,
    DeleteResult,
    Event,
    EventType,
    KeyValue,
    Op,
    OpResult,
    PutResult,
    RangeResult,
    as_bytes,
)

# etcdserverpb.Compare's enums: what is compared, and how.
_COMPARE_TARGET = {
    "version": "VERSION", "create_revision": "CREATE", "mod_revision": "MOD", "value": "VALUE", "lease": "LEASE",
}
_COMPARE_RESULT = {"=": "EQUAL", "!=": "NOT_EQUAL", "<": "LESS", ">": "GREATER"}


def _b64(data: bytes) -> str:
    return b64encode(data).decode("ascii")


def _key_bytes(key: str) -> bytes:
    # surrogateescape round-trips keys another client wrote that are not UTF-8.
    return key.encode("utf-8", "surrogateescape")


def _key_text(data: str) -> str:
    return b64decode(data).decode("utf-8", "surrogateescape")


def _prefix_end_bytes(prefix: bytes) -> bytes:
    """etcd's ``GetPrefixRangeEnd``: increment the last byte that is not 0xff."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"  # every key


def _single_key(key: str) -> bytes:
    if key == "":
        raise ValueError("a key must not be empty (etcd has no empty key); the empty prefix means every key")
    return _key_bytes(key)


def _key_fields(key: str, range_end: str | None, prefix: bool) -> dict[str, str]:
    """The ``key``/``range_end`` pair etcd expects for one key, a range or a prefix."""
    raw = _key_bytes(key)
    if prefix:
        if raw == b"":
            # "\0" to "\0" is etcd's way of saying every key.
            return {"key": _b64(b"\0"), "range_end": _b64(b"\0")}
        return {"key": _b64(raw), "range_end": _b64(_prefix_end_bytes(raw))}
    if range_end:
        # etcd refuses an empty key even to start a range; "\0" is the first
        # key that can exist, so the range is the same.
        return {"key": _b64(raw or b"\0"), "range_end": _b64(_key_bytes(range_end))}
    return {"key": _b64(_single_key(key))}


def _int(obj: dict, name: str) -> int:
    # int64 fields arrive as strings, and not at all when zero.
    return int(obj.get(name, 0))


def _kv(obj: dict) -> KeyValue:
    return KeyValue(
        key=_key_text(obj["key"]),
        value=b64decode(obj.get("value", "")),
        create_revision=_int(obj, "create_revision"),
        mod_revision=_int(obj, "mod_revision"),
        version=_int(obj, "version"),
        lease=_int(obj, "lease"),
    )


def _header_revision(obj: dict) -> int:
    return _int(obj.get("header", {}), "revision")


def _range_result(obj: dict) -> RangeResult:
    return RangeResult(
        kvs=[_kv(kv) for kv in obj.get("kvs", [])],
        count=_int(obj, "count"),
        more=bool(obj.get("more", False)),
        revision=_header_revision(obj),
    )


def _compare_json(c: Compare) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": _b64(_single_key(c.key)),
        "target": _COMPARE_TARGET[c.target],
        "result": _COMPARE_RESULT[c.op],
    }
    if c.target == "value":
        body["value"] = _b64(as_bytes(c.operand))  # type: ignore[arg-type]
    else:
        body[c.target] = str(int(c.operand))  # type: ignore[arg-type]
    return body


def _op_json(op: Op) -> dict[str, Any]:
    if op.kind == "put":
        put: dict[str, Any] = {"key": _b64(_single_key(op.key)), "value": _b64(op.value)}
        if op.lease:
            put["lease"] = str(op.lease)
        if op.prev_kv:
            put["prev_kv"] = True
        return {"request_put": put}
    if op.kind == "delete":
        delete: dict[str, Any] = _key_fields(op.key, op.range_end, op.prefix)
        if op.prev_kv:
            delete["prev_kv"] = True
        return {"request_delete_range": delete}
    if op.kind == "range":
        rng: dict[str, Any] = _key_fields(op.key, op.range_end, op.prefix)
        if op.limit:
            rng["limit"] = str(op.limit)
        return {"request_range": rng}
    raise ValueError(f"unknown transaction operation {op.kind!r}: use Op.put, Op.delete or Op.range")


def _op_result(obj: dict) -> OpResult:
    if "response_range" in obj:
        return _range_result(obj["response_range"])
    if "response_put" in obj:
        put = obj["response_put"]
        prev = put.get("prev_kv")
        return PutResult(_header_revision(put), _kv(prev) if prev else None)
    if "response_delete_range" in obj:
        d = obj["response_delete_range"]
        return DeleteResult(_header_revision(d), _int(d, "deleted"), [_kv(kv) for kv in d.get("prev_kvs", [])])
    raise StoreError(f"etcd answered a transaction with an operation this client does not know: {obj!r}")


def _event(obj: dict) -> Event:
    kind = EventType.DELETE if obj.get("type") == "DELETE" else EventType.PUT
    prev = obj.get("prev_kv")
    return Event(kind, _kv(obj["kv"]), _kv(prev) if prev else None)


def _stream_messages(raw: bytes) -> list[dict]:
    """A streaming answer is one JSON object per line."""
    return [json.loads(line) for line in raw.splitlines() if line.strip()]
