"""/search's list of models (search, filter, sort, pages) and one model's details and card
checklist."""

from __future__ import annotations

from typing import Any

from bot.charts import ModelBar, models_chart
from bot.commandline import quote, unquote
from bot.commands.cardtext import MAX_ACTION, section_buttons, section_card
from bot.commands.listing import MAX_PAGE, for_platform
from bot.commands.search.guess import params_text
from bot.commands.search.runs import (
    LEGEND,
    MARKS,
    REQUIREMENTS,
    Where,
    listed_verdict,
    where_it_runs,
)
from bot.hub.cache import Cached
from bot.hub.cards import MODEL_SECTIONS, ModelCardReport, analyze_model_card
from bot.hub.errors import HubError, stale_note
from bot.hub.records import ModelDetails, ModelSummary, checklist_text, license_text
from bot.hub.tasks import (
    PIPELINE_TAGS,
    SORT_WORDS,
    close_tasks,
    complete_libraries,
    normalize_task,
    with_article,
)
from bot.inference.guard import format_params
from bot.inference.tasks.vetting import COMMAND as RUN_COMMAND
from bot.replies import Button, Card, Error, Field, Reply, Table
from bot.router import Context
from bot.services import Services

# Tags shown elsewhere in the card (license, papers, datasets) or of no use to students.
_HIDDEN_TAG_PREFIXES = ("license:", "arxiv:", "dataset:", "base_model:", "region:", "doi:")


# -- the list --------------------------------------------------------------------------------
async def list_models(
    ctx: Context,
    text: str | None,
    task: str | None,
    sort: str,
    limit: int,
    library: str | None,
    page: int,
    chart: bool = False,
) -> Reply | list[Reply]:
    hub = ctx.services.hub
    text = unquote(text) if text else text  # /search "gpt neo": the quotes are not the name
    tag = normalize_task(task) if task else None
    library = library.strip().lower() if library else None
    try:
        found = await hub.search_models(
            text=text, task=tag, library=library, sort=sort, limit=limit, page=page
        )
        if not found.value.items and text and len(text.split()) > 1:
            # Repo names have no spaces: "gpt neo" means gpt-neo.
            text = "-".join(text.split())
            found = await hub.search_models(
                text=text, task=tag, library=library, sort=sort, limit=limit, page=page
            )
    except HubError as error:
        return error.reply()
    items: tuple[ModelSummary, ...] = found.value.items
    if not items:
        return _nothing_found(text, tag, library, page)
    first = (page - 1) * limit
    # From the listing alone: one request for the page, never one per row.
    marks = [MARKS[listed_verdict(ctx.services.guard, m)] for m in items]
    rows = tuple(
        (
            str(first + i + 1),
            m.id,
            m.pipeline_tag or "—",
            f"{m.downloads:,}",
            f"{m.likes:,}",
            format_params(m.params) if m.params else "—",
            m.license or "—",
            marks[i],
        )
        for i, m in enumerate(items)
    )
    what = f"“{text}”" if text else "Models"
    scope = ", ".join(x for x in (tag, library) if x) or "all tasks"
    title = f"{what} ({scope}), {SORT_WORDS[sort]}"
    footer = [f"Page {page}.", "Details: /search model:<id>", f"{LEGEND}."]
    note = stale_note(found)
    if note:
        footer.insert(0, note)
    buttons: list[Button] = []
    if found.value.has_more and page < MAX_PAGE:
        action = _line(text, tag, sort, limit, library, page + 1)
        if len(action) <= 100:
            buttons.append(Button(label="More", action=action))
        else:
            footer.append(f"More: add page:{page + 1}")
    more_chart = _line(text, tag, sort, limit, library, page) + " chart:true"
    if not chart and len(more_chart) <= 100:
        buttons.append(Button(label="Chart", action=more_chart))
    table = Table(
        title=title,
        columns=(
            "#",
            "model",
            "task",
            "downloads (30 d)",
            "likes",
            "params",
            "license",
            "runs here",
        ),
        rows=rows,
        buttons=tuple(buttons),
    )
    entries = [
        (f"{row[0]}. {row[-1]} {m.id}", f"   {_facts(m)}")
        for row, m in zip(rows, items, strict=True)
    ]
    shown = for_platform(ctx.actor.platform, table, entries, footer=footer, filename="models.csv")
    if not chart:
        return shown
    by_likes = sort == "likes"
    picture = await models_chart(
        [ModelBar(m.id, m.likes if by_likes else m.downloads, m.params) for m in items],
        "likes" if by_likes else "downloads (last 30 days)",
        title,
    )
    return [picture, *(shown if isinstance(shown, list) else [shown])]


