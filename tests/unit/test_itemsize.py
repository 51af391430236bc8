"""DynamoDB item sizes and capacity units by the documented rules (the capacity bench and chunk packing use them)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib.core.itemsize import (
    item_size,
    number_size,
    read_units,
    typed_item_size,
    typed_size,
    value_size,
    write_units,
)


@pytest.mark.parametrize(("text", "size"), [
    ("0", 2), ("1", 2), ("-1", 3), ("10", 2), ("100", 2), ("123", 3), ("123456", 4), ("1234567", 5),
    ("3.14159", 5), ("0.45", 2), ("-0.45", 3), ("12.5", 3), ("1e3", 2), ("1700000000", 2), ("1764000123", 6)])
def test_a_number_costs_a_byte_per_two_significant_digits_on_each_side_of_the_point_plus_one(text, size):
    assert number_size(text) == size


def test_every_type_is_sized_as_documented():
    assert typed_size({"S": "abc"}) == 3 and typed_size({"S": "小明"}) == 6
    assert typed_size({"B": "AAEC"}) == 3  # base64 of 3 raw bytes
    assert typed_size({"BOOL": True}) == 1 and typed_size({"NULL": True}) == 1
    assert typed_size({"SS": ["a", "bc"]}) == 3 and typed_size({"NS": ["1", "100"]}) == 4
    assert typed_size({"L": [{"S": "a"}, {"N": "1"}]}) == 3 + (1 + 1) + (1 + 2)
    assert typed_size({"M": {"k": {"S": "v"}}}) == 3 + 1 + 1 + 1
    assert typed_item_size({"pk": {"S": "m1#c1"}, "n": {"N": "12"}}) == 2 + 5 + 1 + 2
    assert typed_item_size(None) == 0


def test_python_values_are_sized_as_they_are_stored():
    item = {"pk": "m1#c1", "n": 12, "d": Decimal("3.14159"), "ok": True, "none": None, "tags": {"a", "bc"},
            "doc": {"k": "v"}, "list": ["a", 1]}
    typed = {"pk": {"S": "m1#c1"}, "n": {"N": "12"}, "d": {"N": "3.14159"}, "ok": {"BOOL": True},
             "none": {"NULL": True}, "tags": {"SS": ["a", "bc"]}, "doc": {"M": {"k": {"S": "v"}}},
             "list": {"L": [{"S": "a"}, {"N": "1"}]}}
    assert item_size(item) == typed_item_size(typed)
    with pytest.raises(TypeError):
        value_size(object())


def test_writes_cost_started_kilobytes_of_the_larger_image_twice_in_a_transaction():
    assert write_units(0, 1) == 1 and write_units(0, 1024) == 1 and write_units(0, 1025) == 2
    assert write_units(3000, 100) == 3 and write_units(100, 3000, transactional=True) == 6
    assert write_units(0, 0) == 1  # a delete of nothing, a failed condition on a missing item: one unit


def test_reads_cost_started_4_kb_halved_when_eventually_consistent_doubled_in_a_transaction():
    assert read_units(0) == 1.0 and read_units(4096) == 1.0 and read_units(4097) == 2.0
    assert read_units(8000, consistent=False) == 1.0 and read_units(100, transactional=True) == 2.0
