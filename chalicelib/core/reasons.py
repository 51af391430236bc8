"""The tenant-visible reason vocabulary: every failure, suppression and not-sent reason a response may carry."""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

INTERNAL = "internal_error"  # what a tenant sees for anything outside the vocabulary (details in our logs)

# Content variables a message may miss at send time (contents.render): render_missing_<variable>.
RENDER_VARIABLES = ("nickname", "store_name", "coupon_name", "coupon_value", "claim_link", "unsubscribe_link")

FAILED: dict[str, str] = {
    "no_consent": "the customer has not consented to this channel",
    "no_address": "no e-mail address on the profile",
    "invalid_address": "the e-mail address is not one SES can send to",
    "no_sender": "settings have no email_sender",
    "sender_not_registered": "the sender in settings is no longer registered to this merchant (see the operator)",
    "no_phone": "no phone number on the profile",
    "invalid_phone": "the phone number is not E.164",
    "too_long": "the SMS text is over 1,600 characters",
    "opted_out": "the number opted out of SMS",
    "provider_throttled": "SES or SNS throttled the send",
    "provider_rejected": "SES or SNS refused the message (address, content or account state)",
    "provider_error": "SES or SNS failed (not resent: the message may have gone)",
    "provider_timeout": "SES or SNS did not answer after the message left (not resent: it may have gone)",
    "provider_unreachable": "SES or SNS could not be reached for a day",
    "webhook_failed": "the merchant's webhook did not accept the delivery (details in the operator's logs)",
    "no_webhook_url": "settings have no webhook_url",
    "no_webhook_secret": "settings have no webhook_secret",
    "no_coupons": "a wallet send without coupons",
    "inbox_daily_limit": "the customer's inbox slots of the day are taken",
    "no_staff_owner": "the customer has no staff owner for a follow-up task",
    **{f"render_missing_{v}": f"the content needs {{{v}}} and it has no value" for v in RENDER_VARIABLES},
    "out_of_stock": "the coupon's stock ran out",
    "coupon_not_found": "the campaign's coupon template is gone",
    "coupon_expired": "the campaign's coupon template can no longer be issued",
    "dead_letter": "the chunk failed every delivery attempt (details in the operator's logs)",
    "unknown_after_crash": "the worker stopped while handing over; not resent on a channel that could send twice",
    "no_result": "the channel returned no result for the recipient",
    "failed": "the channel failed without a reason",
    INTERNAL: "an error of ours (details in the operator's logs)",
}

SUPPRESSED: dict[str, str] = {
    "no_consent": "the customer has not consented to this channel",
    "quota_max_recipients": "beyond the send's recipient cap",
    "not_in_target": "a triggered customer outside the campaign's filter",
    "unknown_customer": "a listed id with no stored profile",
    "customer_limit": "the customer holds the coupon's per-customer limit",
    "already_touched": "this campaign already reached the customer today",
    "risk": "the merchant's risk rule",
    "anti_harassment": "reached by another campaign within the anti-harassment window",
    "cap_daily": "one message a day",
    "cap_cooldown": "the cooldown after a coupon message",
    "cap_weekly_store_coupon": "one store coupon a week",
    "cap_weekly_item_coupon": "one item coupon a week",
    "staff_task_open": "the plan's earlier follow-up task about the customer is still open",
    "quota_monthly_store_coupon": "the merchant's monthly store-coupon quota",
    "quota_monthly_item_coupon": "the merchant's monthly item-coupon quota",
    "quota_audience_daily": "the audience's sends of the day",
    "quota_audience_monthly": "the audience's sends of the month",
    INTERNAL: "an error of ours (details in the operator's logs)",
}

NOT_SENT: dict[str, str] = {
    "pending": "not yet planned into a delivery",
    "deferred": "waiting for quiet hours to end",
    "handing": "being handed to the channel",
    "retry": "the channel backed off; sent again when the back-off ends",
    "cancelled": "the campaign was cancelled",
    INTERNAL: "an error of ours (details in the operator's logs)",
}

_VOCABULARY = {"failed": FAILED, "suppressed": SUPPRESSED, "not_sent": NOT_SENT}
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def public_reason(kind: str, raw: str | None) -> str | None:
    """`raw` if it is a documented code of `kind` (failed, suppressed, not_sent), else `internal_error`.

    The guard at every response that shows a reason: whatever reaches a ledger (an exception's text, a provider's
    message, a code someone added without documenting it) is never shown to a tenant as it is.
    """
    if raw is None:
        return None
    if raw in _VOCABULARY[kind]:
        return raw
    log.warning("reason outside the vocabulary", extra={"kind": kind, "reason": raw[:200],
                                                        "code_shaped": bool(_CODE.match(raw))})
    return INTERNAL


def public_counts(kind: str, counts: dict[str, int]) -> dict[str, int]:
    """Counts by reason with every reason passed through public_reason (unknown ones summed as internal_error)."""
    out: dict[str, int] = {}
    for raw, n in counts.items():
        code = public_reason(kind, raw) or INTERNAL
        out[code] = out.get(code, 0) + n
    return dict(sorted(out.items()))
