"""Files that pass the cheap checks but that a model cannot run: refused before they queue
where the bot can tell (a clip too short for any model), and otherwise failing only their own
job, with words that say what to do (never the library's text, never "Something went wrong").
Phone photos are run and drawn the way up their EXIF tag says."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image as PILImage

from bot.inference.tasks import media
from bot.jobs.kinds.run import RUN
from bot.jobs.records import view
from bot.jobs.worker import WorkerProcess
from bot.replies import Error, Image, as_plain_text
from tests.media.conftest import media_bot
from tests.support.media_files import picture, tone_wav

# The EXIF orientation a phone held upright writes: the stored pixels are turned 90° left.
_TURNED_RIGHT = 6
_ORIENTATION = 0x0112


def _sideways_photo(width: int, height: int) -> bytes:
    """A JPEG stored `width`×`height` whose EXIF tag says to show it turned: height×width."""
    image = PILImage.open(io.BytesIO(picture(width, height)))
    exif = PILImage.Exif()
    exif[_ORIENTATION] = _TURNED_RIGHT
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


async def test_a_clip_too_short_for_any_model_is_refused_before_it_queues(
    tmp_path: Path,
    model_worker: WorkerProcess,
    tiny_model_dir: Path,
    media_models: dict[str, Path],
    media_files: dict[str, Path],
) -> None:
    folder = media_files["clip.wav"].parent
    (folder / "blip.wav").write_bytes(tone_wav(0.0005))
    (folder / "tenth.wav").write_bytes(tone_wav(0.1))
    async with media_bot(tmp_path, model_worker, tiny_model_dir, media_models) as bot:
        for task in ("automatic-speech-recognition", "audio-classification"):
            reply = await bot.run(f"/run task:{task} file:{folder / 'blip.wav'}")
            assert isinstance(reply, Error), as_plain_text(reply)
            assert reply.what == "blip.wav is 0.0005 s long; a model needs at least 0.1 s."
            assert reply.todo == "Attach a clip of at least 0.1 s."
        assert await bot.jobs() == {}
        shortest = {
            task: await bot.generate(f"/run task:{task} file:{folder / 'tenth.wav'}")
            for task in ("automatic-speech-recognition", "audio-classification")
        }
        await bot.idle()
        stored = await bot.jobs()
        assert {stored[job].state for job in shortest.values()} == {"succeeded"}


async def test_a_clip_the_model_cannot_run_fails_its_job_with_what_to_do(
    tmp_path: Path,
    model_worker: WorkerProcess,
    tiny_model_dir: Path,
    media_models: dict[str, Path],
    media_files: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A clip shorter than the speech model's first convolution, let through on purpose:
    torch's RuntimeError fails the job with a reply that says what to attach."""
    monkeypatch.setattr(media, "MIN_AUDIO_SECONDS", 0.0, raising=False)
    blip = media_files["clip.wav"].parent / "blip.wav"
    blip.write_bytes(tone_wav(0.0005))
    async with media_bot(tmp_path, model_worker, tiny_model_dir, media_models) as bot:
        job = await bot.generate(f"/run task:automatic-speech-recognition file:{blip}")
        await bot.idle()
        assert (await bot.jobs())[job].state == "failed"
        reply = bot.outbox.final(job)
        assert isinstance(reply, Error), as_plain_text(reply)
        assert reply.what == "tiny-asr could not run on blip.wav."
        assert reply.todo == "Attach another clip: a few seconds of speech or sound."


async def test_an_image_the_detector_cannot_take_fails_its_own_job_alone(
    tmp_path: Path,
    model_worker: WorkerProcess,
    tiny_model_dir: Path,
    media_models: dict[str, Path],
    media_files: dict[str, Path],
) -> None:
    """tiny-yolos resizes its longest side to 64 pixels: a 1:5 image's short side rounds to
    nothing and its processor raises, which would fail every job of the batch."""
    tall = media_files["photo.png"].parent / "tall.png"
    tall.write_bytes(picture(60, 300))
    files = [media_files["photo.png"], media_files["photo.jpg"], tall, media_files["photo.png"]]
    async with media_bot(tmp_path, model_worker, tiny_model_dir, media_models, start=False) as bot:
        jobs = [
            await bot.generate(f"/run task:object-detection file:{path}", user=f"s{n}")
            for n, path in enumerate(files)
        ]
        await bot.start()
        await bot.idle()
        stored = await bot.jobs()
        assert [stored[job].state for job in jobs] == ["succeeded"] * 2 + ["failed", "succeeded"]
        refused = bot.outbox.final(jobs[2])
        assert isinstance(refused, Error), as_plain_text(refused)
        assert refused.what == (
            "tall.png is 5 times as tall as it is wide: too narrow a shape for tiny-yolos."
        )
        assert refused.todo == "Crop it to at most 3:1 (a photo's shape), or attach another image."
        for job in (jobs[0], jobs[1], jobs[3]):
            assert isinstance(bot.outbox.final(job), Image), as_plain_text(bot.outbox.final(job))
            (out,) = RUN.result_of(view(stored[job])).outputs
            assert out.boxes and out.batch_rows == 1  # run alone, after the batch failed


def test_a_sideways_phone_photo_is_shipped_upright() -> None:
    small = media.prepare("image", "object-detection", "phone.jpg", _sideways_photo(96, 64))
    assert (small.width, small.height) == (64, 96)
    # A photo past SHIPPED_SIDE is shrunk and re-encoded without its tag: turned first.
    big = media.prepare("image", "object-detection", "big.jpg", _sideways_photo(2000, 1000))
    shipped = PILImage.open(io.BytesIO(big.data))
    assert shipped.size == (big.width, big.height) and big.height == media.SHIPPED_SIDE
    assert big.width < big.height


async def test_a_sideways_phone_photo_is_run_and_drawn_upright(
    tmp_path: Path,
    model_worker: WorkerProcess,
    tiny_model_dir: Path,
    media_models: dict[str, Path],
    media_files: dict[str, Path],
) -> None:
    phone = media_files["photo.jpg"].parent / "phone.jpg"
    phone.write_bytes(_sideways_photo(96, 64))
    async with media_bot(tmp_path, model_worker, tiny_model_dir, media_models) as bot:
        job = await bot.generate(f"/run task:object-detection file:{phone}")
        await bot.idle()
        reply = bot.outbox.final(job)
        assert isinstance(reply, Image), as_plain_text(reply)
        assert PILImage.open(io.BytesIO(reply.data)).size == (64, 96)
        (out,) = RUN.result_of(view((await bot.jobs())[job])).outputs
        assert out.boxes
        for box in out.boxes:  # placed on the upright image the model saw
            assert 0 <= box.x0 < box.x1 <= 64 and 0 <= box.y0 < box.y1 <= 96
