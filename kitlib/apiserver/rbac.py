"""RBAC: what a user may do, decided from Roles and their bindings, as kube-apiserver's RBAC authorizer.

After authentication names the user (:mod:`kitlib.apiserver.authn`) and the
request is named (:mod:`kitlib.apiserver.requestinfo`), the API server asks
one question: may this user do this verb on this resource here? RBAC
answers it from four kinds of ``rbac.authorization.k8s.io/v1`` objects:

- a **Role** (in a namespace) or **ClusterRole** (cluster-wide) is a list
  of rules, each allowing ``verbs`` on ``resources`` of ``apiGroups``
  (optionally only the objects in ``resourceNames``), or, in ClusterRoles,
  ``verbs`` on ``nonResourceURLs`` such as ``/healthz``;
- a **RoleBinding** grants a Role, or a ClusterRole *inside its own
  namespace only*, to subjects (Users, Groups, ServiceAccounts); a
  **ClusterRoleBinding** grants a ClusterRole everywhere.

Rules only add permissions: there is no "deny", so a request is allowed as
soon as one rule of one binding that names the user matches, and otherwise
gets ``403 Forbidden`` with the message kube-apiserver writes
(:func:`forbidden`). Matching follows ``plugin/pkg/auth/authorizer/rbac``:
``*`` in verbs, apiGroups and resources matches everything (a resource
``*`` matches subresources too); ``pods/log`` names a subresource and
``*/scale`` that subresource of any resource; ``/apis/*`` in
nonResourceURLs is a prefix.

    >>> from kitlib.apiserver.bootstrappolicy import bootstrap_policy
    >>> from kitlib.apiserver.requestinfo import request_info
    >>> source = InMemoryRBAC(bootstrap_policy())
    >>> alice = UserInfo("alice", groups=("system:authenticated",))
    >>> RBACAuthorizer(source).authorize(alice, request_info("GET", "/version", {})).allowed
    True
    >>> info = request_info("GET", "/api/v1/namespaces/default/pods", {})
    >>> forbidden(alice, info).message
    'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "default"'

The authorizer reads the objects through :class:`RBACSource`, so tests use
:class:`InMemoryRBAC` and the API server its own storage. :func:`rule` and
:func:`subject` spell the objects' parts; the roles and bindings the kit
installs at start-up are in :mod:`kitlib.apiserver.bootstrappolicy`.

Simplifications:
- Aggregated ClusterRoles (``aggregationRule.clusterRoleSelectors``) are
  not computed: an aggregationRule is ignored (so the bootstrap ``admin``,
  ``edit`` and ``view`` carry their rules directly; see
  :mod:`kitlib.apiserver.bootstrappolicy`).
- No Node authorizer and no NodeRestriction admission: RBAC cannot say
  "its own Node", so a kubelet may update any Node's status here (in
  Kubernetes the Node authorizer limits it to its own, and ``system:node``
  is bound to nobody).
- No privilege-escalation check when Roles and bindings are written
  (kube-apiserver refuses to let you grant rules you do not hold
  yourself); no ``bind``/``escalate`` verbs as a consequence.
- Objects are not validated here (a Role with nonResourceURLs is simply
  never consulted for them, as Kubernetes' RoleBindings never are).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Protocol

from kitlib.api.errors import Forbidden, NotFound
from kitlib.api.field import aggregate_message, go_quote
from kitlib.apiserver.authn import MASTERS_GROUP, UserInfo, is_service_account
from kitlib.apiserver.requestinfo import RequestInfo

Obj = dict[str, Any]

RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_API_VERSION = f"{RBAC_GROUP}/v1"


class RBACSource(Protocol):
    """Where the authorizer reads RBAC objects; ``get_*`` return None when there is no such object."""

    def list_cluster_role_bindings(self) -> Iterable[Obj]: ...

    def get_cluster_role(self, name: str) -> Obj | None: ...

    def list_role_bindings(self, namespace: str) -> Iterable[Obj]: ...

    def get_role(self, namespace: str, name: str) -> Obj | None: ...


class InMemoryRBAC:
    """An :class:`RBACSource` over plain dicts: Roles, ClusterRoles and bindings, by kind."""

    KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")

    def __init__(self, objects: Iterable[Obj] = ()) -> None:
        self.objects: dict[str, dict[tuple[str, str], Obj]] = {kind: {} for kind in self.KINDS}
        for obj in objects:
            self.put(obj)

    def put(self, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        namespaced = obj["kind"] in ("Role", "RoleBinding")
        self.objects[obj["kind"]][(meta.get("namespace", "") if namespaced else "", meta["name"])] = obj

    def delete(self, kind: str, name: str, namespace: str = "") -> None:
        self.objects[kind].pop((namespace, name), None)

    def list_cluster_role_bindings(self) -> Iterable[Obj]:
        return list(self.objects["ClusterRoleBinding"].values())

    def get_cluster_role(self, name: str) -> Obj | None:
        return self.objects["ClusterRole"].get(("", name))

    def list_role_bindings(self, namespace: str) -> Iterable[Obj]:
        return [b for (ns, _), b in self.objects["RoleBinding"].items() if ns == namespace]

    def get_role(self, namespace: str, name: str) -> Obj | None:
        return self.objects["Role"].get((namespace, name))


# --- Spelling the objects (rbacv1helpers' builders) -------------------------

def rule(verbs: Iterable[str], groups: Iterable[str] = (), resources: Iterable[str] = (),
         names: Iterable[str] = (), urls: Iterable[str] = ()) -> Obj:
    """A PolicyRule dict, keys in Kubernetes' order, empty lists left out (``rbacv1helpers.NewRule``)."""
    fields = {"verbs": verbs, "apiGroups": groups, "resources": resources, "resourceNames": names,
              "nonResourceURLs": urls}
    return {key: list(value) for key, value in fields.items() if value}


