"""Pure statistics of an experiment: per-arm intervals, lift between arms, sample sizes and the verdict.

Every figure is a per-recipient value summarised by (n, sum, sum of squares), so an arm of any size costs the
same to compare: conversion is a 0/1 value per recipient, revenue and net revenue (GMV − discount) are fen per
recipient. Intervals are normal approximations (Wilson for one proportion); a verdict compares the leading arm
with every other at a Bonferroni-adjusted level, so five arms are no likelier than two to crown a false winner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

CONFIDENCE = 0.95
POWER = 0.80  # the chance a real difference of the assumed size is detected by the sample sizes given
MIN_INTERVAL_N = 30  # recipients per side below which no interval is given (normal approximation not trusted)
# No verdict from an arm with fewer reached recipients than this, or fewer converting recipients than
# MIN_VERDICT_CONVERSIONS (n·p ≥ 5, the usual condition for the normal approximation of a proportion).
MIN_VERDICT_N = 100
MIN_VERDICT_CONVERSIONS = 5
# The smallest relative difference worth deciding on: sample sizes assume at least this effect, so arms that
# look alike get a finite (large) estimate instead of an infinite one.
MIN_EFFECT = 0.10
METRICS = ("conversion", "revenue_per_recipient", "net_revenue_per_recipient")


def z_two_sided(confidence: float) -> float:
    """The standard normal quantile leaving (1 − confidence) / 2 in each tail (1.96 for 95 %)."""
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


Z95 = z_two_sided(CONFIDENCE)


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class Sample:
    """n per-recipient values as n, their sum and their sum of squares; `binary` when each value is 0 or 1."""

    n: int
    total: float
    squares: float
    binary: bool = False

    @staticmethod
    def proportion(n: int, successes: int) -> Sample:
        return Sample(n, successes, successes, binary=True)

    @staticmethod
    def of(values: list[float] | list[int], n: int | None = None) -> Sample:
        """The values of the recipients who have one; the other n − len(values) recipients count as 0."""
        return Sample(len(values) if n is None else n, float(sum(values)), float(sum(v * v for v in values)))

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n > 0 else None

    @property
    def variance(self) -> float:
        """p(1 − p) for a proportion (the Wald form); the unbiased sample variance otherwise."""
        if self.n < 2:
            return 0.0
        mean = self.total / self.n
        if self.binary:
            return max(mean * (1 - mean), 0.0)
        return max((self.squares - self.n * mean * mean) / (self.n - 1), 0.0)


def wilson(successes: int, n: int, z: float = Z95) -> Interval | None:
    """Wilson score interval of a proportion (sound near 0 and 1, unlike p ± z·se); None when n is 0."""
    if n <= 0:
        return None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low = 0.0 if successes <= 0 else max(0.0, centre - half)  # exact at the edges (no 1e-17 from rounding)
    high = 1.0 if successes >= n else min(1.0, centre + half)
    return Interval(low, high)


def mean_interval(sample: Sample, z: float = Z95) -> Interval | None:
    """mean ± z · s / √n for a per-recipient mean (Wilson for a proportion); None below MIN_INTERVAL_N."""
    if sample.n < MIN_INTERVAL_N or sample.mean is None:
        return None
    if sample.binary:
        return wilson(round(sample.total), sample.n, z)
    half = z * math.sqrt(sample.variance / sample.n)
    return Interval(sample.mean - half, sample.mean + half)


@dataclass(frozen=True)
class Lift:
    """`arm` against `base` on one metric: the difference of means, its interval, the relative lift."""

    difference: float | None
    interval: Interval | None
    relative: float | None

    @property
    def significant(self) -> bool:
        return self.interval is not None and (self.interval.low > 0 or self.interval.high < 0)


def lift(arm: Sample, base: Sample, z: float = Z95) -> Lift:
    """(mean_arm − mean_base) ± z · √(v_arm/n_arm + v_base/n_base) (unpooled; Wald for proportions).

    No interval when either side has fewer than MIN_INTERVAL_N recipients; relative is None on a zero base.
    """
    if arm.mean is None or base.mean is None:
        return Lift(None, None, None)
    difference = arm.mean - base.mean
    relative = difference / base.mean if base.mean != 0 else None
    if min(arm.n, base.n) < MIN_INTERVAL_N:
        return Lift(difference, None, relative)
    half = z * math.sqrt(arm.variance / arm.n + base.variance / base.n)
    return Lift(difference, Interval(difference - half, difference + half), relative)


def sample_size(a: Sample, b: Sample, *, z: float = Z95, power: float = POWER, min_effect: float = MIN_EFFECT
                ) -> int | None:
    """Recipients per arm to tell a from b: n = (z + z_power)² (v_a + v_b) / δ².

    δ is the observed difference, but at least `min_effect` of the larger mean; None when nothing varies yet
    (no arm has a non-zero value), so no size can be estimated.
    """
    if a.mean is None or b.mean is None:
        return None
    delta = max(abs(a.mean - b.mean), min_effect * max(abs(a.mean), abs(b.mean)))
    variance = a.variance + b.variance
    if delta <= 0 or variance <= 0:
        return None
    z_power = NormalDist().inv_cdf(power)
    return math.ceil((z + z_power) ** 2 * variance / (delta * delta))


@dataclass(frozen=True)
class Arm:
    """One treatment's per-recipient figures: reached recipients, who converted, revenue and net revenue (fen)."""

    name: str
    conversion: Sample
    revenue: Sample
    net: Sample

    def metric(self, name: str) -> Sample:
        if name == "conversion":
            return self.conversion
        if name == "revenue_per_recipient":
            return self.revenue
        if name == "net_revenue_per_recipient":
            return self.net
        raise ValueError(f"unknown metric {name}")

    @property
    def n(self) -> int:
        return self.conversion.n

    @property
    def converted(self) -> int:
        return round(self.conversion.total)


