"""How fast is the card analyser, and what do real model cards cover? Prints one JSON object.

Runs bot.hub.cards.analyze_model_card over the 4,000 real model cards of the full recorded
Hub data's model_cards_corpus.jsonl (best of a few repeats) and reports, for each checklist
item, the share of cards where it is present and where it is only a placeholder. The corpus
is --corpus, else model_cards_corpus.jsonl in $CLASSBOT_HUBDATA or ../shared/hubdata beside
the checkout; without one the bench says so and skips (the repository keeps only a sample).

    .venv/bin/python bench/bench_cards.py [--repeats 3] [--corpus PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import HUBDATA_ENV, full_hubdata, skip  # noqa: E402
from bot.hub.cards import ModelItem, SectionStatus, analyze_model_card  # noqa: E402

CORPUS_FILE = "model_cards_corpus.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=None)
    args = parser.parse_args()
    hubdata = full_hubdata()
    corpus = args.corpus or (hubdata / CORPUS_FILE if hubdata else None)
    if corpus is None or not corpus.is_file():
        where = corpus or f"${HUBDATA_ENV} or ../shared/hubdata"
        skip("cards", f"no full card corpus at {where}: pass --corpus PATH")

    with corpus.open(encoding="utf-8") as handle:
        cards = [json.loads(line)["card"] for line in handle if line.strip()]

    timings, cpu = [], []
    for _ in range(max(1, args.repeats)):
        started, started_cpu = time.perf_counter(), time.process_time()
        reports = [analyze_model_card(card) for card in cards]
        timings.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    seconds = min(timings)

    counts = Counter((item.key, item.status) for r in reports for item in r.checklist)
    total = len(reports)
    sections = {
        str(key): {
            "present": round(counts[(str(key), SectionStatus.PRESENT)] / total, 4),
            "placeholder": round(counts[(str(key), SectionStatus.PLACEHOLDER)] / total, 4),
        }
        for key in ModelItem
    }
    print(
        json.dumps(
            {
                "cards": total,
                "seconds": round(seconds, 3),
                "seconds_all_repeats": [round(t, 3) for t in timings],
                # CPU time too: on a shared machine wall time includes waiting for a core.
                "cpu_seconds": round(min(cpu), 3),
                "cards_per_second": round(total / seconds, 1),
                "with_front_matter": round(sum(r.has_front_matter for r in reports) / total, 4),
                "yaml_errors": sum(r.metadata_error is not None for r in reports),
                "with_license": round(sum(r.license is not None for r in reports) / total, 4),
                "sections": sections,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
