"""Generated audience rules from the field catalogue: every rule is evaluated (200) or refused naming the part (400)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.fuzz import error_shape, scale

OPERATORS = ["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between", "contains", "is_set", "is_not_set",
             "within_days", "not_within_days", "birthday_in_days", "birthday_this_month"]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.integers(-40, 400),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
    st.sampled_from(["2026-02-29", "2024-02-29", "2026-11-23", "0001-01-01", "9999-12-31", "2026-11-23T04:00:00Z",
                     "2026-11-23T04:00:00", "2026-11-23T04:00:00+08:00", "male", "vip", "wallet", "stored_value"]))
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=4), st.dictionaries(st.text(max_size=5), SCALARS, max_size=2))
CARDS = st.one_of(st.none(), st.fixed_dictionaries({}, optional={
    "kind": st.sampled_from(["stored_value", "times", "stored_value", "times", "gift", 1]),
    "card_id": st.one_of(st.sampled_from(["k1", "k2"]), st.text(max_size=6), st.none()),
    "active": st.one_of(st.booleans(), st.booleans(), st.just("yes"))}))


TYPED: dict[str, st.SearchStrategy[Any]] = {
    "number": st.integers(-5, 400), "money_fen": st.integers(-1, 10**12),
    "date": st.dates().map(lambda d: d.isoformat()),
    "datetime": st.datetimes(timezones=st.sampled_from([UTC])).map(lambda d: d.isoformat()),
    "boolean": st.booleans(), "string": st.text(max_size=6), "string_set": st.text(max_size=6),
}


def rarely(draw: st.DrawFn) -> bool:
    """One time in ten: swap in something off-type, so most rules stay valid enough to be evaluated."""
    return draw(st.integers(0, 9)) == 0


def typed_value(spec: dict[str, Any], op: str) -> st.SearchStrategy[Any]:
    """A value of the field's type in the operator's shape."""
    one = st.sampled_from(spec["values"]) if spec.get("values") else TYPED.get(spec["type"], SCALARS)
    return {
        "between": st.lists(one, min_size=2, max_size=2), "in": st.lists(one, min_size=1, max_size=3),
        "not_in": st.lists(one, min_size=1, max_size=3), "within_days": st.integers(-2, 4000),
        "not_within_days": st.integers(-2, 4000), "birthday_in_days": st.integers(-2, 400),
    }.get(op, one)


def conditions(catalogue: list[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        spec = draw(st.sampled_from(catalogue))
        op = draw(st.sampled_from(OPERATORS if rarely(draw) else spec["operators"]))
        cond: dict[str, Any] = {"field": draw(st.text(max_size=8)) if rarely(draw) else spec["name"], "op": op}
        if op not in ("is_set", "is_not_set", "birthday_this_month") or rarely(draw):
            cond["value"] = draw(VALUES if rarely(draw) else typed_value(spec, op))
        if spec.get("card_selector") or rarely(draw):
            card = draw(CARDS)
            if card is not None:
                cond["card"] = card
        return cond
    return build()


def rules(catalogue: list[dict[str, Any]]) -> st.SearchStrategy[Any]:
    cond = conditions(catalogue)
    group = st.builds(lambda k, items: {k: items}, st.sampled_from(["all", "any"]), st.lists(cond, max_size=3))
    top = st.builds(lambda k, items: {k: items}, st.sampled_from(["all", "any", "all", "any", "none"]),
                    st.lists(st.one_of(cond, cond, group), min_size=1, max_size=4))
    odd = st.one_of(st.just({}), st.lists(cond, max_size=2), VALUES)
    return st.integers(0, 9).flatmap(lambda n: top if n < 8 else odd)  # mostly well-formed groups


def test_generated_rules_are_counted_or_refused_with_the_rule_path_when_estimated_or_saved(
        api: Any, merchant: Any, clock: Any) -> None:
    paid = clock.now - timedelta(days=3)
    customers = [{"customer_id": f"c{i}", "birthday": "2000-02-29" if i % 2 else "1990-11-24", "tags": ["vip"],
                  "registered_at": paid.isoformat(), "city_tier": 1 + i % 6,
                  "cards": [{"card_id": f"k{i}", "kind": "stored_value", "balance_fen": 100 * i,
                             "expires_on": "2027-01-01"}]} for i in range(6)]
    assert api.post("/v1/customers/batch", {"items": customers}, token=merchant.token).json["accepted"] == 6
    orders = [{"order_id": f"o{i}", "customer_id": f"c{i}", "paid_at": paid.isoformat(), "amount_fen": 999 * i}
              for i in range(6)]
    assert api.post("/v1/orders/batch", {"items": orders}, token=merchant.token).json["accepted"] == 6
    catalogue = api.get("/v1/audience-fields", token=merchant.token).json["items"]
    outcomes: dict[int, int] = {}
    problems: list[str] = []
    reasons: Counter[str] = Counter()

    @given(rule=rules(catalogue), save=st.booleans())
    @settings(max_examples=150 * scale(), database=None, deadline=None, derandomize=scale() == 1,
              suppress_health_check=list(HealthCheck))
    def check(rule: Any, save: bool) -> None:
        if save:
            r = api.post("/v1/audiences", {"kind": "custom", "name": "fuzzed", "rule": rule}, token=merchant.token)
            if r.status == 201:  # stay under the 50-audience quota
                assert api.delete(f"/v1/audiences/{r.json['audience_id']}", token=merchant.token).status == 200
        else:
            r = api.post("/v1/audiences/estimate", {"rule": rule}, token=merchant.token)
        outcomes[r.status] = outcomes.get(r.status, 0) + 1
        if r.status not in (200, 201, 400):
            problems.append(f"{json.dumps(rule)} -> {r}")
        elif r.status == 400:
            reasons[r.json["error"]["reason"][:50]] += 1
            why = error_shape(400, r.raw)
            if why or not str(r.json["error"]["field"]).startswith("body.rule" if rule is not None else "body"):
                problems.append(f"{json.dumps(rule)} -> {why or 'field is not the rule'} {r}")

    check()
    print(outcomes, reasons.most_common(8))
    assert not problems, "\n".join(problems[:20])
    assert outcomes.get(200, 0) + outcomes.get(201, 0) >= 10, (outcomes, reasons.most_common(15))
