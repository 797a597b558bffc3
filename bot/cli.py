"""The `classbot` command: console, discord, slack, worker, run, db upgrade."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from bot.app import App, create_app
from bot.config import ConfigError, Settings, load_settings, unknown_settings
from bot.identity import Role
from bot.logs import setup_logging
from bot.store import Store

log = logging.getLogger("classbot")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="classbot", description="The Hugging Face Hub lesson in a class chat."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    console = commands.add_parser("console", help="type slash commands in this terminal")
    console.add_argument("--user", default="student", help="who is typing (default: student)")
    console.add_argument(
        "--role", choices=[r.value for r in Role], default=Role.STUDENT.value, help="their role"
    )
    console.add_argument("--out", type=Path, default=None, help="where images and files go")

    discord = commands.add_parser("discord", help="run the Discord bot (DISCORD_TOKEN)")
    discord.add_argument(
        "--sync",
        default="global",
        metavar="global|GUILD_ID",
        help="sync slash commands globally (production) or to one guild (development: instant)",
    )

    slack = commands.add_parser("slack", help="run the Slack app (Socket Mode by default)")
    slack.add_argument("--http", action="store_true", help="serve HTTP at /slack/events instead")
    slack.add_argument("--port", type=int, default=3000, help="HTTP port (with --http)")

    worker = commands.add_parser("worker", help="run an RQ worker for inference jobs (scale-out)")
    worker.add_argument(
        "--queue",
        default=None,
        help="the RQ queue to serve (default: CLASSBOT_RQ_QUEUE, else classbot-inference)",
    )
    run = commands.add_parser(
        "run", help="every platform whose token is set, in one process; else the console"
    )
    run.add_argument(
        "--sync",
        default="global",
        metavar="global|GUILD_ID",
        help="Discord: sync slash commands globally or to one guild",
    )
    run.add_argument(
        "--port",
        type=int,
        default=3000,
        help="Slack HTTP port (HTTP mode: SLACK_SIGNING_SECRET set, no SLACK_APP_TOKEN)",
    )

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply the newest migrations")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    console = args.command == "console" or (
        args.command == "run" and pick_platforms(settings) == ["console"]
    )
    setup_logging(settings, console=console)
    for line in unknown_settings(os.environ):
        log.warning(line)
    if args.command == "worker":
        return _worker(settings, args.queue)
    try:
        return asyncio.run(_until_signalled(_main(args, settings)))
    except ConfigError as error:
        # Found at start (Redis the settings ask for is down): said plainly, no traceback.
        print(error, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


# What `systemctl stop`, `docker stop` and Ctrl-C send: each one stops the bot the same way.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def _until_signalled(work: Coroutine[Any, Any, int]) -> int:
    """Run `work` until it ends or a stop signal comes; then stop it gracefully.

    The signal cancels `work` once: the adapter stops accepting commands and lets the
    running ones finish (bounded), the job engine hands its running jobs back to the queue,
    and the store writes what its group writers hold before closing (the `finally` blocks
    of `_main` and of each adapter's `serve`). Commands that could not finish stay in the
    inbox and run after the restart. A second signal during that stop is ignored: the stop
    is bounded already.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    stopping: list[int] = []

    def stop(signum: int) -> None:
        if not stopping:
            stopping.append(signum)
            log.info("%s: stopping gracefully", signal.Signals(signum).name)
            task.cancel()

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop, signum)
    try:
        return await task
    except asyncio.CancelledError:
        if not stopping:
            raise
        return 0
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)


