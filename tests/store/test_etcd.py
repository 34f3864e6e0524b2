"""The etcd backend beyond the shared contract: failures, LocalEtcd's lifecycle, concurrency."""

from __future__ import annotations

import http.server
import shutil
import socket
import threading
from contextlib import contextmanager

import pytest

from kitlib.errors import KitError, MissingDependency
from kitlib.store import StoreError, StoreUnavailable, open_store
from kitlib.store.etcd import EtcdStore
from kitlib.store.local_etcd import LocalEtcd

needs_etcd = pytest.mark.skipif(
    shutil.which("etcd") is None, reason="the etcd binary is not installed (apt-get install etcd-server)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def silent_listener():
    """A socket that accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


@contextmanager
def http_server(status: int, body: bytes):
    """An HTTP server that answers every POST with ``status`` and ``body``: not etcd."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802  (the name http.server calls)
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# -- when there is no etcd ------------------------------------------------------


OPENERS = [
    ("EtcdStore", lambda url: EtcdStore(url)),
    ("open_store etcd://", lambda url: open_store(url.replace("http://", "etcd://"))),
]


@pytest.mark.parametrize("opener", [o[1] for o in OPENERS], ids=[o[0] for o in OPENERS])
def test_nothing_listening_says_how_to_start_etcd(opener):
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreUnavailable) as err:
        opener(url)
    message = str(err.value)
    assert f"no etcd at {url}" in message
    assert "etcd --data-dir" in message and f"--listen-client-urls {url}" in message
    assert "embedded store" in message
    assert isinstance(err.value, KitError)  # one except clause catches the kit's errors


def test_a_silent_server_times_out_with_a_message():
    with silent_listener() as url:
        with pytest.raises(StoreUnavailable, match=r"did not answer within 0\.3 s"):
            EtcdStore(url, timeout=0.3)


NOT_ETCD_CASES = [
    # (id, status, body, expected words in the message)
    ("404 in plain text", 404, b"404 page not found", "HTTP 404"),
    ("200 but not JSON", 200, b"<html>hello</html>", "not JSON"),
    ("JSON error", 503, b'{"error":"etcdserver: request timed out","code":14}', "request timed out"),
]


@pytest.mark.parametrize("status,body,words", [c[1:] for c in NOT_ETCD_CASES], ids=[c[0] for c in NOT_ETCD_CASES])
def test_a_server_that_is_not_etcd_gives_a_store_error(status, body, words):
    with http_server(status, body) as url:
        with pytest.raises(StoreError) as err:
            EtcdStore(url)
    assert words in str(err.value)


@pytest.mark.parametrize("url", ["127.0.0.1:2379", "ftp://127.0.0.1", "http://"])
def test_a_malformed_url_is_refused(url):
    with pytest.raises(ValueError, match="http://127.0.0.1:2379"):
        EtcdStore(url)


def test_missing_binary_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no etcd on PATH
    etcd = LocalEtcd()
    with pytest.raises(MissingDependency, match="apt-get install etcd-server"):
        etcd.start()
    assert etcd.dir is None and etcd.process is None


# -- LocalEtcd's lifecycle ---------------------------------------------------------


@pytest.mark.etcd
@needs_etcd
def test_local_etcd_removes_its_directory_and_stops():
    with LocalEtcd() as etcd:
        directory, process = etcd.dir, etcd.process
        assert etcd.data_dir.is_dir()
        assert etcd.url == f"http://127.0.0.1:{etcd.client_port}" and etcd.client_port != etcd.peer_port
        with etcd.store() as store:
            assert store.put("/k", "v").revision == 2  # a fresh etcd starts at revision 1
    assert not directory.exists()
    assert process.poll() is not None
    etcd.stop()  # twice is fine


@pytest.mark.etcd
@needs_etcd
def test_local_etcd_cleans_up_when_the_body_fails():
    with pytest.raises(RuntimeError, match="boom"):
        with LocalEtcd() as etcd:
            directory, process = etcd.dir, etcd.process
            raise RuntimeError("boom")
    assert not directory.exists()
    assert process.poll() is not None


@pytest.mark.etcd
@needs_etcd
def test_etcd_going_away_is_reported_to_calls_and_watches():
    with LocalEtcd() as etcd:
        store = etcd.store(timeout=2.0)
        store.put("/k", "v")
        watch = store.watch("/k")
        etcd.stop()
        with pytest.raises(StoreUnavailable, match="no etcd at"):
            store.put("/k", "w")
        with pytest.raises(StoreUnavailable):
            watch.get(timeout=5)
        watch.cancel()
        store.close()


# -- on the shared server (the etcd_store fixture, emptied for each test) -------------


@pytest.mark.etcd
def test_etcd_raises_a_short_ttl_to_its_minimum(etcd_store):
    # etcd's minimum TTL is 1.5 election timeouts (1 s by default), rounded up.
    lease = etcd_store.lease_grant(1)
    assert lease.ttl == 2
    assert lease.id in etcd_store.lease_leases()


@pytest.mark.etcd
def test_sixteen_threads_write_at_once(etcd_store):
    # Each thread has its own connection, so writes proceed side by side and
    # every one gets its own revision.
    revisions: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(20):
                revision = etcd_store.put(f"/w/{n}/{i}", "x").revision
                with lock:
                    revisions.append(revision)
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(set(revisions)) == 320
    assert etcd_store.range("/w/", prefix=True, count_only=True).count == 320


@pytest.mark.etcd
def test_a_watch_reads_a_burst_in_order(etcd_store):
    # Many events reach the gateway's stream at once, several to a message.
    with etcd_store.watch("/burst/", prefix=True) as watch:
        first = etcd_store.revision + 1
        for i in range(200):
            etcd_store.put(f"/burst/{i % 7}", str(i))
        revisions = [watch.get(timeout=5).revision for _ in range(200)]
    assert revisions == list(range(first, first + 200))


@pytest.mark.etcd
def test_non_utf8_keys_written_by_another_client_round_trip(etcd_store):
    # Another etcd client may write keys that are not UTF-8; they must not
    # break a range, and can be used again as they come back.
    raw = "/bin/\udcff"  # the byte 0xff, as surrogateescape decodes it
    etcd_store.put(raw, "x")
    (kv,) = etcd_store.range("/bin/", prefix=True).kvs
    assert kv.key == raw and etcd_store.get(kv.key).value == b"x"
