"""One-pass counting: many predicates over a stream of customers, RFM cells split at the median afterwards."""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from fractions import Fraction
from typing import TypeVar

from chalicelib.audiences.builtin import BuiltinEvaluator, RfmSettings, median_fen, rfm_median
from chalicelib.customers.model import CustomerFacts

Row = TypeVar("Row")
# RFM audience -> (the audience its (recency, frequency) cell is called when M is high, whether M is high)
_SPLIT: dict[str, tuple[str, bool]] = {
    "rfm_high_value": ("rfm_high_value", True),
    "rfm_raise_basket": ("rfm_high_value", False),
    "rfm_potential_high_value": ("rfm_potential_high_value", True),
    "rfm_repurchase": ("rfm_potential_high_value", False),
    "rfm_churned_high_value": ("rfm_churned_high_value", True),
    "rfm_churned_raise_basket": ("rfm_churned_high_value", False),
}


def median_aov(facts: Iterable[CustomerFacts]) -> Fraction | None:
    """The RFM median over customers with a purchase within 180 d (builtin.rfm_median)."""
    return rfm_median(facts)


class RfmCells:
    """Collects 180-day AOVs (8 bytes per buyer) per (recency, frequency) cell; counts each RFM audience after.

    The cell comes from BuiltinEvaluator itself with a monetary cut of 0 (every buyer "M high"), so recency
    and frequency follow exactly the evaluator's definitions and merchant settings.
    """

    def __init__(self, as_of: datetime, settings: RfmSettings) -> None:
        self._cell_of = BuiltinEvaluator(as_of, replace(settings, monetary_threshold_fen=0)).rfm_cell
        self._all = array("q")
        self._cells: dict[str, array[int]] = {cell: array("q") for cell, _ in _SPLIT.values()}
        self._sorted: dict[str, list[int]] = {}
        self._median: tuple[Fraction | None] | None = None

    def add(self, f: CustomerFacts) -> None:
        if f.orders_180d > 0:
            self._all.append(f.aov_180d)
            cell = self._cell_of(f)
            if cell is not None:
                self._cells[cell].append(f.aov_180d)

    def median(self) -> Fraction | None:
        if self._median is None:
            self._median = (median_fen(self._all),)
        return self._median[0]

    def count(self, builtin_id: str) -> int:
        """Members of one RFM audience: the cell's AOVs at or above the median (M high) or below it."""
        median = self.median()
        cell, high = _SPLIT[builtin_id]
        if median is None:
            return 0
        values = self._sorted.get(cell)
        if values is None:
            values = self._sorted[cell] = sorted(self._cells[cell])
        n_high = len(values) - bisect_left(values, math.ceil(median))  # whole fen >= m  <=>  >= ceil(m)
        return n_high if high else len(values) - n_high


@dataclass
class Tally:
    counts: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[str]] = field(default_factory=dict)


def count_pass(rows: Iterable[Row], facts_of: Callable[[Row], CustomerFacts],
               predicates: Mapping[str, Callable[[CustomerFacts], bool]], cells: RfmCells | None,
               sample: int = 0) -> Tally:
    """Evaluate every predicate on every row's facts once; keep the first `sample` member ids of each."""
    items = list(predicates.items())
    tally = Tally(dict.fromkeys(predicates, 0), {key: [] for key in predicates})
    counts, samples = tally.counts, tally.samples
    add = cells.add if cells is not None else None
    for row in rows:
        f = facts_of(row)
        for key, pred in items:
            if pred(f):
                counts[key] += 1
                if len(samples[key]) < sample:
                    samples[key].append(f.customer_id)
        if add is not None:
            add(f)
    return tally
