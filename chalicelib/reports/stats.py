"""Pure statistics: conversion rates and holdout lift with a two-proportion 95 % confidence interval."""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054  # two-sided 95 % quantile of the standard normal
MIN_ARM = 30  # customers per arm below which the normal approximation is not trusted
MIN_CONVERSIONS = 5  # conversions per arm below which the same holds (n·p ≥ 5 rule of thumb)


def rate(part: int, whole: int) -> float | None:
    """part / whole rounded to 6 places; None when whole is 0."""
    return round(part / whole, 6) if whole > 0 else None


@dataclass(frozen=True)
class Lift:
    """Treated vs holdout conversion: difference of proportions, its 95 % interval, relative lift.

    status: `ok`; `insufficient` (either arm under MIN_ARM customers or MIN_CONVERSIONS conversions: point
    estimates are given, the interval is not); `no_holdout` (the campaign held nobody out).
    """

    status: str
    reason: str | None
    treated_n: int
    treated_conversions: int
    treated_rate: float | None
    control_n: int
    control_conversions: int
    control_rate: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    relative: float | None
    significant: bool


def lift(treated_n: int, treated_x: int, control_n: int, control_x: int, *, min_arm: int = MIN_ARM,
         min_conversions: int = MIN_CONVERSIONS) -> Lift:
    """Lift of the treated arm over the control arm (Wald interval on p1 − p2, unpooled standard error)."""
    p1 = treated_x / treated_n if treated_n else None
    p2 = control_x / control_n if control_n else None
    difference = p1 - p2 if p1 is not None and p2 is not None else None
    relative = (p1 - p2) / p2 if p1 is not None and p2 else None
    status, reason = "ok", None
    short = []
    if min(treated_n, control_n) < min_arm:
        short.append(f"fewer than {min_arm} customers in an arm")
    if min(treated_x, control_x) < min_conversions:
        short.append(f"fewer than {min_conversions} conversions in an arm")
    if control_n == 0:
        status, reason = "no_holdout", "the campaign held no customer out"
    elif short or p1 is None or p2 is None:
        status, reason = "insufficient", "; ".join(short) or "an arm is empty"
    low = high = None
    if status == "ok" and p1 is not None and p2 is not None:
        low, high = interval(p1, treated_n, p2, control_n)
    return Lift(status, reason, treated_n, treated_x, rate(treated_x, treated_n), control_n, control_x,
                rate(control_x, control_n), _round(difference), _round(low), _round(high), _round(relative),
                low is not None and high is not None and (low > 0 or high < 0))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def interval(p1: float, n1: int, p2: float, n2: int, z: float = Z95) -> tuple[float, float]:
    """(p1 − p2) ± z · sqrt(p1(1−p1)/n1 + p2(1−p2)/n2)."""
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return p1 - p2 - z * se, p1 - p2 + z * se
