"""/dataset: the datasets hub. Search, a dataset's card facts (license, size, splits, how it
was made, the ethics sections) and a preview of its first rows from the dataset viewer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from bot.commandline import quote, unquote
from bot.commands.cardtext import section_buttons, section_card
from bot.commands.listing import MAX_PAGE, for_platform, id_with_spaces, list_options
from bot.declare import MAX_REPO_ID
from bot.hub.cache import Cached
from bot.hub.cards import DATASET_SECTIONS, DatasetCardReport, analyze_dataset_card
from bot.hub.client import HubClient
from bot.hub.errors import HubError, NoPreview, stale_note
from bot.hub.links import LinkError, is_link, list_page, repo_id, viewer_page
from bot.hub.records import (
    DatasetDetails,
    DatasetSummary,
    Feature,
    FirstRows,
    checklist_text,
    license_text,
)
from bot.hub.tasks import PIPELINE_TAGS, SORT_WORDS, close_tasks, normalize_task
from bot.inference.guard import format_params
from bot.replies import Button, Card, Error, Field, Reply, Table, Text
from bot.router import Command, Context, Option

CELL = 60  # characters of a preview cell
MAX_COLUMNS = 6
DEFAULT_ROWS = 5
SPLIT_LINES = 12  # splits listed on the card; a dataset like glue has dozens
# Discord cuts a field's value at 1,024 characters (Slack at 2,000): the config names fit it.
FIELD_CHARS = 1024
# The card's creator tags, in words (https://huggingface.co/docs/hub/datasets-cards).
_CREATORS = {
    "found": "found: taken from existing text, e.g. scraped from the web",
    "crowdsourced": "crowdsourced: paid crowd workers",
    "expert-generated": "expert-generated: specialists",
    "machine-generated": "machine-generated: made by a program or a model",
    "no-annotation": "no annotation",
    "other": "other",
}
_MEDIA = {"Image": "image", "Audio": "audio", "Video": "video", "Pdf": "pdf"}


async def run(
    ctx: Context,
    text: str | None,
    task: str | None,
    sort: str,
    limit: int,
    page: int,
    id: str | None,
    preview: bool,
    config: str | None,
    split: str | None,
    rows: int | None,
    section: str | None,
) -> Reply | list[Reply]:
    """Explore the datasets hub: how a dataset was made, its ethics sections, its rows.

    /dataset imdb — datasets whose name matches (task: and sort: work as in /search)
    /dataset id:imdb — license in plain words, size and rows per split, who made the data
    and how (source, annotators), and which ethics sections its card fills in: personal and
    sensitive information, social impact, biases, other known limitations
    /dataset id:imdb section:biases — that part of its card, in its own words (also:
    personal-information, social-impact, other-limitations, creation, source-data, ...)
    /dataset id:imdb preview:true split:test rows:5 — the first rows, from the dataset viewer
    (config:, split: or rows: alone show them too)
    /dataset https://huggingface.co/datasets/stanfordnlp/imdb — a dataset page's address
    works as id:; its viewer's address shows the rows it shows; the datasets list's
    address shows that list
    """
    if id and text:
        return id_with_spaces("id", id, text, "/dataset")
    named = (text or "").split()
    one_link = named[0] if len(named) == 1 and not id and is_link(named[0]) else ""
    shown = list_page(one_link, "dataset")
    if shown is not None:  # the address of the Hub's datasets list: that list
        return await _list(
            ctx, shown.words or None, shown.task or task, shown.sort or sort, limit, page
        )
    viewer = viewer_page(one_link)
    count = rows or DEFAULT_ROWS
    if viewer is not None and not section:  # the address of its viewer: the rows it shows
        chosen = (config or viewer.config or None, split or viewer.split or None)
        return await _preview(ctx, viewer.dataset, *chosen, count)
    # config:, split: or rows: only make sense for rows: giving one asks for the preview.
    wants_rows = preview or bool(config or split) or rows is not None
    if not id and len(named) == 1 and (is_link(named[0]) or wants_rows or section):
        # /dataset imdb preview:true: the one word names the dataset; so does its address.
        try:
            id = repo_id(named[0], "dataset")
        except LinkError as error:
            return error.reply()
    if id:
        if wants_rows:
            return await _preview(ctx, id.strip(), config, split, count)
        return await _details(ctx, id.strip(), section)
    if section:
        return Error(
            what="section: needs a dataset.",
            todo=f"Add id:, e.g. /dataset id:imdb section:{section}",
        )
    if wants_rows:
        return Error(
            what="preview:, config:, split: and rows: need a dataset.",
            todo="Add id:, e.g. /dataset id:imdb preview:true",
        )
    return await _list(ctx, text, task, sort, limit, page)


# -- the list --------------------------------------------------------------------------------
async def _list(
    ctx: Context, text: str | None, task: str | None, sort: str, limit: int, page: int
) -> Reply | list[Reply]:
    hub = ctx.services.hub
    text = unquote(text) if text else text  # /dataset "movie reviews": not part of the name
    tag = normalize_task(task) if task else None
    try:
        found = await hub.search_datasets(text=text, task=tag, sort=sort, limit=limit, page=page)
    except HubError as error:
        return error.reply()
    items: tuple[DatasetSummary, ...] = found.value.items
    if not items:
        return _nothing_found(text, tag, page)
    first = (page - 1) * limit
    table_rows = tuple(
        (
            str(first + i + 1),
            d.id,
            ", ".join(d.tasks[:2]) or "—",
            d.size or "—",
            d.license or "—",
            f"{d.downloads:,}",
            f"{d.likes:,}",
        )
        for i, d in enumerate(items)
    )
    footer = [f"Page {page}.", "Details: /dataset id:<id>"]
    note = stale_note(found)
    if note:
        footer.insert(0, note)
    buttons: tuple[Button, ...] = ()
    if found.value.has_more and page < MAX_PAGE:
        parts = ["/dataset", *(text or "").split(), *([f"task:{quote(tag)}"] if tag else [])]
        action = " ".join([*parts, f"sort:{sort}", f"limit:{limit}", f"page:{page + 1}"])
        if len(action) <= 100:
            buttons = (Button(label="More", action=action),)
    table = Table(
        title=f"Datasets ({tag or 'all tasks'}), {SORT_WORDS[sort]}",
        columns=("#", "dataset", "task", "size", "license", "downloads", "likes"),
        rows=table_rows,
        buttons=buttons,
    )
    entries = [
        (f"{row[0]}. {d.id}", f"   {_facts(d)}") for row, d in zip(table_rows, items, strict=True)
    ]
    return for_platform(ctx.actor.platform, table, entries, footer=footer, filename="datasets.csv")


def _nothing_found(text: str | None, tag: str | None, page: int) -> Error:
    # Checked only when nothing matched: an old dataset may carry a category that is no
    # pipeline tag, and its list should still show.
    if tag and tag not in PIPELINE_TAGS:
        return Error(what=f"{tag} is not a task on the Hub.", todo=_task_hint(tag))
    wanted = " ".join(x for x in (f"“{text}”" if text else "", tag or "") if x) or "that"
    if page > 1:  # the search itself matched: the pages ran out
        return Error(what=f"No datasets match {wanted} on page {page}.", todo="Try page:1.")
    other = next(t for t in ("text-classification", "translation") if t != tag)
    return Error(
        what=f"No datasets match {wanted}.",
        todo=f"Try fewer words or another task:, e.g. task:{other}.",
    )


def _task_hint(tag: str) -> str:
    """Did you mean the closest task names (the same guess /search makes)?"""
    close = [f"task:{t}" for t in close_tasks(tag)]
    guess = f"Did you mean {_or_list(close)}? " if close else ""
    return f"{guess}Type task: and pick one from the list, e.g. task:text-classification."


def _or_list(words: list[str]) -> str:
    """'a', 'a or b', 'a, b or c'."""
    return " or ".join(filter(None, (", ".join(words[:-1]), words[-1])))


def _facts(dataset: DatasetSummary) -> str:
    """A dataset's numbers on one short line, most useful first (a narrow screen cuts the end)."""
    parts = [
        f"{format_params(dataset.downloads)} dl",
        f"{format_params(dataset.likes)} ♥",
        dataset.size or "",
        ", ".join(dataset.tasks[:1]),
        dataset.license or "",
    ]
    return " · ".join(p for p in parts if p)


