"""Switch-to-winner: the verdict a recurring plan's next run acts on, read from the campaign's report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.reports.service import ReportService


class WinnerCheck:
    """dispatch's WinnerPort: the decided winner of a campaign's experiment (None while not yet decided).

    It reads the whole report (every run's deliveries and attributions), once per occurrence of a plan that is
    set to switch and has not switched yet: a daily plan pays one report a day until its verdict holds.
    """

    def __init__(self, reports: Callable[[], ReportService]) -> None:
        self._reports = reports

    def winner(self, merchant_id: str, campaign_id: str) -> dict[str, Any] | None:
        report = self._reports().report(merchant_id, campaign_id, None, None)
        exp = report.experiment
        if exp is None or exp.verdict.status != "decided" or exp.verdict.winner is None:
            return None
        lead = exp.verdict.lead
        return {"treatment": exp.verdict.winner, "metric": exp.verdict.metric, "reason": exp.verdict.reason,
                "runner_up": exp.verdict.runner_up, "difference": lead.difference if lead else None,
                "ci_low": lead.ci_low if lead else None, "ci_high": lead.ci_high if lead else None,
                "recipients": {row.name: row.recipients for row in exp.arms if not row.holdout}}
