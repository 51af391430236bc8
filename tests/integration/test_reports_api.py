"""Report routes: campaign report, recipients (JSON, CSV, S3 export), dashboard, history; roles, tenancy, 400s."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import pytest

from chalicelib import wiring
from chalicelib.core.clock import to_iso
from chalicelib.core.config import get_config
from chalicelib.core.dynamo import commit
from chalicelib.dispatch.model import Chunk, Entry, Outcome, Recipient, Run, RunStatus
from chalicelib.dispatch.reaches import Reach
from chalicelib.reports import api as reports_api
from chalicelib.reports.model import Delivery, DeliveryStatus

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
SENT = NOW - timedelta(days=1, hours=2)  # yesterday, Shanghai time


class FakeDeliveries:
    """Dispatch's ledger as the report reads it, set by hand."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], list[Delivery]] = {}

    def deliveries(self, merchant_id: str, campaign_id: str, start: datetime | None, end: datetime | None
                   ) -> list[Delivery]:
        return [d for d in self.rows.get((merchant_id, campaign_id), [])
                if (start is None or (d.at and d.at >= start)) and (end is None or (d.at and d.at < end))]


OUTCOME = {DeliveryStatus.REACHED: Outcome.SUCCEEDED, DeliveryStatus.FAILED: Outcome.FAILED,
           DeliveryStatus.SUPPRESSED: Outcome.SUPPRESSED, DeliveryStatus.HELD_OUT: Outcome.HELD_OUT,
           DeliveryStatus.NOT_SENT: Outcome.CANCELLED}


def index_deliveries(merchant_id: str, campaign_id: str, rows: list[Delivery]) -> None:
    """Write the deliveries' recipient index (and counters) as dispatch's tally of one chunk would."""
    data = wiring.repo("CAMPAIGN").get(merchant_id, campaign_id).data
    run = Run(merchant_id, rows[0].run_id, campaign_id, SENT, data, RunStatus.SENDING, started_at=to_iso(SENT))
    entries = {d.customer_id: Entry(OUTCOME[d.status], d.reason, d.coupon_instance_ids, to_iso(d.at or SENT))
               for d in rows}
    chunk = Chunk(merchant_id, run.run_id, "0000000", [Recipient(d.customer_id) for d in rows], entries,
                  campaign_id=campaign_id)
    commit(wiring.delivery_log().settled_ops(run, chunk, entries, SENT))


@pytest.fixture
def ledger(substitute: Any) -> FakeDeliveries:
    fake = FakeDeliveries()
    substitute.deliveries(fake)
    return fake


def make_campaign(api: Any, merchant: Any, name: str = "Spring", coupon: str | None = None, **extra: Any) -> str:
    coupons = [{"coupon_id": coupon or make_coupon(api, merchant), "quantity": 1}]
    body = {"name": name, "target": {"kind": "customers", "customer_ids": ["c1"]},
            "action": {"channel": "wallet", "coupons": coupons}, "schedule": {"kind": "once", "at": None}, **extra}
    r = api.post("/v1/campaigns", body, token=merchant.token)
    assert r.status == 201, r.json
    return str(r.json["campaign_id"])


def make_coupon(api: Any, merchant: Any, claim: str = "any_time") -> str:
    r = api.post("/v1/coupons", {"name": "10 off", "kind": "store_threshold", "threshold_fen": 1000,
                                 "discount_fen": 100, "validity": {"kind": "relative", "days": 30},
                                 "claim_window": {"kind": claim}, "stock": 1000}, token=merchant.token)
    assert r.status == 201, r.json
    return str(r.json["coupon_id"])


def issue(merchant: Any, coupon: str, customer: str, campaign: str, at: datetime, direct: bool = True) -> str:
    done = wiring.wallet_service().issue_coupons(merchant.id, customer, coupon, 1, campaign_id=campaign, run_id="r1",
                                                 delivery_key=f"r1:{customer}:{at.timestamp()}", direct=direct,
                                                 now=at)
    return str(done[0].instance_id)


def orders(api: Any, merchant: Any, runtime: Any, items: list[dict[str, Any]]) -> None:
    r = api.post("/v1/orders/batch", {"items": items}, token=merchant.token)
    assert r.status == 200 and r.json["rejected"] == 0, r.json
    runtime.drain()


def order(oid: str, cid: str, paid_at: datetime, amount: int, status: str = "paid") -> dict[str, Any]:
    return {"order_id": oid, "customer_id": cid, "paid_at": to_iso(paid_at), "amount_fen": amount,
            "discount_fen": 100, "status": status}


def start(clock: Any, runtime: Any) -> None:
    clock.set(NOW)
    runtime.set_time(NOW)


