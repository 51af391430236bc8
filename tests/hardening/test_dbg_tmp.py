def show(tag, r):
    print("BUG" if r.status >= 500 or (400 <= r.status < 500 and not (isinstance(r.json, dict) and "error" in r.json)) else "ok", tag, r.status, r.text[:160])

def test_dbg(api, merchant):
    t = merchant.token
    for m in ("PUT", "DELETE", "PATCH", "POST", "OPTIONS", "HEAD", "GET"):
        for p in ("/v1/health", "/v1/settings", "/v1/keys", "/v1/campaigns", "/v1/campaigns/cmp_x", "/v1/nope", "/v1/", "/", "/v1/campaigns/", "//v1/campaigns", "/v1/campaigns/cmp_x/nope", "/v1/openapi.json"):
            show(f"{m} {p}", api.request(m, p, token=t))
    show("no token wrong method", api.request("PUT", "/v1/health"))
    show("no token unknown", api.request("GET", "/v1/nope"))
    show("big body", api.post("/v1/contents", raw='{"name": "x", "text": "' + "a" * 1_100_000 + '"}', token=t))
    assert 0
