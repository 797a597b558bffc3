"""/run's audio and image tasks through the console router, the guard, the job engine and the
real worker, on tiny models built in fixtures (tests/support/tiny_media_models.py) and
loaded by the production code; the files are made in the fixtures and given as file:<path>."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from PIL import Image as PILImage

from bot.jobs.kinds.run import RUN
from bot.jobs.records import view
from bot.jobs.worker import WorkerProcess
from bot.replies import Card, Error, File, Image, Modal, as_plain_text
from tests.media.conftest import media_bot
from tests.support.media_files import tone_wav
from tests.support.tiny_media_models import (
    ANIMALS,
    CHARACTERS,
    OBJECTS,
    SOUNDS,
    png_claiming,
)
from tests.tasks.test_run_form import submitted_job


async def test_every_media_task_returns_a_well_formed_result(
    tmp_path: Path,
    model_worker: WorkerProcess,
    tiny_model_dir: Path,
    media_models: dict[str, Path],
    media_files: dict[str, Path],
) -> None:
    clip, stereo = media_files["clip.wav"], media_files["stereo.wav"]
    photo, jpeg = media_files["photo.png"], media_files["photo.jpg"]
    lines = {
        "automatic-speech-recognition": f"/run task:automatic-speech-recognition file:{clip}",
        "audio-classification": f"/run task:audio-classification file:{stereo}",
        "image-classification": f"/run task:image-classification file:{jpeg}",
        "object-detection": f"/run task:object-detection file:{photo}",
        "image-to-text": f"/run task:image-to-text file:{photo}",
    }
    async with media_bot(tmp_path, model_worker, tiny_model_dir, media_models) as bot:
        jobs = {task: await bot.generate(line) for task, line in lines.items()}
        # The model is found from its folder's config too (no task: given).
        found = await bot.generate(
            f"/run model:{media_models['automatic-speech-recognition']} file:{stereo}"
        )
        await bot.idle()
        stored = await bot.jobs()
        for task, job_id in jobs.items():
            result = RUN.result_of(view(stored[job_id]))
            (out,) = result.outputs
            assert out.model.id == str(media_models[task]) and out.model_params > 4_000
            reply = bot.outbox.final(job_id)
            if task == "object-detection":
                assert isinstance(reply, Image), as_plain_text(reply)
                drawn = PILImage.open(io.BytesIO(reply.data))
                assert drawn.size == (96, 64)  # the picture, boxes drawn on it
                assert out.boxes and all(b.label in OBJECTS and b.score >= 0.5 for b in out.boxes)
                for box in out.boxes:
                    assert 0 <= box.x0 < box.x1 <= 96 and 0 <= box.y0 < box.y1 <= 64
                assert f"{out.boxes[0].label}  " in reply.caption
                assert "parameters · license not stated" in reply.caption
                continue
            assert isinstance(reply, Card), (task, as_plain_text(reply))
            assert reply.title.endswith(media_models[task].name), reply.title
            assert reply.fields[0].value.startswith(Path(lines[task].split(":", 2)[2]).name)
            if task in ("audio-classification", "image-classification"):
                labels = SOUNDS if task == "audio-classification" else ANIMALS
                assert sorted(s.label for s in out.scores) == sorted(labels)
                assert abs(sum(s.score for s in out.scores) - 1) < 1e-3
                assert "▓" in reply.description
            elif task == "automatic-speech-recognition":
                assert out.text and set(out.text) <= {*CHARACTERS, " "}, out.text
                assert reply.description.startswith(out.text[:50])
            else:
                assert out.text and reply.description == out.text
        card = bot.outbox.final(found)
        assert isinstance(card, Card) and card.title.startswith("speech recognition")


async def test_compare_gives_one_column_per_model(
    tmp_path: Path,
    model_worker: WorkerProcess,
    tiny_model_dir: Path,
    media_models: dict[str, Path],
    media_files: dict[str, Path],
) -> None:
    other = media_models["image-classification-2"]
    async with media_bot(
        tmp_path, model_worker, tiny_model_dir, media_models, model_allowlist=str(other)
    ) as bot:
        photo = media_files["photo.png"]
        job = await bot.generate(f"/run task:image-classification compare:{other} file:{photo}")
        await bot.idle()
        card = bot.outbox.final(job)
        assert isinstance(card, Card), as_plain_text(card)
        assert card.title == "image classification: tiny-vit vs tiny-vit-2"
        assert [f.name for f in card.fields] == ["tiny-vit", "tiny-vit-2"]
        for field in card.fields:
            assert " parameters · license not stated · " in field.value
            assert all(animal in field.value for animal in ANIMALS)
        (stored,) = (await bot.jobs()).values()
        first, second = RUN.result_of(view(stored)).outputs
        assert first.scores != second.scores  # other weights, other answers
        # A detector against a classifier: not the same task.
        wrong = await bot.run(
            f"/run task:object-detection compare:{media_models['image-classification']} "
            f"file:{photo}"
        )
        assert isinstance(wrong, Error) and "does not do object-detection" in wrong.what
        assert wrong.todo.startswith("Use an object-detection model with /run")


async def test_bad_files_get_a_reply_and_nothing_runs(
    tmp_path: Path,
    model_worker: WorkerProcess,
    tiny_model_dir: Path,
    media_models: dict[str, Path],
    media_files: dict[str, Path],
) -> None:
    folder = media_files["clip.wav"].parent
    made = {
        "big.wav": b"RIFF" + bytes(10_500_000),
        "long.wav": tone_wav(31.0),
        "wide.png": png_claiming(5000, 20),
        "bomb.png": png_claiming(100_000, 100_000),
        "noise.wav": bytes(range(256)) * 40,
        "cut.jpg": media_files["photo.jpg"].read_bytes()[:300],
        "empty.ogg": b"",
    }
    for name, data in made.items():
        (folder / name).write_bytes(data)
    clip, photo = media_files["clip.wav"], media_files["photo.png"]
    vision = media_models["image-classification"]
    cases = {
        "/run task:image-classification a cat": "none was attached",
        f"/run model:{vision} a cat": f"e.g. /run model:{vision} file:<cat.jpg>",
        f"/run task:audio-classification file:{folder / 'big.wav'}": "the limit is 10.0 MB",
        f"/run task:automatic-speech-recognition file:{folder / 'long.wav'}": "31 s long",
        f"/run task:image-classification file:{folder / 'wide.png'}": "5000×20 pixels",
        f"/run task:object-detection file:{folder / 'bomb.png'}": "far too many pixels",
        f"/run task:automatic-speech-recognition file:{folder / 'noise.wav'}": "could not be read",
        f"/run task:image-to-text file:{folder / 'noise.wav'}": "could not be read",
        f"/run task:image-classification file:{folder / 'cut.jpg'}": "could not be read",
        f"/run task:audio-classification file:{folder / 'empty.ogg'}": "is empty",
        f"/run task:automatic-speech-recognition file:{photo}": "is an image",
        f"/run task:image-classification file:{clip}": "is an audio clip",
        f"/run task:image-classification file:{folder / 'missing.png'}": "There is no file",
        f"/run task:image-classification file:{folder}": "is not a file",
        f"/run task:text-classification Great film file:{clip}": "takes text, not a file",
    }
    async with media_bot(tmp_path, model_worker, tiny_model_dir, media_models, start=False) as bot:
        for line, words in cases.items():
            reply = await bot.run(line)
            assert isinstance(reply, Error), (line, as_plain_text(reply))
            assert words in as_plain_text(reply), (line, as_plain_text(reply))
        assert await bot.jobs() == {}


async def test_each_media_run_is_usage_in_the_activity_csv(
    tmp_path: Path,
    model_worker: WorkerProcess,
    tiny_model_dir: Path,
    media_models: dict[str, Path],
    media_files: dict[str, Path],
) -> None:
    async with media_bot(tmp_path, model_worker, tiny_model_dir, media_models) as bot:
        posted = await bot.text(
            '/activity post title:"Media" minutes:10 Try a clip.', user="teacher", role="instructor"
        )
        assert posted.startswith("== Activity #"), posted
        clip, photo = media_files["clip.wav"], media_files["photo.png"]
        await bot.generate(f"/run task:automatic-speech-recognition file:{clip}", user="ana")
        await bot.generate(f"/run task:object-detection file:{photo}", user="ana")
        await bot.idle()
        await bot.run("/activity submit done", user="ana")
        replies = await bot.driver.run_all("/activity results", user="teacher", role="instructor")
        attachment = replies[-1]
        assert isinstance(attachment, File) and not isinstance(attachment, Image)
        rows = list(csv.DictReader(io.StringIO(attachment.data.decode("utf-8-sig"))))
        (ana,) = [r for r in rows if r["user id"] == "ana"]
        for task in ("automatic-speech-recognition", "object-detection"):
            assert str(media_models[task]) in ana["models run"], ana["models run"]


async def test_the_form_of_an_audio_or_image_model_asks_for_the_file(
    tmp_path: Path,
    model_worker: WorkerProcess,
    tiny_model_dir: Path,
    media_models: dict[str, Path],
    media_files: dict[str, Path],
) -> None:
    """The Run button of a model's page (or /run model:<id> alone) opens a form whose one
    field takes the file; submitting it runs the model on that file."""
    vision = media_models["image-classification"]
    async with media_bot(tmp_path, model_worker, tiny_model_dir, media_models) as bot:
        form = await bot.run(f"/run model:{vision}")
        assert isinstance(form, Modal), as_plain_text(form)
        (field,) = form.fields
        assert field.name == "file" and field.upload and "4096" in field.label
        assert form.submit_action == f"/run model:{vision}"
        assert (
            form.fallback == f"Attach your image to the command: /run model:{vision} file:<cat.jpg>"
        )
        speech = await bot.run("/run task:automatic-speech-recognition")
        assert isinstance(speech, Modal) and speech.fields[0].upload
        assert "30 s" in speech.fields[0].label
        job = await submitted_job(bot, form, {"file": str(media_files["photo.png"])})
        await bot.idle()
        result = bot.outbox.final(job)
        assert isinstance(result, Card), as_plain_text(result)
        assert (await bot.jobs())[job].state == "succeeded"
