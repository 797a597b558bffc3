"""Print the Slack app manifest (YAML): the classbot slash command(s), as the namespace
settings say (adapters/slack/namespace.py): one `/classbot` command by default, or one
`/<prefix><name>` command for every declared command.

    python -m adapters.slack.manifest                      # Socket Mode (no public URL)
    python -m adapters.slack.manifest --url https://bot.example.edu/slack/events   # HTTP mode
    python -m adapters.slack.manifest --prefix hf-         # /hf-search, /hf-generate, ...

Paste it at api.slack.com/apps → Create New App → From an app manifest.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from adapters.slack.namespace import Namespace
from bot.commands import all_commands
from bot.config import ConfigError, load_settings
from bot.router import Command

BOT_SCOPES = (
    "commands",  # the slash commands
    "chat:write",  # post and edit replies
    "chat:write.public",  # post in public channels the bot has not joined
    "files:write",  # images and CSV exports
    "files:read",  # /run file:<link>: the clip or image a student uploaded in the channel
    "users:read",  # display names, admins and owners count as instructors
    "channels:read",  # members of public channels (who has not answered)
    "groups:read",  # ... of private channels
    "mpim:read",  # ... of group DMs
    "im:write",  # private files go to the requester's DM
)


def _q(text: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(text, ensure_ascii=False)


def usage_hint(command: Command) -> str:
    if command.subcommands:
        return " | ".join(sub.name for sub in command.subcommands)
    # Verbs are typed as the first word: "[text] [task:<text>] … | guess | guess reveal".
    verbs = [" ".join(path) for path, verb in command.with_verbs(()) if verb is not command]
    own = " ".join(option.usage() for option in command.options)
    return " | ".join([*([own] if own else []), *verbs])


def _slash_commands(
    commands: Sequence[Command], namespace: Namespace
) -> list[tuple[str, str, str]]:
    """(command, description, usage hint) for each Slack command the namespace declares."""
    if namespace.command:
        words = " | ".join(command.name for command in commands)
        summary = "The Hugging Face Hub lesson. Start with: /" + namespace.command + " help"
        return [("/" + namespace.command, summary, words)]
    return [
        ("/" + namespace.prefix + command.name, command.summary, usage_hint(command))
        for command in commands
    ]


def manifest(
    commands: Sequence[Command],
    *,
    name: str = "classbot",
    url: str | None = None,
    namespace: Namespace | None = None,
) -> str:
    """The manifest; with `url` the app uses HTTP (events at that URL) instead of Socket Mode.
    Without a namespace, the default one: a single `/classbot` command."""
    namespace = namespace or Namespace(tuple(c.name for c in commands), command="classbot")
    lines = [
        "display_information:",
        f"  name: {_q(name)}",
        f"  description: {_q('The Hugging Face Hub lesson in your class chat.')}",
        "features:",
        "  bot_user:",
        f"    display_name: {_q(name)}",
        "    always_online: true",
        "  slash_commands:",
    ]
    for slash, summary, hint in _slash_commands(commands, namespace):
        lines += [
            f"    - command: {_q(slash)}",
            f"      description: {_q(summary)}",
        ]
        if hint:
            lines.append(f"      usage_hint: {_q(hint[:1000])}")
        if url:
            lines.append(f"      url: {_q(url)}")
        # Raw text (no <@U…> rewriting): the router reads the words as typed.
        lines.append("      should_escape: false")
    lines += ["oauth_config:", "  scopes:", "    bot:"]
    lines += [f"      - {scope}" for scope in BOT_SCOPES]
    lines += ["settings:", "  interactivity:", "    is_enabled: true"]
    if url:
        lines.append(f"    request_url: {_q(url)}")
    lines += [
        "  org_deploy_enabled: false",
        f"  socket_mode_enabled: {'false' if url else 'true'}",
        "  token_rotation_enabled: false",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0].replace("\n", " "),
        epilog="Paste it at api.slack.com/apps → Create New App → From an app manifest.",
    )
    parser.add_argument("--url", help="HTTP mode: the public https URL of /slack/events")
    parser.add_argument("--name", default="classbot", help="the app's name in Slack")
    parser.add_argument(
        "--command", help="one command for all (default: CLASSBOT_SLACK_COMMAND, classbot)"
    )
    parser.add_argument("--prefix", help="one command each, e.g. hf- (CLASSBOT_SLACK_PREFIX)")
    args = parser.parse_args(argv)
    overrides = {
        key: value
        for key, value in (("slack_command", args.command), ("slack_prefix", args.prefix))
        if value is not None
    }
    commands = all_commands()
    try:
        settings = load_settings(**overrides)
    except ConfigError as error:  # said plainly, as `classbot` says it
        print(error, file=sys.stderr)
        return 2
    namespace = Namespace.from_settings(settings, [c.name for c in commands])
    print(manifest(commands, name=args.name, url=args.url, namespace=namespace), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
