"""Content template use cases: CRUD over the definitions repo, and rendering a message for one recipient."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.contents.render import render
from chalicelib.core.clock import Clock
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.ports import Repo
from chalicelib.core.records import AlreadyExists, Record
from chalicelib.coupons.templates import campaigns_using


@dataclass(frozen=True)
class Rendered:
    """A content template filled in for one recipient."""

    content_id: str
    text: str
    subject: str | None
    attachments: tuple[dict[str, Any], ...]


class ContentService:
    """Content templates of kind CONTENT in the definitions table."""

    def __init__(self, contents: Repo, campaigns: Repo, clock: Clock) -> None:
        self._contents = contents
        self._campaigns = campaigns
        self._clock = clock

    def create(self, merchant_id: str, content_id: str, data: dict[str, Any], idem_fp: str) -> Record:
        try:
            return self._contents.create(merchant_id, content_id, data, self._clock(), name=data["name"],
                                         idem_fp=idem_fp)
        except AlreadyExists as exc:
            if exc.existing.idem_fp != idem_fp:
                raise Conflict("this Idempotency-Key was used with a different body",
                               field="header.Idempotency-Key") from exc
            return exc.existing

    def get(self, merchant_id: str, content_id: str) -> Record:
        record = self._contents.get(merchant_id, content_id)
        if record is None:
            raise NotFound(f"no content {content_id}", field="path.content_id")
        return record

    def list(self, merchant_id: str, limit: int, start_key: dict[str, Any] | None
             ) -> tuple[list[Record], dict[str, Any] | None]:
        return self._contents.list(merchant_id, limit=limit, start_key=start_key)

    def update(self, merchant_id: str, content_id: str, data: dict[str, Any], expected_version: int) -> Record:
        return self._contents.update(merchant_id, content_id, data, self._clock(),
                                     expected_version=expected_version, name=data["name"])

    def delete(self, merchant_id: str, content_id: str, expected_version: int | None) -> None:
        """Permanent; refused (409) while a campaign that has not ended uses the content."""
        self.get(merchant_id, content_id)
        using = campaigns_using(self._campaigns, merchant_id, content_id=content_id)
        if using:
            raise Conflict(f"campaigns {', '.join(sorted(using))} use this content; end or cancel them first",
                           field="path.content_id")
        self._contents.delete(merchant_id, content_id, expected_version=expected_version)

    def render(self, merchant_id: str, content_id: str, values: Mapping[str, str | None]) -> Rendered:
        """Text and subject filled in; RenderError (naming the variable) when a used value is missing."""
        return render_record(self.get(merchant_id, content_id), values)


def render_record(record: Record, values: Mapping[str, str | None]) -> Rendered:
    """A stored content template filled in (the dispatcher renders from a cached record: one read per minute)."""
    data = record.data
    subject = data.get("subject")
    return Rendered(record.id, render(data["text"], values), render(subject, values) if subject else None,
                    tuple(dict(a) for a in data.get("attachments") or ()))