@pytest.fixture
def seeded(api: Any, merchant: Any, runtime: Any, clock: Any, ledger: FakeDeliveries) -> dict[str, Any]:
    """A campaign: c1 reached (coupon, two orders, one refunded), c2 failed, c3 suppressed, c4 held out and
    ordered, c5 not sent; c1 unfollowed after the reach."""
    start(clock, runtime)
    coupon = make_coupon(api, merchant)
    cid = make_campaign(api, merchant, coupon=coupon)
    ci = issue(merchant, coupon, "c1", cid, SENT)
    ledger.rows[(merchant.id, cid)] = [
        Delivery("r1", "c1", DeliveryStatus.REACHED, None, (ci,), SENT),
        Delivery("r1", "c2", DeliveryStatus.FAILED, "channel_error", (), SENT),
        Delivery("r1", "c3", DeliveryStatus.SUPPRESSED, "no_consent", (), SENT),
        Delivery("r1", "c4", DeliveryStatus.HELD_OUT, None, (), SENT),
        Delivery("r1", "c5", DeliveryStatus.NOT_SENT, "cancelled", (), SENT),
        Delivery("r1", "c6", DeliveryStatus.DEFERRED, "quiet_hours", (), SENT, until=SENT + timedelta(hours=10))]
    # The recipient index holds settled deliveries: a deferred one is not final yet.
    index_deliveries(merchant.id, cid, [d for d in ledger.rows[(merchant.id, cid)]
                                        if d.status is not DeliveryStatus.DEFERRED])
    wiring.reach_log().record_reaches(merchant.id, [Reach("c1", cid, "r1", SENT, coupon_instance_ids=(ci,)),
                                                      Reach("c4", cid, "r1", SENT, held_out=True)])
    orders(api, merchant, runtime, [order("o1", "c1", SENT + timedelta(hours=1), 5000),
                                     order("o2", "c1", SENT + timedelta(hours=2), 2000, "refunded"),
                                     order("o3", "c4", SENT + timedelta(hours=3), 800)])
    r = api.post("/v1/events/batch", {"items": [{"event_id": "e1", "customer_id": "c1", "type": "unfollow",
                                                 "at": to_iso(SENT + timedelta(hours=4))}]}, token=merchant.token)
    assert r.status == 200
    runtime.drain()
    return {"campaign": cid, "instance": ci}


def test_report_shows_funnel_reasons_revenue_coupons_churn_and_series(api, merchant, seeded):
    r = api.get(f"/v1/campaigns/{seeded['campaign']}/report", token=merchant.token)
    assert r.status == 200, r.json
    body = r.json
    assert body["funnel"] == {"targeted": 6, "held_out": 1, "reached": 1, "ordered": 1, "paid": 1}
    assert body["reasons"] == {"failed": {"channel_error": 1}, "suppressed": {"no_consent": 1},
                               "deferred": {"quiet_hours": 1}, "not_sent": {"cancelled": 1},
                               "deferred_until": to_iso(SENT + timedelta(hours=10))}
    assert body["revenue"] == {"orders": 1, "gmv_fen": 5000, "discount_fen": 100, "coupon_orders": 0,
                               "control_orders": 1, "control_gmv_fen": 800}
    assert body["coupons"] == {"issued": 1, "claimed": 1, "redeemed": 0, "expired": 0, "claimers": 1}
    assert body["churn"] == {"unsubscribed": 0, "unfollowed": 1, "total": 1, "rate": 1.0}
    assert body["rates"]["reach_rate"] == 0.2 and body["rates"]["conversion_rate"] == 1.0
    assert body["lift"]["status"] == "insufficient" and body["lift"]["control_conversions"] == 1
    assert body["series"] == [{"day": "2026-11-22", "reached": 1, "orders": 1, "gmv_fen": 5000, "discount_fen": 100,
                               "control_orders": 1, "churn": 1}]
    narrowed = api.get(f"/v1/campaigns/{seeded['campaign']}/report?from=2026-11-23&to=2026-11-23",
                       token=merchant.token).json
    assert narrowed["funnel"]["targeted"] == 0 and narrowed["revenue"]["orders"] == 0
    assert [p["day"] for p in narrowed["series"]] == ["2026-11-23"]


def test_recipients_csv_content_when_format_is_csv(api, merchant, seeded):
    r = api.get(f"/v1/campaigns/{seeded['campaign']}/recipients?format=csv", token=merchant.token)
    assert r.status == 200 and r.headers["content-type"].startswith("text/csv")
    at = SENT.astimezone(ZoneInfo("Asia/Shanghai")).isoformat()  # the merchant's zone, with the offset
    assert r.text.removeprefix("\ufeff").split("\r\n") == [
        "customer_id,status,reason,run_id,at,coupons,orders,amount_fen,discount_fen,reversed_orders,churned,until",
        f"c2,failed,channel_error,r1,{at},,0,0,0,0,,",  # index order: run, chunk, then status and customer
        f"c4,held_out,,r1,{at},,1,800,100,0,,",
        f"c5,not_sent,cancelled,r1,{at},,0,0,0,0,,",
        f"c1,reached,,r1,{at},{seeded['instance']}:claimed,1,5000,100,1,unfollow,",
        f"c3,suppressed,no_consent,r1,{at},,0,0,0,0,,",
        ""]


