"""The one mapping from a failed Hub call to a HubError a student can act on.

Every path that talks to the Hub uses it: the Hub client (searches, repo facts, cards, the
dataset viewer), the model guard and the worker's download path. huggingface_hub 2.4 sends
requests with its own `httpx2` package, whose network errors are neither `HfHubHTTPError`
nor `OSError` nor `httpx.HTTPError`, so they are named here explicitly.
"""

from __future__ import annotations

import logging

import httpx
import httpx2
from huggingface_hub import constants
from huggingface_hub.errors import (
    DisabledRepoError,
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
)

from bot.hub.errors import (
    BadRepoId,
    HubBadAnswer,
    HubError,
    HubRateLimited,
    HubTokenRefused,
    RepoDisabled,
    RepoGated,
    RepoNotFound,
    RepoPrivate,
    retry_after,
    unavailable,
)
from bot.logs import Occasional

log = logging.getLogger(__name__)
# Students meet an unreachable Hub at every command; the log says it once a minute.
_UNREACHABLE = Occasional(log)

# Faults of the network or of the server's answer (not of the request we made).
_NETWORK = (httpx2.HTTPError, httpx.HTTPError, OSError)
_TIMEOUTS = (httpx2.TimeoutException, httpx.TimeoutException, TimeoutError)
# The server answered, but not with a readable HTTP answer: cut off, badly encoded, or
# redirecting in circles (a misconfigured proxy or mirror).
_UNREADABLE = (
    httpx2.ProtocolError,
    httpx2.DecodingError,
    httpx2.TooManyRedirects,
    httpx.ProtocolError,
    httpx.DecodingError,
    httpx.TooManyRedirects,
)
# JSON that does not parse, or that lacks the documented shape.
_SHAPE = (ValueError, TypeError, KeyError, AttributeError, IndexError)


def hub_fault(error: BaseException, kind: str = "model", repo_id: str | None = None) -> HubError:
    """What a failed Hub call means for a student. Never raises; an unknown failure is
    logged and reported as an unreadable answer rather than "something went wrong"."""
    if isinstance(error, HubError):
        return error
    if isinstance(error, HFValidationError):  # before ValueError: it is one
        return BadRepoId(kind, repo_id or "?")
    if isinstance(error, HfHubHTTPError):  # before OSError: it is one
        return _http_fault(error, kind, repo_id)
    if isinstance(error, LocalEntryNotFoundError):
        # snapshot_download wraps the network error it met; without one, nothing answered.
        cause = error.__cause__
        return hub_fault(cause, kind, repo_id) if cause is not None else unavailable()
    if isinstance(error, _TIMEOUTS):
        return unavailable(timeout=True)
    if isinstance(error, _UNREADABLE):
        log.warning("unreadable Hub answer for %s %s: %r", kind, repo_id, error)
        return HubBadAnswer()
    if isinstance(error, _NETWORK):
        _tell_the_instructor(error)
        return unavailable()
    if isinstance(error, _SHAPE):
        log.warning("unreadable Hub answer for %s %s: %r", kind, repo_id, error)
        return HubBadAnswer()
    log.error("unexpected Hub failure for %s %s", kind, repo_id, exc_info=error)
    return HubBadAnswer()


def _tell_the_instructor(error: BaseException) -> None:
    """Students are told to try again; whoever runs the bot needs the cause, and the way
    out when this machine cannot reach huggingface.co at all."""
    _UNREACHABLE.warning(
        "the Hub at %s does not answer (%s: %s). Check this machine's network or proxy"
        " (HTTPS_PROXY); HF_ENDPOINT, set in the environment, points the bot at a mirror.",
        constants.ENDPOINT,
        type(error).__name__,
        error,
    )


def _http_fault(error: HfHubHTTPError, kind: str, repo_id: str | None) -> HubError:
    if isinstance(error, GatedRepoError):  # before RepositoryNotFoundError: it is one
        return RepoGated(repo_id or "this repo")
    if isinstance(error, RepositoryNotFoundError):
        return RepoNotFound(kind, repo_id or "?")
    if isinstance(error, DisabledRepoError):
        return RepoDisabled(kind, repo_id or "?")
    status = error.response.status_code
    if status == 401:
        # Missing repos answer 401 too, but huggingface_hub raised RepositoryNotFoundError
        # for those (on https endpoints only). With a token, a plain 401 is the Hub refusing
        # it; without one (a mirror over http, a file listing) it means gated or private.
        if repo_id and not _sent_token(error):
            return RepoPrivate(kind, repo_id)
        return HubTokenRefused()
    if status == 429:
        return HubRateLimited(retry_after(error.response.headers))
    if status >= 500:
        return unavailable(status)
    if status in (403, 404) and repo_id:
        return RepoNotFound(kind, repo_id)
    said = error.server_message or "no reason given"
    return HubError(
        f"The Hugging Face Hub refused the request (error {status}): {said}",
        "Check the options you gave; /help search shows them.",
    )


def _sent_token(error: HfHubHTTPError) -> bool:
    try:
        headers = error.response.request.headers
    except (AttributeError, RuntimeError):  # a response built without its request
        return True  # say what a 401 usually means: the token
    return bool(headers.get("authorization"))
