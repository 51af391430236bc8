"""SES / SNS calls: only what provably did not send is retried or deferred (at-most-once sends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError

from chalicelib.channels.provider import WAIT, Refusal, attempt

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)


class Script:
    """A provider call answering from a script of results and exceptions; counts the calls made."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "SendEmail")


def _run(script: Script, sends: bool = True) -> Any:
    return attempt("email", "m", script, lambda: NOW, sends=sends)


def test_a_send_whose_answer_was_lost_is_final_and_never_repeated() -> None:
    script = Script(ReadTimeoutError(endpoint_url="https://email"), {"MessageId": "late"})
    assert _run(script) == Refusal("provider_timeout") and script.calls == 1


def test_a_send_that_never_left_is_tried_once_more_then_waits() -> None:
    script = Script(ConnectTimeoutError(endpoint_url="https://email"), {"MessageId": "m1"})
    assert _run(script) == {"MessageId": "m1"} and script.calls == 2
    down = Script(ConnectTimeoutError(endpoint_url="x"), ConnectTimeoutError(endpoint_url="x"))
    assert _run(down) == Refusal("provider_unreachable", NOW + WAIT) and down.calls == 2


def test_throttling_waits_and_a_5xx_send_is_final() -> None:
    assert _run(Script(_client_error("Throttling", 400))) == Refusal("provider_throttled", NOW + WAIT)
    assert _run(Script(_client_error("InternalFailure", 500))) == Refusal("provider_error")
    assert _run(Script(_client_error("MessageRejected", 400))) == Refusal("provider_rejected")


def test_a_read_that_failed_waits_whatever_happened() -> None:
    assert _run(Script(_client_error("InternalError", 500)), sends=False) == Refusal("provider_error", NOW + WAIT)
    assert _run(Script(ReadTimeoutError(endpoint_url="x")), sends=False) == Refusal("provider_timeout",
                                                                                   NOW + timedelta(minutes=1))
