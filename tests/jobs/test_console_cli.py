"""`classbot console` runs /generate end to end: its own worker process, the tiny model,
and the queued result printed before the console exits (App.wait_idle)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.cli import run_classbot


def test_console_generates_text_with_a_repetition_meter(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    env = {
        **os.environ,
        "CLASSBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "CLASSBOT_TEXT_MODEL": str(tiny_model_dir),
    }
    result = run_classbot(
        "console",
        input='/generate prompt:"Hello" seed:1 max_new_tokens:20\n',
        env=env,
        cwd=tmp_path,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "(job 1)" in out  # the immediate reply with the queue position
    assert f"== {tiny_model_dir.name} · 165K parameters ==" in out
    meter_line = out.split("Repetition:\n", 1)[1].splitlines()[0].strip()
    assert meter_line.endswith("%") and set(meter_line[:10]) <= {"▓", "░"}
    assert "seed 1" in out and "20 tokens" in out
