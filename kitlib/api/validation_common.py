"""The small rules every kind's validation shares, and Go's way of printing structs in them.

Ports are 1-65535 or IANA names, counts are non-negative, an immutable field
compares equal "semantically" (an absent list equals an empty one), label
selectors match template labels. When Kubernetes puts a whole struct in a
message (a Deployment's ``spec.selector`` that may not change), it prints it
with Go's ``%#v``; :func:`go_label_selector` and its siblings spell the
structs a learner meets that way, so the kit's message is kube's:

    >>> str(immutable("spec.selector", {"matchLabels": {"app": "b"}}, {"matchLabels": {"app": "a"}},
    ...               go_label_selector({"matchLabels": {"app": "b"}}))[0])
    'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"b"}, \
MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable'

Simplifications:
- Only the structs listed here are spelled in Go syntax; others fall back to
  JSON (see :mod:`kitlib.api.field`).
- IP addresses are parsed by Python's ``ipaddress``, which refuses the
  leading zeros Go's ``ParseIPSloppy`` still accepts.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from kitlib.api.errors import InvalidSelector
from kitlib.api.field import FieldError, GoSyntax, go_quote, invalid, not_supported, render_value, required
from kitlib.api.selectors import selector_from_label_selector
from kitlib.api.validation import (
    FIELD_IMMUTABLE,
    is_dns1123_label,
    is_qualified_name,
    validate_label_selector,
)

Obj = dict[str, Any]
MAX_INT32 = 2147483647
NEGATIVE = "must be greater than or equal to 0"  # apimachinery's IsNegativeErrorMsg
SELECTOR_MISMATCH = "`selector` does not match template `labels`"


def nonnegative(path: str, value: Any) -> list[FieldError]:
    """``ValidateNonnegativeField``."""
    return [invalid(path, value, NEGATIVE)] if isinstance(value, int) and value < 0 else []


def semantic_equal(a: Any, b: Any) -> bool:
    """``apiequality.Semantic.DeepEqual`` on JSON data: an absent, null or empty map or list are equal."""
    if isinstance(a, dict) or isinstance(b, dict):
        a, b = a or {}, b or {}
        if not isinstance(a, dict) or not isinstance(b, dict):
            return False
        return all(semantic_equal(a.get(k), b.get(k)) for k in set(a) | set(b))
    if isinstance(a, list) or isinstance(b, list):
        a, b = a or [], b or []
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(map(semantic_equal, a, b))
    return a == b


def immutable(path: str, new: Any, old: Any, shown: Any = None) -> list[FieldError]:
    """``ValidateImmutableField``: an Invalid carrying the new value (or ``shown``, its Go rendering)."""
    return [] if semantic_equal(new, old) else [invalid(path, new if shown is None else shown, FIELD_IMMUTABLE)]


def is_valid_port_num(port: Any) -> list[str]:
    ok = isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535
    return [] if ok else ["must be between 1 and 65535, inclusive"]


def is_valid_port_name(name: str) -> list[str]:
    """IANA service names: at most 15 of ``a-z0-9-``, a letter somewhere, no ``--``, no dash at either end."""
    errs = ["must be no more than 15 characters"] if len(name) > 15 else []
    if not re.fullmatch("[-a-z0-9]+", name):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", name):
        errs.append("must contain at least one letter (a-z)")
    if "--" in name:
        errs.append("must not contain consecutive hyphens")
    if name.startswith("-") or name.endswith("-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def port_num_or_name(port: Any, path: str) -> list[FieldError]:
    """An IntOrString port (a probe's, a Service's targetPort): a number in range or a port name."""
    check = is_valid_port_name if isinstance(port, str) else is_valid_port_num
    return [invalid(path, port, msg) for msg in check(port)]


def dns_label(value: str, path: str) -> list[FieldError]:
    return [invalid(path, value, msg) for msg in is_dns1123_label(value)]


def qualified_name(value: str, path: str) -> list[FieldError]:
    return [invalid(path, value, msg) for msg in is_qualified_name(value)]


def valid_ip(value: str, path: str) -> list[FieldError]:
    """``validation.IsValidIP`` of v1.32."""
    try:
        ipaddress.ip_address(value)
        return []
    except ValueError:
        return [invalid(path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]


PROTOCOLS = ["SCTP", "TCP", "UDP"]  # sets.List: sorted


def protocol(value: str, path: str) -> list[FieldError]:
    if not value:
        return [required(path)]
    return [] if value in PROTOCOLS else [not_supported(path, value, PROTOCOLS)]


def one_of(value: str, path: str, supported: list[str]) -> list[FieldError]:
    """Required when empty, Unsupported when not listed (restartPolicy, dnsPolicy, concurrencyPolicy...)."""
    if not value:
        return [required(path)]
    return [] if value in supported else [not_supported(path, value, supported)]


def selector_matches(selector: Obj | None, labels: dict | None) -> bool | None:
    """Whether a LabelSelector selects these labels; ``None`` if it does not convert (invalid)."""
    if selector is not None and validate_label_selector(selector, "selector"):
        return None
    try:
        return selector_from_label_selector(selector).matches(labels or {})
    except InvalidSelector:
        return None


# --- Go's %#v of the structs that appear in messages ------------------------------


def _go_map(value: dict | None) -> str:
    return "map[string]string(nil)" if value is None else render_value(dict(value))


def _go_strings(values: list | None) -> str:
    return "[]string(nil)" if not values else render_value(list(values))


def go_labels(labels: dict | None) -> GoSyntax:
    """A label map, ``map[string]string(nil)`` when absent."""
    return GoSyntax(_go_map(labels))


def go_label_selector(selector: Obj | None) -> GoSyntax:
    """``metav1.LabelSelector`` as ``%#v`` prints it."""
    selector = selector or {}
    exprs = selector.get("matchExpressions") or []
    shown = ", ".join(
        f"v1.LabelSelectorRequirement{{Key:{go_quote(e.get('key') or '')}, Operator:{go_quote(e.get('operator') or '')}, "
        f"Values:{_go_strings(e.get('values'))}}}" for e in exprs)
    expressions = f"[]v1.LabelSelectorRequirement{{{shown}}}" if exprs else "[]v1.LabelSelectorRequirement(nil)"
    return GoSyntax(f"v1.LabelSelector{{MatchLabels:{_go_map(selector.get('matchLabels'))}, MatchExpressions:{expressions}}}")


