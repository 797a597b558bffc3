"""`classbot console` runs /imagine end to end in its own processes (bot + model worker)
and saves the PNG under --out, printing its path."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

from tests.support import image_fixtures
from tests.support.cli import run_classbot

tiny_image_model = image_fixtures.tiny_image_model


def test_console_saves_the_image_and_prints_its_path(
    tmp_path: Path, tiny_image_model: Path
) -> None:
    env = {
        **os.environ,
        "CLASSBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "CLASSBOT_IMAGE_MODEL": str(tiny_image_model),
    }
    # 256×256 is the largest size the tiny model makes quickly (~1-2.5 s on a busy CPU).
    result = run_classbot(
        "console",
        "--out",
        str(tmp_path / "out"),
        input='/imagine prompt:"a red fox" steps:4 seed:7 size:256\n',
        env=env,
        cwd=tmp_path,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "0/4 starting (job 1)" in out  # then progress, coalesced to one line a second
    assert "[imagine-1-seed7.png] “a red fox” · tiny-sd" in out
    saved = Path(out.split("saved: ", 1)[1].splitlines()[0])
    assert saved.parent == (tmp_path / "out").resolve() and saved.suffix == ".png"
    with Image.open(saved) as image:
        assert image.format == "PNG" and image.size == (256, 256)
        assert image.info["seed"] == "7"
