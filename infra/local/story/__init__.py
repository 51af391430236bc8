"""The chapters `make demo` tells, one module each, in the order the simulated week unfolds."""

from __future__ import annotations

from collections.abc import Callable

from infra.local.story import audiences, campaigns, channels, coupons, experiment, guardrails, reports, seeds
from infra.local.story.base import Ctx

CHAPTERS: tuple[Callable[[Ctx], None], ...] = (
    audiences.chapter, coupons.chapter, channels.chapter, campaigns.chapter, guardrails.chapter, campaigns.day_two,
    reports.chapter, seeds.follow_up, experiment.chapter, seeds.daily_coupon)