def go_int_or_string(value: Any) -> GoSyntax:
    """``intstr.IntOrString`` (maxSurge, maxUnavailable, targetPort)."""
    if isinstance(value, str):
        return GoSyntax(f"intstr.IntOrString{{Type:1, IntVal:0, StrVal:{go_quote(value)}}}")
    return GoSyntax(f"intstr.IntOrString{{Type:0, IntVal:{value or 0}, StrVal:\"\"}}")


def go_strategy(kind: str, strategy: Obj) -> Any:
    """``apps.<kind>{Type:..., RollingUpdate:nil}``; with a RollingUpdate (a pointer kube prints as an address), JSON."""
    if strategy.get("rollingUpdate") is not None:
        return strategy
    pointer = {"DeploymentStrategy": "RollingUpdateDeployment", "DaemonSetUpdateStrategy": "RollingUpdateDaemonSet",
               "StatefulSetUpdateStrategy": "RollingUpdateStatefulSetStrategy"}[kind]
    return GoSyntax(f"apps.{kind}{{Type:{go_quote(strategy.get('type') or '')}, RollingUpdate:(*apps.{pointer})(nil)}}")


def replica_status(status: Obj, counts: tuple[str, ...], capped: tuple[str, ...] = (),
                   ready_message: str = "") -> list[FieldError]:
    """A workload's status counters: none negative, none above ``status.replicas`` (``ValidateReplicaSetStatus``...)."""
    errs = [e for key in counts for e in nonnegative(f"status.{key}", status.get(key, 0))]
    replicas = status.get("replicas", 0)
    errs += [invalid(f"status.{key}", status.get(key, 0), "cannot be greater than status.replicas")
             for key in capped if status.get(key, 0) > replicas]
    if ready_message and status.get("availableReplicas", 0) > status.get("readyReplicas", 0):
        errs.append(invalid("status.availableReplicas", status.get("availableReplicas", 0), ready_message))
    return errs
