"""The options of a Hub list, shared by /search (models) and /dataset (datasets): the words
of a name, a task, the order, how many, which page. One declaration, so the two commands
take the same words with the same limits.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.declare import MAX_NAME, Option
from bot.hub.tasks import SORTS, complete_tasks, names_a_task
from bot.replies import Card, Error, File, Reply, Table

if TYPE_CHECKING:
    from bot.services import Services

MAX_PAGE = 40
# Room for the address of a filtered list pasted from the Hub (a few filters: ~200).
MAX_WORDS = 400
# Characters per line of a list on a phone or in a Discord embed (a full table row was 148).
ROW_WIDTH = 56
# A list's text in one message: Slack's 3,000 per section (Discord's embed takes 4,096).
LIST_CHARS = 3000
# Platforms whose lists are read on narrow screens; the console keeps the wide table.
NARROW_PLATFORMS = frozenset({"discord", "slack"})


async def complete_task(services: Services, prefix: str) -> list[str]:
    """Task names (pipeline tags) that start with what was typed."""
    return complete_tasks(prefix)


def task_option(description: str, name: str = "task") -> Option:
    return Option(
        name, str, description, max_length=MAX_NAME, phrase=names_a_task, complete=complete_task
    )


def list_options(
    *, words: str, task: str, limit: str, before_page: tuple[Option, ...] = ()
) -> tuple[Option, ...]:
    """text, task, sort, limit, (`before_page`), page: in the order Discord shows them."""
    return (
        Option("text", str, words, rest=True, search_words=True, max_length=MAX_WORDS),
        task_option(task),
        Option("sort", str, "Order of the list", default="downloads", choices=tuple(SORTS)),
        Option("limit", int, limit, default=10, min_value=1, max_value=25),
        *before_page,
        Option("page", int, "Which page of results", default=1, min_value=1, max_value=MAX_PAGE),
    )


def id_with_spaces(option: str, typed: str, rest: str, command: str) -> Error:
    """`model:google-bert / bert-base-uncased`: the id stopped at the first space, and the
    words after it would be dropped without a word."""
    return Error(
        what=f"{option}:{typed} is followed by more words (“{rest}”): an id has no spaces.",
        todo=f"Copy the id from its page, or search for the words: {command} {typed} {rest}",
    )


def fit(text: str, width: int = ROW_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def table_csv(table: Table) -> bytes:
    """The whole table as CSV (spreadsheets open it; nothing is cut)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return out.getvalue().encode("utf-8")


def for_platform(
    platform: str,
    table: Table,
    entries: Sequence[Sequence[str]],
    *,
    footer: Sequence[str],
    filename: str,
) -> Reply | list[Reply]:
    """A table as the platform reads it. The console keeps the wide table (its footer:
    `footer` on one line); Discord and Slack get a few short lines per row (`entries`, one
    per row of the table), a footer line per part, each line cut to ROW_WIDTH characters,
    and the whole table as a CSV attachment."""
    if platform not in NARROW_PLATFORMS:
        return Table(
            title=table.title,
            columns=table.columns,
            rows=table.rows,
            footer=" ".join(footer),
            buttons=table.buttons,
        )
    lines: list[str] = []
    shown = 0
    for entry in entries:
        more = [fit(line) for line in entry]
        if len("\n".join([*lines, *more])) > LIST_CHARS:
            break
        lines += more
        shown += 1
    parts = list(footer)
    if shown < len(entries):
        parts.insert(0, f"{len(entries) - shown} more rows in {filename}.")
    compact = Card(
        title=fit(table.title, 256),
        description="\n".join(lines),
        footer="\n".join(fit(part) for part in parts),
        buttons=table.buttons,
    )
    full = File(
        filename=filename,
        data=table_csv(table),
        mime="text/csv",
        caption=f"The whole table ({len(table.rows)} rows, {len(table.columns)} columns)",
    )
    return [compact, full]