# -- one dataset -----------------------------------------------------------------------------
async def _details(ctx: Context, asked: str, section: str | None = None) -> Reply:
    hub = ctx.services.hub
    try:
        info = await hub.dataset_info(asked)
        dataset = info.value
        answers: list[Cached[Any]] = [info]
        text: str | None = None
        if dataset.files is None or "README.md" in dataset.files:
            card = await hub.dataset_card(dataset.id)
            answers.append(card)
            text = card.value
        if section:
            return section_card(
                card=text,
                key=DATASET_SECTIONS[section],
                word=section,
                repo=dataset.id,
                url=f"https://huggingface.co/datasets/{dataset.id}",
                back=f"/dataset id:{dataset.id}",
            )
        report = analyze_dataset_card(text or "")
        infos = _card_infos(report.metadata)
        if infos is None and dataset.files and "dataset_infos.json" in dataset.files:
            legacy = await hub.dataset_infos(dataset.id)
            answers.append(legacy)
            infos = legacy.value
        if infos:
            report = analyze_dataset_card(text or "", infos)
    except HubError as error:
        return error.reply()
    await _record(ctx, dataset.id, asked=asked, preview=False)
    lead = []
    if asked != dataset.id:
        lead.append(f"{asked} is now {dataset.id} (the repo was renamed or moved).")
    note = stale_note(*answers)
    if note:
        lead.append(note)
    if dataset.description:
        lead.append(_clip(" ".join(dataset.description.split()), 300))
    if text is None:
        lead.append("This dataset has no card: nobody wrote down how it was made.")
    return Card(
        title=report.title if report.title and report.title != dataset.id else dataset.id,
        description="\n".join(lead),
        fields=_dataset_fields(dataset, report),
        url=f"https://huggingface.co/datasets/{dataset.id}",
        footer=f"See its first rows: /dataset id:{dataset.id} preview:true",
        buttons=section_buttons(f"/dataset id:{dataset.id}", report.creation + report.ethics)
        if text
        else (),
    )


