"""Provider faults as plain replies.

Everything a hosted call can raise becomes a `HostedFault` whose message a student can read:
bad token (401/403), credits exhausted (402), model not served (404), rate limit (429, with
its Retry-After), model loading (503, with the provider's estimated time), an input too
large (413), timeouts, and answers that are not what the task returns. Messages never carry
the token: `scrub` removes every secret the backend knows before a message leaves it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx2
from huggingface_hub.errors import HfHubHTTPError, InferenceTimeoutError, TextGenerationError

log = logging.getLogger(__name__)

# Longer Retry-After waits are not waited out: the student is told when to try again.
MAX_RETRY_WAIT = 10.0


class HostedFault(Exception):
    """A hosted call failed: `what` happened and `todo`, what to do about it, each a
    sentence a student can read. `retry_after` (seconds) is set for rate limits a short
    wait may cure."""

    def __init__(self, what: str, todo: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(" ".join(filter(None, (what, todo))))
        self.what = what
        self.todo = todo
        self.retry_after = retry_after

    def scrubbed(self, secrets: Iterable[str]) -> HostedFault:
        """The same fault with no secret in its words."""
        what, todo = scrub(self.what, secrets), scrub(self.todo, secrets)
        return HostedFault(what, todo, retry_after=self.retry_after)


def scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[token]")
    return text


def retry_after_of(headers: httpx2.Headers) -> float | None:
    """Retry-After in seconds: a number of seconds, or an HTTP date (RFC 9110)."""
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _estimated_time(response: httpx2.Response) -> float | None:
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(body, dict) and isinstance(body.get("estimated_time"), int | float):
        return float(body["estimated_time"])
    return None


# How much of a provider's own reason (a 400's "NSFW content detected") a reply quotes.
REASON_CHARS = 160


def _reason(response: httpx2.Response) -> str:
    """The provider's own words for a refusal (its JSON "error"), cut short; "" if none."""
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):  # OpenAI-style {"error": {"message": …}}
        error = error.get("message")
    if not isinstance(error, str) or not error.strip():
        return ""
    text = " ".join(error.split())
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"


def http_fault(error: HfHubHTTPError, where: str, model: str) -> HostedFault:
    response = error.response
    status = response.status_code
    reason = _reason(response)
    if status == 403 and any(w in reason.lower() for w in ("gated", "restricted", "access to")):
        return HostedFault(
            f"{model} is gated: its authors must grant the bot's account access (403).",
            "Ask your instructor to accept its terms on the model's Hub page with the bot's "
            "account, or pick another model.",
        )
    if status in (401, 403):
        return HostedFault(
            f"{where} refused the bot's token ({status}).",
            "Ask your instructor to check the bot's token (HF_TOKEN, or the server's API key).",
        )
    if status == 402:
        return HostedFault(
            f"{where}: this class's credits for hosted models are used up (402).",
            "Ask your instructor: they can add credits or bill another organisation.",
        )
    if status == 404:
        return HostedFault(
            f"{where} does not serve {model} (404).",
            "Pick another model (/search shows which ones run on Inference Providers), or "
            "leave model: out.",
        )
    if status == 429:
        wait = retry_after_of(response.headers)
        when = f"in {wait:.0f} s" if wait is not None else "in a minute"
        return HostedFault(
            f"{where} is rate limiting this class (429).", f"Try again {when}.", retry_after=wait
        )
    if status == 503:
        eta = _estimated_time(response)
        if eta is not None:
            return HostedFault(
                f"{model} is loading on {where} (about {eta:.0f} s).", "Try again then."
            )
        return HostedFault(f"{where} is unavailable right now (503).", "Try again in a minute.")
    if status == 413:
        return HostedFault(
            f"{where} refused the input as too large for {model} (413).",
            "Send less: a shorter text or clip, or a smaller image.",
        )
    if status in (408, 504):
        return HostedFault(f"{where} took too long to answer ({status}).", "Try again.")
    if status in (400, 422):
        said = f": “{reason}”" if reason else ""
        return HostedFault(
            f"{where} refused the request for {model} ({status}){said}.",
            "Change what you sent (shorter input, or the default settings), or pick another model.",
        )
    return HostedFault(f"{where} answered with an error ({status}).", "Try again later.")


def as_fault(error: BaseException, where: str, model: str, timeout: float) -> HostedFault:
    """Any exception of a hosted call as a HostedFault (cancellation is not one)."""
    if isinstance(error, HostedFault):
        return error
    if isinstance(error, HfHubHTTPError) and getattr(error, "response", None) is not None:
        return http_fault(error, where, model)
    if isinstance(error, TextGenerationError):
        # A text-generation server's error (an httpx2.HTTPError, but an answer, not a
        # connection that failed): its HTTP status, where the client kept it.
        cause = error.__cause__
        if isinstance(cause, HfHubHTTPError) and getattr(cause, "response", None) is not None:
            return http_fault(cause, where, model)
        said = " ".join(str(error).split())[:REASON_CHARS]
        return HostedFault(
            f"{where} refused the request for {model}: “{said}”.",
            "Change what you sent (shorter input, or the default settings), or pick another model.",
        )
    if isinstance(error, InferenceTimeoutError | TimeoutError | asyncio.TimeoutError):
        return HostedFault(f"{where} did not answer within {timeout:g} s.", "Try again.")
    if isinstance(error, httpx2.TimeoutException):
        return HostedFault(f"{where} did not answer within {timeout:g} s.", "Try again.")
    if isinstance(error, httpx2.HTTPError):
        return HostedFault(f"I could not reach {where}.", "Try again in a minute.")
    if isinstance(error, ValueError) and "api_key" in str(error):
        return HostedFault(
            f"{where}: the bot has no token to call it with.",
            "Ask your instructor to set HF_TOKEN.",
        )
    if isinstance(error, ValueError) and "support" in str(error):
        return HostedFault(
            f"{where} does not serve {model} for this task.",
            "Pick another model, or leave model: out.",
        )
    # Anything else is an answer we could not read: say so, log the kind (not the body).
    log.warning("unreadable answer from %s for %s: %s", where, model, type(error).__name__)
    return HostedFault(f"{where} sent back an answer I could not read.", "Try again.")
