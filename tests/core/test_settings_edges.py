"""Edges of the set-up: an /imagine size limit the image core cannot make, and the model
libraries' notices in a worker's log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import IMAGE_SIZE_MAX, IMAGE_SIZE_STEP, ConfigError, load_settings
from bot.inference.image_limits import CLASS_SIZES, MAX_SIZE, MIN_SIZE, SIZE_STEP

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("value", ["300", "100", "1", "-64", "1088", "2048"])
def test_an_image_size_limit_the_image_core_cannot_make_stops_the_bot(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CLASSBOT_IMAGE_MAX_SIZE", value)
    with pytest.raises(ConfigError) as bad:
        load_settings(_env_file=None)
    said = str(bad.value)
    assert "CLASSBOT_IMAGE_MAX_SIZE: use 0 (auto) or a multiple of 64 up to 1024" in said
    assert "256, 384, 512 or 768" in said and f"(got '{value}')" in said


@pytest.mark.parametrize("value", ["0", "64", "256", "384", "512", "768", "1024"])
def test_image_size_limits_the_image_core_makes_are_taken(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CLASSBOT_IMAGE_MAX_SIZE", value)
    assert load_settings(_env_file=None).image_max_size == int(value)


def test_the_settings_check_sizes_as_the_image_core_does() -> None:
    # bot/config.py cannot import the inference layer: the two keep the same rule.
    assert (IMAGE_SIZE_STEP, IMAGE_SIZE_MAX) == (SIZE_STEP, MAX_SIZE)
    assert MIN_SIZE == SIZE_STEP
    for size in CLASS_SIZES:
        assert size % IMAGE_SIZE_STEP == 0 and size <= IMAGE_SIZE_MAX


# A worker's logging and runtime, then what the model libraries say while a model loads and
# runs: the torchvision notice (CLIP's image processor, on every /imagine start) and the tokenizer's
# "longer than the maximum" notice (every long input), besides warnings that must stay.
WORKER = """
import logging, sys
from bot.jobs.tasks import Runtime
from bot.jobs.wire import WorkerConfig
from bot.logs import WorkerLogging, setup_worker_logging
setup_worker_logging(WorkerLogging("WARNING", sys.argv[1] or None))
Runtime(WorkerConfig(device="cpu"), send=lambda _: None, cancelled=set())
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import CLIPImageProcessor, PreTrainedTokenizerFast
from transformers.utils import logging as transformers_logging
words = Tokenizer(models.WordLevel({"[UNK]": 0, "a": 1}, unk_token="[UNK]"))
words.pre_tokenizer = pre_tokenizers.Whitespace()
tokenizer = PreTrainedTokenizerFast(tokenizer_object=words, model_max_length=4)
tokenizer("a a a a a a a a")
transformers_logging.get_logger("transformers.modeling_utils").warning("a library warning")
logging.getLogger("bot.inference.manager").warning("our own warning")
"""


def _worker_logs(tmp_path: Path, log_file: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("CI", None)  # on CI transformers propagates its records already
    return subprocess.run(
        [sys.executable, "-c", WORKER, log_file],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )


def test_a_worker_keeps_the_model_libraries_repeated_notices_off_the_console(
    tmp_path: Path,
) -> None:
    done = _worker_logs(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Token indices sequence length" not in done.stderr
    assert "requires torchvision" not in done.stderr
    assert "[transformers]" not in done.stderr
    lines = done.stderr.splitlines()
    assert any(
        line.endswith("WARNING worker transformers.modeling_utils: a library warning")
        for line in lines
    ), done.stderr
    assert any(
        line.endswith("WARNING worker bot.inference.manager: our own warning") for line in lines
    ), done.stderr
    assert done.stdout == ""


def test_with_a_log_file_the_library_warnings_go_there_too(tmp_path: Path) -> None:
    log_file = tmp_path / "classbot.log"
    done = _worker_logs(tmp_path, str(log_file))
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and done.stdout == ""
    logged = log_file.read_text(encoding="utf-8")
    assert "transformers.modeling_utils: a library warning" in logged
    assert "bot.inference.manager: our own warning" in logged
    assert "Token indices" not in logged and "torchvision" not in logged
