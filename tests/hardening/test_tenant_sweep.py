"""Tenant sweep: every route in the OpenAPI document, called with merchant B's key against merchant A's ids."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from tests.support.world import CUSTOMERS, STAFF, World, seed_world


@dataclass(frozen=True)
class Probe:
    """One request B sends; `expect`: a status, "empty" (no items), "zero" (B's zero counts), "own" (2xx), "refused"."""

    path: str
    expect: int | str
    body: Any = None
    headers: dict[str, str] | None = None


def first(world: World, param: str) -> str:
    return world.ids[param][0]


def a_cursor(api: Any, world: World, path: str) -> str:
    """A's own next-page cursor for a list, to hand to B."""
    sep = "&" if "?" in path else "?"
    page = api.get(f"{path}{sep}limit=1", token=world.token)
    assert page.status == 200, page
    cursor = page.json.get("next_cursor") or page.headers.get("x-next-cursor")
    assert cursor, f"A has a single page at {path}: {page}"
    return str(cursor)


Case = Callable[[Any, World], list[Probe]]
STALE = {"If-Match": "1"}  # a 412 would tell B the item exists: it must be 404 whatever the version


def paths(*probes: Probe) -> Case:
    return lambda api, world: list(probes)


def listing(path: str, *filters: str, cursor: bool = True) -> Case:
    """The list as B sees it (empty), with A's filters, and with A's own cursor (refused)."""
    def probes(api: Any, world: World) -> list[Probe]:
        out = [Probe(path, "empty")] + [Probe(f"{path}?{f}", "empty") for f in filters]
        if cursor:
            out.append(Probe(f"{path}?cursor={quote(a_cursor(api, world, path))}", 400))
        return out
    return probes


def each(template: str, param: str, expect: int | str = 404, body: Any = None,
         headers: dict[str, str] | None = None, query: str = "") -> Case:
    """`template` with every one of A's ids of `param` in turn."""
    def probes(api: Any, world: World) -> list[Probe]:
        return [Probe(template.replace(f"{{{param}}}", value) + query, expect, body, headers)
                for value in world.ids[param]]
    return probes


def both(*cases: Case) -> Case:
    return lambda api, world: [p for c in cases for p in c(api, world)]


def customer_wallet(api: Any, world: World) -> list[Probe]:
    cursor = quote(a_cursor(api, world, f"/v1/customers/{CUSTOMERS[0]}/coupons"))
    return [Probe(f"/v1/customers/{c}/coupons{q}", 404) for c in CUSTOMERS for q in ("", "?status=issued")] + [
        Probe(f"/v1/customers/{CUSTOMERS[0]}/coupons?cursor={cursor}", 404)]


def customer_orders(api: Any, world: World) -> list[Probe]:
    cursor = quote(a_cursor(api, world, f"/v1/customers/{CUSTOMERS[0]}/orders"))
    return [Probe(f"/v1/customers/{c}/orders", 404) for c in CUSTOMERS] + [
        Probe(f"/v1/customers/{CUSTOMERS[0]}/orders?cursor={cursor}", 400)]


def members(api: Any, world: World) -> list[Probe]:
    out = each("/v1/audiences/{audience_id}/members", "audience_id")(api, world)
    out += each("/v1/audiences/{audience_id}/members", "audience_id", query="?format=csv")(api, world)
    cursor = a_cursor(api, world, f"/v1/audiences/{first(world, 'audience_id')}/members")
    # A built-in audience exists for B too: its members are B's (none), and A's cursor is refused.
    return [*out, Probe("/v1/audiences/rfm_high_value/members", "empty"),
            Probe("/v1/audiences/key_old/members?format=csv", "own"),
            Probe(f"/v1/audiences/rfm_high_value/members?cursor={quote(cursor)}", 400)]


def estimate(api: Any, world: World) -> list[Probe]:
    rule = {"all": [{"field": "tags", "op": "contains", "value": "vip"}]}
    return [Probe("/v1/audiences/estimate", 404, {"audience_id": a}) for a in world.ids["audience_id"]] + [
        Probe("/v1/audiences/estimate", "zero", {"rule": rule}),
        Probe("/v1/audiences/estimate", "zero", {"audience_id": "rfm_high_value"})]


def audiences_list(api: Any, world: World) -> list[Probe]:
    # Built-ins are listed for B with B's own (zero) counts; none of A's saved audiences appear.
    out = [Probe("/v1/audiences", "zero"), Probe("/v1/audiences?kind=builtin", "zero"),
           Probe("/v1/audiences?non_empty=true", "empty")]
    out += [Probe(f"/v1/audiences?kind={k}", "empty") for k in ("custom", "frozen", "list")]
    return [*out, Probe(f"/v1/audiences?cursor={quote(a_cursor(api, world, '/v1/audiences'))}", 400)]


def create_audience(api: Any, world: World) -> list[Probe]:
    return [Probe("/v1/audiences", "refused", {"kind": "frozen", "name": "copy", "source_audience_id": a})
            for a in world.ids["audience_id"]] + [
        Probe("/v1/audiences", "own", {"kind": "list", "name": "mine", "customer_ids": list(CUSTOMERS)}),
        Probe("/v1/audiences", "own", {"kind": "list", "name": "by phone", "phones": ["+8613800000000"]})]


def create_campaign(api: Any, world: World) -> list[Probe]:
    """B's campaign may not name A's coupon, content or audience."""
    mine = {"kind": "customers", "customer_ids": list(CUSTOMERS)}
    once = {"kind": "once", "at": None}
    actions = [{"channel": "wallet", "coupons": [{"coupon_id": c}]} for c in world.ids["coupon_id"]]
    actions += [{"channel": "inbox", "content_id": c} for c in world.ids["content_id"]]
    out = [Probe("/v1/campaigns", "refused", {"name": "x", "target": mine, "action": a, "schedule": once})
           for a in actions]
    return out + [Probe("/v1/campaigns", "refused", {"name": "x", "target": {"kind": "audience", "audience_id": a},
                                                     "action": {"channel": "webhook"}, "schedule": once})
                  for a in world.ids["audience_id"]]


def claim(api: Any, world: World) -> list[Probe]:
    return [Probe(f"/v1/coupon-instances/{i}/claim", 404, {"customer_id": c})
            for i in world.ids["instance_id"] for c in CUSTOMERS[:1]]


def batch(kind: str) -> Case:
    """B writes records with A's client-chosen ids: they are B's own, A's stay untouched (checked at the end)."""
    def probes(api: Any, world: World) -> list[Probe]:
        at = "2026-11-20T04:00:00Z"
        items = {
            "customers": [{"customer_id": c, "nickname": f"bob-{c}"} for c in CUSTOMERS],
            # ... and B's orders name A's coupon instances: redeeming them must not reach A's wallet.
            "orders": [{"order_id": f"o{c}", "customer_id": c, "paid_at": at, "amount_fen": 9000,
                        "coupon_instance_id": i} for c, i in zip(CUSTOMERS, world.ids["instance_id"], strict=False)],
            "events": [{"event_id": f"e{c}", "customer_id": c, "type": "visit", "at": at} for c in CUSTOMERS],
        }[kind]
        return [Probe(f"/v1/{kind}/batch", "own", {"items": items})]
    return probes


def staff_tasks(api: Any, world: World) -> list[Probe]:
    cursor = quote(a_cursor(api, world, "/v1/staff/tasks"))
    return [Probe("/v1/staff/tasks", "empty"), Probe(f"/v1/staff/tasks?staff_id={STAFF}", "empty"),
            Probe("/v1/staff/tasks?status=open", "empty"), Probe(f"/v1/staff/tasks?cursor={cursor}", 400)]


def history(api: Any, world: World) -> list[Probe]:
    cursor = quote(a_cursor(api, world, "/v1/history"))
    return [Probe("/v1/history", "empty"), Probe("/v1/history?status=active", "empty"),
            Probe("/v1/history?format=csv", "own"), Probe(f"/v1/history?cursor={cursor}", 400)]


def campaigns_list(api: Any, world: World) -> list[Probe]:
    cursor = quote(a_cursor(api, world, "/v1/campaigns"))
    return [Probe("/v1/campaigns", "empty"), Probe("/v1/campaigns?label=seed", "empty"),
            Probe("/v1/campaigns?status=running", "empty"), Probe("/v1/campaigns?status=draft", "empty"),
            Probe(f"/v1/campaigns?cursor={cursor}", 400)]


def keys_list(api: Any, world: World) -> list[Probe]:
    # B's key list holds B's own admin key only.
    return [Probe("/v1/keys", "own"), Probe(f"/v1/keys?cursor={quote(a_cursor(api, world, '/v1/keys'))}", 400)]


CAMPAIGN = "/v1/campaigns/{campaign_id}"
SWEEP: dict[tuple[str, str], Case] = {
    ("GET", "/v1/health"): paths(Probe("/v1/health", "own")),
    ("GET", "/v1/openapi.json"): paths(Probe("/v1/openapi.json", "own")),
    ("GET", "/v1/settings"): paths(Probe("/v1/settings", "own")),
    ("PUT", "/v1/settings"): paths(Probe("/v1/settings", "own", {"store_name": "B store"})),
    ("PATCH", "/v1/settings"): paths(Probe("/v1/settings", "own", {"store_name": "B store"})),
    ("POST", "/v1/keys"): paths(Probe("/v1/keys", "own", {"role": "staff", "staff_id": STAFF})),
    ("GET", "/v1/keys"): keys_list,
    ("DELETE", "/v1/keys/{key_id}"): each("/v1/keys/{key_id}", "key_id"),
    ("POST", "/v1/customers/batch"): batch("customers"),
    ("POST", "/v1/orders/batch"): batch("orders"),
    ("POST", "/v1/events/batch"): batch("events"),
    ("GET", "/v1/customers/{customer_id}"): each("/v1/customers/{customer_id}", "customer_id"),
    ("GET", "/v1/customers/{customer_id}/coupons"): customer_wallet,
    ("GET", "/v1/customers/{customer_id}/orders"): customer_orders,
    ("GET", "/v1/customers/{customer_id}/inbox"): each("/v1/customers/{customer_id}/inbox", "customer_id"),
    ("GET", "/v1/audience-fields"): paths(Probe("/v1/audience-fields", "own")),
    ("GET", "/v1/audiences"): audiences_list,
    ("POST", "/v1/audiences"): create_audience,
    ("POST", "/v1/audiences/estimate"): estimate,
    ("GET", "/v1/audiences/{audience_id}"): each("/v1/audiences/{audience_id}", "audience_id"),
    ("PATCH", "/v1/audiences/{audience_id}"): both(
        each("/v1/audiences/{audience_id}", "audience_id", body={"name": "taken"}),
        each("/v1/audiences/{audience_id}", "audience_id", body={"name": "taken"}, headers=STALE)),
    ("DELETE", "/v1/audiences/{audience_id}"): both(
        each("/v1/audiences/{audience_id}", "audience_id"),
        each("/v1/audiences/{audience_id}", "audience_id", headers=STALE)),
    ("GET", "/v1/audiences/{audience_id}/members"): members,
    ("POST", "/v1/audiences/{audience_id}/members"): each("/v1/audiences/{audience_id}/members", "audience_id",
                                                           body={"customer_ids": ["c9"]}),
    ("POST", "/v1/coupons"): paths(Probe("/v1/coupons", "own", {
        "name": "B coupon", "kind": "store_threshold", "threshold_fen": 100, "discount_fen": 10,
        "validity": {"kind": "relative", "days": 3}, "claim_window": {"kind": "any_time"}, "stock": 5})),
    ("GET", "/v1/coupons"): listing("/v1/coupons"),
    ("GET", "/v1/coupons/{coupon_id}"): each("/v1/coupons/{coupon_id}", "coupon_id"),
    ("PATCH", "/v1/coupons/{coupon_id}"): both(each("/v1/coupons/{coupon_id}", "coupon_id", body={"name": "x"}),
                                               each("/v1/coupons/{coupon_id}", "coupon_id", body={"name": "x"},
                                                    headers=STALE)),
    ("DELETE", "/v1/coupons/{coupon_id}"): both(each("/v1/coupons/{coupon_id}", "coupon_id"),
                                                each("/v1/coupons/{coupon_id}", "coupon_id", headers=STALE)),
    ("POST", "/v1/coupon-instances/{instance_id}/claim"): claim,
    ("POST", "/v1/contents"): paths(Probe("/v1/contents", "own", {"name": "B", "text": "hello"})),
    ("GET", "/v1/contents"): listing("/v1/contents", cursor=False),
    ("GET", "/v1/contents/{content_id}"): each("/v1/contents/{content_id}", "content_id"),
    ("PATCH", "/v1/contents/{content_id}"): both(each("/v1/contents/{content_id}", "content_id", body={"name": "x"}),
                                                 each("/v1/contents/{content_id}", "content_id", body={"name": "x"},
                                                      headers=STALE)),
    ("DELETE", "/v1/contents/{content_id}"): both(each("/v1/contents/{content_id}", "content_id"),
                                                  each("/v1/contents/{content_id}", "content_id", headers=STALE)),
    ("GET", "/v1/campaign-templates"): paths(Probe("/v1/campaign-templates", "own")),
    ("POST", "/v1/campaigns"): create_campaign,
    ("GET", "/v1/campaigns"): campaigns_list,
    ("GET", CAMPAIGN): each(CAMPAIGN, "campaign_id"),
    ("PATCH", CAMPAIGN): both(each(CAMPAIGN, "campaign_id", body={"name": "x"}),
                              each(CAMPAIGN, "campaign_id", body={"name": "x"}, headers=STALE)),
    ("DELETE", CAMPAIGN): both(each(CAMPAIGN, "campaign_id"), each(CAMPAIGN, "campaign_id", headers=STALE)),
    **{("POST", f"{CAMPAIGN}/{verb}"): each(f"{CAMPAIGN}/{verb}", "campaign_id")
       for verb in ("activate", "pause", "resume", "cancel", "send-now")},
    ("GET", f"{CAMPAIGN}/runs"): each(f"{CAMPAIGN}/runs", "campaign_id"),
    ("GET", f"{CAMPAIGN}/touches"): each(f"{CAMPAIGN}/touches", "campaign_id"),
    ("GET", "/v1/runs/{run_id}"): each("/v1/runs/{run_id}", "run_id"),
    ("GET", f"{CAMPAIGN}/report"): each(f"{CAMPAIGN}/report", "campaign_id"),
    ("GET", f"{CAMPAIGN}/recipients"): both(each(f"{CAMPAIGN}/recipients", "campaign_id"),
                                             each(f"{CAMPAIGN}/recipients", "campaign_id", query="?format=csv"),
                                             each(f"{CAMPAIGN}/recipients", "campaign_id", query="?status=reached")),
    ("GET", "/v1/dashboard"): paths(*(Probe(f"/v1/dashboard?period={p}", "own") for p in ("yesterday", "7d", "30d"))),
    ("GET", "/v1/history"): history,
    ("GET", "/v1/staff/tasks"): staff_tasks,
    ("GET", "/v1/staff/execution"): paths(Probe("/v1/staff/execution", "empty"),
                                          Probe(f"/v1/staff/execution?staff_id={STAFF}", "empty"),
                                          Probe("/v1/staff/execution?due_hours=1", "empty")),
    ("POST", "/v1/staff/tasks/{task_id}/complete"): each("/v1/staff/tasks/{task_id}/complete", "task_id",
                                                         body={"outcome": "reached"}),
}


def leaks(world: World, probe: Probe, text: str) -> list[str]:
    """A's ids or personal data in B's answer, other than ids B itself sent."""
    asked = probe.path + repr(probe.body)
    marks = world.secrets() | {f"alice-{c}" for c in CUSTOMERS} | {f"{c}@example.com" for c in CUSTOMERS}
    return sorted(m for m in marks if m in text and m not in asked)


def judge(probe: Probe, response: Any) -> str | None:
    """Why B's answer breaks isolation or the contract, if it does."""
    status, body = response.status, response.json
    if status >= 500:
        return "server error"
    if isinstance(probe.expect, int):
        return None if status == probe.expect else f"expected {probe.expect}"
    if probe.expect == "refused":
        return None if 400 <= status < 500 and status not in (401, 403) else "expected a 4xx refusal"
    if not 200 <= status < 300:
        return "expected success on B's own data"
    items = body.get("items") if isinstance(body, dict) else None
    if probe.expect == "empty" and items != []:
        return "expected an empty list"
    if probe.expect == "zero":
        counts = [i.get("count") for i in items] if items is not None else [body.get("count")]
        if any(c not in (0, None) for c in counts) or (items is None and body.get("sample")):
            return f"expected B's own zero counts, got {counts}"
    return None


def test_no_route_gives_merchant_b_anything_of_merchant_a_when_called_with_a_ids(
        api: Any, merchant: Any, other_merchant: Any, runtime: Any, clock: Any) -> None:
    world = seed_world(api, merchant, runtime, clock.now)
    before = {c: api.get(f"/v1/customers/{c}", token=merchant.token).json for c in CUSTOMERS}
    settings = api.get("/v1/settings", token=merchant.token).json
    wallets = {c: api.get(f"/v1/customers/{c}/coupons", token=merchant.token).json["items"] for c in CUSTOMERS}
    document = api.get("/v1/openapi.json").json
    routes = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert routes - set(SWEEP) == set(), f"routes with no sweep case: {sorted(routes - set(SWEEP))}"
    assert set(SWEEP) - routes == set(), f"sweep cases for routes not in the document: {set(SWEEP) - routes}"

    problems, sent = [], 0
    for (method, _), case in sorted(SWEEP.items()):
        for probe in case(api, world):
            response = api.request(method, probe.path, probe.body, token=other_merchant.token, headers=probe.headers)
            sent += 1
            why = judge(probe, response)
            leaked = leaks(world, probe, response.text)
            if why or leaked:
                problems.append(f"{method} {probe.path} {probe.body!r}: {why or 'leak'} {leaked} -> {response}")
    assert not problems, "\n".join(problems)
    assert sent >= len(routes)

    # Nothing B did touched A: A's objects, customers, settings and keys are as they were, once B's orders and
    # events have gone through the activity stream (where redemptions and metrics are folded in).
    runtime.drain()
    for param, template in (("campaign_id", "/v1/campaigns/{}"), ("content_id", "/v1/contents/{}"),
                            ("coupon_id", "/v1/coupons/{}"), ("audience_id", "/v1/audiences/{}"),
                            ("run_id", "/v1/runs/{}")):
        for value in world.ids[param]:
            assert api.get(template.format(value), token=merchant.token).status == 200, (param, value)
    after = {c: api.get(f"/v1/customers/{c}", token=merchant.token).json for c in CUSTOMERS}
    assert [a["profile"] for a in after.values()] == [b["profile"] for b in before.values()]
    assert [a["metrics"]["orders_total"] for a in after.values()] == [1, 1, 1]
    assert api.get("/v1/settings", token=merchant.token).json == settings
    assert api.get("/v1/staff/tasks?status=open", token=world.staff_token).status == 200
    assert len(api.get("/v1/staff/tasks?status=open", token=merchant.token).json["items"]) == len(world.ids["task_id"])
    assert {c: api.get(f"/v1/customers/{c}/coupons", token=merchant.token).json["items"] for c in CUSTOMERS} == wallets