def _facts(model: ModelSummary) -> str:
    """A model's numbers on one short line, most useful first (a narrow screen cuts the end)."""
    size = format_params(model.params) if model.params else "size ?"
    parts = [
        f"{format_params(model.downloads)} dl",
        f"{format_params(model.likes)} ♥",
        size,
        model.pipeline_tag or "no task",
        model.license or "",
    ]
    return " · ".join(p for p in parts if p)


def _line(
    text: str | None, task: str | None, sort: str, limit: int, library: str | None, page: int
) -> str:
    """The command line that shows another page of the same search (the More button)."""
    parts = ["/search", *(text or "").split()]
    parts += [f"task:{task}"] if task else []
    parts += [f"sort:{sort}", f"limit:{limit}"]
    parts += [f"library:{quote(library)}"] if library else []
    parts.append(f"page:{page}")
    return " ".join(parts)


def _nothing_found(text: str | None, tag: str | None, library: str | None, page: int) -> Error:
    if page > 1:
        return Error(what=f"There is no page {page} for this search.", todo="Try page:1.")
    if tag and tag not in PIPELINE_TAGS:
        close = close_tasks(tag)
        hint = f"Did you mean task:{close[0]}? " if close else ""
        return Error(
            what=f"{tag} is not a task on the Hub.",
            todo=f"{hint}Type task: and pick one from the list, e.g. task:text-generation.",
        )
    wanted = " ".join(x for x in (f"“{text}”" if text else "", tag or "", library or "") if x)
    return Error(
        what=f"No models match {wanted or 'that'}.",
        todo="Try fewer or shorter words (a part of the name works: gpt-neo), or drop task:"
        " or library:.",
    )


# -- one model -------------------------------------------------------------------------------
async def model_details(ctx: Context, asked: str, section: str | None = None) -> Reply:
    hub = ctx.services.hub
    try:
        info = await hub.model_info(asked)
    except HubError as error:
        return error.reply()
    model = info.value
    answers: list[Cached[Any]] = [info]
    text: str | None = None
    card_problem: str | None = None
    if model.files is None or "README.md" in model.files:
        try:
            card = await hub.model_card(model.id)
        except HubError as error:
            card_problem = error.what
        else:
            answers.append(card)
            text = card.value or None
    url = f"https://huggingface.co/{model.id}"
    if section:
        if card_problem:
            return Error(
                what=f"Could not read the card of {model.id}: {card_problem}",
                todo=f"Try again in a minute, or read it on {url}",
            )
        return section_card(
            card=text,
            key=MODEL_SECTIONS[section],
            word=section,
            repo=model.id,
            url=url,
            back=f"/search model:{model.id}",
        )
    report = analyze_model_card(text) if text else None
    await ctx.record_usage(
        model_id=model.id,
        model_params=model.params,
        detail={"asked": asked} if asked != model.id else None,
    )
    lead = []
    if asked != model.id:
        lead.append(f"{asked} is now {model.id} (the repo was renamed or moved).")
    note = stale_note(*answers)
    if note:
        lead.append(note)
    if model.pipeline_tag in PIPELINE_TAGS:
        task = with_article(model.pipeline_tag).capitalize()
        lead.append(f"{task} model: it {PIPELINE_TAGS[model.pipeline_tag]}.")
    where = await where_it_runs(ctx.services.guard, model.id, model.pipeline_tag)
    buttons = section_buttons(f"/search model:{model.id}", report.checklist if report else ())
    run = _run_button(model, where)
    if run is not None:
        buttons = (run, *buttons)
    return Card(
        title=model.id,
        description="\n".join(lead),
        fields=_model_fields(model, report, card_problem),
        url=url,
        footer=_next_step(model, where),
        buttons=buttons,
    )


