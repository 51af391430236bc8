"""What a send needs before it may start: the settings a channel and a content's variables depend on."""

from __future__ import annotations

from collections.abc import Iterable

from chalicelib.core.errors import FieldIssue
from chalicelib.tenancy.model import MerchantSettings

# content variable -> the merchant setting its value comes from (nickname comes from each customer's profile:
# a customer without one fails alone, before anything is issued to them).
VARIABLE_SETTINGS: dict[str, str] = {"claim_link": "claim_url", "unsubscribe_link": "unsubscribe_url",
                                     "store_name": "store_name"}
# variables whose value comes from the coupons the campaign carries
COUPON_VARIABLES: tuple[str, ...] = ("coupon_name", "coupon_value", "claim_link")
# settings a channel cannot send without (SNS sends SMS without a sender id: it is optional there)
CHANNEL_SETTINGS: dict[str, tuple[str, ...]] = {"email": ("email_sender",),
                                                "webhook": ("webhook_url", "webhook_secret")}

# per-recipient failure reasons that only the merchant's settings cause (a worker's cached settings may predate
# the merchant's fix: dispatch reads them again before failing anyone for one of these)
SETTINGS_REASONS: frozenset[str] = frozenset({*(f"render_missing_{v}" for v in VARIABLE_SETTINGS),
                                              "no_sender", "no_webhook_url", "no_webhook_secret"})


def campaign_needs(variables: Iterable[str], coupons: int, where: str = "") -> list[FieldIssue]:
    """Variables the campaign itself cannot fill: coupon values of a campaign without coupons."""
    return [FieldIssue(f"{where}action.coupons", f"the content uses {{{name}}} but the campaign carries no coupon")
            for name in variables if name in COUPON_VARIABLES and coupons == 0]


def settings_needs(channel: str, variables: Iterable[str], settings: MerchantSettings) -> list[FieldIssue]:
    """Settings the channel or a used variable needs that the merchant has not set (field `settings.<name>`)."""
    issues = [FieldIssue(f"settings.{name}", f"the {channel} channel needs {name}; set it with PUT /v1/settings")
              for name in CHANNEL_SETTINGS.get(channel, ()) if not getattr(settings, name)]
    for variable in variables:
        name = VARIABLE_SETTINGS.get(variable)
        if name is not None and not getattr(settings, name):
            issues.append(FieldIssue(f"settings.{name}", f"the content uses {{{variable}}}, which needs {name}; "
                                                          "set it with PUT /v1/settings"))
    return issues
