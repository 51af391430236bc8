"""A settings write shows at once in the writing process's settings cache (the local stack runs every function in
one process: a ceiling raised just before a loosened campaign's first run must apply to that run)."""

from __future__ import annotations

from typing import Any

from chalicelib import wiring


def test_put_and_patch_settings_refresh_the_writing_process_s_settings_cache(api: Any, merchant: Any) -> None:
    assert wiring.cached_settings(merchant.id).guardrails.daily_messages_per_customer == 1  # cached from now on
    got = api.get("/v1/settings", token=merchant.token)
    r = api.patch("/v1/settings", {"guardrails": {"daily_messages_per_customer": 3}}, token=merchant.token,
                  headers={"If-Match": f'"{got.json["version"]}"'})
    assert r.status == 200, r.json
    assert wiring.cached_settings(merchant.id).guardrails.daily_messages_per_customer == 3
    doc = {k: v for k, v in r.json.items() if k not in ("merchant_id", "version", "webhook_secret_set")}
    doc["guardrails"]["daily_messages_per_customer"] = 2
    r = api.put("/v1/settings", doc, token=merchant.token, headers={"If-Match": f'"{r.json["version"]}"'})
    assert r.status == 200, r.json
    assert wiring.cached_settings(merchant.id).guardrails.daily_messages_per_customer == 2
