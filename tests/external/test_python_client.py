"""The official ``kubernetes`` Python client against a kit control plane, configured by its kubeconfig alone."""

from __future__ import annotations

import threading

import pytest
import yaml

from kitlib.cluster import ControlPlane

kubernetes = pytest.importorskip("kubernetes", reason="the official kubernetes client is not installed")
from kubernetes import client as k8s  # noqa: E402
from kubernetes import config, watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

from tests.external.test_kubectl import NGINX  # noqa: E402


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with ControlPlane(tmp_path_factory.mktemp("pyclient")) as plane:
        yield plane


@pytest.fixture(scope="module")
def api(cluster):
    return config.new_client_from_config(config_file=str(cluster.kubeconfig))


@pytest.fixture()
def core(api):
    return k8s.CoreV1Api(api)


@pytest.fixture()
def apps(api):
    return k8s.AppsV1Api(api)


def configmap(name, **data):
    return k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name=name, labels={"suite": "pyclient"}), data=data)


def test_version_and_namespaces(api, core):
    version = k8s.VersionApi(api).get_code()
    assert (version.major, version.minor) == ("1", "32")
    assert {"default", "kube-system"} <= {ns.metadata.name for ns in core.list_namespace().items}


def test_core_crud(core):
    created = core.create_namespaced_config_map("default", configmap("crud", a="1"))
    assert created.metadata.uid and created.metadata.resource_version
    read = core.read_namespaced_config_map("crud", "default")
    read.data["b"] = "2"
    replaced = core.replace_namespaced_config_map("crud", "default", read)
    assert replaced.data == {"a": "1", "b": "2"}
    assert [c.metadata.name for c in core.list_namespaced_config_map("default", label_selector="suite=pyclient").items
            if c.metadata.name == "crud"] == ["crud"]
    status = core.delete_namespaced_config_map("crud", "default")
    assert status.status == "Success"
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("crud", "default")
    assert err.value.status == 404


def test_apps_crud_with_the_curriculum_deployment(apps):
    manifest = yaml.safe_load(NGINX.read_text())
    created = apps.create_namespaced_deployment("default", manifest)
    assert created.spec.replicas == 2 and created.spec.strategy.type == "RollingUpdate"
    scale = apps.read_namespaced_deployment_scale("nginx-deployment", "default")
    scale.spec.replicas = 4
    assert apps.replace_namespaced_deployment_scale("nginx-deployment", "default", scale).spec.replicas == 4
    assert apps.read_namespaced_deployment("nginx-deployment", "default").metadata.generation == 2
    apps.delete_namespaced_deployment("nginx-deployment", "default", propagation_policy="Foreground")


@pytest.mark.parametrize(
    "patch, content_type, expected",
    [
        ([{"op": "add", "path": "/data/json", "value": "yes"}], "application/json-patch+json", {"json": "yes"}),
        ({"data": {"merge": "yes"}}, "application/merge-patch+json", {"merge": "yes"}),
        ({"data": {"strategic": "yes"}}, "application/strategic-merge-patch+json", {"strategic": "yes"}),
    ],
    ids=["json-patch", "merge-patch", "strategic-merge-patch"],
)
def test_patch_of_each_type(core, patch, content_type, expected):
    core.create_namespaced_config_map("default", configmap("patched", base="1"))
    try:
        patched = core.api_client.call_api(
            "/api/v1/namespaces/default/configmaps/patched", "PATCH", body=patch, response_type="V1ConfigMap",
            header_params={"Content-Type": content_type, "Accept": "application/json"},
            auth_settings=["BearerToken"], _return_http_data_only=True)
        assert patched.data == {"base": "1", **expected}
    finally:
        core.delete_namespaced_config_map("patched", "default")


def test_server_side_apply_from_the_python_client(core):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"k": "v"}}
    # Client 32 picks a patch's Content-Type itself; server-side apply is asked for with call_api.
    applied = core.api_client.call_api(
        "/api/v1/namespaces/default/configmaps/applied", "PATCH", body=body, response_type="V1ConfigMap",
        query_params=[("fieldManager", "pyclient")],
        header_params={"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"},
        auth_settings=["BearerToken"], _return_http_data_only=True)
    assert applied.data == {"k": "v"}
    assert [m.manager for m in applied.metadata.managed_fields] == ["pyclient"]
    core.delete_namespaced_config_map("applied", "default")


def test_watch_resumes_from_a_resource_version(core):
    start = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", configmap("w1"))
    seen = []
    for event in watch.Watch().stream(core.list_namespaced_config_map, "default", resource_version=start,
                                      timeout_seconds=5):
        seen.append((event["type"], event["object"].metadata.name))
        if event["object"].metadata.name == "w1":
            resume = event["object"].metadata.resource_version
            break
    # The watch is dropped; changes made meanwhile are delivered when it resumes from the last version seen.
    core.create_namespaced_config_map("default", configmap("w2"))
    core.delete_namespaced_config_map("w1", "default")
    for event in watch.Watch().stream(core.list_namespaced_config_map, "default", resource_version=resume,
                                      timeout_seconds=5):
        seen.append((event["type"], event["object"].metadata.name))
        if event["type"] == "DELETED":
            break
    assert seen == [("ADDED", "w1"), ("ADDED", "w2"), ("DELETED", "w1")]
    core.delete_namespaced_config_map("w2", "default")


def test_watch_from_a_compacted_version_is_410(cluster, core):
    old = core.list_namespaced_config_map("default").metadata.resource_version
    for i in range(3):
        core.create_namespaced_config_map("default", configmap(f"c{i}"))
        core.delete_namespaced_config_map(f"c{i}", "default")
    cluster.store.compact(cluster.store.range("/", prefix=True).revision)
    with pytest.raises(ApiException) as err:
        for _ in watch.Watch().stream(core.list_namespaced_config_map, "default", resource_version=old,
                                      timeout_seconds=5):
            pass
    assert err.value.status == 410


@pytest.mark.parametrize(
    "call, status, reason",
    [
        (lambda core: core.read_namespaced_pod("ghost", "default"), 404, "NotFound"),
        (lambda core: core.create_namespace({"metadata": {"name": "default"}}), 409, "AlreadyExists"),
        (lambda core: core.create_namespaced_pod("default", {"metadata": {"name": "p"}, "spec": {"containers": []}}),
         422, "Invalid"),
    ],
    ids=["not-found", "already-exists", "invalid"],
)
def test_errors_are_api_exceptions_with_kubernetes_status(core, call, status, reason):
    with pytest.raises(ApiException) as err:
        call(core)
    assert err.value.status == status
    assert yaml.safe_load(err.value.body)["reason"] == reason


def test_stale_update_is_a_409_conflict(core):
    core.create_namespaced_config_map("default", configmap("stale"))
    first = core.read_namespaced_config_map("stale", "default")
    second = core.read_namespaced_config_map("stale", "default")
    first.data = {"who": "first"}
    core.replace_namespaced_config_map("stale", "default", first)
    second.data = {"who": "second"}
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("stale", "default", second)
    assert err.value.status == 409
    core.delete_namespaced_config_map("stale", "default")


def test_many_threads_share_one_client(core):
    errors = []

    def work(i):
        try:
            core.create_namespaced_config_map("default", configmap(f"t{i}"))
            core.delete_namespaced_config_map(f"t{i}", "default")
        except Exception as err:  # noqa: BLE001 - collected and reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