def subject(kind: str, name: str, namespace: str = "") -> Obj:
    """A binding subject: a User or Group (API group rbac), or a ServiceAccount (core, with its namespace)."""
    if kind == "ServiceAccount":
        return {"kind": kind, "name": name, "namespace": namespace}
    return {"kind": kind, "apiGroup": RBAC_GROUP, "name": name}


# --- One rule against one request (rbacv1helpers' *Matches functions) -------

def verb_matches(rule: Obj, verb: str) -> bool:
    return any(v in ("*", verb) for v in rule.get("verbs") or ())


def api_group_matches(rule: Obj, group: str) -> bool:
    return any(g in ("*", group) for g in rule.get("apiGroups") or ())


def resource_matches(rule: Obj, combined: str, subresource: str) -> bool:
    """``combined`` is ``pods`` or ``pods/status``. ``*`` matches both; ``*/status`` only the subresource."""
    for resource in rule.get("resources") or ():
        if resource in ("*", combined):
            return True
        if subresource and resource == "*/" + subresource:
            return True
    return False


def resource_name_matches(rule: Obj, name: str) -> bool:
    """No resourceNames: any object. Otherwise only those, so never a list without a pinned name, nor a create."""
    names = rule.get("resourceNames") or ()
    return not names or name in names


def non_resource_url_matches(rule: Obj, path: str) -> bool:
    for url in rule.get("nonResourceURLs") or ():
        if url in ("*", path):
            return True
        # A trailing "*" makes a prefix: "/apis/*" matches "/apis/apps/v1" (and "/apis/").
        if url.endswith("*") and path.startswith(url.rstrip("*")):
            return True
    return False


def rule_allows(info: RequestInfo, rule: Obj) -> bool:
    """Whether one PolicyRule allows the request (``RuleAllows``)."""
    if not info.is_resource_request:
        return verb_matches(rule, info.verb) and non_resource_url_matches(rule, info.path)
    combined = f"{info.resource}/{info.subresource}" if info.subresource else info.resource
    return (verb_matches(rule, info.verb) and api_group_matches(rule, info.api_group)
            and resource_matches(rule, combined, info.subresource) and resource_name_matches(rule, info.name))


# --- Which bindings name the user -----------------------------------------

def applies_to_user(user: UserInfo, subject: Obj, namespace: str) -> bool:
    """Whether a binding's subject is this user (``appliesToUser``).

    A ServiceAccount subject without a namespace means the binding's own
    namespace (in a ClusterRoleBinding it then matches nobody). A
    ServiceAccount is matched by user name only; to grant all accounts of a
    namespace, bind the Group ``system:serviceaccounts:<ns>``.
    """
    kind, name = subject.get("kind"), subject.get("name", "")
    if kind == "User":
        return user.name == name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        sa_namespace = subject.get("namespace") or namespace
        return bool(sa_namespace) and is_service_account(user.name, sa_namespace, name)
    return False


def _describe_subject(subject: Obj, binding_namespace: str) -> str:
    if subject.get("kind") == "ServiceAccount":
        # Kubernetes writes "name/namespace" here, in that order.
        namespace = subject.get("namespace") or binding_namespace
        return f'ServiceAccount {go_quote(subject.get("name", "") + "/" + namespace)}'
    return f'{subject.get("kind")} {go_quote(subject.get("name", ""))}'


@dataclass(frozen=True)
class RuleSource:
    """The binding (and its subject) that brought a rule, printed as Kubernetes prints it in reasons."""

    binding: Obj
    subject: Obj

    def __str__(self) -> str:
        meta, ref = self.binding.get("metadata") or {}, self.binding.get("roleRef") or {}
        if self.binding.get("kind") == "RoleBinding":
            # "name/namespace", in that order, is Kubernetes' own spelling.
            ns = meta.get("namespace", "")
            return (f'RoleBinding {go_quote(meta.get("name", "") + "/" + ns)} of {ref.get("kind")} '
                    f'{go_quote(ref.get("name", ""))} to {_describe_subject(self.subject, ns)}')
        return (f'ClusterRoleBinding {go_quote(meta.get("name", ""))} of {ref.get("kind")} '
                f'{go_quote(ref.get("name", ""))} to {_describe_subject(self.subject, "")}')


