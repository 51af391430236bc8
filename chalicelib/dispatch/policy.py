"""Who may be sent to: holdout and consent decisions, and the GuardrailPolicy port (allow-all by default)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from chalicelib.dispatch.model import Outcome, Recipient
from chalicelib.dispatch.snapshot import CampaignView

NO_CONSENT = "no_consent"
OVER_CAP = "quota_max_recipients"
NOT_IN_TARGET = "not_in_target"


@dataclass(frozen=True)
class PolicyContext:
    """One chunk about to be sent."""

    merchant_id: str
    run_id: str
    campaign: CampaignView
    timezone: str
    now: datetime


@dataclass
class PolicyDecision:
    """Guardrail verdicts for the candidates of one chunk.

    `suppressed` (customer → reason) and `deferred` (customer → when) are recorded in the ledger; `writes` are
    store-level conditional writes (caps, quotas) that go into the same TransactWriteItems as the ledger
    entries of the customers they name, so a cap never lets two racing campaigns both pass. Tag each write
    `policy:<customer_id>` (dispatch.txn.TxOp): when its condition fails, that customer alone is suppressed with
    `conflict_reason(customer_id)` and the rest of the chunk is retried.
    """

    suppressed: dict[str, str] = field(default_factory=dict)
    deferred: dict[str, datetime] = field(default_factory=dict)
    writes: list[tuple[str, Any]] = field(default_factory=list)


class GuardrailPolicy(Protocol):
    """The port the guardrails package implements."""

    items_per_recipient: int  # transaction items each sent recipient adds (the chunk size shrinks to fit)

    def decide(self, ctx: PolicyContext, candidates: list[Recipient]) -> PolicyDecision: ...

    def conflict_reason(self, customer_id: str) -> str:
        """The suppression reason when one of this customer's writes lost its condition."""
        ...


class AllowAll:
    """No guardrails: everyone with consent who is not held out is sent to."""

    items_per_recipient = 0

    def decide(self, ctx: PolicyContext, candidates: list[Recipient]) -> PolicyDecision:
        return PolicyDecision()

    def conflict_reason(self, customer_id: str) -> str:
        return "guardrail"


def screen(recipient: Recipient, channel: str) -> tuple[Outcome, str | None] | None:
    """The plan-time and consent verdicts that need no store: held out, over the send cap, no consent."""
    if recipient.held_out:
        return Outcome.HELD_OUT, None
    if recipient.over_cap:
        return Outcome.SUPPRESSED, OVER_CAP
    if channel not in recipient.consent:
        return Outcome.SUPPRESSED, NO_CONSENT
    return None
