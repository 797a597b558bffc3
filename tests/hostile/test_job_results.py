"""Hostile prompts run to the end on the tiny model: every progress edit and the result that
the job relay delivers fits both platforms and pings no one (the prompt is in the result)."""

from __future__ import annotations

from pathlib import Path

from bot.jobs.worker import WorkerProcess
from bot.replies import Card
from tests.hostile.corpus import expand
from tests.hostile.run import Outcome, note_problems
from tests.jobs.support import job_bot

PROMPTS = (
    "@everyone @here <!channel> <@&123> <!subteam^S1> ⟪🤗*300⟫",
    "⟪a*1000⟫",
    "⟪U+202E⟫ ⟪U+0000⟫ ⟪U+D800⟫ ⟪U+001B⟫[2J right to left",
    'prompt:"**bold** ```code``` [x](http://evil.example) ||spoiler||"',
    "compare:greedy ⟪word *199⟫",
)


async def test_results_of_hostile_prompts_fit_and_ping_no_one(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    async with job_bot(
        tmp_path, model_worker, tiny_model_dir, max_queued_jobs_per_user=len(PROMPTS)
    ) as bot:
        jobs = [
            await bot.generate(f"/generate max_new_tokens:8 seed:1 {expand(p)}") for p in PROMPTS
        ]
        await bot.idle()
        outcome = Outcome()
        for job in jobs:
            replies = bot.outbox.for_job(job)
            note_problems(outcome, f"job {job}", replies)
            assert isinstance(bot.outbox.final(job), Card)
    assert outcome.problems == [], "\n".join(outcome.problems)
    assert outcome.replies >= len(PROMPTS)