async def _main(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "db":
        store = Store(settings.database_url)
        try:
            changed = await store.upgrade()
            print(
                f"database at {await store.revision()} ({'upgraded' if changed else 'up to date'})"
            )
        finally:
            await store.close()
        return 0
    names = pick_platforms(settings) if args.command == "run" else [args.command]
    app = await create_app(settings)
    try:
        if names == ["console"]:
            return await _console(app, args)
        if len(names) == 1:
            return await _platform(names[0], app, _args_for(names[0], settings, args))
        return await serve_platforms(app, names, args)
    finally:
        await app.close()


def _worker(settings: Settings, queue: str | None) -> int:
    """`classbot worker`: run models for the bots that use CLASSBOT_QUEUE_BACKEND=rq.

    A GPU machine needs Redis and the models, nothing else: no bot, no database, no event
    loop. RQ's worker runs on this (main) thread so SIGTERM stops it cleanly."""
    from bot.inference.devices import plan_devices
    from bot.jobs.rq import work
    from bot.jobs.wire import WorkerConfig

    token = settings.hf_token
    config = WorkerConfig(
        device=plan_devices(settings.device)[0],
        memory_budget_mb=settings.model_memory_budget_mb,
        hf_token=token.get_secret_value() if token else None,
        log_level=settings.log_level,
    )
    work(
        settings.redis_url,
        config,
        queue=queue or settings.rq_queue,
        threads=settings.torch_threads,
    )
    return 0


def pick_platforms(settings: Settings) -> list[str]:
    """`classbot run`: every platform whose token is set, else the console."""
    names = []
    if settings.discord_token and settings.discord_token.get_secret_value().strip():
        names.append("discord")
    if settings.slack_bot_token and settings.slack_bot_token.get_secret_value().strip():
        names.append("slack")
    return names or ["console"]


def _args_for(name: str, settings: Settings, args: argparse.Namespace) -> argparse.Namespace:
    """What `classbot <name>` would have been given, for a platform `classbot run` starts."""
    if args.command != "run" or name != "slack":
        return args
    # Socket Mode needs no public URL: it wins when its token is there.
    http = not settings.slack_app_token and bool(settings.slack_signing_secret)
    return argparse.Namespace(**{**vars(args), "http": http})


class PlatformStopped(Exception):
    """A platform's adapter ended with an exit code (a refused token at start)."""

    def __init__(self, name: str, code: int) -> None:
        super().__init__(f"{name} stopped ({code})")
        self.name = name
        self.code = code


async def serve_platforms(app: App, names: Sequence[str], args: argparse.Namespace) -> int:
    """Serve several platforms in this process, sharing one App: one store, one job engine
    (which delivers each result through the outbox of the platform that asked), one
    activity scheduler. The background services start once every adapter is ready.

    If one platform cannot start (its token is refused), the others are stopped too and
    the process exits with that platform's plain message: a bot half up is easy to miss.
    A stop signal cancels this, and with it every adapter's `serve`."""
    app.expect_adapters(len(names))

    async def one(name: str) -> None:
        code = await _platform(name, app, _args_for(name, app.settings, args))
        if code:
            raise PlatformStopped(name, code)
        log.info("%s stopped; the other platforms go on", name)

    failed: PlatformStopped | None = None
    try:
        async with asyncio.TaskGroup() as group:
            for name in names:
                group.create_task(one(name), name=f"serve-{name}")
    except* PlatformStopped as stopped:
        first = stopped.exceptions[0]
        assert isinstance(first, PlatformStopped)
        failed = first
    if failed is not None:
        others = ", ".join(n for n in names if n != failed.name)
        log.error("%s could not start; stopping %s too", failed.name, others)
        print(
            f"classbot run: {failed.name} could not start, so {others} stopped too.",
            file=sys.stderr,
        )
        return failed.code
    return 0


async def _console(app: App, args: argparse.Namespace) -> int:
    from adapters.console import ConsoleAdapter

    adapter = ConsoleAdapter(
        app,
        user=getattr(args, "user", "student"),
        role=Role(getattr(args, "role", Role.STUDENT.value)),
        out_dir=getattr(args, "out", None),
    )
    await adapter.run()
    return 0


async def _platform(name: str, app: App, args: argparse.Namespace) -> int:
    """Start a platform adapter; each lives in adapters/<name>/ and exposes `serve`."""
    try:
        module = importlib.import_module(f"adapters.{name}")
    except ModuleNotFoundError as error:
        print(f"classbot {name} is not available in this build ({error}).", file=sys.stderr)
        return 2
    serve = getattr(module, "serve", None)
    if serve is None:
        print(f"classbot {name} is not available in this build.", file=sys.stderr)
        return 2
    result = await serve(app, args)
    return int(result or 0)


if __name__ == "__main__":
    raise SystemExit(main())