def _card_infos(meta: Mapping[str, object]) -> dict[str, Any] | None:
    """Splits from the card's own `dataset_info` (newer cards), shaped like dataset_infos.json."""
    found = meta.get("dataset_info")
    entries = found if isinstance(found, list) else [found]
    infos = {
        str(e.get("config_name") or "default"): e
        for e in entries
        if isinstance(e, dict) and e.get("splits")
    }
    return infos or None


def _dataset_fields(dataset: DatasetDetails, report: DatasetCardReport) -> tuple[Field, ...]:
    total = report.total_rows
    size = report.size_category or dataset.size or "not given"
    if total is not None:
        size += f" ({total:,} rows)"
    configs = list(dict.fromkeys(s.config for s in report.splits))
    splits = _splits_text(report, several_configs=len(configs) > 1)
    made = [
        ("Source", ", ".join(report.source_datasets)),
        ("Annotations by", _creators(report.annotations_creators)),
        ("Text by", _creators(report.language_creators)),
    ]
    fields = [
        Field(
            name="License",
            value=license_text(report.license or dataset.license),
            inline=False,
        ),
        Field(name="Task", value=", ".join(report.task_categories or dataset.tasks) or "not given"),
        Field(name="Languages", value=", ".join(report.languages[:12]) or "not given"),
        Field(name="Size", value=size),
        Field(name="Splits", value=splits or "not given", inline=False),
        *([_configs_field(configs)] if len(configs) > 1 else []),
        Field(
            name="How it was made",
            value="\n".join(f"{k}: {v or 'not given'}" for k, v in made),
            inline=False,
        ),
        Field(name="Card: how it was made", value=checklist_text(report.creation), inline=False),
        Field(name="Card: ethics", value=checklist_text(report.ethics), inline=False),
    ]
    if report.arxiv_ids:
        links = "\n".join(f"https://arxiv.org/abs/{a}" for a in report.arxiv_ids[:5])
        fields.append(Field(name="Papers", value=links, inline=False))
    if dataset.gated:
        fields.append(Field(name="Gated", value="yes: ask for access on its page"))
    return tuple(fields)


