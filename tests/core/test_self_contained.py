"""A plain clone passes its own tests: nothing under tests/ reads outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.hub_catalog import HUBDATA_DIR

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
_PARENTS = re.compile(r"\.parents\[(\d+)\]")
# A relative path that climbs out, or a folder named "shared" (CI has none beside the clone).
_OUTSIDE = re.compile(r"""\.\./|["']shared["']|/shared/""")


def _sources() -> list[Path]:
    here = Path(__file__).resolve()  # its own patterns and example would match
    return sorted(p for p in TESTS.rglob("*.py") if p.resolve() != here)


def test_no_test_file_reaches_above_the_repository() -> None:
    assert len(_sources()) > 20  # the glob really found the suite
    offenders: list[str] = []
    for path in _sources():
        relative = path.relative_to(REPO)
        # parents[k] is k + 1 folders up; parents[len(parts) - 1] is the repository root.
        top = len(relative.parts) - 1
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            climbs = [int(n) for n in _PARENTS.findall(code) if int(n) > top]
            if climbs or _OUTSIDE.search(code):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == []


def test_the_guard_sees_a_climb() -> None:
    # Built from parts, so that this file itself never reads as a climb out of the repo.
    climb = "parents" + "[3]"
    line = f'HUBDATA = Path(__file__).resolve().{climb} / "shared" / "hubdata"'
    assert _OUTSIDE.search(line) and int(_PARENTS.findall(line)[0]) > 2


def test_the_hub_data_is_in_the_repository_and_small() -> None:
    assert HUBDATA_DIR.resolve().is_relative_to(REPO)
    files = [p for p in HUBDATA_DIR.rglob("*") if p.is_file()]
    sizes = {p.relative_to(REPO).as_posix(): p.stat().st_size for p in files}
    assert (HUBDATA_DIR / "models.jsonl.gz") in files
    assert max(sizes.values()) < 1_000_000, sizes
    assert sum(sizes.values()) < 1_500_000
