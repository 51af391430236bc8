"""Every run and report figure is described in the OpenAPI document, and the two suppressed counts say what they
count (a run's recipients per run vs the report's distinct customers) (issue 18 item 12)."""

from __future__ import annotations

from typing import Any

FIGURES = ("ProgressOut", "Funnel", "Reasons", "Revenue", "CouponFigures", "Churn", "Rates", "LiftOut", "DayPoint")


def test_every_run_and_report_figure_is_described_and_both_suppressed_counts_are_labelled(api: Any) -> None:
    schemas = api.get("/v1/openapi.json").json["components"]["schemas"]
    undescribed = [f"{model}.{prop}" for model in FIGURES for prop, sub in schemas[model]["properties"].items()
                   if not (sub.get("description") or "").strip()]
    assert undescribed == []
    run = schemas["ProgressOut"]["properties"]["suppressed"]["description"]
    report = schemas["Reasons"]["properties"]["suppressed"]["description"]
    assert "per run" in run and "distinct customers" in run
    assert "distinct customers" in report and "16 in the runs' progress" in report
    assert "distinct" in schemas["Funnel"]["properties"]["targeted"]["description"]
