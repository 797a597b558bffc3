"""/run's audio and image tasks on the hf backend: the console router with file:<path>, the
hosted guard, the engine and the real huggingface_hub client against the providers'
stand-in, which reads the file it was sent and answers in hf-inference's wire formats."""

from __future__ import annotations

import base64
import io
import json
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from PIL import Image as PILImage

from bot.inference.tasks import MEDIA_TASKS, setting_name
from bot.jobs.kinds.run import RUN, TaskOutput
from bot.jobs.records import view
from bot.replies import Card, Error, Image, as_plain_text
from tests.hosted.conftest import TOKEN, hosted_job_bot
from tests.jobs.support import JobBot
from tests.support.media_files import red_square, write_samples
from tests.support.providers_stub import SOUND_LABELS, ProvidersStub, Seen

# The class's model per task, as the tests set it (each one is in the Hub stand-in's records).
MEDIA_DEFAULTS = {
    "automatic-speech-recognition": "classbot-test/asr",
    "audio-classification": "classbot-test/sound",
    "image-classification": "classbot-test/vision",
    "object-detection": "classbot-test/detect",
    "image-to-text": "classbot-test/caption",
}


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return write_samples(tmp_path / "files")


@asynccontextmanager
async def media_bot(tmp_path: Path, stub: ProvidersStub, **overrides: Any) -> AsyncIterator[JobBot]:
    values = {setting_name(task): model for task, model in MEDIA_DEFAULTS.items()}
    values = {"max_queued_jobs_per_user": 20, **values, **overrides}
    async with hosted_job_bot(tmp_path, stub, **values) as bot:
        yield bot


def _output(stored: dict[int, Any], job: int) -> TaskOutput:
    (out,) = RUN.result_of(view(stored[job])).outputs
    return out


def _sent_file(seen: Seen) -> tuple[bytes, dict[str, Any]]:
    """The file as the provider got it: the raw body, or base64 `inputs` in a JSON body."""
    if isinstance(seen.body, bytes):
        return seen.body, {}
    return base64.b64decode(seen.body["inputs"]), seen.body["parameters"]


def _clip(data: bytes) -> tuple[int, int, float]:
    """(rate, channels, seconds) of a WAV clip."""
    with wave.open(io.BytesIO(data)) as clip:
        rate = clip.getframerate()
        return rate, clip.getnchannels(), clip.getnframes() / rate


