"""Field errors: one broken validation rule, as a value, worded as Kubernetes words it.

Validators (:mod:`kitlib.api.validation`, and later each kind's spec rules)
return lists of :class:`FieldError`; the API server wraps them in one
``422 Invalid`` (:class:`kitlib.api.errors.Invalid`) whose ``causes`` are
these errors. Everything here mirrors ``k8s.io/apimachinery/pkg/util/validation/field``
of v1.32: the type names (``FieldValueRequired``), their texts (``Required
value``), and how a bad value is printed (Go's ``%q`` for strings), because
``kubectl`` shows the result to the reader, who may compare it with a real
cluster's.

    >>> str(invalid("metadata.name", "Web", "must be lower case"))
    'metadata.name: Invalid value: "Web": must be lower case'

Simplifications:
- Bad values that Go prints with ``%#v`` (structs) are rendered as JSON
  (what Kubernetes itself does from v1.34 on); strings, integers, booleans,
  ``None``, string lists and string maps render exactly as v1.32 does; floats
  use Python's ``repr`` rather than Go's ``%v``.
- Paths are plain strings (``spec.containers[0].image``), not ``field.Path``.
- No ``TooMany``/``TooShort`` constructors and no ``Origin``: nothing needs them yet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable

# Field error types: the ``reason`` of a Status cause (``metav1.CauseType``).
NOT_FOUND = "FieldValueNotFound"
REQUIRED = "FieldValueRequired"
DUPLICATE = "FieldValueDuplicate"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
INTERNAL = "InternalError"
TYPE_INVALID = "FieldValueTypeInvalid"

TYPE_TEXT = {
    NOT_FOUND: "Not found",
    REQUIRED: "Required value",
    DUPLICATE: "Duplicate value",
    INVALID: "Invalid value",
    NOT_SUPPORTED: "Unsupported value",
    FORBIDDEN: "Forbidden",
    TOO_LONG: "Too long",
    TOO_MANY: "Too many",
    INTERNAL: "Internal error",
    TYPE_INVALID: "Invalid value",
}
# These types never show the bad value (a Required value has none; a TooLong
# one may be megabytes).
_VALUE_HIDDEN = {REQUIRED, FORBIDDEN, TOO_LONG, INTERNAL}


class GoSyntax(str):
    """A bad value already spelled as Go prints it (``[]string(nil)``), shown verbatim."""


OMIT = GoSyntax("<omitted>")  # no value shown at all (Go's ``omitValue``)


def go_quote(text: str) -> str:
    """``text`` in double quotes as Go's ``%q`` / ``strconv.Quote`` writes it."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif ch.isprintable():
            out.append(ch)
        elif 0xD800 <= code <= 0xDFFF:  # a lone surrogate is not a valid rune
            out.append("\\ufffd")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def render_value(value: Any) -> str:
    """A bad value as ``field.Error.ErrorBody`` prints it in Kubernetes v1.32."""
    if isinstance(value, GoSyntax):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return "[]string{" + ", ".join(go_quote(v) for v in value) + "}"
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return "map[string]string{" + ", ".join(f"{go_quote(k)}:{go_quote(value[k])}" for k in sorted(value)) + "}"
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class FieldError:
    """One broken rule: which field, what kind of problem, the bad value and why.

    Kubernetes' ``field.Error``. ``str()`` gives the line ``kubectl`` shows,
    ``metadata.name: Invalid value: "Web": a lowercase RFC 1123 ...``.
    """

    type: str
    field: str
    bad_value: Any = OMIT
    detail: str = ""

    def body(self) -> str:
        """The message without the field (``ErrorBody``): the ``message`` of a Status cause."""
        text = TYPE_TEXT.get(self.type, f"<unknown error {go_quote(self.type)}>")
        if self.type not in _VALUE_HIDDEN and self.bad_value is not OMIT:
            text += ": " + render_value(self.bad_value)
        if self.detail:
            text += ": " + self.detail
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"

    def cause(self) -> dict[str, str]:
        """This error as a ``metav1.StatusCause`` dict (empty members omitted, as Go's ``omitempty``)."""
        cause = {"reason": self.type, "message": self.body(), "field": self.field}
        return {k: v for k, v in cause.items() if v}


# Constructors named after Kubernetes' ``field.Required``, ``field.Invalid``...


def required(field: str, detail: str = "") -> FieldError:
    return FieldError(REQUIRED, field, "", detail)


def invalid(field: str, value: Any, detail: str) -> FieldError:
    return FieldError(INVALID, field, value, detail)


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError(FORBIDDEN, field, "", detail)


def not_found(field: str, value: Any) -> FieldError:
    return FieldError(NOT_FOUND, field, value)


def duplicate(field: str, value: Any) -> FieldError:
    return FieldError(DUPLICATE, field, value)


def not_supported(field: str, value: Any, supported: Iterable[str]) -> FieldError:
    quoted = [go_quote(str(v)) for v in supported]
    return FieldError(NOT_SUPPORTED, field, value, "supported values: " + ", ".join(quoted) if quoted else "")


def too_long(field: str, max_length: int) -> FieldError:
    if max_length < 0:
        return FieldError(TOO_LONG, field, OMIT, "value is too long")
    unit = "byte" if max_length == 1 else "bytes"
    return FieldError(TOO_LONG, field, OMIT, f"may not be more than {max_length} {unit}")


def internal(field: str, detail: str) -> FieldError:
    return FieldError(INTERNAL, field, OMIT, detail)


def aggregate_message(errors: Iterable[Any]) -> str:
    """Errors joined as Go's ``ErrorList.ToAggregate().Error()``: one alone, several as ``[a, b]``.

    Repeated messages are shown once.
    """
    seen: list[str] = []
    for err in errors:
        text = str(err)
        if text not in seen:
            seen.append(text)
    if len(seen) == 1:
        return seen[0]
    return "[" + ", ".join(seen) + "]" if seen else ""
