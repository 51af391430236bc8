"""Every CSV export is UTF-8 with a BOM and says so, and shows times in the merchant's zone (issue 18 item 13)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from chalicelib import wiring
from chalicelib.core.config import get_config
from chalicelib.core.http import ROUTES
from chalicelib.reports import api as reports_api
from tests.support.dispatch import campaign_body, make_coupon, seed_customers, start_campaign, tick_and_drain

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)  # 13:00 in Berlin, outside quiet hours
BERLIN = ZoneInfo("Europe/Berlin")
BOM = b"\xef\xbb\xbf"


def _rows(raw: bytes) -> list[dict[str, str]]:
    """The file as Excel and `requests` read it: the bytes carry a BOM and decode as UTF-8."""
    assert raw.startswith(BOM), raw[:20]
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def _sent_story(api: Any, merchant: Any, clock: Any, runtime: Any) -> str:
    assert api.patch("/v1/settings", {"timezone": "Europe/Berlin"}, token=merchant.token).status == 200
    seed_customers(api, merchant, ["c1", "c2"])
    assert api.post("/v1/customers/batch", {"items": [{"customer_id": "c3", "nickname": "张三"}]},
                    token=merchant.token).status == 200
    coupon = make_coupon(api, merchant, name="满100减20")
    clock.set(NOW)
    runtime.set_time(NOW)
    cid = start_campaign(api, merchant, campaign_body(coupon, {"kind": "customers", "customer_ids": ["c1", "c2"]}))
    tick_and_drain(runtime, NOW + timedelta(minutes=1))
    return cid


def _local(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    assert at.utcoffset() == at.astimezone(BERLIN).utcoffset() == timedelta(hours=1), text  # CET in December
    return at


def test_every_csv_export_is_utf8_with_a_bom_in_the_merchant_zone(api: Any, merchant: Any, clock: Any,
                                                                  runtime: Any) -> None:
    cid = _sent_story(api, merchant, clock, runtime)
    audience = api.post("/v1/audiences", {"kind": "list", "name": "名单", "customer_ids": ["c1", "c3"]},
                        token=merchant.token).json["audience_id"]
    exports = {("GET", "/v1/campaigns/{campaign_id}/recipients"): f"/v1/campaigns/{cid}/recipients?format=csv",
               ("GET", "/v1/history"): "/v1/history?format=csv",
               ("GET", "/v1/audiences/{audience_id}/members"): f"/v1/audiences/{audience}/members?format=csv"}
    assert {(r.method, r.path) for r in ROUTES if r.csv} == set(exports)  # a new CSV route must be added here
    files = {}
    for route, path in exports.items():
        r = api.get(path, token=merchant.token)
        assert r.status == 200, r
        assert r.headers["content-type"] == "text/csv; charset=utf-8", r.headers
        files[route[1]] = _rows(r.raw)

    history = files["/v1/history"]
    assert {row["coupon_name"] for row in history} == {"满100减20"} and len(history) == 2
    for row in history:
        issued = _local(row["issued_at"])
        assert issued.astimezone(UTC) >= NOW and _local(row["valid_until"]) > issued
    recipients = files["/v1/campaigns/{campaign_id}/recipients"]
    assert sorted(row["customer_id"] for row in recipients) == ["c1", "c2"]
    assert all(_local(row["at"]).astimezone(UTC) >= NOW for row in recipients)
    members = files["/v1/audiences/{audience_id}/members"]
    assert {row["customer_id"]: row["nickname"] for row in members} == {"c1": "nc1", "c3": "张三"}


def test_large_exports_in_s3_are_utf8_with_a_bom_in_the_merchant_zone(api: Any, merchant: Any, clock: Any,
                                                                       runtime: Any, monkeypatch: Any) -> None:
    cid = _sent_story(api, merchant, clock, runtime)
    monkeypatch.setattr(reports_api, "EXPORT_THRESHOLD", 0)
    s3 = wiring.client("s3")
    bucket = get_config().export_bucket
    for path, column in ((f"/v1/campaigns/{cid}/recipients?format=csv", "at"), ("/v1/history?format=csv",
                                                                                  "issued_at")):
        link = api.get(path, token=merchant.token)
        assert link.status == 200 and link.json["rows"] == 2, link
        key = urlparse(link.json["url"]).path.lstrip("/").removeprefix(bucket + "/")
        stored = s3.get_object(Bucket=bucket, Key=key)
        assert stored["ContentType"] == "text/csv; charset=utf-8"
        rows = _rows(stored["Body"].read())
        assert len(rows) == 2 and all(_local(row[column]) for row in rows)
        if column == "issued_at":
            assert {row["coupon_name"] for row in rows} == {"满100减20"}
