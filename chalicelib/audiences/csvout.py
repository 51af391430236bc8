"""CSV export of audience members: customer_id, nickname, masked phone (spreadsheet-formula safe)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from chalicelib.audiences.model import Member
from chalicelib.customers.convert import mask_phone

HEADER = ("customer_id", "nickname", "phone")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str | None) -> str:
    """A text cell a spreadsheet will not run as a formula (nicknames are free text)."""
    text = value or ""
    return "'" + text if text.startswith(_FORMULA) else text


def members_csv(members: Iterable[Member], header: bool = True) -> str:
    """RFC 4180 text (CRLF line ends); phones are masked like in every other response."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(HEADER)
    for m in members:
        writer.writerow((m.customer_id, _cell(m.nickname), mask_phone(m.phone) or ""))
    return out.getvalue()
