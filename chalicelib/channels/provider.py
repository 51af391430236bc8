"""SES and SNS calls with at-most-once sends: what a failure means for the message, and when to try again."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

log = logging.getLogger(__name__)
T = TypeVar("T")
WAIT = timedelta(minutes=1)  # a throttled or unreachable provider is tried again after this (the recipient waits)

THROTTLING_CODES = frozenset({"Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException",
                              "RequestLimitExceeded", "LimitExceededException"})
REJECTED_CODES = frozenset({"MessageRejected", "MailFromDomainNotVerifiedException", "MailFromDomainNotVerified",
                            "InvalidParameter", "InvalidParameterValue", "InvalidParameterException",
                            "AccountSendingPausedException", "ConfigurationSetSendingPausedException",
                            "OptedOut", "EndpointDisabled", "AuthorizationError", "AccessDenied",
                            "AccessDeniedException", "KMSAccessDenied", "ValidationError"})


@dataclass(frozen=True)
class Refusal:
    """The call did not (knowably) deliver: `reason` is the public code, `retry_at` set when trying again is safe."""

    reason: str
    retry_at: datetime | None = None


def provider_reason(channel: str, merchant_id: str, exc: ClientError) -> str:
    """The public code of an SES / SNS error (provider_throttled, provider_rejected, provider_error).

    AWS's code and message (which can name identities, ARNs and account state) go to our logs only.
    """
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "unknown"))
    log.warning("provider refused a message", extra={"channel": channel, "merchant_id": merchant_id,
                                                     "code": code, "detail": str(error.get("Message", ""))[:500]})
    if code in THROTTLING_CODES or "rate exceeded" in str(error.get("Message", "")).lower():
        return "provider_throttled"
    return "provider_rejected" if code in REJECTED_CODES else "provider_error"


def attempt(channel: str, merchant_id: str, call: Callable[[], T], clock: Callable[[], datetime], *,
            sends: bool) -> T | Refusal:
    """One provider call. The clients have botocore's retries off (wiring): a retried send whose first answer
    was lost would reach the customer twice. So only what provably did not send is retried or deferred:

    - throttled (the provider refused): the recipient waits WAIT and goes then;
    - the connection never opened (connect timeout, endpoint unreachable): once more now, then it waits;
    - no answer after the request left (read timeout) or a 5xx: a send is final, `provider_timeout` /
      `provider_error` (the message may have gone; never resent); a read (`sends=False`) waits and is repeated.
    """
    for tries in (1, 2):
        try:
            return call()
        except ClientError as exc:
            reason = provider_reason(channel, merchant_id, exc)
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            later = reason == "provider_throttled" or (not sends and (status >= 500 or reason == "provider_error"))
            return Refusal(reason, clock() + WAIT if later else None)
        except ReadTimeoutError:
            log.warning("provider did not answer", extra={"channel": channel, "merchant_id": merchant_id,
                                                          "sends": sends})
            return Refusal("provider_timeout", None if sends else clock() + WAIT)
        except (ConnectTimeoutError, EndpointConnectionError):
            if tries == 2:
                log.warning("provider unreachable", extra={"channel": channel, "merchant_id": merchant_id})
    return Refusal("provider_unreachable", clock() + WAIT)
