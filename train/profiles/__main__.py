"""`python -m train.profiles [DATASET]`: write DATASET/profile.tsv.gz; print the held-out accuracy."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

from engine import profiles as P
from engine.dataset import Dataset

from . import __doc__ as DOC
from .carry import carry, profile
from .labels import Labels, match_labels, read_labels
from .sources import Evidence
from .table import PROFILE_FILE, write_profile


def evaluate(dataset: Dataset, labels: Labels, sources: tuple[str, ...] | None = None) -> dict:
    """Accuracy of the carried profile on the `test` labels, fitted on the others alone."""
    fit_labels = labels.subset(~labels.test)
    test = labels.subset(labels.test)
    evidence = Evidence.of(dataset)
    genres, audience, weights = carry(evidence, fit_labels)
    predicted = np.argmax(genres[test.work], axis=1)
    right = (predicted == test.genre) | (predicted == test.genre2)
    fits = right | (P.AFFINITY[predicted, test.genre] >= P.NEIGHBOUR_FIT)
    group = np.array([g.group for g in P.GENRES])
    same_group = group[predicted] == group[test.genre]
    figures = {"test_works": int(len(test)), "genre_accuracy": float(right.mean()),
               "fits": float(fits.mean()), "group_accuracy": float(same_group.mean()),
               "audience_accuracy": float((np.argmax(audience[test.work], axis=1) == test.audience).mean()),
               "weights": weights}
    figures["by_sample"] = {s: {"works": int((test.sample == s).sum()), "genre_accuracy": float(right[test.sample == s].mean()),
                                "fits": float(fits[test.sample == s].mean())} for s in ("top", "tail")}
    figures["by_genre"] = {}
    for i, code in enumerate(P.CODES):
        truth, said = test.genre == i, predicted == i
        figures["by_genre"][code] = {"works": int(truth.sum()),
                                     "recall": float(right[truth].mean()) if truth.any() else None,
                                     "precision": float((right & said).sum() / said.sum()) if said.any() else None}
    figures["by_group"] = {name: {"works": int((group[test.genre] == name).sum()),
                                  "group_accuracy": float(same_group[group[test.genre] == name].mean())}
                           for name in dict.fromkeys(group)}
    return figures


def main(argv: list[str] | None = None) -> int:
    from rarereads.paths import DEFAULT_DATASET

    parser = argparse.ArgumentParser(prog="python -m train.profiles", description=DOC.split("\n\n")[0])
    parser.add_argument("dataset", nargs="?", type=Path, default=DEFAULT_DATASET, help="dataset folder")
    parser.add_argument("--no-write", action="store_true", help="measure only")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    dataset = Dataset.load(args.dataset)
    labels = match_labels(read_labels(), dataset.works)
    figures = evaluate(dataset, labels)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"labels matched: {len(labels):,} ({int(labels.test.sum())} kept out for the test)")
        print(f"held-out genre accuracy {figures['genre_accuracy']:.3f}, fits (same or neighbouring genre) "
              f"{figures['fits']:.3f}, group {figures['group_accuracy']:.3f}, audience {figures['audience_accuracy']:.3f}")
        for sample, f in figures["by_sample"].items():
            print(f"  {sample}: {f['works']} works, genre accuracy {f['genre_accuracy']:.3f}, fits {f['fits']:.3f}")
        print("  by group: " + ", ".join(f"{g} {f['group_accuracy']:.2f} ({f['works']})" for g, f in figures["by_group"].items()))
        print("  source weights: " + json.dumps(figures["weights"]["genre"]))
    if not args.no_write:
        table, summary = profile(dataset, labels)
        write_profile(args.dataset, dataset, table, {**summary, "test": {k: figures[k] for k in (
            "test_works", "genre_accuracy", "fits", "group_accuracy", "audience_accuracy")}})
        print(f"wrote {args.dataset / PROFILE_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
