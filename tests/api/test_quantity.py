"""Quantities parse and print as resource.Quantity does (the canonical form kube's messages use)."""

from __future__ import annotations

import pytest

from kitlib.api.quantity import ERR_FORMAT_WRONG, ERR_NUMERIC, ERR_SUFFIX, QuantityError, parse_quantity

# (written, canonical)
CANONICAL = [
    ("1", "1"), ("1000m", "1"), ("0.5", "500m"), ("1.5", "1500m"), ("250m", "250m"), ("100000000", "100M"),
    ("1200", "1200"), ("12k", "12k"), ("1e3", "1e3"), ("1024Mi", "1Gi"), ("1536Mi", "1536Mi"), ("0.5Ki", "512"),
    ("128Mi", "128Mi"), ("-1", "-1"), ("0", "0"), ("0Gi", "0"), (".5", "500m"), ("1n", "1n"), ("0.1n", "1n"),
    ("3", "3"), (2, "2"),
]


@pytest.mark.parametrize("written,canonical", CANONICAL, ids=[str(w) for w, _ in CANONICAL])
def test_canonical_form(written, canonical):
    assert str(parse_quantity(written)) == canonical


@pytest.mark.parametrize("text,error", [("", ERR_FORMAT_WRONG), ("abc", ERR_FORMAT_WRONG), ("1x", ERR_FORMAT_WRONG),
                                        ("1..2", ERR_FORMAT_WRONG), ("1Ki5", ERR_SUFFIX),
                                        ("Ki", ERR_NUMERIC), (".", ERR_NUMERIC)])
def test_errors(text, error):
    with pytest.raises(QuantityError) as caught:
        parse_quantity(text)
    assert str(caught.value) == error


def test_comparison_is_by_amount():
    assert parse_quantity("1Gi") > parse_quantity("1G") and parse_quantity("1000m") == parse_quantity("1")
    assert sorted(map(parse_quantity, ["1", "500m", "2k"]))[0] == parse_quantity("0.5")
