"""Label selectors: how a client asks for "the Pods with app=web".

Labels are how Kubernetes groups objects without a hierarchy: a ReplicaSet
owns the Pods its selector matches, a Service sends traffic to the Pods its
selector matches, ``kubectl get pods -l app=web`` lists them. This module
parses selectors exactly as ``k8s.io/apimachinery/pkg/labels`` does (same
grammar, same error messages, same canonical string) and matches them with
the same rules, including the two that surprise people:

- ``app!=web`` and ``app notin (web)`` MATCH an object that has no ``app``
  label at all (the requirement is "is not web", and absent is not web);
- an empty selector matches everything, while a *missing* (``None``)
  LabelSelector, for the APIs that say so (a PodDisruptionBudget,
  ``metav1.LabelSelectorAsSelector``), matches nothing.

    >>> selector = parse_label_selector("app, tier in (b,a)")
    >>> str(selector), selector.matches({"app": "web", "tier": "a"})
    ('app,tier in (a,b)', True)

Matching a label set against requirements is an extension point: the slot
``api.label_selector_matches`` holds :func:`reference_label_selector_matches`,
and the API server filters every list and watch through the slot, so an
exercise can put the reader's version in the running cluster.

Field selectors (``--field-selector spec.nodeName=node-1``) live in
:mod:`kitlib.api.fields` and are importable from here too.

Simplifications:
- A selector is an immutable value; there is no ``Add``, ``DeepCopy`` or
  ``RequiresExactMatch`` for labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

from kitlib.api.errors import InvalidSelector
from kitlib.api.field import FieldError, GoSyntax, aggregate_message, go_quote, invalid, not_supported
from kitlib.api.fields import (  # noqa: F401 (field selectors are selectors too: one import for clients)
    EVERYTHING_FIELDS,
    FieldRequirement,
    FieldSelector,
    field_value,
    parse_field_selector,
)
from kitlib.api.validation import is_qualified_name, is_valid_label_value
from kitlib.slots import Slot

# Operators, spelled as apimachinery's ``selection.Operator`` values.
EQUALS = "="
DOUBLE_EQUALS = "=="
NOT_EQUALS = "!="
IN = "in"
NOT_IN = "notin"
EXISTS = "exists"
DOES_NOT_EXIST = "!"
GREATER_THAN = "gt"
LESS_THAN = "lt"
OPERATORS = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN, EXISTS, DOES_NOT_EXIST)
_BINARY = OPERATORS[:7]

# The structured form's operators (``metav1.LabelSelectorOperator``).
LABEL_SELECTOR_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


class Requirement(NamedTuple):
    """One condition on one label: ``key``, an operator from :data:`OPERATORS`, and its values.

    ``tier in (a,b)`` is ``Requirement("tier", "in", ("a", "b"))``;
    ``!canary`` is ``Requirement("canary", "!", ())``.
    """

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.operator == DOES_NOT_EXIST:
            return "!" + self.key
        if self.operator == EXISTS:
            return self.key
        spelled = {IN: " in ", NOT_IN: " notin ", GREATER_THAN: ">", LESS_THAN: "<"}.get(self.operator, self.operator)
        # Values print sorted, so equal selectors print equal (Kubernetes' safeSort).
        values = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if self.operator in (IN, NOT_IN):
            values = f"({values})"
        return f"{self.key}{spelled}{values}"


def _requirement_errors(key: str, operator: str, values: Sequence[str] | None) -> list[FieldError]:
    # labels.NewRequirement's checks, with its field paths ("key", "values[0]").
    errs: list[FieldError] = []
    key_msgs = is_qualified_name(key)
    if key_msgs:
        errs.append(invalid("key", key, "; ".join(key_msgs)))
    vals = list(values or [])
    shown = list(values) if values is not None else GoSyntax("[]string(nil)")
    if operator in (IN, NOT_IN):
        if not vals:
            errs.append(invalid("values", shown, "for 'in', 'notin' operators, values set can't be empty"))
    elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if len(vals) != 1:
            errs.append(invalid("values", shown, "exact-match compatibility requires one single value"))
    elif operator in (EXISTS, DOES_NOT_EXIST):
        if vals:
            errs.append(invalid("values", shown, "values set must be empty for exists and does not exist"))
    elif operator in (GREATER_THAN, LESS_THAN):
        if len(vals) != 1:
            errs.append(invalid("values", shown, "for 'Gt', 'Lt' operators, exactly one value is required"))
        for i, value in enumerate(vals):
            if _go_int(value) is None:
                errs.append(invalid(f"values[{i}]", value, "for 'Gt', 'Lt' operators, the value must be an integer"))
    else:
        errs.append(not_supported("operator", operator, OPERATORS))
    for i, value in enumerate(vals):
        value_msgs = is_valid_label_value(value)
        if value_msgs:
            errs.append(invalid(f"values[{i}][{key}]", value, "; ".join(value_msgs)))
    return errs


def new_requirement(key: str, operator: str, values: Sequence[str] | None = ()) -> Requirement:
    """A checked :class:`Requirement` (``labels.NewRequirement``); raises :class:`InvalidSelector`."""
    errs = _requirement_errors(key, operator, values)
    if errs:
        raise InvalidSelector(aggregate_message(errs))
    return Requirement(key, operator, tuple(values or ()))


def _go_int(text: str) -> int | None:
    # strconv.ParseInt(text, 10, 64): optional sign, decimal digits, int64
    # range; no spaces or underscores (which Python's int() would accept).
    digits = text[1:] if text[:1] in "+-" else text
    if not digits or not digits.isascii() or not digits.isdigit():
        return None
    number = int(text)
    return number if -(2**63) <= number < 2**63 else None


def reference_label_selector_matches(requirements: Sequence[Requirement], labels: Mapping[str, str]) -> bool:
    """Whether ``labels`` satisfies every requirement (an AND; no requirements match everything).

    As ``labels.Requirement.Matches``:

    - ``=``, ``==``, ``in``: the label exists and its value is one of the values;
    - ``!=``, ``notin``: the label is absent, or its value is none of them;
    - ``exists`` / ``!``: the label is present / absent, whatever its value;
    - ``gt`` / ``lt``: the label exists, both sides are integers, and the
      label's is greater / less.
    """
    for req in requirements:
        present = req.key in labels
        value = labels.get(req.key)
        if req.operator in (IN, EQUALS, DOUBLE_EQUALS):
            ok = present and value in req.values
        elif req.operator in (NOT_IN, NOT_EQUALS):
            ok = not present or value not in req.values
        elif req.operator == EXISTS:
            ok = present
        elif req.operator == DOES_NOT_EXIST:
            ok = not present
        elif req.operator in (GREATER_THAN, LESS_THAN):
            have = _go_int(value) if present else None
            want = _go_int(req.values[0]) if len(req.values) == 1 else None
            ok = have is not None and want is not None and (
                have > want if req.operator == GREATER_THAN else have < want)
        else:
            ok = False
        if not ok:
            return False
    return True


label_selector_matches = Slot(
    "api.label_selector_matches",
    reference_label_selector_matches,
    doc="(requirements, labels) -> bool: whether a label dict satisfies every Requirement.",
)


@dataclass(frozen=True)
class Selector:
    """A parsed label selector: requirements ANDed together, sorted by key.

    ``Selector()`` (no requirements) matches everything; :data:`NOTHING`
    matches nothing. ``str()`` gives the canonical form, which parses back
    to an equal selector.
    """

    requirements: tuple[Requirement, ...] = ()
    selects_nothing: bool = False

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether an object with these labels is selected (through the ``api.label_selector_matches`` slot)."""
        if self.selects_nothing:
            return False
        return bool(label_selector_matches(self.requirements, labels or {}))

    @property
    def empty(self) -> bool:
        """True if the selector restricts nothing (``labels.Selector.Empty``); NOTHING is not empty."""
        return not self.selects_nothing and not self.requirements

    def __str__(self) -> str:
        return ",".join(str(req) for req in self.requirements)


