"""The options of a Hub list, shared by /search (models) and /dataset (datasets): the words
of a name, a task, the order, how many, which page. One declaration, so the two commands
take the same words with the same limits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.declare import MAX_NAME, Option
from bot.hub.tasks import SORTS, complete_tasks

if TYPE_CHECKING:
    from bot.services import Services

MAX_PAGE = 40
MAX_WORDS = 100


async def complete_task(services: Services, prefix: str) -> list[str]:
    """Task names (pipeline tags) that start with what was typed."""
    return complete_tasks(prefix)


def task_option(description: str, name: str = "task") -> Option:
    return Option(name, str, description, max_length=MAX_NAME, complete=complete_task)


def list_options(
    *, words: str, task: str, limit: str, before_page: tuple[Option, ...] = ()
) -> tuple[Option, ...]:
    """text, task, sort, limit, (`before_page`), page: in the order Discord shows them."""
    return (
        Option("text", str, words, rest=True, max_length=MAX_WORDS),
        task_option(task),
        Option("sort", str, "Order of the list", default="downloads", choices=tuple(SORTS)),
        Option("limit", int, limit, default=10, min_value=1, max_value=25),
        *before_page,
        Option("page", int, "Which page of results", default=1, min_value=1, max_value=MAX_PAGE),
    )
