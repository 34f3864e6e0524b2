"""The write-ahead log: framing, torn tails, corruption, group commit."""

from __future__ import annotations

import json
import threading

import pytest

from kitlib.store.embedded import EmbeddedStore
from kitlib.store.errors import StoreCorrupted, StoreError
from kitlib.store.wal import WAL, compact_op, del_op, encode_record, frame, grant_op, put_op, read_records, revoke_op


def _segment(data_dir):
    (segment,) = sorted(data_dir.glob("wal-*.log"))
    return segment


def _written(segment):
    """The records in a segment, without the zeros written ahead of them."""
    return segment.read_bytes().rstrip(b"\0")


def _rewrite(segment, records: bytes) -> None:
    """Put ``records`` back where they were, keeping the segment's zero-filled size."""
    size = segment.stat().st_size
    segment.write_bytes(records + bytes(max(0, size - len(records))))


@pytest.mark.parametrize(
    "tail, kept",
    [
        (b"", 3),  # clean log
        (frame(b'{"rev":9,"ops":[]}')[:5], 3),  # header cut short
        (frame(b'{"rev":9,"ops":[]}')[:-3], 3),  # payload cut short
        (b"\xff" * 8 + b"garbage", 3),  # length beyond the end
        (frame(b'{"rev":9,"ops":[]}')[:-1] + b"X", 3),  # checksum mismatch
    ],
    ids=["clean", "short-header", "short-payload", "bad-length", "bad-crc"],
)
def test_read_records_stops_at_first_bad_record(tail, kept):
    good = b"".join(frame(f'{{"n":{i}}}'.encode()) for i in range(3))
    records, end = read_records(good + tail)
    assert len(records) == kept
    assert end == len(good)


@pytest.mark.parametrize("cut", [1, 4, 8, 13, 20])
def test_torn_last_record_is_cut_and_store_reopens(tmp_path, cut):
    with EmbeddedStore(tmp_path, lessor=False) as store:
        store.put("/a", "1")
        store.put("/b", "2")
        revision = store.put("/c", "3").revision
    segment = _segment(tmp_path)
    data = _written(segment)
    # A crash while writing the next record leaves some of its bytes behind.
    torn = frame(b'{"rev":99,"ops":[["put","/d","NA==",0]]}')[:cut]
    _rewrite(segment, data + torn)
    with EmbeddedStore(tmp_path, lessor=False) as store:
        assert store.revision == revision
        assert store.torn_bytes == len(torn.rstrip(b"\0"))
        assert [kv.key for kv in store.range("/", prefix=True)] == ["/a", "/b", "/c"]
        assert store.get("/d") is None
        store.put("/d", "4")  # the log goes on after the cut
    assert len(_written(segment)) > len(data)
    with EmbeddedStore(tmp_path, lessor=False) as store:
        assert store.get("/d").text == "4"


def test_damage_in_an_older_segment_is_reported_not_ignored(tmp_path):
    with EmbeddedStore(tmp_path, lessor=False) as store:
        store.put("/a", "1")
    first = _segment(tmp_path)
    # A second segment after the damaged one: the damage is not a torn tail.
    (tmp_path / "wal-00000000000000ff.log").write_bytes(frame(b'{"rev":255,"ops":[]}'))
    _rewrite(first, _written(first)[:-2] + b"zz")
    with pytest.raises(StoreCorrupted, match="not the last log segment"):
        EmbeddedStore(tmp_path, lessor=False)


def test_second_open_of_one_directory_is_refused_with_a_clear_message(tmp_path):
    with EmbeddedStore(tmp_path, lessor=False):
        with pytest.raises(StoreError, match="already open"):
            EmbeddedStore(tmp_path, lessor=False)
    EmbeddedStore(tmp_path, lessor=False).close()  # released on close


def test_group_commit_shares_fsyncs_between_concurrent_writers(tmp_path):
    writers, each = 16, 50
    with EmbeddedStore(tmp_path, lessor=False) as store:
        barrier = threading.Barrier(writers)

        def write(worker):
            barrier.wait()
            for n in range(each):
                store.put(f"/w/{worker}/{n}", "x")

        threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert store.range("/w/", prefix=True, count_only=True).count == writers * each
        # Every write was fsynced, but far fewer fsyncs than writes were made.
        assert 0 < store.fsyncs < writers * each / 2