EVERYTHING = Selector()
NOTHING = Selector(selects_nothing=True)


def _sorted(requirements: Iterable[Requirement]) -> tuple[Requirement, ...]:
    # Kubernetes sorts by key "to grant deterministic parsing"; a stable sort
    # keeps two requirements on one key in the order written.
    return tuple(sorted(requirements, key=lambda req: req.key))


# --- the string syntax ---------------------------------------------------------

_IDENT, _END, _ERROR = "identifier", "end of string", "error"
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
_SYMBOLS = frozenset({")", ",", "!", "==", "=", ">", "<", "!=", "("})
_KEYWORDS = frozenset({"in", "notin"})
_OPERATOR_TOKENS = {
    "in": IN, "notin": NOT_IN, "=": EQUALS, "==": DOUBLE_EQUALS, "!=": NOT_EQUALS, ">": GREATER_THAN, "<": LESS_THAN,
}


def _lex(text: str) -> list[tuple[str, str]]:
    """Tokens as ``(kind, literal)``; a symbol's or keyword's kind is its own text.

    As apimachinery's lexer: whitespace separates, the symbols ``= ! ( ) , > <``
    end an identifier and combine greedily (``!=``, ``==``), anything else is
    part of an identifier, and ``in``/``notin`` are keywords. Go reads a NUL
    byte as the end of the string.
    """
    text = text.split("\0", 1)[0]
    tokens, i, n = [], 0, len(text)
    while True:
        while i < n and text[i] in _WHITESPACE:
            i += 1
        if i == n:
            tokens.append((_END, ""))
            return tokens
        if text[i] in _SPECIAL:
            # Grow the symbol while it stays a known one: "!=" not "!" then "=".
            end = i + 1
            while end < n and text[i:end + 1] in _SYMBOLS:
                end += 1
            tokens.append((text[i:end], text[i:end]))
        else:
            end = i
            while end < n and text[end] not in _SPECIAL and text[end] not in _WHITESPACE:
                end += 1
            word = text[i:end]
            tokens.append((word if word in _KEYWORDS else _IDENT, word))
        i = end


