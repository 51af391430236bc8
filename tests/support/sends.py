"""Sending a campaign through the API and LocalRuntime at one instant, and changing a merchant's settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.support.dispatch import runs_of, set_watermark


def put_settings(api: Any, merchant: Any, quiet: bool = True, quiet_channels: list[str] | None = None,
                 **guardrails: Any) -> dict[str, Any]:
    """The merchant's settings with `guardrails` changed (and quiet hours on or off); returns the stored ones."""
    current = api.get("/v1/settings", token=merchant.token).json
    body = {k: current[k] for k in ("store_name", "timezone", "quiet_hours", "guardrails", "rfm")}
    body["guardrails"].update(guardrails)
    body["quiet_hours"]["enabled"] = quiet
    if quiet_channels is not None:
        body["quiet_hours"]["channels"] = quiet_channels
    r = api.put("/v1/settings", body, token=merchant.token, headers={"If-Match": str(current["version"])})
    assert r.status == 200, r
    return dict(r.json)


def send(api: Any, merchant: Any, runtime: Any, clock: Any, body: dict[str, Any], now: datetime,
         at: datetime | None = None) -> dict[str, Any]:
    """Create and activate a campaign at `now`, tick at `at` (default `now`) and deliver; returns the newest run's
    progress with the campaign id (and the activation's answer under `activated`)."""
    clock.set(now)
    runtime.set_time(now)
    set_watermark(now)
    r = api.post("/v1/campaigns", body, token=merchant.token)
    assert r.status == 201, r
    cid = r.json["campaign_id"]
    activated = api.post(f"/v1/campaigns/{cid}/activate", token=merchant.token)
    assert activated.status == 200, activated
    when = at or now
    clock.set(when)
    runtime.set_time(when)
    runtime.tick(when)
    runtime.drain()
    runs = runs_of(api, merchant, cid)
    progress = runs[0]["progress"] if runs else {}
    return {"campaign_id": cid, "activated": activated.json, **progress}
