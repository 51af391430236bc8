"""Phone normalisation and nickname keys of the exact customer search (issue 18 item 6)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.customers.lookup import nickname_key, normalize_phone


@pytest.mark.parametrize(("text", "canonical"), [
    ("13812345678", "+8613812345678"), ("+8613812345678", "+8613812345678"), ("8613812345678", "+8613812345678"),
    ("008613812345678", "+8613812345678"), ("+86 138-1234-5678", "+8613812345678"),
    ("(+86) 138.1234.5678", "+8613812345678"), ("138\u30001234\u30005678", "+8613812345678"),
    ("＋８６１３８１２３４５６７８", "+8613812345678"), ("+4915112345678", "+4915112345678"),
    ("02112345678", "02112345678"), ("12345678", "12345678"), ("0049 151 12345678", "+4915112345678"),
])
def test_phone_is_normalised_to_one_form(text: str, canonical: str) -> None:
    assert normalize_phone(text) == canonical


@pytest.mark.parametrize("text", ["", "12345", "+", "138-1234-567a", "1" * 16, "++8613812345678", "+86 abc"])
def test_phone_that_is_not_a_number_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        normalize_phone(text)


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True), st.sampled_from(["", "+86", "86", "0086", "+86 "]),
       st.sampled_from(["", " ", "-"]))
def test_every_spelling_of_a_chinese_mobile_is_one_number(mobile: str, prefix: str, sep: str) -> None:
    spelled = prefix + sep.join((mobile[:3], mobile[3:7], mobile[7:]))
    assert normalize_phone(spelled) == normalize_phone(mobile) == "+86" + mobile


def test_nickname_key_is_exact_but_trimmed_and_composed() -> None:
    assert nickname_key("  阿花 ") == "阿花"
    assert nickname_key("Lily") != nickname_key("lily")
    assert nickname_key("e\u0301") == nickname_key("\u00e9")