def test_recipients_page_with_cursor_and_status_filter(api, merchant, seeded):
    path = f"/v1/campaigns/{seeded['campaign']}/recipients"
    first = api.get(f"{path}?limit=2", token=merchant.token).json
    assert [i["customer_id"] for i in first["items"]] == ["c2", "c4"] and first["next_cursor"]
    rest = api.get(f"{path}?limit=10&cursor={first['next_cursor']}", token=merchant.token).json
    assert [i["customer_id"] for i in rest["items"]] == ["c5", "c1", "c3"] and rest["next_cursor"] is None
    exact = api.get(f"{path}?limit=3", token=merchant.token).json  # a full last page says so only when more follow
    after = api.get(f"{path}?limit=2&cursor={exact['next_cursor']}", token=merchant.token).json
    assert [i["customer_id"] for i in after["items"]] == ["c1", "c3"] and after["next_cursor"] is None
    assert [i["customer_id"] for i in api.get(f"{path}?status=failed", token=merchant.token).json["items"]] == ["c2"]
    converted = api.get(f"{path}?status=converted", token=merchant.token).json["items"]
    assert [(i["customer_id"], i["orders"], i["amount_fen"]) for i in converted] == [("c1", 1, 5000), ("c4", 1, 800)]


def test_large_csv_export_goes_to_s3_and_returns_a_presigned_url(api, merchant, seeded, monkeypatch):
    monkeypatch.setattr(reports_api, "EXPORT_THRESHOLD", 3)
    r = api.get(f"/v1/campaigns/{seeded['campaign']}/recipients?format=csv", token=merchant.token)
    assert r.status == 200 and set(r.json) == {"url", "rows", "expires_in"} and r.json["rows"] == 5
    url = urlparse(r.json["url"])
    assert "Signature" in url.query or "X-Amz-Signature" in url.query
    key = url.path.lstrip("/").removeprefix(get_config().export_bucket + "/")
    assert key.startswith(f"exports/{merchant.id}/")
    body = wiring.client("s3").get_object(Bucket=get_config().export_bucket, Key=key)["Body"].read().decode()
    assert body.startswith("\ufeffcustomer_id,status") and body.count("\r\n") == 6


def test_export_url_is_presigned_with_sigv4_and_a_short_expiry(api, merchant, seeded, monkeypatch):
    """SigV2 (`Signature=` / `AWSAccessKeyId=`), botocore's default for this client, is refused by new buckets."""
    from urllib.parse import parse_qs

    from chalicelib.reports.export import EXPIRES_IN

    monkeypatch.setattr(reports_api, "EXPORT_THRESHOLD", 0)
    for path in (f"/v1/campaigns/{seeded['campaign']}/recipients?format=csv", "/v1/history?format=csv"):
        r = api.get(path, token=merchant.token)
        assert r.status == 200, r.text
        query = parse_qs(urlparse(r.json["url"]).query)
        assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and "Signature" not in query
        assert query["X-Amz-Expires"] == [str(EXPIRES_IN)] and r.json["expires_in"] == EXPIRES_IN == 900
        assert query["X-Amz-Credential"][0].endswith(f"/{get_config().region}/s3/aws4_request")


def test_dashboard_for_yesterday_in_the_merchant_zone(api, merchant, seeded):
    body = api.get("/v1/dashboard?period=yesterday", token=merchant.token).json
    assert (body["day_from"], body["day_to"], body["timezone"]) == ("2026-11-22", "2026-11-22", "Asia/Shanghai")
    assert (body["sends"], body["reached"], body["reach_rate"]) == (2, 1, 0.5)
    assert (body["coupons_issued"], body["attributed_orders"], body["attributed_gmv_fen"]) == (1, 1, 5000)
    assert body["top_campaigns"] == [{"campaign_id": seeded["campaign"], "name": "Spring", "reached": 1, "orders": 1,
                                      "gmv_fen": 5000}]
    week = api.get("/v1/dashboard?period=7d", token=merchant.token).json
    assert week["day_from"] == "2026-11-16" and week["attributed_orders"] == 1
    assert api.get("/v1/dashboard", token=merchant.token).json["period"] == "7d"