@dataclass(frozen=True)
class Verdict:
    """A winner on `metric` with the interval of its lead over the runner-up, or not yet decided and why.

    `more_needed`: per arm, roughly how many more reached recipients the comparison needs (0: enough; None: not
    estimable yet, nothing varies). `confidence` is the family-wise level; each comparison is at `per_comparison`.
    """

    decided: bool
    metric: str
    winner: str | None
    leader: str | None
    runner_up: str | None
    lead: Lift | None
    reason: str
    more_needed: dict[str, int | None]
    confidence: float
    per_comparison: float
    min_per_arm: int = MIN_VERDICT_N
    min_conversions_per_arm: int = MIN_VERDICT_CONVERSIONS


def verdict(arms: list[Arm], metric: str, confidence: float = CONFIDENCE) -> Verdict:
    """Name the arm whose mean beats every other arm's with the adjusted interval above 0, or say what is missing.

    No verdict while any arm has fewer than MIN_VERDICT_N reached recipients or MIN_VERDICT_CONVERSIONS
    converting ones; a tie for the lead is never decided.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric}")
    if len(arms) < 2:
        raise ValueError("a verdict needs at least two arms")
    comparisons = len(arms) - 1
    per_comparison = 1 - (1 - confidence) / comparisons
    z = z_two_sided(per_comparison)
    ranked = sorted(arms, key=lambda a: -(a.metric(metric).mean or 0.0))
    leader, runner_up = ranked[0], ranked[1]
    leads = {other.name: lift(leader.metric(metric), other.metric(metric), z) for other in ranked[1:]}
    sizes = {other.name: sample_size(leader.metric(metric), other.metric(metric), z=z) for other in ranked[1:]}
    more: dict[str, int | None] = {}
    for arm in arms:
        wanted = [sizes[arm.name]] if arm is not leader else list(sizes.values())
        floor = MIN_VERDICT_N
        if any(w is None for w in wanted):
            more[arm.name] = None if arm.n >= floor else floor - arm.n
        else:
            more[arm.name] = max(0, max([floor, *(w for w in wanted if w is not None)]) - arm.n)
    small = [a.name for a in arms if a.n < MIN_VERDICT_N]
    few = [a.name for a in arms if a.converted < MIN_VERDICT_CONVERSIONS]
    lead = leads[runner_up.name]

    def undecided(reason: str) -> Verdict:
        return Verdict(False, metric, None, leader.name, runner_up.name, lead, reason, more, confidence,
                       per_comparison)

    if small:
        return undecided(f"fewer than {MIN_VERDICT_N} reached recipients in {', '.join(small)}")
    if few:
        return undecided(f"fewer than {MIN_VERDICT_CONVERSIONS} converting recipients in {', '.join(few)}")
    if leader.metric(metric).mean == runner_up.metric(metric).mean:
        return undecided(f"{leader.name} and {runner_up.name} are level")
    if not all(x.interval is not None and x.interval.low > 0 for x in leads.values()):
        if all(m == 0 for m in more.values()):
            return undecided(f"enough recipients, but {leader.name} and {runner_up.name} differ by less than "
                             f"{MIN_EFFECT:.0%}: no arm is better")
        return undecided(f"the lead of {leader.name} over {runner_up.name} is within the noise")
    return Verdict(True, metric, leader.name, leader.name, runner_up.name, lead,
                   f"{leader.name} beats every other arm at {confidence:.0%} confidence", more, confidence,
                   per_comparison)