def _model_fields(
    model: ModelDetails, report: ModelCardReport | None, card_problem: str | None
) -> tuple[Field, ...]:
    meta = model.card_data
    license_id = (report.license if report else None) or model.license or _first(meta, "license")
    licenses = list(report.licenses) if report else []
    papers = list((report.arxiv_ids if report else ()) or _tagged(model, "arxiv"))
    datasets = list((report.datasets if report else ()) or _tagged(model, "dataset"))
    languages = list((report.languages if report else ()) or _strings(meta.get("language")))
    tags = [t for t in model.tags if not t.startswith(_HIDDEN_TAG_PREFIXES)]
    tags = [t for t in tags if t not in (model.pipeline_tag, model.library, *languages)]
    gated = {
        None: "no: anyone can download it",
        "auto": "yes: accept the authors' terms on the model page, then download",
        "manual": "yes: the authors approve each request by hand",
    }.get(model.gated, f"yes ({model.gated})")
    fields = [
        Field(name="Author", value=model.author or model.id.split("/")[0]),
        Field(name="Task", value=model.pipeline_tag or "not given"),
        Field(name="Library", value=model.library or "not given"),
        Field(name="Parameters", value=_params_field(model)),
        Field(name="Downloads (30 days)", value=f"{model.downloads:,}"),
        Field(name="Likes", value=f"{model.likes:,}"),
        Field(
            name="Licenses" if len(licenses) > 1 else "License",
            # A card may list several (one per part of the model, or a choice): each counts.
            value="\n".join(map(license_text, licenses))
            if len(licenses) > 1
            else license_text(license_id),
            inline=False,
        ),
        Field(
            name="Papers",
            value="\n".join(f"https://arxiv.org/abs/{p}" for p in papers[:5]) or "none linked",
            inline=False,
        ),
        Field(name="Training data", value=", ".join(datasets[:8]) or "not given"),
        Field(name="Languages", value=", ".join(languages[:12]) or "not given"),
        Field(name="Gated", value=gated),
    ]
    if tags:
        fields.append(Field(name="Tags", value=", ".join(tags[:12]), inline=False))
    fields.append(Field(name="Model card", value=_checklist(report, card_problem), inline=False))
    return tuple(fields)


def _params_field(model: ModelDetails) -> str:
    if model.params:
        return params_text(model.params)
    if model.library == "diffusers":
        return (
            "not published: a diffusers pipeline is several models (UNet, text encoder, VAE) "
            "with their own weights, and the Hub gives no total"
        )
    return "not published by the Hub for this repo (no safetensors weights)"


def _checklist(report: ModelCardReport | None, problem: str | None) -> str:
    if problem:
        return f"Could not read the card: {problem}"
    if report is None:
        return "This model has no card: nobody wrote down what it does, its data or its limits."
    return checklist_text(report.checklist)


def _run_button(model: ModelDetails, where: Where) -> Button | None:
    """The Run button: it opens /run's form for the model's task (only where /run runs it)."""
    action = f"{RUN_COMMAND} model:{model.id}"
    if where.runs_here and where.command == RUN_COMMAND and len(action) <= MAX_ACTION:
        return Button(label="Run", action=action, style="primary")
    return None


def _next_step(model: ModelDetails, where: Where) -> str:
    """What to do with the model, never offering what the bot would refuse."""
    if where.runs_here:
        place = f" (it runs on {where.place})" if where.place else ""
        if where.command == RUN_COMMAND:
            return f"Try it: Run, or {RUN_COMMAND} model:{model.id} <your text>{place}"
        return f"Try it: {where.command} model:{model.id}{place}"
    lines = []
    if where.command:
        lines.append(f"{where.command} can't run it here: {where.why_not}")
    else:
        lines.append(
            f"This bot runs {', '.join(REQUIREMENTS)} models; the Hub lists this one as "
            f"{model.pipeline_tag or 'no task'}."
        )
    if where.hosted:
        lines.append(f"It runs on hosted inference (Inference Provider: {where.hosted}).")
    lines.append(f"Try it on https://huggingface.co/{model.id}")
    return "\n".join(lines)


def _tagged(model: ModelDetails, prefix: str) -> tuple[str, ...]:
    return tuple(t.split(":", 1)[1] for t in model.tags if t.startswith(prefix + ":"))


def _strings(value: object) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [str(v) for v in items if isinstance(v, str | int | float) and str(v).strip()]


def _first(meta: object, key: str) -> str | None:
    found = _strings(meta.get(key)) if isinstance(meta, dict) else []
    return found[0] if found else None


# -- autocomplete ----------------------------------------------------------------------------
async def complete_library(services: Services, prefix: str) -> list[str]:
    return complete_libraries(prefix)


async def complete_models(services: Services, prefix: str) -> list[str]:
    """Ids from recent searches; one (cached) search when nothing seen matches yet."""
    hub = services.hub
    if hub is None:
        return []
    found = hub.known_models(prefix)
    if not found and len(prefix.strip()) >= 3:
        try:
            await hub.search_models(text=prefix.strip(), sort="downloads", limit=25)
        except HubError:
            return []
        found = hub.known_models(prefix)
    return found
