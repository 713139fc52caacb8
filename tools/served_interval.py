"""How sure a served comparison is: rarereads' served figures over EASE's, with intervals (a developer's tool).

    python -m tools.served_interval                      # README protocol, test split, `rare`
    python -m tools.served_interval --protocol new-readers \
        --chosen '{"elsa": {"colike_lambda": 50.0}, "ease": {"lambda": 100.0}}' --seeds 0,1,2

Both methods are trained on the split's training likes with their recorded choices
(`evaluation/chosen.json`), served reader by reader through `Engine.recommend` with every
list rule (`evaluation.served`, as `rarereads eval --served`), and each figure's ratio comes
with a 95% interval from resampling the readers (`evaluation.metrics.ratio_interval`): a
served hit is rare (a few hundred in all), so a ratio within its interval's width of a target
neither meets nor misses it. `--on validation` measures the validation split instead, where a
choice is made (the test split only reports it). `--seeds` pools several draws of the split
(new-readers holds out 970 readers a draw, too few to tell a 10% difference): each draw's models
are trained and served on their own, and the resamples draw from every draw's readers together.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

FIGURES = ("recall", "tail_recall", "pop_recall")


def main(argv: list[str] | None = None) -> int:
    from engine.dataset import Dataset
    from evaluation.metrics import ratio_interval, reader_metrics
    from evaluation.models import OurModels
    from evaluation.protocol import PROTOCOLS, SEED, make_split
    from evaluation.search import read_chosen
    from evaluation.served import ServedFolders, served_metrics
    from rarereads.paths import DEFAULT_DATASET

    parser = argparse.ArgumentParser(prog="python -m tools.served_interval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--protocol", choices=PROTOCOLS, default="readme")
    parser.add_argument("--method", default="elsa", help="rarereads' model compared with EASE (default: %(default)s)")
    parser.add_argument("--rarity", default="rare")
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--chosen", metavar="JSON", help="settings instead of the recorded ones, method -> settings")
    parser.add_argument("--on", choices=("test", "validation"), default="test",
                        help="the split measured: test, or the validation split carved from its training likes "
                             "(as `rarereads eval --on validation`: where choices are made)")
    parser.add_argument("--seeds", default=str(SEED), help="split seeds whose readers are pooled, comma-separated "
                        "(default: %(default)s, the evaluation's split)")
    args = parser.parse_args(argv)
    seeds = [int(x) for x in args.seeds.split(",")]
    logging.basicConfig(level=logging.WARNING)
    dataset = Dataset.load(args.dataset)
    chosen = {**read_chosen(args.protocol, dataset.fingerprint()), **(json.loads(args.chosen) if args.chosen else {})}
    missing = [m for m in (args.method, "ease") if m not in chosen]
    if missing:
        raise SystemExit(f"no recorded choices for {', '.join(missing)}: run `rarereads eval --tune` or give --chosen")
    per_method: dict = {name: [] for name in (args.method, "ease")}
    readers = 0
    for seed in seeds:
        split = make_split(*dataset.likes(), seed=seed, protocol=args.protocol)
        if args.on == "validation":
            split = split.validation(seed + 1)
        truth_row = np.searchsorted(split.readers, split.test_user)
        ours, folders = OurModels(dataset), ServedFolders(split, dataset)
        readers += len(split.readers)
        try:
            for name in per_method:
                folder, catalogue = folders.folder(name, chosen[name], ours)
                lists: dict = {}
                served_metrics(folder, split, catalogue, [args.rarity], lists=lists)
                per_method[name].append(reader_metrics(lists[args.rarity], truth_row, split.test_work,
                                                       split.train_likes()))
        finally:
            folders.close()
    per_method = {name: {figure: tuple(np.concatenate([draw[figure][i] for draw in draws]) for i in (0, 1))
                         for figure in FIGURES} for name, draws in per_method.items()}
    print(f"{args.method} served over EASE served, {args.protocol} protocol, {args.on} split, `{args.rarity}`, "
          f"split seed(s) {args.seeds}: {readers} readers, {args.resamples} resamples of the readers:")
    for figure in FIGURES:
        ours_values, ease_values = per_method[args.method][figure], per_method["ease"][figure]
        ratio, low, high = ratio_interval(ours_values, ease_values, args.resamples)
        mine, theirs = (float(v[w].mean()) for v, w in (ours_values, ease_values))
        print(f"  {figure}: {mine:.4f} / {theirs:.4f} = {ratio:.2f}x (95% interval {low:.2f}-{high:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
