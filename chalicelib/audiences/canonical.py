"""Canonical keys of audience targets (pure): the same population says the same key however it is written.

Merchant quotas count sends per audience (SPEC §8: one a day, 60 a month). A target counts under the key of what
it resolves to, so pasting a saved rule inline, reordering its conditions or listing the same customers in another
order is the same audience, not a way around the quota.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

SETS = frozenset({"in", "not_in"})  # operators whose value is a set: order and repeats do not matter
DIGEST = 20


def _value(value: Any) -> Any:
    """Numbers that are whole compare as integers (1 and 1.0 are one value); lists keep their order."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _value(v) for k, v in value.items()}
    return value


def _text(node: Any) -> str:
    return json.dumps(node, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def canonical_rule(rule: Any) -> Any:
    """The rule in normal form: a group's items sorted and de-duplicated (all / any are commutative and
    idempotent), a nested group of the same mode spliced in, a group of one group is that group, a group of one
    condition is `all` of it, set values sorted, whole numbers as integers."""
    if not _is_group(rule):
        if not isinstance(rule, dict):
            return _value(rule)
        out = {k: _value(v) for k, v in rule.items()}
        if out.get("op") in SETS and isinstance(out.get("value"), list):
            out["value"] = [json.loads(t) for t in sorted({_text(v) for v in out["value"]})]
        return out
    mode = "all" if "all" in rule else "any"
    flat: list[Any] = []
    for item in (canonical_rule(i) for i in rule[mode] or ()):
        spliced = _is_group(item) and (mode in item or len(next(iter(item.values()))) == 1)
        flat += next(iter(item.values())) if spliced else [item]
    items = {_text(c): c for c in flat}
    ordered = [items[k] for k in sorted(items)]
    if len(ordered) == 1:
        return ordered[0] if _is_group(ordered[0]) else {"all": ordered}
    return {mode: ordered}


def _is_group(node: Any) -> bool:
    return isinstance(node, dict) and len(node) == 1 and ("all" in node or "any" in node)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:DIGEST]


def rule_key(rule: Any) -> str:
    """The key of a dynamic audience defined by `rule` (an inline target or a saved custom audience)."""
    return "rule_" + _digest(_text(canonical_rule(rule)))


def list_key(customer_ids: Iterable[str]) -> str:
    """The key of an explicit customer list: the set of its ids."""
    return "list_" + _digest(*sorted(set(customer_ids)))


def staff_key(staff_ids: Iterable[str]) -> str:
    """The key of a staff-friends target: the set of its staff ids."""
    return "staff_" + _digest(*sorted(set(staff_ids)))
