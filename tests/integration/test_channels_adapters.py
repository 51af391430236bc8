"""Channel adapters under moto: SMS through SNS, e-mail through SES, wallet, inbox (one a day), staff tasks."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID  # type: ignore[attr-defined]

from chalicelib.channels.base import CHANNEL_NAMES, Addressee, IssuedCoupon, Message, issues_direct, render_values
from chalicelib.core.errors import Invalid
from chalicelib.tenancy.senders import SenderKind

ALL = dict.fromkeys(CHANNEL_NAMES, True)
LATE = datetime(2026, 11, 23, 15, 59, tzinfo=UTC)  # 23:59 in Shanghai
MIDNIGHT = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)


def message(key: str, text: str = "hello", coupons: tuple[IssuedCoupon, ...] = ()) -> Message:
    return Message("cmp1", "run1", key, text, subject="Hi", coupons=coupons,
                   attachments=({"type": "link", "url": "https://e.example/x", "title": "menu"},))


def recipient(merchant: Any, cid: str, **kw: Any) -> Addressee:
    return Addressee(merchant.id, cid, **{"nickname": "n" + cid, "consent": ALL, **kw})


@pytest.fixture
def atomic_requests(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each moto request atomic, as each DynamoDB request is (see test_coupons_concurrency)."""
    from moto.core.botocore_stubber import BotocoreStubber
    lock = threading.RLock()
    original = BotocoreStubber.__call__

    def serialised(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, *args, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", serialised)
    yield


def test_sms_publishes_through_sns_and_skips_opted_out_invalid_and_unconsented(merchant: Any, clock: Any) -> None:
    from moto.sns.models import sns_backends

    from chalicelib import wiring
    text = f"sms for {merchant.id}"
    batch = [(recipient(merchant, "ok", phone="+8613800001234"), message("k1", text)),
             (recipient(merchant, "out", phone="+8613800001299"), message("k2", text)),  # moto: *99 opted out
             (recipient(merchant, "bad", phone="13800001234"), message("k3", text)),
             (recipient(merchant, "none"), message("k4", text)),
             (recipient(merchant, "no", phone="+8613800005678", consent={"sms": False}), message("k5", text))]
    outcomes = wiring.channel_for("sms").send(batch)
    assert [(o.customer_id, o.ok, o.reason) for o in outcomes] == [
        ("ok", True, None), ("out", False, "opted_out"), ("bad", False, "invalid_phone"), ("none", False, "no_phone"),
        ("no", False, "no_consent")]
    sent = sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages
    mine = [(phone, body) for phone, body in sent.values() if body == text]
    assert mine == [("+8613800001234", text)] and outcomes[0].provider_id in sent


def test_email_sends_through_ses_from_the_verified_sender(api: Any, merchant: Any, clock: Any) -> None:
    from moto.ses.models import ses_backends

    from chalicelib import wiring
    sender = f"shop-{merchant.id.replace('_', '-')}@example.com"
    batch = [(recipient(merchant, "ok", email="ok@example.org"), message("k1", "Your coupon is waiting")),
             (recipient(merchant, "none"), message("k2")),
             (recipient(merchant, "no", email="no@example.org", consent={"email": False}), message("k3"))]
    assert [o.reason for o in wiring.channel_for("email").send(batch)] == ["no_sender", "no_address", "no_consent"]
    wiring.sender_registry().register(merchant.id, SenderKind.EMAIL, sender)  # the operator's step
    assert api.put("/v1/settings", {"email_sender": sender}, token=merchant.token).status == 200
    unverified = wiring.channel_for("email").send(batch[:1])[0]
    assert (unverified.ok, unverified.reason) == (False, "provider_rejected")  # AWS's message names the identity
    wiring.client("ses").verify_email_identity(EmailAddress=sender)
    outcome = wiring.channel_for("email").send(batch[:1])[0]
    assert outcome.ok and outcome.provider_id
    sent = [m for m in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages if m.source == sender]
    assert len(sent) == 1 and sent[0].destinations["ToAddresses"] == ["ok@example.org"]
    assert sent[0].subject == "Hi" and "Your coupon is waiting" in sent[0].body
    assert "https://e.example/x" in sent[0].body  # attachments travel as links


def test_wallet_channel_is_ok_once_coupons_are_issued(merchant: Any) -> None:
    from chalicelib import wiring
    coupon = IssuedCoupon("ci_1", "cp_1", "满30减5", "满30元减5元")
    outcomes = wiring.channel_for("wallet").send([
        (recipient(merchant, "c1"), message("k1", coupons=(coupon,))), (recipient(merchant, "c2"), message("k2")),
        (recipient(merchant, "c3", consent={}), message("k3", coupons=(coupon,)))])
    assert [(o.ok, o.reason, o.provider_id) for o in outcomes] == [
        (True, None, "ci_1"), (False, "no_coupons", None), (False, "no_consent", None)]
    assert issues_direct("wallet") and not issues_direct("inbox")


def test_inbox_allows_one_message_a_local_day_and_is_idempotent(api: Any, merchant: Any, clock: Any) -> None:
    from chalicelib import wiring
    api.post("/v1/customers/batch", {"items": [{"customer_id": "c1"}]}, token=merchant.token)
    cid = api.post("/v1/coupons", {"name": "满30减5", "kind": "store_threshold", "threshold_fen": 3000,
                                   "discount_fen": 500, "validity": {"kind": "relative", "days": 7},
                                   "claim_window": {"kind": "issue_day"}, "stock": 9}, token=merchant.token).json
    clock.set(LATE)
    inst = wiring.wallet_service().issue_coupons(merchant.id, "c1", cid["coupon_id"], 1, campaign_id="cmp1",
                                                 run_id="run1", delivery_key="k1", direct=False)[0]
    inbox = wiring.channel_for("inbox")
    first = inbox.send([(recipient(merchant, "c1"), message("k1", "first", (IssuedCoupon.of(inst, "https://l/1"),)))])
    second = inbox.send([(recipient(merchant, "c1"), message("k2", "second"))])
    again = inbox.send([(recipient(merchant, "c1"), message("k1", "first"))])
    assert (first[0].ok, second[0].reason, again[0].ok) == (True, "inbox_daily_limit", True)
    assert again[0].provider_id == first[0].provider_id
    clock.set(MIDNIGHT)  # a new local day
    assert inbox.send([(recipient(merchant, "c1"), message("k2", "second"))])[0].ok
    listed = api.get("/v1/customers/c1/inbox", token=merchant.token).json["items"]
    assert [(m["text"], m["local_date"]) for m in listed] == [("second", "2026-11-24"), ("first", "2026-11-23")]
    assert listed[1]["coupons"][0]["status"] == "expired"  # issue-day coupon, unclaimed past 24:00
    assert api.get("/v1/customers/c1/inbox?limit=1", token=merchant.token).json["next_cursor"]
    assert api.get("/v1/customers/zz/inbox", token=merchant.token).status == 404


def test_inbox_daily_cap_holds_when_8_sends_race(merchant: Any, clock: Any, atomic_requests: None) -> None:
    from chalicelib import wiring
    inbox = wiring.channel_for("inbox")
    barrier = threading.Barrier(8)

    def send(i: int) -> bool:
        barrier.wait()
        return inbox.send([(recipient(merchant, "racer"), message(f"race{i}"))])[0].ok

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sum(pool.map(send, range(8))) == 1


def test_inbox_is_404_for_another_merchant(api: Any, merchant: Any, other_merchant: Any) -> None:
    api.post("/v1/customers/batch", {"items": [{"customer_id": "c1"}]}, token=merchant.token)
    assert api.get("/v1/customers/c1/inbox", token=merchant.token).status == 200
    assert api.get("/v1/customers/c1/inbox", token=other_merchant.token).status == 404


def test_staff_task_goes_to_the_staff_owner_once(merchant: Any, clock: Any) -> None:
    from chalicelib import wiring
    adapter = wiring.channel_for("staff_task")
    owned = (recipient(merchant, "c1", staff_owner="s1", phone="+8613800001234"), message("t1", "call about 满30减5"))
    outcomes = adapter.send([owned, (recipient(merchant, "c2"), message("t2"))])
    assert (outcomes[0].ok, outcomes[1].reason) == (True, "no_staff_owner")
    assert adapter.send([owned])[0].provider_id == outcomes[0].provider_id
    tasks, _ = wiring.staff_service().list_tasks(merchant.id, "s1", None, None, 50, None)
    assert [(t.customer_id, t.script) for t in tasks] == [("c1", "call about 满30减5")]


def test_unknown_channel_is_refused_and_every_name_builds(merchant: Any) -> None:
    from chalicelib import wiring
    with pytest.raises(Invalid) as err:
        wiring.channel_for("fax")
    assert err.value.field == "channel"
    assert [wiring.channel_for(name).name for name in CHANNEL_NAMES] == list(CHANNEL_NAMES)


def test_recipient_and_render_values_come_from_the_profile(merchant: Any) -> None:
    r = Addressee.from_profile(merchant.id, "c1", {"nickname": "小王", "phone": "+8613800001234",
                                                   "consent": {"sms": True}})
    assert r.consents_to("sms") and r.consents_to("wallet") and not r.consents_to("email")
    coupons = [IssuedCoupon("ci_1", "cp", "满30减5", "满30元减5元", "https://l/1"),
               IssuedCoupon("ci_2", "cp2", "85折", "8.5折")]
    values = render_values(r, "面馆", coupons, {"unsubscribe_link": "https://l/u"})
    assert values == {"nickname": "小王", "store_name": "面馆", "coupon_name": "满30减5、85折",
                      "coupon_value": "满30元减5元、8.5折", "claim_link": "https://l/1",
                      "unsubscribe_link": "https://l/u"}
