"""Staff follow-up channel: the customer's staff owner gets a task with the rendered script."""

from __future__ import annotations

from chalicelib.channels.base import Addressee, Message, Outcome, send_each
from chalicelib.staff.service import StaffTaskService
from chalicelib.tenancy.model import MerchantSettings


class StaffTaskChannel:
    name = "staff_task"

    def __init__(self, tasks: StaffTaskService) -> None:
        self._tasks = tasks

    def check(self, recipient: Addressee, message: Message, settings: MerchantSettings | None) -> str | None:
        """A task needs the customer's staff owner (dispatch asks before anything is committed)."""
        return None if recipient.staff_owner else "no_staff_owner"

    def send(self, batch: list[tuple[Addressee, Message]]) -> list[Outcome]:
        def one(recipient: Addressee, message: Message) -> Outcome:
            refused = self.check(recipient, message, None)
            if refused is not None or not recipient.staff_owner:
                return Outcome(recipient.customer_id, False, refused or "no_staff_owner")
            task, _ = self._tasks.create_task(
                recipient.merchant_id, recipient.staff_owner, recipient.customer_id, message.text,
                delivery_key=message.delivery_key, nickname=recipient.nickname, phone=recipient.phone,
                campaign_id=message.campaign_id, run_id=message.run_id,
                coupons=tuple(c.to_doc() for c in message.coupons))
            return Outcome(recipient.customer_id, True, None, task.task_id)

        return send_each(self.name, batch, one)