def test_wal_records_are_appended_in_order_and_flushed(tmp_path):
    wal = WAL(tmp_path / "wal-0000000000000001.log")
    seqs = [wal.append(i, []) for i in range(5)]
    wal.wait_durable(seqs[-1])
    wal.close()
    records, _ = read_records((tmp_path / "wal-0000000000000001.log").read_bytes())
    assert (tmp_path / "wal-0000000000000001.log").stat().st_size == 64 << 10  # zero-filled ahead
    assert [r for r in records] == [f'{{"rev":{i},"ops":[]}}'.encode() for i in range(5)]


@pytest.mark.parametrize("record", [0, 2, 4], ids=["first", "middle", "second-to-last"])
def test_damage_before_intact_records_is_corruption_not_a_torn_tail(tmp_path, record):
    with EmbeddedStore(tmp_path, lessor=False) as store:
        for i in range(6):
            store.put(f"/k/{i}", str(i))
    segment = _segment(tmp_path)
    data = bytearray(_written(segment))
    offsets = []
    offset = 0
    while offset < len(data):  # find where each record starts
        offsets.append(offset)
        offset += 8 + int.from_bytes(data[offset : offset + 4], "little")
    data[offsets[record] + 10] ^= 0xFF  # flip one byte of that record's payload
    _rewrite(segment, bytes(data))
    with pytest.raises(StoreCorrupted, match="before records that are intact"):
        EmbeddedStore(tmp_path, lessor=False)
    assert _written(segment) == bytes(data), "recovery must not cut a damaged log"


def test_damaged_last_record_is_a_torn_tail(tmp_path):
    with EmbeddedStore(tmp_path, lessor=False) as store:
        for i in range(3):
            store.put(f"/k/{i}", str(i))
    segment = _segment(tmp_path)
    data = bytearray(_written(segment))
    data[-3] ^= 0xFF  # the last record: complete length, wrong checksum
    _rewrite(segment, bytes(data))
    with EmbeddedStore(tmp_path, lessor=False) as store:
        assert [kv.key for kv in store.range("/k/", prefix=True)] == ["/k/0", "/k/1"]


@pytest.mark.parametrize(
    "ops, as_json",
    [
        ([], []),
        ([put_op("/registry/pods/default/web-0", b'{"kind":"Pod"}', 0)], [["put", "/registry/pods/default/web-0", "eyJraW5kIjoiUG9kIn0=", 0]]),
        ([put_op('a "quoted" \\ key\n', b"", 7), del_op("/k/é/雪")], [["put", 'a "quoted" \\ key\n', "", 7], ["del", "/k/é/雪"]]),
        ([grant_op(2**62 - 1, 30), revoke_op(1), compact_op(12)], [["grant", 2**62 - 1, 30], ["revoke", 1], ["compact", 12]]),
    ],
    ids=["empty", "put", "escapes-and-unicode", "leases-and-compaction"],
)
def test_records_are_the_json_that_json_dumps_writes(ops, as_json):
    assert encode_record(41, ops) == json.dumps({"rev": 41, "ops": as_json}, separators=(",", ":")).encode()


def test_segments_are_zero_filled_ahead_in_growing_steps(tmp_path):
    with EmbeddedStore(tmp_path, lessor=False) as store:
        segment = _segment(tmp_path)
        sizes = set()
        for i in range(400):
            store.put(f"/k/{i}", "v" * 1000)  # about 1.4 KB a record
            sizes.add(segment.stat().st_size)
    # 64 KiB, then 128, 256, 512 KiB...: the file is always ahead of the records. The next step is
    # written in the background, so a size seen while it is written may lie between two steps.
    steps = {64 << 10 << k for k in range(8)}
    assert min(sizes) == 64 << 10 and {128 << 10, 256 << 10} <= sizes
    assert segment.stat().st_size in steps
    assert len(_written(segment)) < segment.stat().st_size
    with EmbeddedStore(tmp_path, lessor=False) as store:
        assert store.range("/k/", prefix=True, count_only=True).count == 400
        assert store.torn_bytes == 0
