"""/help: every command, or one command's options and examples."""

from __future__ import annotations

from bot.commandline import SENTENCE_END
from bot.declare import MAX_NAME
from bot.identity import Role
from bot.replies import Card, Error, Field, Reply
from bot.router import Command, Context, Option


async def run(ctx: Context, command: str | None) -> Reply:
    """Show all commands, or one command's options and examples.

    Type /help for the list, or /help <command> (e.g. /help search, /help activity post).
    """
    router = ctx.router
    if not command:
        fields = tuple(
            Field(
                name="/" + " ".join(path) + _for(declared),
                value=declared.summary,
                inline=False,
            )
            for path, declared in router.walk()
        )
        where = ctx.services.guard.runs_on(ctx.services.settings.text_model)
        return Card(
            title="classbot commands",
            description="Explore the Hugging Face Hub from chat. Type /help <command> for "
            f"details.\nModels for /run, /generate and /imagine run on {where}.",
            fields=fields,
        )
    # `/help run task:x` asks about /run; `/help search.` ends a sentence.
    path = [w.rstrip(SENTENCE_END) for w in command.removeprefix("/").split() if ":" not in w]
    if not path:
        return Error(what="Which command?", todo="Type /help, or /help <command> (/help run).")
    group = router.commands.get(path[0].lower())
    # `/help activity` shows the group; resolve() would ask for a subcommand.
    declared = group if group and group.subcommands and len(path) == 1 else router.resolve(path)
    if declared.subcommands:
        return Card(
            title=f"/{declared.name}",
            description=declared.help,
            fields=tuple(
                Field(
                    name=f"/{declared.name} {sub.name}{_for(sub)}", value=sub.summary, inline=False
                )
                for sub in declared.subcommands
            ),
        )
    shown = router.path_of(path)
    details = [Field(name="Usage", value=router.usage(shown), inline=False)]
    for option in declared.options:
        details.append(Field(name=option.name, value=_describe(option), inline=False))
    for verb_path, verb in declared.with_verbs(shown):
        if verb is not declared:
            details.append(
                Field(name=router.usage(verb_path) + _for(verb), value=verb.summary, inline=False)
            )
    if declared.examples:
        details.append(Field(name="Examples", value="\n".join(declared.examples), inline=False))
    if declared.role is Role.INSTRUCTOR:
        details.append(Field(name="Who", value="Instructors only.", inline=False))
    return Card(
        title="/" + " ".join(shown),
        description=declared.help,
        fields=tuple(details),
    )


def _for(command: Command) -> str:
    """The mark of a command only instructors may use, after its name."""
    return " (instructor)" if command.role is Role.INSTRUCTOR else ""


def _describe(option: Option) -> str:
    details = [option.description]
    if option.choices:
        details.append("one of: " + ", ".join(option.choices))
    if option.min_value is not None and option.max_value is not None:
        details.append(f"from {_number(option.min_value)} to {_number(option.max_value)}")
    elif option.min_value is not None:
        details.append(f"at least {_number(option.min_value)}")
    if option.default is not None:
        details.append(f"default {option.default}")
    details.append("required" if option.required else "optional")
    return "; ".join(details)


COMMAND = Command(
    name="help",
    handler=run,
    options=(
        Option("command", str, "A command to explain, e.g. search", rest=True, max_length=MAX_NAME),
    ),
    examples=("/help", "/help search", "/help activity post"),
    rate_limited=False,
)


def _number(value: float) -> str:
    # Seeds go up to 4,294,967,295: "4.29497e+09" would be no help to a student.
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"
