"""The demo's narrator and shared state: printing, expectations, simulated time, API helpers."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from infra.local.sample import Sample

ZONE = ZoneInfo("Asia/Shanghai")
TASK_STAFF = "staff_zhao"  # the staff member whose friends get follow-up tasks: kept out of every other flow


class StoryAborted(Exception):
    """A call the rest of the story depends on failed; the demo stops and exits nonzero."""


class Story:
    """Prints each step with what it did, and keeps the verdict of every expectation."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.step = 0
        self.failures: list[str] = []

    def section(self, title: str) -> None:
        self.step += 1
        print(f"\n== {self.step}. {title}  (+{time.monotonic() - self.started:.1f}s)", flush=True)

    def line(self, text: str = "") -> None:
        for part in text.split("\n"):
            print(f"   {part}")
        sys.stdout.flush()

    def expect(self, condition: bool, what: str) -> bool:
        """Print `what` as checked (✓) or failed (!!); a failure makes the demo exit nonzero."""
        if condition:
            print(f"   ✓ {what}")
        else:
            print(f"   !! expected: {what}")
            self.failures.append(what)
        sys.stdout.flush()
        return condition


@dataclass
class Ctx:
    """Everything a chapter needs, and what earlier chapters left for later ones."""

    story: Story
    api: Any
    runtime: Any
    token: str
    merchant_id: str
    sample: Sample
    now: datetime
    start: datetime
    ids: dict[str, str] = field(default_factory=dict)  # coupons, contents, audiences by demo name
    campaigns: dict[str, str] = field(default_factory=dict)  # demo campaigns: name → id, in creation order
    used: set[str] = field(default_factory=set)  # customers a small flow already took

    # -- HTTP -------------------------------------------------------------------------------
    def call(self, method: str, path: str, body: Any = None, *, token: str | None = None,
             expect: tuple[int, ...] = (200, 201, 204)) -> Any:
        """One API call as the merchant's admin (or `token`); anything else than `expect` aborts the story."""
        response = self.api.request(method, path, body, token=token or self.token)
        if response.status not in expect:
            raise StoryAborted(f"{method} {path} answered {response.status}: {response.text[:400]}")
        return response.json

    def get(self, path: str, **kw: Any) -> Any:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call("POST", path, body if body is not None else {}, **kw)

    def pages(self, path: str, limit: int = 200) -> Iterator[dict[str, Any]]:
        """Every item of a paged list."""
        sep = "&" if "?" in path else "?"
        cursor: str | None = None
        while True:
            page = self.get(f"{path}{sep}limit={limit}" + (f"&cursor={quote(cursor)}" if cursor else ""))
            yield from page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    # -- simulated time ---------------------------------------------------------------------
    def local(self, day: int, hhmm: str) -> datetime:
        """The UTC instant of `hhmm` merchant time, `day` days after the demo's first (local) day."""
        first = self.start.astimezone(ZONE).date() + timedelta(days=day)
        hour, minute = (int(x) for x in hhmm.split(":"))
        return datetime(first.year, first.month, first.day, hour, minute, tzinfo=ZONE).astimezone(UTC)

    def at(self, when: datetime) -> None:
        """Move the clock forward without firing the tick (API calls happen at `when`)."""
        if when < self.now:
            raise StoryAborted(f"the demo clock cannot go back from {self.now} to {when}")
        self.now = when
        self.runtime.set_time(when)

    def tick(self, when: datetime, settle: bool = True) -> None:
        """EventBridge's tick at `when` (catching up every minute since the last one), then everything delivered;
        with `settle` a second tick a minute later closes finished runs (a run completes on the tick after)."""
        self.at(when)
        self.runtime.tick(when)
        self.runtime.drain()
        if settle:
            self.at(when + timedelta(minutes=1))
            self.runtime.tick(self.now)
            self.runtime.drain()

    def wall(self, when: datetime | None = None) -> str:
        """A short local-time label: 'Mon 09:30'."""
        return (when or self.now).astimezone(ZONE).strftime("%a %d %b %H:%M")

    # -- customers --------------------------------------------------------------------------
    def pick(self, n: int, where: Callable[[dict[str, Any]], bool] = lambda c: True) -> list[str]:
        """`n` sample customers matching `where` that no earlier small flow used (deterministic: in id order)."""
        chosen = [c["customer_id"] for c in self.sample.customers
                  if c["customer_id"] not in self.used and c["staff_owner"] != TASK_STAFF and where(c)]
        chosen = chosen[:n]
        self.used.update(chosen)
        return chosen

    def customer(self, customer_id: str) -> dict[str, Any]:
        return next(c for c in self.sample.customers if c["customer_id"] == customer_id)

    # -- campaigns --------------------------------------------------------------------------
    def campaign(self, body: dict[str, Any], activate: bool = True) -> str:
        created = self.post("/v1/campaigns", body)
        cid = str(created["campaign_id"])
        self.campaigns[body["name"]] = cid
        if activate:
            self.post(f"/v1/campaigns/{cid}/activate")
        return cid

    def runs(self, campaign_id: str) -> list[dict[str, Any]]:
        return list(self.pages(f"/v1/campaigns/{campaign_id}/runs", limit=50))

    def status(self, campaign_id: str) -> str:
        return str(self.get(f"/v1/campaigns/{campaign_id}")["status"])


def progress_text(run: dict[str, Any]) -> str:
    """One line of a run's live progress."""
    p = run["progress"]
    parts = [f"targeted {p['targeted']}", f"held out {p['held_out']}", f"handed over {p['handed_over']}",
             f"succeeded {p['succeeded']}", f"failed {p['failed']}", f"pending {p['pending']}"]
    if p["suppressed"]:
        parts.append("suppressed " + ", ".join(f"{k} {v}" for k, v in sorted(p["suppressed"].items())))
    if p["failed_reasons"]:
        parts.append("failed " + ", ".join(f"{k} {v}" for k, v in sorted(p["failed_reasons"].items())))
    if p.get("cancelled"):
        parts.append(f"cancelled {p['cancelled']}")
    return f"run {run['run_id']} ({run['kind']}, {run['status']}): " + " · ".join(parts)


def total(runs: Iterable[dict[str, Any]], key: str) -> int:
    return sum(int(r["progress"][key]) for r in runs)


def suppressed(runs: Iterable[dict[str, Any]], reason: str) -> int:
    return sum(int(r["progress"]["suppressed"].get(reason, 0)) for r in runs)
