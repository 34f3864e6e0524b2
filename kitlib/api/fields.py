"""Field selectors: ``--field-selector spec.nodeName=node-1``, as apimachinery's ``fields``.

Labels are for grouping; a few built-in fields are selectable too, so that a
kubelet can watch only the Pods bound to its node (``spec.nodeName=me``), the
scheduler only the Pods not yet bound (``spec.nodeName=``), and ``kubectl get
events`` only those about one object (``involvedObject.name=web-0``). The
language is tiny: ``=``, ``==`` (the same) and ``!=``, ANDed by commas, with
``\\``, ``,`` and ``=`` escaped by a backslash inside values. Parse errors and
the canonical string are exactly ``k8s.io/apimachinery/pkg/fields``'.

Simplifications:
- Matching walks any dotted path of the object; Kubernetes lets each
  resource declare which few fields it supports and rejects the others
  (``field label not supported``): the API server does that check with
  :meth:`FieldSelector.fields`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, NamedTuple

from kitlib.api.errors import InvalidSelector


class FieldRequirement(NamedTuple):
    """``field = value`` (operator ``=``) or ``field != value`` (operator ``!=``)."""

    field: str
    operator: str
    value: str

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{escape_field_value(self.value)}"


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The value at a dotted path as a field selector sees it: a string, ``""`` if absent.

    Kubernetes builds each object's field set with strings, booleans spelled
    ``true``/``false`` (``spec.hostNetwork``), and an unset field as ``""``,
    which is how ``spec.nodeName=`` finds the Pods not yet scheduled.
    """
    value: Any = obj
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return ""
        value = value.get(part)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return ""


@dataclass(frozen=True)
class FieldSelector:
    """Field requirements ANDed together; no requirements match everything."""

    terms: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        for term in self.terms:
            equal = field_value(obj, term.field) == term.value
            if equal != (term.operator == "="):
                return False
        return True

    @property
    def empty(self) -> bool:
        return not self.terms

    def fields(self) -> set[str]:
        """The field paths used, for the API server to check against the resource's supported ones."""
        return {term.field for term in self.terms}

    def requires_exact_match(self, field: str) -> str | None:
        """The value ``field`` must equal, if a term says so (a kubelet watching ``spec.nodeName=me``)."""
        for term in self.terms:
            if term.field == field and term.operator == "=":
                return term.value
        return None

    def __str__(self) -> str:
        return ",".join(str(term) for term in self.terms)


EVERYTHING_FIELDS = FieldSelector()


def _split_terms(text: str) -> list[str]:
    # Split on commas not escaped by a backslash; the backslash stays in the term.
    terms, start, escaped = [], 0, False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    # The first place where "!=", "==" or "=" starts (tried in that order) splits
    # the term; the field part has no escaping.
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


def escape_field_value(value: str) -> str:
    """``\\``, ``,`` and ``=`` escaped with a backslash (``fields.EscapeValue``)."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def unescape_field_value(text: str) -> str:
    """The inverse of :func:`escape_field_value`; a stray ``,``, ``=`` or ``\\`` is an error."""
    out, escaped = [], False
    for ch in text:
        if escaped:
            if ch not in "\\,=":
                raise InvalidSelector(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",=":
            raise InvalidSelector(f"invalid field selector: unescaped character in value: {ch}")
        else:
            out.append(ch)
    if escaped:
        raise InvalidSelector("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def parse_field_selector(text: str) -> FieldSelector:
    """Parse ``--field-selector`` syntax (``fields.ParseSelector``): ``status.phase!=Running,spec.nodeName=n1``.

    Only ``=``, ``==`` (the same) and ``!=`` exist; anything else (``in``,
    ``<``, ``>``) is ``invalid selector: ...; can't understand ...``. Spaces
    are not trimmed: they become part of the field or the value, as in
    Kubernetes.
    """
    terms = []
    # Kubernetes sorts the raw terms, so the canonical string is sorted too.
    for part in sorted(_split_terms(text)) if text else []:
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise InvalidSelector(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, raw = split
        terms.append(FieldRequirement(field, "!=" if op == "!=" else "=", unescape_field_value(raw)))
    return FieldSelector(tuple(terms))
