"""How many co-readers a `rare` pick needs: tail recall against the share of picks resting
on 0 or 1 co-readers, for support floors 0-3, on the README protocol's validation split
(a developer's tool, not a user command; the figures are in BENCHMARKS.md).

    python -m tools.floors [--dataset DIR] [--model elsa] [--floors 0,1,2,3]
"""
from __future__ import annotations

import argparse
import dataclasses
import json

from engine.dataset import Dataset
from engine.rarity import RARITIES

from evaluation.lists import evaluate_scorers
from evaluation.models import OurModels
from evaluation.protocol import make_split


def floors(dataset: Dataset, model: str = "elsa", values=(0, 1, 2, 3), seed: int = 0) -> dict[str, dict]:
    """Metrics (with support shares) of `model`'s defaults under `any` and `rare` at each floor."""
    split = make_split(*dataset.likes(), seed=seed)
    validation = split.validation(seed + 1)
    settings = [RARITIES["any"]] + [dataclasses.replace(RARITIES["rare"], name=f"rare, floor {n}", min_support=n)
                                    for n in values]
    scorer = OurModels(dataset).fit(model, validation, {})
    return evaluate_scorers({model: scorer}, validation, settings, support_shares=True)[model]


def main(argv: list[str] | None = None) -> int:
    from rarereads.paths import DEFAULT_DATASET

    parser = argparse.ArgumentParser(prog="python -m tools.floors", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default=DEFAULT_DATASET)
    parser.add_argument("--model", default="elsa")
    parser.add_argument("--floors", default="0,1,2,3")
    args = parser.parse_args(argv)
    values = [int(x) for x in args.floors.split(",") if x.strip()]
    for name, metrics in floors(Dataset.load(args.dataset), args.model, values).items():
        print(json.dumps({"setting": name, **{k: round(v, 4) for k, v in metrics.items()}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
