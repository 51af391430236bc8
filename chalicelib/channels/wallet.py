"""Wallet channel: the coupons go straight into the wallet (issued claimed by the dispatcher)."""

from __future__ import annotations

from chalicelib.channels.base import Addressee, Message, Outcome, send_each


class WalletChannel:
    """Nothing to deliver beyond the issue itself: ok once the message carries its issued coupons."""

    name = "wallet"

    def send(self, batch: list[tuple[Addressee, Message]]) -> list[Outcome]:
        def one(recipient: Addressee, message: Message) -> Outcome:
            if not message.coupons:
                return Outcome(recipient.customer_id, False, "no_coupons")
            return Outcome(recipient.customer_id, True, None, message.coupons[0].instance_id)

        return send_each(self.name, batch, one)
