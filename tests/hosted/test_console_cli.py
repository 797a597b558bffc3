"""The real `classbot console` with CLASSBOT_BACKEND=hf against the stand-ins (the README's
transcript): /generate and /imagine answer, and the token shows nowhere, DEBUG log included."""

from __future__ import annotations

import os
from pathlib import Path

from tests.hosted.conftest import TOKEN
from tests.support.cli import run_classbot
from tests.support.providers_stub import ProvidersStub

REPO = Path(__file__).resolve().parents[2]
LINES = [
    '/generate prompt:"The Hub is" max_new_tokens:12 temperature:0.8 seed:4',
    '/imagine prompt:"a red fox in the snow" seed:7 size:256',
]


def run_console(tmp_path: Path, providers: ProvidersStub, log_file: Path) -> tuple[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CLASSBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'class.db'}",
        "CLASSBOT_OUT_DIR": str(tmp_path / "out"),
        "CLASSBOT_LOG_LEVEL": "DEBUG",
        "CLASSBOT_LOG_FILE": str(log_file),
        "CLASSBOT_BACKEND": "hf",
        "HF_TOKEN": TOKEN,
        "CLASSBOT_INFERENCE_URL": providers.url,
        "CLASSBOT_TEXT_MODEL": "classbot-test/chat-tiny",
        "CLASSBOT_IMAGE_MODEL": "classbot-test/draw-tiny",
    }
    done = run_classbot("console", env=env, cwd=tmp_path, input="\n".join(LINES) + "\n")
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


def test_console_generate_and_imagine_on_the_hf_backend(
    tmp_path: Path, providers: ProvidersStub
) -> None:
    log_file = tmp_path / "classbot.log"
    stdout, stderr = run_console(tmp_path, providers, log_file)
    assert "chat-tiny" in stdout and "Repetition" in stdout and "seed 4" in stdout
    assert "a red fox in the snow" in stdout and "256×256" in stdout
    assert list((tmp_path / "out").glob("*imagine-*-seed7.png"))
    logged = log_file.read_text(encoding="utf-8")
    assert "DEBUG" in logged
    for text in (stdout, stderr, logged):
        assert TOKEN not in text
