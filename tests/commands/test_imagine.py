"""/imagine end to end: the router, the jobs table, the shared real worker process running the
tiny random Stable Diffusion pipeline, and a recording outbox in place of a chat platform."""

from __future__ import annotations

import io
import itertools
import shutil
import struct
from pathlib import Path
from typing import Any

from PIL import Image as PILImage
from sqlalchemy import select

from bot.identity import Actor, Role
from bot.jobs.worker import WorkerProcess
from bot.replies import Error, Image, Progress, Table, Text, as_plain_text
from bot.store.models import AuditEvent, Job, UsageEvent
from tests.jobs.support import JobBot, job_bot, until
from tests.support import image_fixtures

tiny_image_model = image_fixtures.tiny_image_model
tiny_image_model_flagging = image_fixtures.tiny_image_model_flagging


def imagine_bot(tmp_path: Path, worker: WorkerProcess, text: Path, image: Path, **kw: Any) -> Any:
    return job_bot(tmp_path, worker, text, image_model=str(image), **kw)


async def submit(bot: JobBot, line: str, user: str = "student", role: str = "student") -> int:
    """Run an /imagine line; the id of the job it queued."""
    reply = await bot.run(line, user=user, role=role)
    assert isinstance(reply, Progress), as_plain_text(reply)
    return int(reply.label.rsplit("job ", 1)[1].rstrip(")"))


def png_of(bot: JobBot, job: int) -> bytes:
    image = bot.outbox.final(job)
    assert isinstance(image, Image), as_plain_text(image)
    return image.data


async def audit(bot: JobBot) -> list[tuple[str, str, dict[str, Any]]]:
    async with bot.driver.app.services.store.session() as session:
        events = await session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        return [(e.outcome, e.text, e.detail) for e in events]


async def test_an_image_comes_back_with_progress_in_order_up_to_n_of_n(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, tiny_image_model: Path
) -> None:
    async with imagine_bot(tmp_path, model_worker, tiny_model_dir, tiny_image_model) as bot:
        seen: list[tuple[int, int, int, str]] = []
        forward = bot.engine.relay.progress

        def record(job_id: int, destination: Any, step: int, total: int, label: str) -> None:
            seen.append((job_id, step, total, label))
            forward(job_id, destination, step, total, label)

        bot.engine.relay.progress = record  # type: ignore[method-assign]
        first = await bot.run('/imagine prompt:"a red fox" steps:4 seed:7')
        assert isinstance(first, Progress) and first.total == 4
        assert [(b.label, b.action) for b in first.buttons] == [("Cancel", "/jobs cancel id:1")]
        await bot.idle()

        image = bot.outbox.final(1)
        assert isinstance(image, Image) and image.filename == "imagine-1-seed7.png"
        picture = PILImage.open(io.BytesIO(image.data))
        assert picture.format == "PNG" and picture.size == (64, 64)  # the model's own size
        assert picture.info["seed"] == "7" and picture.info["prompt"] == "a red fox"
        assert "“a red fox” · tiny-sd" in image.caption and "seed 7 · " in image.caption
        assert "4 steps · guidance 7.5" in image.caption and "job 1" in image.caption
        assert image.caption.endswith(
            'Same image again: /imagine prompt:"a red fox" steps:4 guidance:7.5 seed:7'
        )
        assert [(b.label, b.action) for b in image.buttons] == [
            ("Re-roll", "/imagine reroll job:1")
        ]
        # Step progress, computed from the scheduler's timesteps: increasing, ending at N/N.
        steps = [(step, total) for job, step, total, label in seen if label == "denoising"]
        assert steps and steps[-1] == (4, 4)
        assert all(a[0] < b[0] for a, b in itertools.pairwise(steps)), steps
        shown = [r for r in bot.outbox.for_job(1) if isinstance(r, Progress)]
        denoised = [r.step for r in shown if r.label == "denoising"]
        assert denoised == sorted(denoised) and bot.outbox.for_job(1)[-1] is image

        jobs = await bot.jobs()
        assert jobs[1].state == "succeeded" and "png" not in (jobs[1].result or {})
        async with bot.driver.app.services.store.session() as session:
            usage = list(await session.scalars(select(UsageEvent)))
        params = jobs[1].result["runs"][0]["model_params"]  # type: ignore[index]
        assert [(u.command, u.model_id, u.model_params) for u in usage] == [
            ("imagine", str(tiny_image_model.resolve()), params)
        ]
        assert f"({_params_text(params)} parameters)" in image.caption
        assert [(o, t) for o, t, _ in await audit(bot)] == [
            ("queued", "a red fox"),
            ("succeeded", "a red fox"),
        ]


