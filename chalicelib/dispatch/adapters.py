"""AWS-side adapters of the dispatch ports: SQS batches, customer pages, merchant settings, the campaign gate."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from chalicelib.channels.base import Addressee, Channel, IssuedCoupon, Message, Prechecked, render_values
from chalicelib.channels.needs import SETTINGS_REASONS
from chalicelib.contents.render import RenderError
from chalicelib.contents.service import Rendered
from chalicelib.core.config import get_config
from chalicelib.core.dynamo import DefinitionItem
from chalicelib.core.ports import Repo
from chalicelib.core.tx import TxOp
from chalicelib.coupons.issue import instance_id_for
from chalicelib.coupons.model import CouponTerms
from chalicelib.coupons.terms import value_text
from chalicelib.customers.rows import CustomerRow
from chalicelib.customers.store import CustomerStore
from chalicelib.dispatch.messages import ChunkMessage, PlanMessage
from chalicelib.dispatch.model import Later, Recipient, delivery_key
from chalicelib.dispatch.snapshot import SENDABLE, CampaignView
from chalicelib.dispatch.targets import TargetResolver
from chalicelib.tenancy.model import MerchantSettings

log = logging.getLogger(__name__)


class SqsQueues:
    """SendMessageBatch, 10 messages a request; queue URLs looked up once per process."""

    def __init__(self, client: Any) -> None:
        self._sqs = client
        self._urls: dict[str, str] = {}

    def url(self, queue: str) -> str:
        if queue not in self._urls:
            cfg = get_config()
            self._urls[queue] = cfg.queue_url(queue) or self._sqs.get_queue_url(QueueName=cfg.queue(queue))["QueueUrl"]
        return self._urls[queue]

    def send_plans(self, messages: Sequence[PlanMessage]) -> None:
        self._send("plan", messages)

    def send_chunks(self, messages: Sequence[ChunkMessage]) -> None:
        self._send("dispatch", messages)

    def _send(self, queue: str, messages: Sequence[BaseModel]) -> None:
        for start in range(0, len(messages), 10):
            entries = [{"Id": str(i), "MessageBody": m.model_dump_json()}
                       for i, m in enumerate(messages[start:start + 10])]
            for _ in range(3):
                failed = self._sqs.send_message_batch(QueueUrl=self.url(queue), Entries=entries).get("Failed") or []
                if not failed:
                    break
                ids = {f["Id"] for f in failed}
                entries = [e for e in entries if e["Id"] in ids]
            else:
                raise RuntimeError(f"SQS refused {len(entries)} messages for {queue}")

    def retry_later(self, queue: str, receipt_handles: Sequence[str], delay: int) -> None:
        """Hide failed messages for `delay` seconds instead of the (6x function timeout) visibility timeout."""
        for handle in receipt_handles:
            try:
                self._sqs.change_message_visibility(QueueUrl=self.url(queue), ReceiptHandle=handle,
                                                    VisibilityTimeout=delay)
            except Exception:  # best effort: the visibility timeout still brings the message back
                log.warning("could not shorten the retry delay of a %s message", queue, exc_info=True)


class CustomerPages:
    """Customers looked up by id (triggered touches are resolved at dispatch time)."""

    def __init__(self, store: CustomerStore) -> None:
        self._store = store

    def get_rows(self, merchant_id: str, customer_ids: Iterable[str]) -> dict[str, CustomerRow]:
        return self._store.get_rows(merchant_id, customer_ids)


class MerchantEnv:
    """PlanEnv from merchant settings and the audience engine's target resolution."""

    def __init__(self, settings_of: Callable[[str], MerchantSettings], targets: TargetResolver) -> None:
        self._settings = settings_of
        self.targets = targets

    def timezone(self, merchant_id: str) -> str:
        return self._settings(merchant_id).timezone

    def recipient_cap(self, merchant_id: str) -> int:
        return self._settings(merchant_id).guardrails.max_recipients_per_send


def campaign_gate(merchant_id: str, campaign_id: str) -> TxOp:
    """ConditionCheck: the campaign is still sending (a pause or cancel fails the delivery transaction)."""
    return TxOp("check", DefinitionItem(merchant_id, f"CAMPAIGN#{campaign_id}"), f"campaign:{campaign_id}",
                DefinitionItem.status.is_in(*SENDABLE))


Render = Callable[[str, str, Mapping[str, str | None]], Rendered]


