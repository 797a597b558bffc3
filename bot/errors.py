"""Mistakes a user can make, as part of the reply vocabulary: any layer may raise one.

A `UsageError` carries the `Error` reply that tells the student what went wrong and what to
type instead; the router turns it into that reply. It lives here, beside the replies and not
in the router, so that library packages (bot/hub, bot/inference, bot/jobs) can refuse a bad
request without importing the layer above them.
"""

from __future__ import annotations

from bot.replies import Error


class UsageError(Exception):
    def __init__(self, error: Error) -> None:
        super().__init__(error.what)
        self.error = error
