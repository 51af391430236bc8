"""Typed seams of the composition root for tests (the `substitute` and `allow_all` fixtures of tests/conftest.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from chalicelib.dispatch.ports import ChannelPort
    from chalicelib.dispatch.screening import GuardrailPolicy
    from chalicelib.reports.ports import DeliverySource


class Substitutes:
    """Typed seams of the composition root (chalicelib.wiring): each replaces one factory through pytest's
    MonkeyPatch, then rebuilds every part with `wiring.reset()` (services hold what they were built with).
    `undo()` puts the real factories back and rebuilds again."""

    def __init__(self, patch: pytest.MonkeyPatch) -> None:
        self._patch = patch

    def policy(self, policy: GuardrailPolicy) -> None:
        """Dispatch screens with `policy` instead of the guardrails (e.g. dispatch.screening.AllowAll())."""
        from chalicelib import wiring

        self._patch.setattr(wiring.dispatch, "guardrail_policy", lambda: policy)
        wiring.reset()

    def channel(self, name: str, port: ChannelPort) -> None:
        """Dispatch hands channel `name`'s messages to `port` (a recording channel); the other channels stay."""
        from chalicelib import wiring

        real = wiring.dispatch.channel_port
        self._patch.setattr(wiring.dispatch, "channel_port", lambda channel: port if channel == name else real(channel))
        wiring.reset()

    def deliveries(self, source: DeliverySource) -> None:
        """Reports read dispatch's ledger from `source`."""
        from chalicelib import wiring

        self._patch.setattr(wiring.reports, "delivery_source", lambda: source)
        wiring.reset()

    def undo(self) -> None:
        from chalicelib import wiring

        self._patch.undo()
        wiring.reset()
