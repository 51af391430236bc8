"""The tenant-visible reasons: one documented vocabulary, covering every reason the code can record."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from botocore.exceptions import ClientError

from chalicelib.channels.provider import provider_reason
from chalicelib.core.reasons import FAILED, INTERNAL, NOT_SENT, RENDER_VARIABLES, SUPPRESSED, public_reason

ROOT = Path(__file__).parents[2]
# Literal reasons handed to a ledger: channel outcomes, ledger entries, issue failures.
RECORDED = re.compile(r'(?:Outcome\([^()]*?, False, |Entry\(Outcome\.(FAILED|SUPPRESSED), |IssueFailed\()"([a-z_]+)"')


def _recorded() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {"failed": set(), "suppressed": set()}
    for path in (ROOT / "chalicelib").rglob("*.py"):
        for match in RECORDED.finditer(path.read_text()):
            found["suppressed" if match.group(1) == "SUPPRESSED" else "failed"].add(match.group(2))
    found["failed"] |= _checked_reasons()
    return found


def _checked_reasons() -> set[str]:
    """Reasons a channel's pre-flight `check` returns (dispatch records them as the recipient's failure)."""
    reasons: set[str] = set()
    for path in (ROOT / "chalicelib" / "channels").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name == "check":
                reasons |= {c.value for r in ast.walk(node) if isinstance(r, ast.Return) and r.value is not None
                            for c in ast.walk(r.value) if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    return reasons


def test_every_reason_the_code_records_is_in_the_vocabulary() -> None:
    from chalicelib.channels import webhook
    from chalicelib.contents.render import VARIABLES
    from chalicelib.dispatch import deliver, plan, screening
    from chalicelib.guardrails import rules

    recorded = _recorded()
    assert {"no_address", "no_sender", "sender_not_registered", "no_phone", "no_staff_owner"} <= recorded["failed"]
    assert len(recorded["failed"]) >= 12 and recorded["suppressed"] >= {"customer_limit", "already_touched"}
    assert recorded["failed"] - set(FAILED) == set()
    assert recorded["suppressed"] - set(SUPPRESSED) == set()
    guard = {v for k, v in vars(rules).items() if k.startswith(("CAP_", "QUOTA_")) or k in ("RISK", "ANTI_HARASSMENT")}
    screened = {screening.NO_CONSENT, screening.OVER_CAP, screening.NOT_IN_TARGET, plan.UNKNOWN_CUSTOMER}
    assert guard | screened <= set(SUPPRESSED)
    assert {webhook.WEBHOOK_FAILED, deliver.UNKNOWN_AFTER_CRASH, "no_webhook_url", "no_webhook_secret"} <= set(FAILED)
    assert RENDER_VARIABLES == VARIABLES  # render_missing_<variable> for each variable a content may use


def test_the_documented_vocabulary_is_the_code_s() -> None:
    text = (ROOT / "docs" / "reasons.md").read_text()
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    documented = [re.findall(r"^\| `([a-z_]+)` \|", s, flags=re.M) for s in sections]
    assert documented == [list(FAILED), list(SUPPRESSED), list(NOT_SENT)]


def test_anything_outside_the_vocabulary_is_shown_as_internal_error() -> None:
    assert public_reason("failed", "webhook_failed") == "webhook_failed"
    assert public_reason("failed", "RuntimeError: poison recipient") == INTERNAL
    assert public_reason("failed", "http_404") == INTERNAL  # the old webhook reasons told ports apart
    assert public_reason("suppressed", "cap_daily") == "cap_daily" and public_reason("not_sent", "retry") == "retry"
    assert public_reason("failed", None) is None


def test_provider_errors_become_one_of_three_codes_and_never_carry_aws_text() -> None:
    def err(code: str, message: str = "") -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": message}}, "SendEmail")

    assert provider_reason("email", "m", err("Throttling", "Maximum sending rate exceeded.")) == "provider_throttled"
    assert provider_reason("email", "m", err("MessageRejected",
                                             "Email address is not verified: arn:aws:ses:…")) == "provider_rejected"
    assert provider_reason("sms", "m", err("InternalError", "boom")) == "provider_error"
    assert provider_reason("sms", "m", err("ThrottledException")) == "provider_throttled"
