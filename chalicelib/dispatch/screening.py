"""Who may be sent to: holdout and consent decisions, the GuardrailPolicy port, and transaction sizing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from chalicelib.core.tx import TX_MAX_ITEMS
from chalicelib.dispatch.model import CHUNK_MAX, Outcome, Recipient
from chalicelib.dispatch.snapshot import CampaignView

NO_CONSENT = "no_consent"
OVER_CAP = "quota_max_recipients"
NOT_IN_TARGET = "not_in_target"
SHARED = "*"  # PolicyDecision.writes key of a chunk-level write (merchant quotas): sent when anyone is sent
LEDGER_ITEMS = 2  # every delivery transaction: the campaign gate and the chunk (ledger) update


@dataclass(frozen=True)
class PolicyContext:
    """One chunk about to be sent."""

    merchant_id: str
    run_id: str
    campaign: CampaignView
    timezone: str
    now: datetime
    occurrence: datetime | None = None  # the run's occurrence (a send's day and month for audience quotas)
    run_kind: str = "occurrence"  # occurrence | birthday | touches


@dataclass
class PolicyDecision:
    """Guardrail verdicts for the candidates of one chunk.

    `suppressed` (customer → reason) and `deferred` (customer → when) are recorded in the ledger; `writes` are
    store-level conditional writes (caps, quotas) that go into the same TransactWriteItems as the ledger
    entries of the customers they name (key = customer id, or SHARED for a chunk-level write included whenever
    anyone is sent), so a cap never lets two racing campaigns both pass. Tag each write `policy:<key>`
    (core.tx.TxOp): when conditions fail, `explain` names who is suppressed and why; everyone else is retried.
    """

    suppressed: dict[str, str] = field(default_factory=dict)
    deferred: dict[str, datetime] = field(default_factory=dict)
    writes: list[tuple[str, Any]] = field(default_factory=list)


class GuardrailPolicy(Protocol):
    """The port the guardrails package implements."""

    items_per_recipient: int  # transaction items each sent recipient adds (the chunk size shrinks to fit)

    def fixed_items(self, campaign: CampaignView) -> int:
        """Transaction items per delivery transaction independent of its size (merchant counters, a deferral)."""
        ...

    def decide(self, ctx: PolicyContext, candidates: list[Recipient]) -> PolicyDecision: ...

    def explain(self, ctx: PolicyContext, failed: list[str], sending: list[Recipient]) -> dict[str, str]:
        """After a cancelled transaction: `failed` are the keys of the policy writes whose condition did not
        hold, `sending` who the transaction tried to send to. Returns customer → suppression reason; customers
        not named are retried (their writes raced with another transaction that changed nothing they need)."""
        ...


class AllowAll:
    """No guardrails: everyone with consent who is not held out is sent to."""

    items_per_recipient = 0

    def fixed_items(self, campaign: CampaignView) -> int:
        return 0

    def decide(self, ctx: PolicyContext, candidates: list[Recipient]) -> PolicyDecision:
        return PolicyDecision()

    def explain(self, ctx: PolicyContext, failed: list[str], sending: list[Recipient]) -> dict[str, str]:
        return {c: "guardrail" for c in failed if any(r.customer_id == c for r in sending)}


def group_size(per_recipient: int, fixed: int) -> int:
    """Recipients whose writes fit one TransactWriteItems beside `fixed` chunk-level items and the ledger."""
    return max(1, (TX_MAX_ITEMS - LEDGER_ITEMS - fixed) // max(1, per_recipient))


def chunk_recipients(per_recipient: int, fixed: int, tail: int = 0) -> int:
    """Recipients per chunk: whole delivery transactions (so none is half empty), at most CHUNK_MAX.

    A chunk costs a lease, a queue message and a ledger update whatever its size: with two items per
    recipient (a coupon and a guard counter) two full transactions of 47 beat one chunk of 48. The last
    transaction leaves `tail` items free (reports' tally rides in it, dispatch.tally).
    """
    group = group_size(per_recipient, fixed)
    room = -(-tail // max(1, per_recipient)) if tail else 0
    return max(1, min(CHUNK_MAX, max(1, CHUNK_MAX // group) * group) - room)


def screen(recipient: Recipient, channel: str) -> tuple[Outcome, str | None] | None:
    """The plan-time and consent verdicts that need no store: held out, over the send cap, no consent."""
    if recipient.held_out:
        return Outcome.HELD_OUT, None
    if recipient.over_cap:
        return Outcome.SUPPRESSED, OVER_CAP
    if channel not in recipient.consent:
        return Outcome.SUPPRESSED, NO_CONSENT
    return None
