"""Admission: the last checks and changes before the API server stores an object.

After authentication, authorisation and defaulting, kube-apiserver hands
every write (create, update, delete, connect) to a chain of admission
plugins. First every *mutating* plugin may change the object (set a Pod's
ServiceAccount, allocate a Service's ClusterIP); then every *validating*
plugin may refuse it, with a ``Status`` the client sees. Only if all agree
does the registry write. The plugins here are the ones a Pod or a Service
cannot do without:

- ``NamespaceLifecycle``: nothing is created in a namespace that does not
  exist or is being deleted, and ``default``, ``kube-system`` and
  ``kube-public`` cannot be deleted;
- ``ServiceAccount``: a Pod runs as a ServiceAccount, ``default`` unless it
  names one, and that account must exist;
- ``ServiceAllocation`` (:mod:`kitlib.apiserver.service_allocation`): a
  Service's ClusterIP and node ports.

A plugin that reserves something (an IP) must give it back if the write
fails later, so each request's :class:`Attributes` carries what plugins
need to finish it, and :meth:`Chain.finish` tells them how the write went
(kube's ``FinishFunc``). :meth:`Chain.session` does that bookkeeping::

    with chain.session() as session:                 # create
        obj = session.run(Attributes(CREATE, resource, namespace, "", defaulted, user=user))
        created = registry.create(resource, obj, namespace)

Two objects every cluster has are made by the API server itself: each Namespace's ``default`` ServiceAccount
(:func:`ensure_default_service_account`) and, at bootstrap, the
``default/kubernetes`` Service on the first IP of the service range
(:func:`ensure_kubernetes_service`).

Simplifications:
- Plugins are called directly, in a fixed order; no admission
  configuration file, no webhooks, no ValidatingAdmissionPolicy.
- ``NamespaceLifecycle`` always reads namespaces from the registry (kube
  reads an informer's cache and goes to storage only on a miss or right
  after a namespace delete); it keeps no cache, so it needs no clock.
- ``ServiceAccount`` does not mount the ``kube-api-access-*`` token volume
  (there are no service account tokens yet) nor enforce
  ``kubernetes.io/enforce-mountable-secrets``.
- Each Namespace's ``default`` ServiceAccount is made by the API server
  (:func:`ensure_default_service_account`), where kube's serviceaccounts
  controller in kube-controller-manager makes it: there are no controllers yet.
- The ``kubernetes`` Service gets no Endpoints here; kube-apiserver's
  endpoint reconciler keeps them pointing at the live API servers.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Protocol, Sequence

from kitlib.api import meta
from kitlib.api.errors import AlreadyExists, Forbidden, Invalid, NotFound
from kitlib.apiserver.authn import MASTERS_GROUP, UserInfo
from kitlib.apiserver.defaults import apply_defaults
from kitlib.apiserver.registry import Registry
from kitlib.apiserver.resources import Resource, lookup

log = logging.getLogger(__name__)

Obj = dict[str, Any]

# admission.Operation
CREATE, UPDATE, DELETE, CONNECT = "CREATE", "UPDATE", "DELETE", "CONNECT"

IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")  # metav1.NamespaceDefault, System, Public
DEFAULT_SERVICE_ACCOUNT = "default"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"  # a static Pod's reflection, made by its kubelet
NAMESPACE_TERMINATING_CAUSE = "NamespaceTerminating"  # v1.NamespaceTerminatingCause

NAMESPACES = lookup("", "v1", "namespaces")
SERVICE_ACCOUNTS = lookup("", "v1", "serviceaccounts")
SERVICES = lookup("", "v1", "services")
KUBERNETES_SERVICE = "kubernetes"
APISERVER_USER = UserInfo("system:apiserver", "", (MASTERS_GROUP,))  # kube-apiserver's loopback identity


@dataclass
class Attributes:
    """One request as admission sees it (kube's ``admission.Attributes``).

    ``object`` is the object to be stored, which mutating plugins may change;
    ``old_object`` the stored one (updates and deletes). ``name`` may be empty
    on a create (``generateName``). ``context`` is per-request scratch space
    where a plugin keeps what :meth:`Chain.finish` must undo or complete.
    """

    operation: str  # CREATE | UPDATE | DELETE | CONNECT
    resource: Resource
    namespace: str = ""
    name: str = ""
    object: Obj | None = None
    old_object: Obj | None = None
    subresource: str = ""
    user: UserInfo | None = None
    dry_run: bool = False
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def object_name(self) -> str:
        """The name a message should use: the request's, else the object's."""
        return self.name or meta.name(self.object or {}) or meta.name(self.old_object or {})

    def forbidden(self, why: str) -> Forbidden:
        """``<resource> "<name>" is forbidden: <why>`` (``admission.NewForbidden``)."""
        return Forbidden(self.resource.plural, self.object_name, why, group=self.resource.group)


class AdmissionPlugin(Protocol):
    """One admission plugin. ``admit`` may change ``attrs.object``; ``validate`` may only refuse.

    Both refuse by raising an :class:`~kitlib.api.errors.APIError`. A plugin
    that reserves something in ``admit`` also defines
    ``finish(attrs, succeeded)``, called once the write is known to have
    happened (or not).
    """

    name: str

    def admit(self, attrs: Attributes) -> None: ...

    def validate(self, attrs: Attributes) -> None: ...


class Chain:
    """Plugins in order: all ``admit`` calls, then all ``validate`` calls (kube's mutating, then validating, phase)."""

    def __init__(self, plugins: Sequence[AdmissionPlugin]) -> None:
        self.plugins = list(plugins)

    def admit(self, attrs: Attributes) -> None:
        for plugin in self.plugins:
            plugin.admit(attrs)

    def validate(self, attrs: Attributes) -> None:
        for plugin in self.plugins:
            plugin.validate(attrs)

    def run(self, attrs: Attributes, check: Callable[[Attributes], None] | None = None) -> Obj | None:
        """Admit, then ``check``, then validate; return the (possibly changed) object.

        ``check`` is where kube-apiserver validates the object itself (the
        kind's strategy), between the mutating and the validating phase. On a
        refusal, plugins are finished as failed (an IP reserved by a plugin
        earlier in the chain is released) and the error is raised.
        """
        try:
            self.admit(attrs)
            if check is not None:
                check(attrs)
            self.validate(attrs)
        except BaseException:
            self.finish(attrs, succeeded=False)
            raise
        return attrs.object

    def finish(self, attrs: Attributes, succeeded: bool) -> None:
        """Tell plugins whether the store write happened; in reverse order, as a rollback unwinds."""
        for plugin in reversed(self.plugins):
            finish = getattr(plugin, "finish", None)
            if finish is None:
                continue
            try:
                finish(attrs, succeeded)
            except Exception:  # noqa: BLE001  (one plugin's cleanup must not stop the others')
                log.exception("admission plugin %s failed to finish %s %s", plugin.name, attrs.operation,
                              attrs.object_name)

    @contextlib.contextmanager
    def session(self) -> Iterator["AdmissionSession"]:
        """A request's admission: finishes it as succeeded if the block ends normally, failed if it raises."""
        session = AdmissionSession(self)
        try:
            yield session
        except BaseException:
            session.close(succeeded=False)
            raise
        session.close(succeeded=True)


class AdmissionSession:
    """The admission of one request, which may take several attempts.

    An update runs inside ``Registry.guaranteed_update``, which calls its
    function again when another writer won the race; each call runs the
    chain on the newest object, so :meth:`run` first finishes the previous
    attempt as failed (kube does the same in its update loop)::

        with chain.session() as session:
            def replace(current):
                new = registry.merge_update(resource, current, apply_defaults(body))
                return session.run(Attributes(UPDATE, resource, ns, name, new, current, user=user))
            stored = registry.guaranteed_update(resource, ns, name, replace)
    """

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.attrs: Attributes | None = None

    def run(self, attrs: Attributes, check: Callable[[Attributes], None] | None = None) -> Obj | None:
        if self.attrs is not None:
            self.chain.finish(self.attrs, succeeded=False)
            self.attrs = None
        result = self.chain.run(attrs, check)
        self.attrs = attrs
        return result

    def close(self, succeeded: bool) -> None:
        if self.attrs is not None:
            self.chain.finish(self.attrs, succeeded)
            self.attrs = None


class NamespaceLifecycle:
    """kube's ``NamespaceLifecycle`` plugin (``plugin/pkg/admission/namespace/lifecycle``)."""

    name = "NamespaceLifecycle"

    def __init__(self, registry: Registry, immortal: Sequence[str] = IMMORTAL_NAMESPACES) -> None:
        self.registry = registry
        self.immortal = tuple(immortal)

    def admit(self, attrs: Attributes) -> None:
        # kube's plugin is a mutating one that changes nothing: it runs first, so that nothing
        # is reserved (a ClusterIP) for a request into a namespace that is not there.
        is_namespace = attrs.resource.group == "" and attrs.resource.kind == "Namespace"
        if is_namespace and attrs.operation == DELETE and attrs.name in self.immortal:
            raise Forbidden(attrs.resource.plural, attrs.name, "this namespace may not be deleted")
        namespace = attrs.namespace or meta.namespace(attrs.object or {})
        # Cluster-scoped objects, Namespaces themselves, and deletes of anything are always let through:
        # content must be deletable from a namespace that is going away.
        if is_namespace or not attrs.resource.namespaced or not namespace or attrs.operation == DELETE:
            return
        try:
            ns = self.registry.get(NAMESPACES, None, namespace)
        except NotFound:
            raise NotFound("namespaces", namespace) from None
        if attrs.operation == CREATE and (ns.get("status") or {}).get("phase") == "Terminating":
            err = attrs.forbidden(f"unable to create new content in namespace {namespace} "
                                  "because it is being terminated")
            err.details = {**(err.details or {}), "causes": [{
                "reason": NAMESPACE_TERMINATING_CAUSE,
                "message": f"namespace {namespace} is being terminated",
                "field": "metadata.namespace",
            }]}
            raise err

    def validate(self, attrs: Attributes) -> None:
        """Nothing more: the checks ran in :meth:`admit`."""


class ServiceAccount:
    """kube's ``ServiceAccount`` plugin (``plugin/pkg/admission/serviceaccount``), for Pod creates."""

    name = "ServiceAccount"

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    @staticmethod
    def _applies(attrs: Attributes) -> bool:
        return (attrs.operation == CREATE and not attrs.subresource and attrs.resource.group == ""
                and attrs.resource.kind == "Pod" and isinstance(attrs.object, dict))

    @staticmethod
    def _is_mirror(pod: Obj) -> bool:
        # The kubelet reports a static Pod with the same spec as its file; changing it would make
        # the kubelet delete the reflection at once.
        return MIRROR_POD_ANNOTATION in meta.annotations(pod)

    def _account(self, attrs: Attributes, namespace: str, name: str) -> Obj:
        try:
            return self.registry.get(SERVICE_ACCOUNTS, namespace, name)
        except NotFound:
            # The inner error names the resource in the singular, as kube's lister error does.
            raise attrs.forbidden(f"error looking up service account {namespace}/{name}: "
                                  f"serviceaccount \"{name}\" not found") from None

    def admit(self, attrs: Attributes) -> None:
        if not self._applies(attrs) or self._is_mirror(attrs.object):
            return
        pod = attrs.object
        spec = pod.setdefault("spec", {})
        namespace = attrs.namespace or meta.namespace(pod) or "default"
        # spec.serviceAccount is the deprecated spelling; v1 conversion reads it when the new one
        # is empty and writes both back, so a served Pod shows the name twice.
        account = spec.get("serviceAccountName") or spec.get("serviceAccount") or DEFAULT_SERVICE_ACCOUNT
        spec["serviceAccountName"] = spec["serviceAccount"] = account
        sa = self._account(attrs, namespace, account)
        if not spec.get("imagePullSecrets") and sa.get("imagePullSecrets"):
            spec["imagePullSecrets"] = [{"name": s.get("name", "")} for s in sa["imagePullSecrets"]]

    def validate(self, attrs: Attributes) -> None:
        if not self._applies(attrs):
            return
        pod = attrs.object
        spec = pod.get("spec") or {}
        if self._is_mirror(pod):
            if spec.get("serviceAccountName"):
                raise attrs.forbidden("a mirror pod may not reference service accounts")
            return
        namespace = attrs.namespace or meta.namespace(pod) or "default"
        if not spec.get("serviceAccountName"):
            raise attrs.forbidden(f"no service account specified for pod {namespace}/{meta.name(pod)}")
        self._account(attrs, namespace, spec["serviceAccountName"])


def ensure_default_service_account(registry: Registry, namespace: str) -> Obj:
    """The ``default`` ServiceAccount of ``namespace``, created if missing.

    Call it after each Namespace is created (and for the system namespaces at
    bootstrap): every Pod that names no account runs as this one. In kube the
    serviceaccounts controller does this, for Active namespaces only.
    """
    try:
        return registry.get(SERVICE_ACCOUNTS, namespace, DEFAULT_SERVICE_ACCOUNT)
    except NotFound:
        pass
    sa = {"apiVersion": "v1", "kind": "ServiceAccount",
          "metadata": {"name": DEFAULT_SERVICE_ACCOUNT, "namespace": namespace}}
    try:
        return registry.create(SERVICE_ACCOUNTS, sa, namespace)
    except AlreadyExists:  # another API server (or request) made it meanwhile
        return registry.get(SERVICE_ACCOUNTS, namespace, DEFAULT_SERVICE_ACCOUNT)


def kubernetes_service(cluster_ip: str, port: int = 6443) -> Obj:
    """``default/kubernetes``: how Pods reach the API server, on the first IP of the service range."""
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": KUBERNETES_SERVICE, "namespace": "default",
                     "labels": {"component": "apiserver", "provider": "kubernetes"}},
        # No selector: its endpoints are the API servers themselves, which kube-apiserver keeps.
        "spec": {"type": "ClusterIP", "clusterIP": cluster_ip, "clusterIPs": [cluster_ip], "sessionAffinity": "None",
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]},
    }