class ChannelAdapter:
    """The ChannelPort over one of the channels package's adapters; renders the campaign's content per recipient."""

    def __init__(self, channel: Channel, idempotent: bool, coupons: Repo, render: Render | None = None,
                 settings_of: Callable[[str], MerchantSettings] | None = None,
                 refresh: Callable[[str], None] | None = None) -> None:
        self._channel = channel
        self.idempotent = idempotent
        self._coupons = coupons
        self._render = render
        self._settings_of = settings_of
        self._refresh = refresh
        self._prepared: dict[tuple[str, str], tuple[Addressee, Message]] = {}

    def _coupon_faces(self, merchant_id: str, campaign: CampaignView) -> dict[str, tuple[str, str]]:
        """Name and value text (满30元减5元) of each granted template, read once per chunk."""
        faces = {}
        for grant in campaign.coupons:
            record = self._coupons.get(merchant_id, grant.coupon_id)
            if record is None:
                faces[grant.coupon_id] = (grant.coupon_id, "")
                continue
            try:
                faces[grant.coupon_id] = (str(record.data.get("name")), value_text(CouponTerms.from_data(record.data)))
            except (KeyError, TypeError, ValueError):
                faces[grant.coupon_id] = (str(record.data.get("name")), "")
        return faces

    def preflight(self, merchant_id: str, campaign: CampaignView, run_id: str, recipients: Sequence[Recipient]
                  ) -> dict[str, str]:
        """customer → why the message cannot be sent (a variable without a value, no phone, no sender...), known
        before the delivery transaction: such a recipient fails without coupons issued or limits used. The
        claim links carry the instance ids the issue will create (derived from the delivery key)."""
        predicted = {r.customer_id: self._predicted(merchant_id, campaign, run_id, r.customer_id) for r in recipients}
        refused = self._refusals(merchant_id, campaign, run_id, recipients, predicted)
        if self._refresh is not None and any(reason in SETTINGS_REASONS for reason in refused.values()):
            self._refresh(merchant_id)  # cached settings may predate the merchant's fix: fail no one on them
            refused = self._refusals(merchant_id, campaign, run_id, recipients, predicted)
        return refused

    def _refusals(self, merchant_id: str, campaign: CampaignView, run_id: str, recipients: Sequence[Recipient],
                  predicted: dict[str, tuple[str, ...]]) -> dict[str, str]:
        self._prepared = {}
        built, refused = self._build(merchant_id, campaign, run_id, recipients, predicted)
        settings = self._settings_of(merchant_id) if self._settings_of else None
        if isinstance(self._channel, Prechecked):
            for to, message in built:
                reason = self._channel.check(to, message, settings)
                if reason is not None:
                    refused[to.customer_id] = reason
        self._prepared = {(run_id, to.customer_id): (to, message) for to, message in built
                          if to.customer_id not in refused}
        return refused

    @staticmethod
    def _predicted(merchant_id: str, campaign: CampaignView, run_id: str, customer_id: str) -> tuple[str, ...]:
        key = delivery_key(run_id, customer_id)
        return tuple(instance_id_for(merchant_id, g.coupon_id, key, i) for g in campaign.coupons
                     for i in range(g.quantity))

    def _build(self, merchant_id: str, campaign: CampaignView, run_id: str, recipients: Sequence[Recipient],
               instances: dict[str, tuple[str, ...]]) -> tuple[list[tuple[Addressee, Message]], dict[str, str]]:
        """Each recipient's message (content rendered), and who cannot have one (the missing variable named)."""
        faces: dict[str, tuple[str, str]] | None = None  # read only when a message is built here
        settings = self._settings_of(merchant_id) if self._settings_of else None
        content_id = (campaign.data.get("action") or {}).get("content_id")
        refused: dict[str, str] = {}
        batch = []
        for r in recipients:
            prepared = self._prepared.get((run_id, r.customer_id))
            if prepared is not None and tuple(c.instance_id for c in prepared[1].coupons) == \
                    instances.get(r.customer_id, ()):
                batch.append(prepared)  # built (and checked) by preflight for this very delivery
                continue
            faces = self._coupon_faces(merchant_id, campaign) if faces is None else faces
            coupon_ids = [g.coupon_id for g in campaign.coupons for _ in range(g.quantity)]
            carried = tuple(
                IssuedCoupon(i, c, faces.get(c, (c, ""))[0], faces.get(c, (c, ""))[1],
                             settings.link("claim", instance_id=i, customer_id=r.customer_id) if settings else None)
                for i, c in zip(instances.get(r.customer_id, ()), coupon_ids, strict=False))
            consent = {ch: True for ch in r.consent}
            to = Addressee(merchant_id, r.customer_id, r.nickname, r.phone, r.email, r.staff_owner, consent)
            links = {}
            unsubscribe = settings.link("unsubscribe", customer_id=r.customer_id, channel=campaign.channel) \
                if settings else None
            if unsubscribe:
                links["unsubscribe_link"] = unsubscribe
            text, subject = str(campaign.data.get("name", "")), None
            attachments: tuple[Mapping[str, Any], ...] = ()
            if content_id and self._render:
                values = render_values(to, settings.store_name if settings else "", carried, links)
                try:
                    rendered = self._render(merchant_id, str(content_id), values)
                except RenderError as exc:
                    # Never a blank at send time: the recipient fails with the missing variable named.
                    refused[r.customer_id] = f"render_missing_{exc.variable}"
                    continue
                text, subject, attachments = rendered.text, rendered.subject, rendered.attachments
            batch.append((to, Message(campaign.campaign_id, run_id, delivery_key(run_id, r.customer_id), text,
                                      subject=subject, coupons=carried, links=links, attachments=attachments)))
        return batch, refused

    def send(self, merchant_id: str, campaign: CampaignView, run_id: str, recipients: Sequence[Recipient],
             instances: dict[str, tuple[str, ...]], now: datetime) -> dict[str, str | Later | None]:
        batch, refused = self._build(merchant_id, campaign, run_id, recipients, instances)
        outcomes: dict[str, str | Later | None] = dict(refused)
        if batch:
            outcomes.update({o.customer_id: (None if o.ok else Later(o.retry_at, o.reason or "failed")
                                             if o.retry_at is not None else o.reason or "failed")
                             for o in self._channel.send(batch)})
        return outcomes
