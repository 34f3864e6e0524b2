"""Fixtures for the store's tests: one ``store`` fixture, two backends.

Every test that takes ``store`` runs twice: on the embedded store (a fresh
one in the test's own directory) and on a real etcd (one server for the
whole session, emptied before each test). Because the etcd server's revision
keeps growing from test to test, a test must reason about revisions relative
to what it observes (``store.revision`` at its start), never absolute numbers.
"""

from __future__ import annotations

import shutil
from typing import Iterator

import pytest

from kitlib.store.etcd import EtcdStore
from kitlib.store.local_etcd import LocalEtcd

BACKENDS = ["embedded", pytest.param("etcd", marks=pytest.mark.etcd)]


@pytest.fixture(scope="session")
def local_etcd() -> Iterator[LocalEtcd]:
    """One throw-away etcd server for the whole session (starting one takes about half a second)."""
    if shutil.which("etcd") is None:
        pytest.skip("the etcd binary is not installed (apt-get install etcd-server)")
    with LocalEtcd() as etcd:
        yield etcd


def empty_etcd(store: EtcdStore) -> None:
    """Revoke every lease and delete every key, so a test starts from an empty key space.

    Leases go first: a lease left by an earlier test must not expire in the
    middle of this one and delete keys (or bump the revision) under it.
    """
    for lease_id in store.lease_leases():
        try:
            store.lease_revoke(lease_id)
        except Exception:  # noqa: BLE001  (it may expire between the list and the revoke)
            pass
    store.delete("", prefix=True)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path):
    if request.param == "embedded":
        try:
            from kitlib.store.embedded import EmbeddedStore
        except ImportError:
            pytest.skip("kitlib.store.embedded not written yet")
        backend = EmbeddedStore(tmp_path / "data")
    else:
        etcd: LocalEtcd = request.getfixturevalue("local_etcd")
        backend = EtcdStore(etcd.url)
        empty_etcd(backend)
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture
def etcd_store(local_etcd: LocalEtcd) -> Iterator[EtcdStore]:
    """The session's etcd alone, emptied, for tests of what only the etcd backend does."""
    backend = EtcdStore(local_etcd.url)
    empty_etcd(backend)
    try:
        yield backend
    finally:
        backend.close()
