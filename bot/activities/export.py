"""The results of one activity as a CSV file that Excel, Numbers and Sheets open as-is.

UTF-8 with a byte-order mark (Excel otherwise guesses a legacy code page and garbles names),
one row per student, and every text cell guarded against formula injection: a student's
answer beginning with `=` must not run as a formula on the instructor's machine.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import tzinfo

from bot.activities.results import Model, Results

# OWASP's list: these start a formula (or, for tab and CR, hide one) in spreadsheet apps.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def params_label(params: int | None) -> str:
    """125_000_000 → 125M, 1_100_000_000 → 1.1B, 66_955_010 → 67M."""
    if not params:
        return ""
    for unit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if params >= unit:
            value = params / unit
            shown = f"{value:.0f}" if value >= 10 else f"{value:.2g}"
            return shown + suffix
    return str(params)


def models_label(models: Iterable[Model]) -> str:
    """`EleutherAI/gpt-neo-125m (125M); gpt2 (137M)`."""
    parts = []
    for model_id, params in models:
        size = params_label(params)
        parts.append(f"{model_id} ({size})" if size else model_id)
    return "; ".join(parts)


def filename(results: Results) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", results.activity.title.lower()).strip("-")[:40]
    return f"activity-{results.activity.id}-{slug or 'results'}.csv"


def to_csv(results: Results, tz: tzinfo) -> bytes:
    zone_name = results.activity.opens_at.astimezone(tz).strftime("%Z")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["name", "user id", f"submitted at ({zone_name})", "edits", "answer", "models run"]
    )
    for row in results.rows:
        submitted = (
            row.submitted_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
            if row.submitted_at
            else ""
        )
        writer.writerow(
            [
                safe_cell(row.name),
                safe_cell(row.user_id),
                submitted,
                row.edits if row.submitted_at else "",
                safe_cell(row.answer),
                safe_cell(models_label(row.models)),
            ]
        )
    return buffer.getvalue().encode("utf-8-sig")
