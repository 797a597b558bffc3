"""The class rate limit spends its tokens on writes, not on looking (or opening the answer form)."""

from __future__ import annotations

from bot.ratelimit import RateLimiter
from bot.replies import Error, Text
from tests.activity.conftest import post
from tests.support.botdriver import BotDriver


async def test_list_and_mine_leave_the_tokens_for_answers(bot: BotDriver) -> None:
    await post(bot)
    # The default class limit (burst 5, 20 a minute) on a clock that stands still.
    bot.app.router.rate_limiter = RateLimiter(per_minute=20, burst=5, clock=lambda: 0.0)
    # The Submit button opens the form before each edit.
    lines = ["list", "mine", "form", "submit a", "mine", "form", "submit ab", "form"]
    lines += ["submit abc", "list", "mine"]
    replies = [await bot.run(f"/activity {line}", user="ana") for line in lines]
    assert not any(isinstance(reply, Error) for reply in replies), replies
    saved = [r.text for r in replies if isinstance(r, Text) and "your answer" in r.text]
    assert [text.split(" (")[0] for text in saved[1:]] == [
        "Updated your answer to #1 Models hub",
        "Updated your answer to #1 Models hub",
    ]

    # Submitting writes a version each time: it stays limited.
    more = [await bot.run(f"/activity submit {n}", user="ana") for n in range(3)]
    assert [isinstance(reply, Error) for reply in more] == [False, False, True]
