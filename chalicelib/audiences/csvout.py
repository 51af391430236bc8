"""CSV export of audience members: customer_id, nickname, masked phone (spreadsheet-formula safe)."""

from __future__ import annotations

from collections.abc import Iterable

from chalicelib.audiences.model import Member
from chalicelib.core.csvtext import render
from chalicelib.core.pii import mask_phone

HEADER = ("customer_id", "nickname", "phone")


def members_csv(members: Iterable[Member]) -> str:
    """Every page is a whole file (BOM and header); phones are masked like in every other response. No column is a
    time, so no zone is needed (UTC is never shown)."""
    return render(HEADER, ((m.customer_id, m.nickname, mask_phone(m.phone)) for m in members), "UTC",
                  verbatim=("phone",))
