"""CSV files as a merchant opens them: UTF-8 with a BOM, CRLF rows, local times, formula-safe text (pure)."""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

# Excel reads a CSV without a byte-order mark in the machine's ANSI code page (GBK on a Chinese Windows), so
# 满100减20 would show as mojibake; with it, Excel and every UTF-8 reader (csv, pandas with utf-8-sig) agree.
BOM = "\ufeff"
CONTENT_TYPE = "text/csv; charset=utf-8"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def cell(value: object, zone: ZoneInfo) -> str:
    """One cell: instants in the merchant's zone as ISO 8601 with the offset (2026-11-23T18:00:00+08:00: local
    wall time that still names the instant), None empty, text a spreadsheet would run as a formula quoted."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(zone).isoformat(timespec="seconds")
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) and not _number(text) else text


def render(columns: Sequence[str], rows: Iterable[Sequence[object]], timezone: str,
           verbatim: Collection[str] = ()) -> str:
    """RFC 4180 text (CRLF line ends) behind a BOM, header first. Columns named in `verbatim` hold our own formats
    (a masked phone, +86138****0001), never free text, and are written as they are."""
    zone = ZoneInfo(timezone)
    plain = [name in verbatim for name in columns]
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([("" if v is None else str(v)) if keep else cell(v, zone) for v, keep in zip(row, plain,
                                                                                                      strict=True)])
    return out.getvalue()
