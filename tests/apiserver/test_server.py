"""The API server over real HTTPS: authentication, authorisation, subresources, connections.

The real kubectl and the official Python client are driven in tests/external.
"""

from __future__ import annotations

import http.client
import json
import ssl

import pytest

from kitlib.apiserver.server import APIServer
from kitlib.store import open_store


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("apiserver")
    store = open_store("memory://", lessor=False)
    api = APIServer(store, root / "pki").start()
    api.kubeconfig = api.write_kubeconfig(root / "admin.conf")
    api.pki.issue_client("nobody", "nobody")
    yield api
    api.stop()
    store.close()


def request(server, method, path, body=None, client="admin", headers=None):
    context = ssl.create_default_context(cafile=str(server.pki.ca.cert))
    if client:
        pair = server.pki.client(client)
        context.load_cert_chain(pair.cert, pair.key)
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=context, timeout=10)
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
    response = conn.getresponse()
    payload = json.loads(response.read() or b"null")
    conn.close()
    return response.status, payload


@pytest.mark.parametrize(
    "client, path, code, message",
    [
        (None, "/api/v1/namespaces/default/pods", 401, "Unauthorized"),
        ("nobody", "/api/v1/namespaces/default/pods", 403,
         'pods is forbidden: User "nobody" cannot list resource "pods" in API group "" in the namespace "default"'),
        ("admin", "/api/v1/namespaces/default/pods/nope", 404, 'pods "nope" not found'),
        ("admin", "/apis/apps/v1/namespaces/default/widgets", 404, "the server could not find the requested resource"),
    ],
    ids=["no-credentials", "no-permission", "missing-object", "unknown-resource"],
)
def test_refusals_are_kubernetes_status_objects(server, client, path, code, message):
    status, body = request(server, "GET", path, client=client)
    assert status == code
    assert body["kind"] == "Status" and body["code"] == code and body["message"] == message


def test_scale_subresource(server):
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "s"},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "s"}},
                           "template": {"metadata": {"labels": {"app": "s"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    assert request(server, "POST", "/apis/apps/v1/namespaces/default/deployments", deployment)[0] == 201
    status, scale = request(server, "GET", "/apis/apps/v1/namespaces/default/deployments/s/scale")
    assert (status, scale["kind"], scale["spec"], scale["status"]["selector"]) == (200, "Scale", {"replicas": 1}, "app=s")
    status, scale = request(server, "PUT", "/apis/apps/v1/namespaces/default/deployments/s/scale", {**scale, "spec": {"replicas": 4}})
    assert status == 200 and scale["spec"]["replicas"] == 4
    status, body = request(server, "PUT", "/apis/apps/v1/namespaces/default/deployments/s/scale",
                           {**scale, "metadata": {**scale["metadata"], "resourceVersion": "1"}, "spec": {"replicas": 2}})
    assert status == 409
    status, body = request(server, "PUT", "/apis/apps/v1/namespaces/default/deployments/s/scale", {"spec": {"replicas": -1}})
    assert status == 400 and "must be greater than or equal to 0" in body["message"]
    assert request(server, "DELETE", "/apis/apps/v1/namespaces/default/deployments/s")[0] == 200


def test_create_get_conflict_and_delete_over_https(server):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-0"},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    status, created = request(server, "POST", "/api/v1/namespaces/default/pods", pod)
    assert status == 201 and created["spec"]["restartPolicy"] == "Always"  # defaulted
    stale = dict(created, metadata={**created["metadata"], "labels": {"a": "b"}})
    assert request(server, "PUT", "/api/v1/namespaces/default/pods/web-0", stale)[0] == 200
    status, body = request(server, "PUT", "/api/v1/namespaces/default/pods/web-0", stale)
    assert status == 409 and body["reason"] == "Conflict"
    status, table = request(server, "GET", "/api/v1/namespaces/default/pods",
                            headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    assert table["kind"] == "Table" and table["rows"][0]["cells"][0] == "web-0"
    assert request(server, "DELETE", "/api/v1/namespaces/default/pods/web-0")[0] == 200
    assert request(server, "GET", "/api/v1/namespaces/default/pods/web-0")[0] == 404


def test_a_silent_client_does_not_block_others(server):
    import socket

    # A connection that never starts TLS: its handshake waits in its own thread, not in the accept loop.
    with socket.create_connection(("127.0.0.1", server.port)) as silent:
        assert request(server, "GET", "/api/v1/namespaces/default/configmaps")[0] == 200
        silent.sendall(b"this is not TLS\r\n\r\n")
        assert request(server, "GET", "/version")[0] == 200