class _ParseError(Exception):
    pass


class _Parser:
    """apimachinery's recursive-descent selector parser, message for message."""

    def __init__(self, text: str) -> None:
        self.tokens = _lex(text)
        self.position = 0

    def peek(self, values: bool = True) -> tuple[str, str]:
        kind, literal = self.tokens[min(self.position, len(self.tokens) - 1)]
        # Where a value is expected, "in" and "notin" are just words: "x in (in)".
        if values and kind in _KEYWORDS:
            kind = _IDENT
        return kind, literal

    def take(self, values: bool = True) -> tuple[str, str]:
        token = self.peek(values)
        self.position += 1
        return token

    def parse(self) -> list[Requirement]:
        requirements = []
        while True:
            kind, literal = self.peek()
            if kind == _END:
                return requirements
            if kind not in (_IDENT, "!"):
                raise InvalidSelector(f"found '{literal}', expected: !, identifier, or 'end of string'")
            try:
                requirements.append(self.requirement())
            except _ParseError as err:
                raise InvalidSelector(f"unable to parse requirement: {err}") from None
            kind, literal = self.take()
            if kind == _END:
                return requirements
            if kind != ",":
                raise InvalidSelector(f"found '{literal}', expected: ',' or 'end of string'")
            kind, literal = self.peek()
            if kind not in (_IDENT, "!"):
                raise InvalidSelector(f"found '{literal}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        key, operator = self.key_and_inferred_operator()
        if operator in (EXISTS, DOES_NOT_EXIST):
            return self.checked(key, operator, [])
        operator = self.operator()
        values = self.value_set() if operator in (IN, NOT_IN) else self.exact_value()
        return self.checked(key, operator, sorted(values))

    @staticmethod
    def checked(key: str, operator: str, values: list[str]) -> Requirement:
        errs = _requirement_errors(key, operator, values)
        if errs:
            raise _ParseError(aggregate_message(errs))
        return Requirement(key, operator, tuple(values))

    def key_and_inferred_operator(self) -> tuple[str, str | None]:
        operator = None
        kind, literal = self.take()
        if kind == "!":
            operator = DOES_NOT_EXIST
            kind, literal = self.take()
        if kind != _IDENT:
            raise _ParseError(f"found '{literal}', expected: identifier")
        msgs = is_qualified_name(literal)
        if msgs:
            # The parser is given no field path, and Go prints a nil path as "<nil>".
            raise _ParseError(str(invalid("<nil>", literal, "; ".join(msgs))))
        if self.peek()[0] in (_END, ",") and operator != DOES_NOT_EXIST:
            operator = EXISTS
        return literal, operator

    def operator(self) -> str:
        kind, literal = self.take(values=False)
        operator = _OPERATOR_TOKENS.get(kind)
        if operator is None:
            raise _ParseError(f"found '{literal}', expected: {', '.join(_BINARY)}")
        return operator

    def value_set(self) -> set[str]:
        kind, literal = self.take()
        if kind != "(":
            raise _ParseError(f"found '{literal}' expected: '('")  # sic: Kubernetes has no comma here
        kind, literal = self.peek()
        if kind == ")":  # "()" is the set holding the empty string
            self.take()
            return {""}
        if kind not in (_IDENT, ","):
            raise _ParseError(f"found '{literal}', expected: ',', ')' or identifier")
        values = self.identifiers()
        if self.take()[0] != ")":
            raise _ParseError(f"found '{literal}', expected: ')'")
        return values

    def identifiers(self) -> set[str]:
        # A comma with nothing before or after it stands for the empty value.
        values: set[str] = set()
        while True:
            kind, literal = self.take()
            if kind == _IDENT:
                values.add(literal)
                after, after_literal = self.peek()
                if after == ")":
                    return values
                if after != ",":
                    raise _ParseError(f"found '{after_literal}', expected: ',' or ')'")
            elif kind == ",":
                if not values:
                    values.add("")  # "(,"
                after = self.peek()[0]
                if after == ")":
                    values.add("")  # ",)"
                    return values
                if after == ",":
                    self.take()
                    values.add("")  # ",,"
            else:
                raise _ParseError(f"found '{literal}', expected: ',', or identifier")

    def exact_value(self) -> set[str]:
        if self.peek()[0] in (_END, ","):
            return {""}  # "app=" selects the empty value
        kind, literal = self.take()
        if kind != _IDENT:
            raise _ParseError(f"found '{literal}', expected: identifier")
        return {literal}


def parse_label_selector(text: str) -> Selector:
    """Parse ``kubectl -l`` syntax (``labels.Parse``): ``app=web,tier in (a,b),!canary``.

    The grammar, from apimachinery::

        <selector>    ::= <requirement> | <requirement> "," <selector>
        <requirement> ::= [!] KEY [ <set-based> | <exact-match> ]
        <set-based>   ::= ("in" | "notin") "(" VALUE ("," VALUE)* ")"
        <exact-match> ::= ("=" | "==" | "!=" | ">" | "<") VALUE

    ``""`` parses to :data:`EVERYTHING`; errors raise :class:`InvalidSelector`
    with Kubernetes' message.
    """
    return Selector(_sorted(_Parser(text).parse()))


def selector_from_set(labels: Mapping[str, str] | None) -> Selector:
    """``key=value`` for each entry, as a Service's ``spec.selector`` map (``labels.SelectorFromSet``; not validated)."""
    return Selector(_sorted(Requirement(key, EQUALS, (value,)) for key, value in (labels or {}).items()))


def selector_from_label_selector(label_selector: Mapping[str, Any] | None) -> Selector:
    """The structured form (``matchLabels`` + ``matchExpressions``) as a :class:`Selector`.

    As ``metav1.LabelSelectorAsSelector``: ``None`` selects nothing, ``{}``
    selects everything; ``matchLabels`` entries become ``=`` requirements,
    expressions map ``In``/``NotIn``/``Exists``/``DoesNotExist`` to
    ``in``/``notin``/``exists``/``!``.
    """
    if label_selector is None:
        return NOTHING
    match_labels = label_selector.get("matchLabels") or {}
    expressions = label_selector.get("matchExpressions") or []
    if not match_labels and not expressions:
        return EVERYTHING
    requirements = [new_requirement(key, EQUALS, [match_labels[key]]) for key in sorted(match_labels)]
    for expression in expressions:
        operator = LABEL_SELECTOR_OPERATORS.get(expression.get("operator"))
        if operator is None:
            raise InvalidSelector(f"{go_quote(str(expression.get('operator') or ''))} is not a valid label selector operator")
        values = expression.get("values")
        # Go copies the values into a nil slice: an empty list stays nil.
        requirements.append(new_requirement(expression.get("key") or "", operator, list(values) if values else None))
    return Selector(_sorted(requirements))