def ensure_kubernetes_service(registry: Registry, chain: Chain, cluster_ip: str, port: int = 6443) -> Obj:
    """Create ``default/kubernetes`` at bootstrap if it is missing; return it.

    kube-apiserver's kubernetesservice controller creates it through its
    loopback client, so it passes admission like any Service: ``chain`` must
    hold ``ServiceAllocation``, which reserves ``cluster_ip`` (the range's
    first address, ``ServiceIPAllocator.first_ip``) so no other Service gets
    it. If another API server is creating it at the same moment, its Service
    is returned; if that server holds the IP but has not yet written the
    Service, the ``422`` saying the IP is allocated is raised: call again
    (kube's controller retries every 10 seconds).
    """
    try:
        return registry.get(SERVICES, "default", KUBERNETES_SERVICE)
    except NotFound:
        pass
    obj = apply_defaults(kubernetes_service(cluster_ip, port))
    try:
        with chain.session() as session:
            attrs = Attributes(CREATE, SERVICES, "default", KUBERNETES_SERVICE, obj, user=APISERVER_USER)
            admitted = session.run(attrs)
            return registry.create(SERVICES, admitted, "default")
    except (AlreadyExists, Invalid) as err:
        try:
            return registry.get(SERVICES, "default", KUBERNETES_SERVICE)
        except NotFound:
            raise err from None


def default_chain(registry: Registry, *extra: AdmissionPlugin) -> Chain:
    """The kit's chain: ``NamespaceLifecycle``, ``ServiceAccount``, then ``extra`` (``ServiceAllocation``).

    The order is kube-apiserver's recommended one; allocation comes last so
    that nothing is reserved for a request another plugin would refuse.
    """
    return Chain([NamespaceLifecycle(registry), ServiceAccount(registry), *extra])


__all__ = [
    "CONNECT", "CREATE", "DELETE", "UPDATE", "AdmissionPlugin", "AdmissionSession", "Attributes", "Chain",
    "NamespaceLifecycle", "ServiceAccount", "default_chain", "ensure_default_service_account",
    "ensure_kubernetes_service", "kubernetes_service",
]
