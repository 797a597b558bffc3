"""The whole class in a terminal: the real `classbot console`, one process per person, all
on one SQLite file (as an instructor would try it before class)."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path


def classbot(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    """Start `classbot console ARGS` on the class database; feed it with .communicate()."""
    script = shutil.which("classbot", path=str(Path(sys.executable).parent))
    command = [script] if script else [sys.executable, "-m", "bot.cli"]
    env = {
        **os.environ,
        "CLASSBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'class.db'}",
        "CLASSBOT_OUT_DIR": str(tmp_path / "out"),
    }
    return subprocess.Popen(
        [*command, "console", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )


def output(process: subprocess.Popen[str], lines: str) -> str:
    stdout, stderr = process.communicate(lines, timeout=120)
    assert process.returncode == 0, stderr
    return stdout


def test_post_submit_twice_and_read_the_results_in_the_console(tmp_path: Path) -> None:
    instructor = ("--user", "teacher", "--role", "instructor")
    posted = output(
        classbot(tmp_path, *instructor),
        '/activity post title:"Models hub" minutes:10 Run a few models. What do you notice?\n',
    )
    assert "== Activity #1: Models hub ==" in posted
    assert "(in 10 minutes)" in posted and "[Submit: /activity form id:1]" in posted

    # Two students at the same time: two processes writing one SQLite file.
    ana, ben = classbot(tmp_path, "--user", "ana"), classbot(tmp_path, "--user", "ben")
    ana_out = output(ana, "/activity submit gpt2 is quick but rambles\n")
    ben_out = output(ben, '/activity submit id:1 answer:"neo stays on topic, café"\n')
    assert "Saved your answer to #1 Models hub" in ana_out
    assert "Saved your answer to #1" in ben_out

    shown = output(classbot(tmp_path, *instructor), "/activity results\n")
    assert "2 of 2 students submitted." in shown
    assert "gpt2 is quick but rambles" in shown and "neo stays on topic, café" in shown
    saved = [line.removeprefix("saved: ") for line in shown.splitlines() if "saved: " in line]
    (path,) = saved
    assert path.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8-sig"))))
    assert {row["user id"]: row["answer"] for row in rows} == {
        "ana": "gpt2 is quick but rambles",
        "ben": "neo stays on topic, café",
    }
