"""Quantities: ``500m`` of CPU, ``128Mi`` of memory, as ``resource.Quantity`` reads and prints them.

A container's ``resources`` hold quantities: a number with an optional SI
(``k``, ``M``, ``m``...), binary (``Ki``, ``Mi``...) or exponent (``e3``)
suffix. Validation compares them (a request may not exceed its limit) and,
like kube-apiserver, prints them in *canonical* form in its messages:
``1000m`` prints as ``1``, ``0.5`` as ``500m``, ``1024Mi`` as ``1Gi``.

    >>> str(parse_quantity("1000m")), str(parse_quantity("0.5")), str(parse_quantity("1024Mi"))
    ('1', '500m', '1Gi')
    >>> parse_quantity("250m") < parse_quantity("1")
    True

Simplifications:
- Values are exact fractions, never rounded to int64 or ``inf.Dec``; only the
  nano-unit rounding of ``ParseQuantity`` (``1n`` is the finest step) is kept.
- Suffixes beyond ``E``/``Ei`` in canonical form are not produced.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from fractions import Fraction

QUANTITY_PATTERN = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT_WRONG = f"quantities must match the regular expression '{QUANTITY_PATTERN}'"
ERR_SUFFIX = "unable to parse quantity's suffix"
ERR_NUMERIC = "unable to parse numeric part of quantity"

BINARY_SI, DECIMAL_SI, DECIMAL_EXPONENT = "BinarySI", "DecimalSI", "DecimalExponent"

_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_SUFFIX = {exp: suffix for suffix, exp in _DECIMAL.items()}
_BINARY_SUFFIX = {exp: suffix for suffix, exp in _BINARY.items()}
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")


class QuantityError(ValueError):
    """Not a quantity; the message is apimachinery's (``ErrFormatWrong``...)."""


@functools.total_ordering
@dataclass(frozen=True, eq=False)
class Quantity:
    """An exact amount and the format it was written in (which decides how it prints)."""

    value: Fraction
    format: str = DECIMAL_SI

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Quantity) and self.value == other.value

    def __lt__(self, other: "Quantity") -> bool:
        return self.value < other.value

    def __hash__(self) -> int:
        return hash(self.value)

    def is_integer(self) -> bool:
        return self.value.denominator == 1

    def __str__(self) -> str:
        """``Quantity.String()``: the canonical form (``CanonicalizeBytes``)."""
        if self.value == 0:
            return "0"
        fmt = self.format
        if fmt == BINARY_SI and (abs(self.value) < 1024 or not self.is_integer()):
            fmt = DECIMAL_SI  # small or fractional binary amounts print as decimal, without rounding
        if fmt == BINARY_SI:
            amount, exponent = int(self.value), 0
            while amount % 1024 == 0 and exponent < 60:
                amount //= 1024
                exponent += 10
            return f"{amount}{_BINARY_SUFFIX[exponent]}"
        mantissa, exponent = _decimal(self.value)
        while mantissa % 10 == 0:
            mantissa //= 10
            exponent += 1
        shift = exponent % 3  # down to a multiple of 3: 1.5 -> 1500m, 1e8 -> 100M
        mantissa, exponent = mantissa * 10 ** shift, exponent - shift
        if fmt == DECIMAL_EXPONENT:
            return f"{mantissa}e{exponent}" if exponent else str(mantissa)
        if exponent > 18:
            mantissa, exponent = mantissa * 10 ** (exponent - 18), 18
        return f"{mantissa}{_DECIMAL_SUFFIX[exponent]}"


def _decimal(value: Fraction) -> tuple[int, int]:
    """``value`` as ``mantissa * 10**exponent`` (values are multiples of 1e-9 after parsing)."""
    exponent = 0
    while value.denominator != 1:
        value *= 10
        exponent -= 1
    return int(value), exponent


def parse_quantity(text: str) -> Quantity:
    """``resource.ParseQuantity``: a number, then a suffix; raises :class:`QuantityError`."""
    if not isinstance(text, str):
        if isinstance(text, bool) or not isinstance(text, (int, float)):
            raise QuantityError(ERR_FORMAT_WRONG)
        text = repr(text)  # JSON numbers decode as quantities too
    return _parse_text(text)


@functools.lru_cache(maxsize=4096)
def _parse_text(text: str) -> Quantity:
    # Cached: a cluster's manifests use a handful of amounts ("100m", "128Mi") over and over, and every
    # Pod's create parses each of them several times (defaults, validation, QoS); a Quantity is frozen.
    # parseQuantityString's scan: sign, digits, "." and digits, suffix letters, exponent sign and digits.
    match = re.fullmatch(r"([+-]?\d*(?:\.\d*)?)([eEinumkKMGTP]*[-+]?\d*)", text)
    if not text or match is None:
        raise QuantityError(ERR_FORMAT_WRONG)
    number, suffix = match.groups()
    if suffix not in _BINARY and suffix not in _DECIMAL and not re.fullmatch(r"[eE][-+]?\d+", suffix):
        raise QuantityError(ERR_SUFFIX)
    if _NUMBER.fullmatch(number) is None:  # no digit at all: "", ".", "+"
        raise QuantityError(ERR_NUMERIC)
    value = Fraction(number)
    if suffix in _BINARY:
        value, fmt = value * 2 ** _BINARY[suffix], BINARY_SI
    elif suffix in _DECIMAL:
        value, fmt = value * Fraction(10) ** _DECIMAL[suffix], DECIMAL_SI
    else:
        value, fmt = value * Fraction(10) ** int(suffix[1:]), DECIMAL_EXPONENT
    # Nothing finer than a nano-unit is kept: 0.1n rounds up to 1n.
    nanos = value * 10 ** 9
    if nanos.denominator != 1:
        value = Fraction(math.ceil(nanos), 10 ** 9)
    return Quantity(value, fmt)