@dataclass(frozen=True)
class Decision:
    """The authorizer's answer. ``reason`` says which binding allowed, or why roles could not be read."""

    allowed: bool
    reason: str = ""


class RBACAuthorizer:
    """Answers "may this user do this?" from the objects of an :class:`RBACSource`.

    Members of ``privileged_groups`` are allowed everything without looking
    at RBAC, as kube-apiserver allows ``system:masters`` with an authorizer
    placed before all others: deleting the cluster-admin binding cannot lock
    the administrator out.
    """

    def __init__(self, source: RBACSource, privileged_groups: Iterable[str] = (MASTERS_GROUP,)) -> None:
        self.source = source
        self.privileged_groups = frozenset(privileged_groups)

    def _role_rules(self, ref: Obj, namespace: str) -> list[Obj]:
        # GetRoleReferenceRules: a missing role is an error to report, not a crash.
        kind, name = ref.get("kind"), ref.get("name", "")
        if kind == "Role":
            role = self.source.get_role(namespace, name)
            if role is None:
                raise LookupError(NotFound("role", name, group=RBAC_GROUP).message)
        elif kind == "ClusterRole":
            role = self.source.get_cluster_role(name)
            if role is None:
                raise LookupError(NotFound("clusterrole", name, group=RBAC_GROUP).message)
        else:
            raise LookupError(f"unsupported role reference kind: {go_quote(str(kind))}")
        return list(role.get("rules") or ())

    def visit_rules_for(self, user: UserInfo, namespace: str) -> Iterator[tuple[RuleSource | None, Obj | None, str]]:
        """Every rule that applies to the user in ``namespace`` (``""``: cluster-wide only), lazily.

        Yields ``(source, rule, "")``, or ``(None, None, error)`` for a
        binding whose role cannot be read. ClusterRoleBindings come first,
        then the RoleBindings of ``namespace``, whose roles are read in it.
        """
        bindings = [(b, "") for b in self.source.list_cluster_role_bindings()]
        if namespace:
            bindings += [(b, namespace) for b in self.source.list_role_bindings(namespace)]
        for binding, ns in bindings:
            subject = next((s for s in binding.get("subjects") or () if applies_to_user(user, s, ns)), None)
            if subject is None:
                continue
            try:
                rules = self._role_rules(binding.get("roleRef") or {}, ns)
            except LookupError as err:
                yield None, None, str(err)
                continue
            source = RuleSource(binding, subject)
            for rule in rules:
                yield source, rule, ""

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Obj], list[str]]:
        """All the user's rules in ``namespace`` and the errors met (``RulesFor``: ``kubectl auth can-i --list``)."""
        rules, errors = [], []
        for _, rule, error in self.visit_rules_for(user, namespace):
            if rule is not None:
                rules.append(rule)
            if error:
                errors.append(error)
        return rules, errors

    def authorize(self, user: UserInfo, info: RequestInfo) -> Decision:
        """Allowed by the first matching rule; otherwise denied, with unreadable roles named in the reason."""
        if self.privileged_groups.intersection(user.groups):
            return Decision(True, "")
        errors = []
        for source, rule, error in self.visit_rules_for(user, info.namespace):
            if rule is not None and rule_allows(info, rule):
                return Decision(True, f"RBAC: allowed by {source}")
            if error:
                errors.append(error)
        # RBAC never says "deny", only "no opinion"; with no other authorizer that is a 403.
        return Decision(False, f"RBAC: {aggregate_message(errors)}" if errors else "")


# --- What the client is told ----------------------------------------------

_SANITIZE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def forbidden_message(user: UserInfo | None, info: RequestInfo) -> str:
    """Who could not do what, where (``forbiddenMessage``).

    ``User "alice" cannot list resource "pods" in API group "" in the namespace "default"``.
    """
    who = go_quote(user.name if user else "")
    if not info.is_resource_request:
        return f"User {who} cannot {info.verb} path {go_quote(info.path)}"
    resource = f"{info.resource}/{info.subresource}" if info.subresource else info.resource
    head = f"User {who} cannot {info.verb} resource {go_quote(resource)} in API group {go_quote(info.api_group)}"
    if info.namespace:
        return f"{head} in the namespace {go_quote(info.namespace)}"
    return f"{head} at the cluster scope"


def forbidden(user: UserInfo | None, info: RequestInfo, reason: str = "") -> Forbidden:
    """The 403 kube-apiserver sends for a denied request: ``pods "web" is forbidden: User ...[: reason]``.

    ``reason`` is the :class:`Decision`'s. The message is escaped against
    HTML (``&``, ``<``, ``>``), the reason is not: both as Kubernetes does.
    """
    why = forbidden_message(user, info).translate(_SANITIZE)
    if reason:
        why = f"{why}: {reason}"
    if not info.is_resource_request:
        return Forbidden("", "", why)
    return Forbidden(info.resource, info.name, why, group=info.api_group)