def test_history_filters_active_and_expired_and_exports_csv(api, merchant, runtime, clock):
    start(clock, runtime)
    coupon = make_coupon(api, merchant, claim="issue_day")
    old = issue(merchant, coupon, "c1", "cmpX", NOW - timedelta(days=3), direct=False)  # claim window over
    new = issue(merchant, coupon, "c2", "cmpX", NOW - timedelta(hours=1), direct=False)
    all_rows = api.get("/v1/history", token=merchant.token).json["items"]
    assert [(i["instance_id"], i["status"]) for i in all_rows] == [(new, "issued"), (old, "expired")]
    def ids(query: str) -> list[str]:
        return [i["instance_id"] for i in api.get(f"/v1/history?{query}", token=merchant.token).json["items"]]

    assert ids("status=active") == [new] and ids("status=expired") == [old]
    ranged = api.get("/v1/history?from=2026-11-20&to=2026-11-20", token=merchant.token).json["items"]
    assert [i["instance_id"] for i in ranged] == [old]
    page = api.get("/v1/history?limit=1", token=merchant.token).json
    assert len(page["items"]) == 1 and page["next_cursor"]
    csv_text = api.get("/v1/history?format=csv&status=expired", token=merchant.token).text
    lines = csv_text.removeprefix("\ufeff").split("\r\n")
    assert lines[0].startswith("instance_id,coupon_id,coupon_name,customer_id,campaign_id") and len(lines) == 3
    assert lines[1].startswith(f"{old},{coupon},10 off,c1,cmpX,,r1,expired,2026-11-20T12:00:00+08:00")


@pytest.mark.parametrize(("path", "field"), [
    ("/v1/campaigns/X/report?from=2026-13-01", "query.from"),
    ("/v1/campaigns/X/report?from=2026-11-10&to=2026-11-01", "query.from"),
    ("/v1/campaigns/X/report?from=2024-01-01&to=2026-11-01", "query.to"),
    ("/v1/campaigns/X/report?to=soon", "query.to"),
    ("/v1/campaigns/X/report?bogus=1", "query.bogus"),
    ("/v1/campaigns/X/recipients?status=nope", "query.status"),
    ("/v1/campaigns/X/recipients?format=xml", "query.format"),
    ("/v1/campaigns/X/recipients?limit=0", "query.limit"),
    ("/v1/campaigns/X/recipients?cursor=garbage", "query.cursor"),
    ("/v1/dashboard?period=week", "query.period"),
    ("/v1/history?status=used", "query.status"),
    ("/v1/history?from=yesterday", "query.from"),
    ("/v1/history?cursor=e30", "query.cursor"),
])
def test_bad_query_parameters_are_400_naming_the_parameter(api, merchant, path, field):
    cid = make_campaign(api, merchant)
    r = api.get(path.replace("/X/", f"/{cid}/"), token=merchant.token)
    assert r.status == 400, r.json
    assert r.json["error"]["field"] == field


def test_readers_may_read_reports_and_staff_may_not(api, merchant, ledger):
    cid = make_campaign(api, merchant)
    readonly = api.post("/v1/keys", {"role": "readonly"}, token=merchant.token).json["api_key"]
    staff = api.post("/v1/keys", {"role": "staff", "staff_id": "s1"}, token=merchant.token).json["api_key"]
    for path in (f"/v1/campaigns/{cid}/report", f"/v1/campaigns/{cid}/recipients", "/v1/dashboard", "/v1/history"):
        assert api.get(path, token=readonly).status == 200, path
        assert api.get(path, token=staff).status == 403, path


def test_another_merchant_gets_404_and_none_of_the_figures(api, merchant, other_merchant, seeded):
    cid = seeded["campaign"]
    for path in (f"/v1/campaigns/{cid}/report", f"/v1/campaigns/{cid}/recipients"):
        r = api.get(path, token=other_merchant.token)
        assert r.status == 404 and r.json["error"]["field"] == "path.campaign_id"
    dash = api.get("/v1/dashboard?period=7d", token=other_merchant.token).json
    assert (dash["sends"], dash["attributed_orders"], dash["coupons_issued"], dash["top_campaigns"]) == (0, 0, 0, [])
    assert api.get("/v1/history", token=other_merchant.token).json["items"] == []
    mine = api.get(f"/v1/campaigns/{cid}/recipients?limit=1", token=merchant.token).json["next_cursor"]
    other_cid = make_campaign(api, other_merchant)
    r = api.get(f"/v1/campaigns/{other_cid}/recipients?cursor={mine}", token=other_merchant.token)
    assert r.status == 400 and r.json["error"]["field"] == "query.cursor"


def test_unknown_campaign_report_is_404(api, merchant):
    assert api.get("/v1/campaigns/nope/report", token=merchant.token).status == 404