def _splits_text(report: DatasetCardReport, *, several_configs: bool) -> str:
    lines = [
        (f"{s.config}/" if several_configs else "")
        + f"{s.name}: "
        + (f"{s.num_rows:,} rows" if s.num_rows is not None else "rows not given")
        for s in report.splits[:SPLIT_LINES]
    ]
    hidden = len(report.splits) - SPLIT_LINES
    if hidden > 0:  # without it a student thinks the first configs are all there is
        lines.append(f"…and {hidden} more (see Configs; preview one with config:)")
    return "\n".join(lines)


def _configs_field(configs: list[str]) -> Field:
    return Field(
        name=f"Configs ({len(configs)})", value=_names_within(configs, FIELD_CHARS), inline=False
    )


def _names_within(names: list[str], limit: int) -> str:
    """As many names as fit in limit characters, then how many were left out."""
    for count in range(len(names), 0, -1):
        hidden = len(names) - count
        text = ", ".join(names[:count]) + (f", …and {hidden} more" if hidden else "")
        if len(text) <= limit:
            return text
    return f"{len(names)} names, too long to list"


def _creators(tags: tuple[str, ...]) -> str:
    return "; ".join(_CREATORS.get(t, t) for t in tags)


async def _record(ctx: Context, dataset: str, **detail: object) -> None:
    await ctx.record_usage(detail={"dataset": dataset, **detail})


# -- the preview -----------------------------------------------------------------------------
async def _preview(
    ctx: Context, dataset: str, config: str | None, split: str | None, count: int
) -> Reply | list[Reply]:
    hub = ctx.services.hub
    answers: list[Cached[Any]] = []
    try:
        chosen = await _checked_split(hub, dataset, config, split, answers)
        if isinstance(chosen, Error):
            return chosen
        config, split = chosen
        first = await hub.viewer_first_rows(dataset, config, split)
        answers.append(first)
    except HubError as error:
        return error.reply()
    await _record(ctx, dataset, preview=True, config=config, split=split)
    table, media = _rows_table(first.value, count)
    note = stale_note(*answers)
    names = table.columns[1:]
    entries = [
        (f"Row {row[0]}", *(f"   {n}: {c}" for n, c in zip(names, row[1:], strict=True)))
        for row in table.rows
    ]
    footer = [x for x in (note, table.footer) if x]
    shown = for_platform(
        ctx.actor.platform, table, entries, footer=footer, filename=f"{dataset_file(dataset)}.csv"
    )
    replies = shown if isinstance(shown, list) else [shown]
    return [*replies, media] if media else shown


def dataset_file(dataset: str) -> str:
    """A file name for a dataset's attachment: imdb, stanfordnlp-imdb."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", dataset).strip("-") or "dataset"


async def _checked_split(
    hub: HubClient,
    dataset: str,
    config: str | None,
    split: str | None,
    answers: list[Cached[Any]],
) -> tuple[str, str] | Error:
    """The config/split to show, checked against the viewer's list (a typo gets the names)."""
    try:
        known = await hub.viewer_splits(dataset)
    except NoPreview:
        if config and split:
            # The viewer lists no splits for it, yet it may have the rows: its first-rows
            # answer says whether it does.
            return config, split
        raise
    answers.append(known)
    return _choose(dataset, known.value, config, split)


