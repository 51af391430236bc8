"""DynamoDB item sizes and capacity units by DynamoDB's documented rules, for typed (wire) items and Python values.

Item size (Developer Guide, "Item sizes and formats"): the sum of every attribute's name (UTF-8 bytes) and value:
a string its UTF-8 bytes, a binary its raw bytes, a number 1 byte per two significant digits (leading and trailing
zeros trimmed, a fractional part counted apart, rounded up) plus 1 (plus 1 when negative), a Boolean or null 1, a
list or map 3 bytes plus its elements (each 1 byte of overhead plus its value; a map element its key too), a set
the sum of its elements. Writes cost 1 unit per started KB of the larger of the item before and after (2 inside a
transaction); reads 1 unit per started 4 KB, half when eventually consistent, twice when transactional.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

KB = 1024
ITEM_LIMIT = 400 * KB  # DynamoDB's maximum item size, attribute names included


def number_size(text: str) -> int:
    """Bytes of a DynamoDB number given as its decimal text."""
    value = Decimal(text)
    if value == 0:
        return 2
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    figures = "".join(map(str, digits)).rstrip("0")
    exponent += len(digits) - len(figures)  # trailing zeros are not significant
    whole = max(0, len(figures) + exponent)  # significant digits left of the point
    whole = min(whole, len(figures))
    fraction = len(figures) - whole
    return 1 + math.ceil(whole / 2) + math.ceil(fraction / 2) + (1 if sign else 0)


def typed_size(value: Mapping[str, Any]) -> int:
    """Bytes of one attribute value in DynamoDB's wire form (`{"S": "x"}`, `{"M": {...}}`, ...)."""
    (kind, inner), = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        return number_size(str(inner))
    if kind == "B":
        return len(inner) if isinstance(inner, bytes | bytearray) else len(base64.b64decode(inner))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(s).encode()) for s in inner)
    if kind == "NS":
        return sum(number_size(str(n)) for n in inner)
    if kind == "BS":
        return sum(len(b) if isinstance(b, bytes | bytearray) else len(base64.b64decode(b)) for b in inner)
    if kind == "L":
        return 3 + sum(1 + typed_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + typed_size(v) for k, v in inner.items())
    raise ValueError(f"unknown attribute type {kind}")


def typed_item_size(item: Mapping[str, Mapping[str, Any]] | None) -> int:
    """Bytes of an item in wire form (0 for no item)."""
    if not item:
        return 0
    return sum(len(name.encode()) + typed_size(value) for name, value in item.items())


def value_size(value: Any) -> int:
    """Bytes a Python value takes once stored (str, int, Decimal, float, bool, None, bytes, list, dict, set)."""
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, int | Decimal | float):
        return number_size(str(value))
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, Mapping):
        return 3 + sum(1 + len(str(k).encode()) + value_size(v) for k, v in value.items())
    if isinstance(value, set | frozenset):
        return sum(value_size(v) for v in value)
    if isinstance(value, list | tuple):
        return 3 + sum(1 + value_size(v) for v in value)
    raise TypeError(f"no DynamoDB size for {type(value).__name__}")


def item_size(attributes: Mapping[str, Any]) -> int:
    """Bytes of an item given as Python values by attribute name."""
    return sum(len(name.encode()) + value_size(v) for name, v in attributes.items())


def write_units(before: int, after: int, *, transactional: bool = False) -> int:
    """Write units of one item write: started KB of the larger image (at least 1), doubled in a transaction."""
    units = max(1, math.ceil(max(before, after) / KB))
    return units * 2 if transactional else units


def read_units(size: int, *, consistent: bool = True, transactional: bool = False) -> float:
    """Read units of reading `size` bytes (one item, or a Query/Scan page's total): started 4 KB blocks."""
    blocks = max(1, math.ceil(size / (4 * KB)))
    if transactional:
        return 2.0 * blocks
    return float(blocks) if consistent else blocks / 2
