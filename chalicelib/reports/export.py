"""Large CSV exports: put the file in the export bucket and hand back a presigned download URL."""

from __future__ import annotations

import secrets
from typing import Any

from chalicelib.core.clock import Clock
from chalicelib.core.csvtext import CONTENT_TYPE
from chalicelib.reports.schemas import ExportLink

EXPIRES_IN = 900  # 15 minutes: long enough to start the download, short enough that a leaked link dies soon


class Exporter:
    """Writes under `exports/{merchant}/` so a merchant's files never share a prefix with another's.

    The URL is presigned with SigV4 (the client is built with `signature_version="s3v4"` in the wiring) and
    expires after EXPIRES_IN seconds.
    """

    def __init__(self, s3: Any, bucket: str, clock: Clock, expires_in: int = EXPIRES_IN) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._clock = clock
        self._expires_in = expires_in

    def put_csv(self, merchant_id: str, name: str, text: str, rows: int) -> ExportLink:
        stamp = self._clock().strftime("%Y%m%dT%H%M%SZ")
        key = f"exports/{merchant_id}/{name}-{stamp}-{secrets.token_hex(6)}.csv"
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=text.encode("utf-8"),
                            ContentType=CONTENT_TYPE,
                            ContentDisposition=f'attachment; filename="{name}.csv"')
        url = self._s3.generate_presigned_url("get_object", Params={"Bucket": self._bucket, "Key": key},
                                              ExpiresIn=self._expires_in)
        return ExportLink(url=str(url), rows=rows, expires_in=self._expires_in)