def _choose(
    dataset: str, known: tuple[tuple[str, str], ...], config: str | None, split: str | None
) -> tuple[str, str] | Error:
    """The config/split to show: as asked, else the train split of the first config."""
    if not known:
        return Error(what=f"The dataset viewer lists no splits for {dataset}.")
    configs = list(dict.fromkeys(c for c, _ in known))
    chosen_config = _match(config, configs) if config else configs[0]
    if chosen_config is None:
        return Error(
            what=f"{dataset} has no config {config}.", todo=f"Choose one of: {', '.join(configs)}."
        )
    splits = [s for c, s in known if c == chosen_config]
    default = "train" if "train" in splits else splits[0]
    chosen_split = _match(split, splits) if split else default
    if chosen_split is None:
        return Error(
            what=f"{dataset} ({chosen_config}) has no split {split}.",
            todo=f"Choose one of: {', '.join(splits)}.",
        )
    return chosen_config, chosen_split


def _match(typed: str, names: list[str]) -> str | None:
    """The name as typed, else the one name that differs only in case (split:Test -> test)."""
    if typed in names:
        return typed
    alike = [n for n in names if n.casefold() == typed.casefold()]
    return alike[0] if len(alike) == 1 else None


def _rows_table(first: FirstRows, count: int) -> tuple[Table, Text | None]:
    features = first.features[:MAX_COLUMNS]
    links: list[str] = []
    rows = []
    for row in first.rows[:count]:
        cells = [str(row.index)]
        for feature in features:
            value = row.cells.get(feature.name)
            if feature.kind in _MEDIA:
                label = f"[{_MEDIA[feature.kind]} {len(links) + 1}]"
                links.append(f"{label} {_media_link(first, value, row.index)}")
                cells.append(label)
            else:
                cells.append(_cell(value, feature, feature.name in row.truncated))
        rows.append(tuple(cells))
    hidden = len(first.features) - len(features)
    footer = f"Cells cut at {CELL} characters."
    if hidden:
        footer += f" {hidden} more columns not shown."
    table = Table(
        title=f"{first.dataset} — {first.config}/{first.split}: first {len(rows)} rows",
        columns=("#", *(f.name for f in features)),
        rows=tuple(rows),
        footer=footer,
    )
    media = Text(text="\n".join(links)) if links else None
    return table, media


def _cell(value: object, feature: Feature, cut_by_viewer: bool) -> str:
    if value is None:
        return "—"
    if feature.labels and isinstance(value, int) and 0 <= value < len(feature.labels):
        return f"{feature.labels[value]} ({value})"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = re.sub(r"<br\s*/?>|\s+", " ", text).strip()
    return _clip(text + ("…" if cut_by_viewer and not text.endswith("…") else ""), CELL)


def _media_link(first: FirstRows, value: object, index: int) -> str:
    """The asset URL the viewer gave; its signed URLs are long, so the Hub's row page then."""
    items = value if isinstance(value, list) else [value]
    src = next((i.get("src") for i in items if isinstance(i, dict) and i.get("src")), None)
    if isinstance(src, str) and len(src) <= 200:
        return src
    page = f"https://huggingface.co/datasets/{first.dataset}/viewer/{first.config}/{first.split}"
    return f"{page}?row={index}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


COMMAND = Command(
    name="dataset",
    exploration=True,
    handler=run,
    options=(
        *list_options(
            words="Words in the dataset's name",
            task="A task category, e.g. text-classification",
            limit="How many datasets",
        ),
        Option(
            "id",
            str,
            "A dataset id (or its page's address): show its card facts",
            max_length=MAX_REPO_ID,
            repo="dataset",
            mistyped_as=("dataset", "model"),
        ),
        Option("preview", bool, "Show its first rows", default=False),
        Option("config", str, "Preview: which config (subset)", max_length=100),
        Option("split", str, "Preview: which split, e.g. train", max_length=100),
        Option(
            "rows",
            int,
            f"Preview: how many rows ({DEFAULT_ROWS} if left out)",
            min_value=1,
            max_value=10,
        ),
        Option(
            "section",
            str,
            "With id: show this part of its card",
            choices=tuple(DATASET_SECTIONS),
        ),
    ),
    examples=(
        "/dataset imdb",
        "/dataset task:text-classification sort:likes",
        "/dataset id:imdb",
        "/dataset id:imdb section:biases",
        "/dataset id:imdb preview:true rows:3",
    ),
)
