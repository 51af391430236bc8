"""Which AWS failures are transient (throttling, 5xx, timeouts): the API answers them 503 + Retry-After, not 500."""

from __future__ import annotations

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from pynamodb.exceptions import PynamoDBException

RETRY_AFTER_SECONDS = 1
TRANSIENT_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "Throttling", "RequestThrottled",
    "RequestLimitExceeded", "RequestThrottledException", "TooManyRequestsException", "LimitExceededException",
    "InternalServerError", "InternalError", "InternalFailure", "ServiceUnavailable", "TransactionInProgressException",
})
# A transaction cancelled only for these reasons may succeed when sent again.
RETRYABLE_CANCELLATIONS = frozenset({"ThrottlingError", "TransactionConflict", "ProvisionedThroughputExceeded"})


def _client_error_is_transient(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if error.get("Code") in TRANSIENT_CODES or status >= 500:
        return True
    cancelled = exc.response.get("CancellationReasons", [])
    reasons = [r.get("Code") for r in cancelled if r.get("Code") not in (None, "None")]
    return bool(reasons) and set(reasons) <= RETRYABLE_CANCELLATIONS


def is_transient(exc: BaseException) -> bool:
    """True when `exc` (or what it wraps: PynamoDB keeps botocore's error as `cause`) is worth retrying."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, BotoConnectionError | HTTPClientError):
            return True  # connect and read timeouts, connections dropped
        if isinstance(current, ClientError):
            return _client_error_is_transient(current)
        nxt = current.cause if isinstance(current, PynamoDBException) else None
        current = nxt if isinstance(nxt, BaseException) else current.__cause__
    return False