async def test_every_media_task_runs_on_hf_inference_with_the_file(
    tmp_path: Path, providers: ProvidersStub, files: dict[str, Path]
) -> None:
    lines = {
        "automatic-speech-recognition": f"/run task:automatic-speech-recognition file:"
        f"{files['clip.wav']}",
        "audio-classification": f"/run task:audio-classification file:{files['stereo.wav']}",
        "image-classification": f"/run task:image-classification file:{files['photo.jpg']}",
        "object-detection": f"/run task:object-detection file:{files['photo.png']}",
        "image-to-text": f"/run task:image-to-text file:{files['photo.png']}",
    }
    assert set(lines) == set(MEDIA_TASKS)
    async with media_bot(tmp_path, providers) as bot:
        jobs = {task: await bot.generate(line) for task, line in lines.items()}
        # The task is found from the model's page too (no task: given).
        found = await bot.generate(f"/run model:classbot-test/asr file:{files['stereo.wav']}")
        await bot.idle(15)
        stored = await bot.jobs()
        outs = {task: _output(stored, job) for task, job in jobs.items()}
        replies = {task: bot.outbox.final(job) for task, job in jobs.items()}
        by_model = bot.outbox.final(found)
    sent = {task: providers.requests(f"/models/{m}") for task, m in MEDIA_DEFAULTS.items()}
    for task, reply in replies.items():
        assert outs[task].model.id == MEDIA_DEFAULTS[task]
        if task != "object-detection":
            assert isinstance(reply, Card), (task, as_plain_text(reply))
            assert reply.title.endswith(MEDIA_DEFAULTS[task].split("/")[1]), reply.title
            assert reply.fields[0].value.startswith(Path(lines[task].split("file:")[1]).name)

    # Speech: the clip as the bot prepared it (16 kHz mono WAV), sent raw (no parameters).
    (asr, stereo_asr) = sent["automatic-speech-recognition"]
    clip, params = _sent_file(asr)
    assert isinstance(asr.body, bytes) and params == {}
    assert _clip(clip) == (16_000, 1, 1.5)
    assert outs["automatic-speech-recognition"].text == "heard 1.5 seconds of sound"
    assert _clip(_sent_file(stereo_asr)[0]) == (16_000, 1, 1.0)  # 44.1 kHz stereo converted
    assert isinstance(by_model, Card) and by_model.title.startswith("speech recognition")
    assert by_model.description == "heard 1.0 seconds of sound"

    # Classification: base64 in JSON, since top_k rides along; labels best first, as locally.
    (sound,) = sent["audio-classification"]
    clip, params = _sent_file(sound)
    assert params == {"top_k": 5} and _clip(clip) == (16_000, 1, 1.0)
    scores = outs["audio-classification"].scores
    assert sorted(s.label for s in scores) == sorted(SOUND_LABELS)
    assert [s.score for s in scores] == sorted((s.score for s in scores), reverse=True)
    (vision,) = sent["image-classification"]
    image, params = _sent_file(vision)
    assert image == files["photo.jpg"].read_bytes()  # a small image travels as it was sent
    assert params == {"top_k": 5}
    colours = outs["image-classification"].scores
    assert sorted(s.label for s in colours) == ["blue", "green", "red"]
    assert abs(sum(s.score for s in colours) - 1) < 1e-3
    card = replies["image-classification"]
    assert isinstance(card, Card) and "▓" in card.description
    assert "86M parameters · license not stated" in (card.footer or "")

    # Detection: the threshold sent, boxes kept inside the image (the kite, wholly past its
    # edge, left out), and the picture drawn.
    (detect,) = sent["object-detection"]
    image, params = _sent_file(detect)
    assert image == files["photo.png"].read_bytes() and params == {"threshold": 0.5}
    boxes = outs["object-detection"].boxes
    assert [(b.label, b.score) for b in boxes] == [("apple", 0.93), ("grass", 0.7)]
    apple, grass = boxes
    assert (apple.x0, apple.y0, apple.x1, apple.y1) == red_square()
    assert grass.x1 == 96  # the provider's box ran past the right edge
    drawn = replies["object-detection"]
    assert isinstance(drawn, Image), as_plain_text(drawn)
    assert drawn.filename == "photo-boxes.png"
    shown = PILImage.open(io.BytesIO(drawn.data)).convert("RGB")
    assert shown.size == (96, 64)
    original = PILImage.open(files["photo.png"]).convert("RGB")
    # Outlines in the first and second box colours where the boxes are (the labels sit above
    # them); inside a box, the image as it was.
    assert original.getpixel((32, 25)) == (255, 0, 0) and shown.getpixel((32, 25)) == (230, 25, 75)
    assert original.getpixel((95, 55)) == (0, 128, 0) and shown.getpixel((95, 55)) == (60, 180, 75)
    assert shown.getpixel((40, 25)) == (255, 0, 0) and shown.getpixel((50, 55)) == (0, 128, 0)
    assert "apple  " in drawn.caption and "grass  " in drawn.caption
    assert "cloud" not in drawn.caption and "kite" not in drawn.caption
    assert "detect (size unknown · license not stated · " in drawn.caption

    # Image to text: the image sent raw; the caption's spacing made one space, as locally.
    (caption,) = sent["image-to-text"]
    assert caption.body == files["photo.png"].read_bytes()
    assert outs["image-to-text"].text == "a 96 by 64 picture, mostly green"
    card = replies["image-to-text"]
    assert isinstance(card, Card) and card.description == "a 96 by 64 picture, mostly green"


