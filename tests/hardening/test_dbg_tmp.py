from datetime import datetime, timedelta, UTC

def show(tag, r):
    print("BUG" if r.status >= 500 else "ok", tag, r.status, r.text[:100], (r.json or {}).get("next_run_at") if isinstance(r.json, dict) else "")

def test_dbg(api, merchant, runtime, clock):
    t = merchant.token
    api.post("/v1/customers/batch", {"items": [{"customer_id": "c1"}]}, token=t)
    for tz in ("America/New_York", "Australia/Lord_Howe", "Pacific/Chatham", "America/Santiago"):
        show(f"tz {tz}", api.put("/v1/settings", {"timezone": tz, "quiet_hours": {"enabled": False, "start": "21:00", "end": "09:00"}}, token=t))
        for sched in ({"kind": "recurring", "frequency": "daily", "time": "02:30", "start_date": "2027-03-14"},
                      {"kind": "recurring", "frequency": "daily", "time": "01:30", "start_date": "2027-11-07"},
                      {"kind": "recurring", "frequency": "monthly", "time": "23:59", "month_days": [29, 30, 31], "last_day": True, "start_date": "2027-02-01"},
                      {"kind": "recurring", "frequency": "weekly", "time": "00:00", "weekdays": [7], "start_next_period": True},
                      {"kind": "recurring", "frequency": "monthly", "time": "00:00", "month_days": [31], "start_date": "2027-02-01", "end_date": "2027-02-28"},
                      {"kind": "once", "at": "2027-03-14T02:30:00"},
                      {"kind": "triggered", "event": "birthday", "delay_days": 3, "time": "02:30"}):
            r = api.post("/v1/campaigns", {"name": "x", "target": {"kind": "customers", "customer_ids": ["c1"]}, "action": {"channel": "webhook"}, "schedule": sched}, token=t)
            show(f"create {tz} {sched}", r)
            if r.status == 201:
                a = api.post(f"/v1/campaigns/{r.json['campaign_id']}/activate", token=t)
                show(f"activate {tz} {sched}", a)
    for h in range(0, 24 * 3, 7):
        runtime.tick(clock.now + timedelta(hours=h))
    runtime.drain()
    assert 0
