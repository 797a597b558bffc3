"""The real `classbot console` with CLASSBOT_BACKEND=hf against the stand-ins (the README's
transcript): /generate and /imagine answer, and the token shows nowhere, DEBUG log included."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.hosted.conftest import TOKEN
from tests.support.cli import run_classbot
from tests.support.providers_stub import ProvidersStub

REPO = Path(__file__).resolve().parents[2]
LINES = [
    '/generate prompt:"The Hub is" max_new_tokens:12 temperature:0.8 seed:4',
    '/imagine prompt:"a red fox in the snow" seed:7 size:256',
]


def console_env(tmp_path: Path, providers: ProvidersStub, log_file: Path) -> dict[str, str]:
    return {
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


def run_console(tmp_path: Path, providers: ProvidersStub, log_file: Path) -> tuple[str, str]:
    env = console_env(tmp_path, providers, log_file)
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


RUN_LINES = [
    "/run task:text-classification I loved this lesson compare:classbot-test/sentiment-2",
    '/run task:question-answering Where does Ada live? context:"Ada lives in Paris with her cat."',
    "/run task:fill-mask The Hub is the [MASK] of machine learning",
]


def test_console_run_tasks_on_the_hf_backend(tmp_path: Path, providers: ProvidersStub) -> None:
    """The README's /run transcript: three tasks, one with compare, and no torch."""
    env = {
        **console_env(tmp_path, providers, tmp_path / "classbot.log"),
        "CLASSBOT_TEXT_CLASSIFICATION_MODEL": "classbot-test/sentiment",
        "CLASSBOT_QUESTION_ANSWERING_MODEL": "classbot-test/qa",
        "CLASSBOT_FILL_MASK_MODEL": "classbot-test/fill",
    }
    code = (
        "import sys, runpy; sys.argv = ['classbot', 'console'];\n"
        "try:\n    runpy.run_module('bot.cli', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('torch loaded:', 'torch' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        input="\n".join(RUN_LINES) + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    out = done.stdout
    assert "== text classification: sentiment vs sentiment-2 ==" in out, done.stderr
    assert "125M parameters · license apache-2.0" in out
    assert "Answer: Paris (score" in out and "**Paris**" in out
    assert "fills for [MASK]:" in out
    assert "Something went wrong" not in out and TOKEN not in out + done.stderr
    assert out.rstrip().endswith("torch loaded: False")


def test_a_hosted_bot_never_imports_torch(tmp_path: Path, providers: ProvidersStub) -> None:
    """The bot process runs hosted jobs without the model stack (seconds and memory saved)."""
    code = (
        "import sys, runpy; sys.argv = ['classbot', 'console'];\n"
        "try:\n    runpy.run_module('bot.cli', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('torch loaded:', 'torch' in sys.modules)"
    )
    env = console_env(tmp_path, providers, tmp_path / "classbot.log")
    done = subprocess.run(
        [sys.executable, "-c", code],
        input="\n".join(LINES) + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert "seed 4" in done.stdout and "256×256" in done.stdout, done.stderr
    assert done.stdout.rstrip().endswith("torch loaded: False")