def _params_text(n: int) -> str:
    from bot.inference.guard import format_params

    return format_params(n)


async def test_cancel_stops_a_running_image_within_a_step(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, tiny_image_model: Path
) -> None:
    async with imagine_bot(tmp_path, model_worker, tiny_model_dir, tiny_image_model) as bot:
        job = await submit(bot, '/imagine prompt:"a slow castle" steps:50 size:256 seed:1')
        await until(
            lambda: any(
                isinstance(r, Progress) and r.label == "denoising" for r in bot.outbox.for_job(job)
            ),
            what="denoising to start",
        )
        reply = await bot.run(f"/jobs cancel id:{job}")
        assert isinstance(reply, Text) and "Stopping job" in reply.text
        await bot.idle()
        assert bot.outbox.final(job) == Text(text=f"Job {job} was cancelled.", shareable=False)
        row = (await bot.jobs())[job]
        assert row.state == "cancelled"
        assert row.result is not None and 1 <= row.result["steps_done"] < 25, row.result
        assert [o for o, _, _ in await audit(bot)] == ["queued", "cancelled"]


async def test_the_same_seed_gives_the_same_png_alone_and_batched(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, tiny_image_model: Path
) -> None:
    lines = [
        '/imagine prompt:"a red fox" steps:2 seed:5',
        '/imagine prompt:"a blue whale in the sea" steps:2 seed:6 negative_prompt:"blurry"',
    ]
    alone: dict[str, bytes] = {}
    async with imagine_bot(
        tmp_path / "alone", model_worker, tiny_model_dir, tiny_image_model
    ) as bot:
        for line in lines:
            job = await submit(bot, line)
            await bot.idle()
            alone[line] = png_of(bot, job)
            assert (await bot.jobs())[job].result["batch_jobs"] == 1  # type: ignore[index]
    assert len(set(alone.values())) == 2
    async with imagine_bot(
        tmp_path / "batched", model_worker, tiny_model_dir, tiny_image_model, start=False
    ) as bot:
        ids = {line: await submit(bot, line, user=f"u{i}") for i, line in enumerate(lines)}
        await bot.start()
        await bot.idle()
        jobs = await bot.jobs()
        for line, job in ids.items():
            assert jobs[job].result["batch_jobs"] == 2  # type: ignore[index]
            assert png_of(bot, job) == alone[line], line
            image = bot.outbox.final(job)
            assert isinstance(image, Image) and "(2 images together)" in image.caption


async def test_blocked_prompts_are_refused_kindly_and_audited(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, tiny_image_model: Path
) -> None:
    async with imagine_bot(
        tmp_path, model_worker, tiny_model_dir, tiny_image_model, start=False
    ) as bot:
        refused = await bot.run('/imagine prompt:"a sh1t castle" seed:1')
        assert isinstance(refused, Error)
        assert refused.what.startswith("That prompt has words this class keeps out")
        assert "sh1t" not in as_plain_text(refused)  # the word is never repeated back
        # Instructors add words for their class; other classes are not affected.
        assert isinstance(await bot.run("/imagine block word:dragon"), Error)  # a student
        said = await bot.run("/imagine block word:Dragon", user="tom", role="instructor")
        assert isinstance(said, Text) and "Blocked “dragon”" in said.text
        assert isinstance(await bot.run('/imagine prompt:"a green dragon"'), Error)
        other = Actor("console", "zoe", "zoe", Role.STUDENT, "other-class", "c")
        replies = [
            r async for r in bot.driver.app.router.run_line('/imagine prompt:"a dragon"', other)
        ]
        assert isinstance(replies[-1], Progress)
        # unblock removes an added word, or allows one the default list blocks.
        await bot.run("/imagine unblock word:dragon", user="tom", role="instructor")
        assert isinstance(await bot.run('/imagine prompt:"a green dragon"'), Progress)
        assert isinstance(await bot.run('/imagine prompt:"an ugly duckling"'), Error)
        allowed = await bot.run("/imagine unblock word:ugly", user="tom", role="instructor")
        assert isinstance(allowed, Text) and "Allowed “ugly”" in allowed.text
        assert isinstance(await bot.run('/imagine prompt:"an ugly duckling"'), Progress)
        listing = await bot.text("/imagine block", user="tom", role="instructor")
        assert "Allowed although the default list has them: ugly." in listing

        events = [(o, t, d.get("blocked")) for o, t, d in await audit(bot)]
        assert events[0] == ("refused", "a sh1t castle", ["sh1t"])  # a list entry
        assert ("refused", "a green dragon", ["dragon"]) in events
        assert ("blocked", "dragon", None) in events and ("allowed", "ugly", None) in events
        table = await bot.run("/imagine audit limit:50", user="tom", role="instructor")
        assert isinstance(table, Table) and table.private
        assert table.columns == ("when", "who", "outcome", "prompt", "detail")
        assert table.rows[-1][1:4] == ("student", "refused", "a sh1t castle")
        assert table.rows[-1][4] == "words: sh1t"
        assert all(row[3] != "a dragon" for row in table.rows)  # the other class's prompt
        assert isinstance(await bot.run("/imagine audit"), Error)  # students may not read it
        jobs = await bot.jobs()
        assert sorted(j.params["prompt"] for j in jobs.values()) == [
            "a dragon",
            "a green dragon",
            "an ugly duckling",
        ]


