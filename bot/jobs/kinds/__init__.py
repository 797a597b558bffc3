"""Every job kind the bot runs, declared here explicitly (see bot/jobs/kinds/base.py).

Adding a kind: a module with its params, result, render and usage (and a worker runner),
plus its line in KINDS.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.jobs.kinds.base import AnyKind, JobKind, UsageRun
from bot.jobs.kinds.generate import GENERATE
from bot.jobs.kinds.imagine import IMAGINE
from bot.jobs.kinds.run import RUN

KINDS: tuple[AnyKind, ...] = (GENERATE, IMAGINE, RUN)


def by_name(kinds: Iterable[AnyKind] = KINDS) -> Mapping[str, AnyKind]:
    found: dict[str, AnyKind] = {}
    for kind in kinds:
        assert kind.name not in found, f"two job kinds named {kind.name}"
        found[kind.name] = kind
    return found


__all__ = ["KINDS", "AnyKind", "JobKind", "UsageRun", "by_name"]
