"""`python -m tools.merges [BOOK-CROSSING FOLDER]`: how well editions are merged into works.

Measured on the labelled samples of candidate merges in `docs/merge-sample.tsv` (how they
were drawn and labelled: docs/MERGING.md). Each row is a pair of pre-merge works (sets of
Book-Crossing ISBNs), the sample and stratum it was drawn from, and a label, `same` or
`different`.
The rule merges a pair when all its ISBNs land in one work. Precision and recall are
stratum-weighted (each stratum's pairs stand for `stratum_pairs / drawn` candidates), so
they estimate the figures over all candidate pairs, not only over the sample.
"""
from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from engine.dataset import group_raw
from engine.editions import Grouping
from engine.loaders import RawData, load_bookcrossing

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE = PROJECT_ROOT / "docs" / "merge-sample.tsv"
DEFAULT_SOURCE = PROJECT_ROOT.parent / "shared" / "datasets" / "book-crossing"


def read_sample(path: Path = SAMPLE) -> list[dict]:
    """Rows of the labelled sample; `a_isbns` and `b_isbns` split into tuples."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    for row in rows:
        row["a_isbns"], row["b_isbns"] = tuple(row["a_isbns"].split("|")), tuple(row["b_isbns"].split("|"))
        row["stratum_pairs"] = int(row["stratum_pairs"])
    return rows


def evaluate(raw: RawData, rows: list[dict], grouping: tuple[Grouping, Counter] | None = None) -> dict:
    """Merge figures of the rule in `engine.editions` on `raw`, judged by the labelled `rows`.

    Returns per sample ("development", "held-out") the stratum-weighted precision and
    recall (None where the sample has no pair of that kind), the pairs merged, the wrong
    merges and the misses; and the works with a rating, by exact keys and merged.
    `grouping`: `group_raw(raw)` when the caller has it already.
    """
    grouping, ratings_of = grouping or group_raw(raw)
    listed = Counter(e.book_id for e in raw.editions)
    work_of = {}  # ISBNs the dump lists once ("0001" names several books)
    for w, (_, members) in enumerate(grouping.works):
        for i in members:
            if listed[raw.editions[i].book_id] == 1:
                work_of[raw.editions[i].book_id] = w
    samples: dict[str, dict] = {}
    for name in dict.fromkeys(row["sample"] for row in rows):
        chosen = [row for row in rows if row["sample"] == name]
        drawn = Counter(row["stratum"] for row in chosen)
        totals: dict[str, float] = defaultdict(float)
        figures = {"pairs": len(chosen), "merged_pairs": 0, "wrong": [], "missed": []}
        for row in chosen:
            weight = row["stratum_pairs"] / drawn[row["stratum"]]
            works = [{work_of[i] for i in row[side] if i in work_of} for side in ("a_isbns", "b_isbns")]
            merged, same = len(works[0] | works[1]) == 1, row["label"] == "same"
            figures["merged_pairs"] += merged
            totals["merged"] += weight * merged
            totals["same"] += weight * same
            totals["both"] += weight * (merged and same)
            if merged != same:
                figures["wrong" if merged else "missed"].append(row)
        unmerged = [row for row in chosen if row["stratum"] != "merged"]
        figures["precision"] = totals["both"] / totals["merged"] if totals["merged"] else None
        figures["recall"] = totals["both"] / totals["same"] if totals["same"] and unmerged else None
        samples[name] = figures
    # Works with a rating: by exact key (title key and normalised author), and merged.
    rated = {i for i, e in enumerate(raw.editions) if ratings_of[e.book_id]}
    exact = {(grouping.title_keys[i], grouping.author_keys[raw.editions[i].author]) for i in rated
             if grouping.title_keys[i]}
    return {"samples": samples, "works_exact_keys": len(exact),
            "works_merged": sum(1 for _, members in grouping.works if any(i in rated for i in members))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.merges", description=__doc__.split("\n\n")[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE, help="the Book-Crossing folder")
    parser.add_argument("--sample", type=Path, default=SAMPLE, help="the labelled sample (default: docs/merge-sample.tsv)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    figures = evaluate(load_bookcrossing(args.source), read_sample(args.sample))
    print(f"works with a rating: {figures['works_exact_keys']:,} by exact keys (title key and author), "
          f"{figures['works_merged']:,} merged")
    for name, sample in figures["samples"].items():
        recall = f", recall {sample['recall']:.3f}" if sample["recall"] is not None else ""
        print(f"{name} sample: {sample['pairs']} labelled pairs, {sample['merged_pairs']} merged; "
              f"precision {sample['precision']:.3f}{recall} (stratum-weighted)")
        for what in ("wrong", "missed"):
            for row in sample[what]:
                print(f"  {what}: {row['a_title']} / {row['a_author']}  ||  {row['b_title']} / {row['b_author']}")
    print(f"({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
