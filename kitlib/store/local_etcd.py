"""A throw-away etcd server on 127.0.0.1, for tests, benchmarks and the book.

:class:`LocalEtcd` starts Debian's ``etcd`` as a single member with its data
in a temporary directory, waits until it answers, and stops it and removes
the directory when the ``with`` block ends, even if the block failed.

Simplifications:
- One member, plain HTTP on loopback, no authentication: a production etcd
  is a cluster of three or five members talking TLS to each other.
"""

from __future__ import annotations

import http.client
import logging
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from kitlib.errors import MissingDependency
from kitlib.store.errors import StoreUnavailable
from kitlib.store.etcd import _NETWORK_ERRORS, EtcdStore

log = logging.getLogger(__name__)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalEtcd:
    """A single-member etcd on 127.0.0.1, in a temporary directory, for as long as a ``with`` block.

        >>> with LocalEtcd() as etcd:                          # doctest: +SKIP
        ...     store = EtcdStore(etcd.url)

    It picks free client and peer ports, waits until etcd answers, and on
    exit stops it (SIGTERM, then SIGKILL) and removes its directory, even if
    the block raised. etcd's own log is kept in ``log_path`` while it runs.
    """

    def __init__(
        self,
        *,
        binary: str = "etcd",
        startup_timeout: float = 30.0,
        base_dir: str | Path | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.binary = binary
        self.startup_timeout = startup_timeout
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self.extra_args = tuple(extra_args)
        self.process: subprocess.Popen | None = None
        self.dir: Path | None = None
        self.url = ""
        self.client_port = 0
        self.peer_port = 0

    @property
    def data_dir(self) -> Path | None:
        return self.dir / "data" if self.dir else None

    @property
    def log_path(self) -> Path | None:
        return self.dir / "etcd.log" if self.dir else None

    def _log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace") if self.log_path else ""
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> "LocalEtcd":
        if self.process is not None:
            raise RuntimeError("this LocalEtcd is already running")
        executable = shutil.which(self.binary)
        if executable is None:
            raise MissingDependency(
                f"the etcd server ({self.binary!r}) is not on PATH; install it with: apt-get install etcd-server"
            )
        self.dir = Path(tempfile.mkdtemp(prefix="kit-etcd-", dir=self.base_dir))
        try:
            # A port found free may be taken before etcd binds it; try again
            # with fresh ports rather than fail the caller.
            for attempt in range(3):
                if self._launch(executable):
                    assert self.process is not None
                    log.info("etcd %d serving %s (data in %s)", self.process.pid, self.url, self.data_dir)
                    return self
                log.warning("etcd did not start (attempt %d): %s", attempt + 1, self._log_tail(3))
            raise StoreUnavailable(f"etcd did not start on 127.0.0.1; its log ends with:\n{self._log_tail()}")
        except BaseException:
            self.stop()
            raise

    def _launch(self, executable: str) -> bool:
        """Start etcd once; True when it answers, False when it died (e.g. a port was taken)."""
        assert self.dir is not None and self.data_dir is not None
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.client_port, self.peer_port = _free_port(), _free_port()
        while self.peer_port == self.client_port:
            self.peer_port = _free_port()
        self.url = f"http://127.0.0.1:{self.client_port}"
        peer = f"http://127.0.0.1:{self.peer_port}"
        args = [
            executable,
            "--name", "kit",
            "--data-dir", str(self.data_dir),
            "--listen-client-urls", self.url,
            "--advertise-client-urls", self.url,
            "--listen-peer-urls", peer,
            "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"kit={peer}",
            "--initial-cluster-state", "new",
            "--logger", "zap",
            "--log-outputs", "stderr",
            "--log-level", "warn",
            *self.extra_args,
        ]
        with open(self.log_path, "ab") as out:  # type: ignore[arg-type]
            self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                return False
            if self._answers():
                return True
            time.sleep(0.05)
        self._terminate()
        raise StoreUnavailable(
            f"etcd did not answer on {self.url} within {self.startup_timeout:g} s; its log ends with:\n{self._log_tail()}"
        )

    def _answers(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.client_port, timeout=1.0)
        try:
            # A range succeeds only once the member has elected itself leader.
            conn.request("POST", "/v3/kv/range", body=b'{"key":"AA==","count_only":true}')
            return conn.getresponse().status == 200
        except _NETWORK_ERRORS:
            return False
        finally:
            conn.close()

    def _terminate(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log.warning("etcd %d ignored SIGTERM; killing it", process.pid)
            process.kill()
            process.wait()

    def stop(self) -> None:
        """Stop etcd and remove its directory; safe to call twice."""
        try:
            self._terminate()
        finally:
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None

    def store(self, **options: Any) -> EtcdStore:
        """An :class:`EtcdStore` talking to this server."""
        return EtcdStore(self.url, **options)

    def __enter__(self) -> "LocalEtcd":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid {self.process.pid} at {self.url}" if self.process else "stopped"
        return f"<LocalEtcd {state}>"


__all__ = ["LocalEtcd"]