async def test_compare_runs_two_image_classifiers_at_once(
    tmp_path: Path, providers: ProvidersStub, files: dict[str, Path]
) -> None:
    providers.latency = 0.4
    async with media_bot(tmp_path, providers) as bot:
        job = await bot.generate(
            f"/run task:image-classification compare:classbot-test/vision-2 "
            f"file:{files['photo.png']}"
        )
        await bot.idle(15)
        card = bot.outbox.final(job)
        (stored,) = (await bot.jobs()).values()
    assert isinstance(card, Card), as_plain_text(card)
    assert card.title == "image classification: vision vs vision-2"
    first, second = card.fields
    assert (first.name, second.name) == ("vision", "vision-2")
    assert "86M parameters · license not stated" in first.value
    assert "size unknown · license mit" in second.value
    a, b = RUN.result_of(view(stored)).outputs
    assert a.scores != b.scores  # two models, two answers
    assert providers.most_in_flight == 2  # side by side, not one after the other
    assert all(o.seconds >= 0.4 for o in (a, b))
    sent = [_sent_file(s)[0] for s in providers.requests("/hf-inference/models/")]
    assert sent == [files["photo.png"].read_bytes()] * 2


async def test_models_no_provider_serves_for_the_task_are_refused_before_queueing(
    tmp_path: Path, providers: ProvidersStub, files: dict[str, Path]
) -> None:
    photo = files["photo.png"]
    async with media_bot(tmp_path, providers) as bot:
        unserved = await bot.run(f"/run model:classbot-test/vision-unserved file:{photo}")
        assert isinstance(unserved, Error), as_plain_text(unserved)
        assert "not served by any Inference Provider for image-classification" in unserved.what
        elsewhere = await bot.run(f"/run model:classbot-test/detect-elsewhere file:{photo}")
        assert isinstance(elsewhere, Error)
        assert "served as: fal-ai (text-to-image)" in elsewhere.what
        compare = await bot.run(
            f"/run task:image-classification compare:classbot-test/vision-unserved file:{photo}"
        )
        assert isinstance(compare, Error) and "vision-unserved" in compare.what
        # The task asked for must be the model's own.
        wrong = await bot.run(f"/run model:classbot-test/vision task:object-detection file:{photo}")
        assert isinstance(wrong, Error)
        assert "does image-classification, not object-detection" in wrong.what
        # A bad file is refused here too, before anything is sent.
        clip = await bot.run(f"/run task:image-to-text file:{files['clip.wav']}")
        assert isinstance(clip, Error) and "is an audio clip" in clip.what
        assert await bot.jobs() == {}
    assert providers.requests("/hf-inference/") == []


@pytest.mark.parametrize(
    ("task", "file", "status", "body", "expected"),
    [
        (
            "image-classification",
            "photo.jpg",
            503,
            json.dumps({"estimated_time": 20.0}).encode(),
            "classbot-test/vision is loading on Inference Providers (hf-inference) (about 20 s)",
        ),
        (
            "automatic-speech-recognition",
            "clip.wav",
            413,
            b'{"error": "Payload Too Large"}',
            "refused the input as too large for classbot-test/asr (413)",
        ),
        ("object-detection", "photo.png", 200, b'{"boxes": 3}', "answer I could not read"),
        ("image-to-text", "photo.png", 200, b"<html>oops</html>", "answer I could not read"),
    ],
)
async def test_a_fault_gets_a_plain_reply(
    tmp_path: Path,
    providers: ProvidersStub,
    files: dict[str, Path],
    task: str,
    file: str,
    status: int,
    body: bytes,
    expected: str,
) -> None:
    providers.fail(f"/models/{MEDIA_DEFAULTS[task]}", status, body=body)
    async with media_bot(tmp_path, providers) as bot:
        job = await bot.generate(f"/run task:{task} file:{files[file]}")
        await bot.idle(15)
        text = as_plain_text(bot.outbox.final(job))
        state = (await bot.jobs())[job].state
    assert expected in text, text
    assert "Something went wrong" not in text and TOKEN not in text
    assert state == "failed"
