"""Per-merchant circuit breaker of an outbound endpoint, stored so every worker backs off the same merchant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.core.clock import parse_iso, to_iso
from chalicelib.core.errors import PreconditionFailed
from chalicelib.core.ports import Repo
from chalicelib.core.records import AlreadyExists

BASE_SECONDS = 60  # first back-off after a failed send; doubled per consecutive failure
CAP_SECONDS = 3600


@dataclass(frozen=True)
class BreakerState:
    failures: int = 0  # consecutive failed sends (each after its in-process retries)
    open_until: datetime | None = None
    version: int | None = None  # None: no item stored


class Breaker:
    """Closed while the endpoint answers; open for BASE·2^(n−1) seconds (≤ CAP) after the n-th failed send.

    When the back-off ends the next send is the probe: success closes it (failures back to 0), failure opens
    it again for twice as long. Workers racing on one merchant's item keep the first write; the others retry on
    the fresh state once, then give up quietly (the breaker is advice, never a reason to fail a delivery).
    """

    def __init__(self, repo: Repo, item_id: str, *, base_seconds: int = BASE_SECONDS,
                 cap_seconds: int = CAP_SECONDS) -> None:
        self._repo = repo
        self._id = item_id
        self._base = base_seconds
        self._cap = cap_seconds

    def state(self, merchant_id: str) -> BreakerState:
        record = self._repo.get(merchant_id, self._id)
        if record is None:
            return BreakerState()
        until = record.data.get("open_until")
        return BreakerState(int(record.data.get("failures", 0)), parse_iso(until) if until else None, record.version)

    def open_until(self, state: BreakerState, now: datetime) -> datetime | None:
        """When sends may resume, while the breaker is open; None when a send may go now."""
        return state.open_until if state.open_until is not None and now < state.open_until else None

    def failed(self, merchant_id: str, state: BreakerState, now: datetime) -> datetime:
        """Count a failed send; returns when the merchant's endpoint may be tried again."""
        for _ in range(2):
            failures = state.failures + 1
            until = now + timedelta(seconds=min(self._cap, self._base * 2 ** min(failures - 1, 16)))
            if self._write(merchant_id, state, {"failures": failures, "open_until": to_iso(until)}, now):
                return until
            state = self.state(merchant_id)
        return state.open_until or now + timedelta(seconds=self._base)

    def succeeded(self, merchant_id: str, state: BreakerState, now: datetime) -> None:
        if state.failures or state.open_until is not None:
            self._write(merchant_id, state, {"failures": 0, "open_until": None}, now)

    def _write(self, merchant_id: str, state: BreakerState, data: dict[str, object], now: datetime) -> bool:
        try:
            if state.version is None:
                self._repo.create(merchant_id, self._id, dict(data), now)
            else:
                self._repo.update(merchant_id, self._id, dict(data), now, expected_version=state.version)
        except (AlreadyExists, PreconditionFailed):
            return False
        return True