async def test_the_negative_prompt_passes_the_same_word_filter(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, tiny_image_model: Path
) -> None:
    async with imagine_bot(
        tmp_path, model_worker, tiny_model_dir, tiny_image_model, start=False
    ) as bot:
        refused = await bot.run('/imagine prompt:"a castle" negative_prompt:"sh1t" seed:1')
        assert isinstance(refused, Error) and "Nothing was sent" in refused.todo
        assert "sh1t" not in as_plain_text(refused)
        await bot.run("/imagine block word:moat", user="tom", role="instructor")
        assert isinstance(await bot.run('/imagine prompt:"a castle" negative_prompt:"moat"'), Error)
        fine = await bot.run('/imagine prompt:"a castle" negative_prompt:"fog"')
        assert isinstance(fine, Progress)
        events = [(o, t, d.get("blocked")) for o, t, d in await audit(bot)]
        assert events[0] == ("refused", "a castle", ["sh1t"])
        assert ("refused", "a castle", ["moat"]) in events
        jobs = await bot.jobs()
        assert [j.params["negative_prompt"] for j in jobs.values()] == ["fog"]


async def test_a_flagged_image_is_replaced_by_a_notice_and_audited(
    tmp_path: Path,
    model_worker: WorkerProcess,
    tiny_model_dir: Path,
    tiny_image_model_flagging: Path,
) -> None:
    async with imagine_bot(
        tmp_path, model_worker, tiny_model_dir, tiny_image_model_flagging
    ) as bot:
        job = await submit(bot, '/imagine prompt:"a red fox" steps:2 seed:3')
        await bot.idle()
        notice = bot.outbox.final(job)
        assert isinstance(notice, Text) and "safety checker flagged" in notice.text
        assert not any(isinstance(r, Image) for r in bot.outbox.for_job(job))
        row = (await bot.jobs())[job]
        assert row.state == "succeeded" and row.result is not None
        assert row.result["flagged"] is True and "png" not in row.result
        assert [o for o, _, _ in await audit(bot)] == ["queued", "flagged"]


async def test_models_that_do_not_make_images_are_refused(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, tiny_image_model: Path
) -> None:
    async with imagine_bot(
        tmp_path, model_worker, tiny_model_dir, tiny_image_model, start=False
    ) as bot:
        text_model = await bot.run(f'/imagine prompt:"a fox" model:{tiny_model_dir}')
        assert isinstance(text_model, Error)
        assert "has no model_index.json, so it is not a diffusers model folder" in text_model.what
        hub_text = await bot.run('/imagine prompt:"a fox" model:gpt2')
        assert isinstance(hub_text, Error)
        assert "gpt2 is a transformers model, not a diffusers one" in hub_text.what
        assert "/search task:text-to-image" in hub_text.todo
        assert await bot.jobs() == {}
        assert [o for o, _, _ in await audit(bot)] == ["refused", "refused"]


async def test_reroll_keeps_the_settings_with_a_new_seed(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, tiny_image_model: Path
) -> None:
    async with imagine_bot(tmp_path, model_worker, tiny_model_dir, tiny_image_model) as bot:
        first = await submit(bot, '/imagine prompt:"a red fox" steps:3 guidance:5 seed:7')
        await bot.idle()
        image = bot.outbox.final(first)
        assert isinstance(image, Image)
        # Anyone who sees the button may press it: the new image is theirs.
        again = await submit(bot, image.buttons[0].action, user="ben")
        await bot.idle()
        rerolled = bot.outbox.final(again)
        assert isinstance(rerolled, Image) and rerolled.data != image.data
        jobs = await bot.jobs()
        old, new = jobs[first].params, jobs[again].params
        assert new["seed"] != 7 and f"seed {new['seed']}" in rerolled.caption
        same = ("prompt", "negative_prompt", "steps", "guidance", "size", "model")
        assert {k: new[k] for k in same} == {k: old[k] for k in same}
        assert (await audit(bot))[-2][2]["reroll_of"] == first  # its "queued" entry
        missing = await bot.run("/imagine reroll job:99")
        assert isinstance(missing, Error) and "no image job 99" in missing.what


async def test_a_class_limit_under_every_size_offered_leaves_the_models_own(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, tiny_image_model: Path
) -> None:
    async with imagine_bot(
        tmp_path, model_worker, tiny_model_dir, tiny_image_model, start=False, image_max_size=128
    ) as bot:
        big = await bot.run('/imagine prompt:"a fox" size:256')
        assert isinstance(big, Error) and big.what == "size:256 is above this class's limit of 128."
        assert big.todo == "Leave size out for the model's own size."


async def test_bad_requests_are_clear_errors(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, tiny_image_model: Path
) -> None:
    async with imagine_bot(
        tmp_path, model_worker, tiny_model_dir, tiny_image_model, start=False, image_max_size=512
    ) as bot:
        big = await bot.run('/imagine prompt:"a fox" size:768')
        assert isinstance(big, Error) and "above this class's limit of 512" in big.what
        assert "256, 384, 512" in big.todo
        odd = await bot.run('/imagine prompt:"a fox" size:300')
        assert isinstance(odd, Error) and "choose one of 256, 384, 512, 768" in odd.what
        steps = await bot.run('/imagine prompt:"a fox" steps:80')
        assert isinstance(steps, Error) and "between 1 and 50" in steps.what
        stray = await bot.run('/imagine prompt:"a fox" job:3')
        assert isinstance(stray, Error) and stray.what == "job: goes with /imagine reroll."
        which = await bot.run("/imagine reroll")
        assert isinstance(which, Error) and which.what == "Which image?"
        assert await bot.jobs() == {}


async def test_the_result_png_is_dropped_from_the_jobs_table_once_delivered(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, tiny_image_model: Path
) -> None:
    async with imagine_bot(
        tmp_path, model_worker, tiny_model_dir, tiny_image_model, start=False
    ) as first:
        job = await submit(first, '/imagine prompt:"a fox" steps:2 seed:1')
        # As if the bot stopped right after the worker finished, before delivering.
        first.driver.app.services.outboxes.pop("console")
        await first.start()
        await first.idle()
        async with first.driver.app.services.store.session() as session:
            row = await session.get(Job, job)
            assert row is not None and row.state == "succeeded" and row.delivered_at is None
            assert "png" in (row.result or {})
    async with imagine_bot(tmp_path, model_worker, tiny_model_dir, tiny_image_model) as second:
        await second.idle()
        assert isinstance(second.outbox.final(job), Image)  # delivered after the restart
        row = (await second.jobs())[job]
        assert row.delivered_at is not None and "png" not in (row.result or {})


async def test_cancelled_and_failed_jobs_are_audited(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, tiny_image_model: Path
) -> None:
    # Weights whose header is fine (the guard reads only headers) but whose data is cut off.
    broken = tmp_path / "broken-sd"
    shutil.copytree(tiny_image_model, broken)
    unet = broken / "unet" / "diffusion_pytorch_model.safetensors"
    data = unet.read_bytes()
    unet.write_bytes(data[: 8 + struct.unpack("<Q", data[:8])[0] + 16])
    async with imagine_bot(
        tmp_path,
        model_worker,
        tiny_model_dir,
        tiny_image_model,
        start=False,
        model_allowlist=str(broken.resolve()),
    ) as bot:
        queued = await submit(bot, '/imagine prompt:"a fox" steps:2')
        assert isinstance(await bot.run(f"/jobs cancel id:{queued}"), Text)
        failing = await submit(bot, f'/imagine prompt:"a cat" steps:2 model:{broken}')
        await bot.start()
        await bot.idle()
        failure = bot.outbox.final(failing)
        assert isinstance(failure, Error) and "broken-sd could not be loaded" in failure.what
        events = await audit(bot)
        assert len(events) == 4
        for job, prompt, outcome in ((queued, "a fox", "cancelled"), (failing, "a cat", "failed")):
            mine = [(o, t) for o, t, d in events if d.get("job") == job]
            assert mine == [("queued", prompt), (outcome, prompt)]  # in this order
