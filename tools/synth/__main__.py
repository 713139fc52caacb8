"""`python -m tools.synth`: write a synthetic dataset folder, or fit the curves to a real one."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from engine.dataset import Dataset

from . import __doc__ as PACKAGE_DOC
from .curves import curve_stats, fit_curve
from .generate import SynthConfig, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.synth", description=PACKAGE_DOC.splitlines()[0])
    parser.add_argument("--works", type=int, default=SynthConfig.works, help="number of works")
    parser.add_argument("--readers", type=int, default=SynthConfig.readers, help="number of readers")
    parser.add_argument("--likes", type=int, default=SynthConfig.likes, help="number of likes")
    parser.add_argument("--clusters", type=int, default=0, help="taste clusters (default: 2/3 sqrt(works))")
    parser.add_argument("--noise", type=float, default=SynthConfig.noise, help="share of likes outside a reader's clusters")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--out", type=Path, help="dataset folder to write")
    parser.add_argument("--fast-save", action="store_true", help="store ratings.npz uncompressed (same format, much faster)")
    parser.add_argument("--fit", type=Path, metavar="DATASET", help="only fit the curves to a dataset's likes and print them")
    args = parser.parse_args(argv)
    if args.fit:
        user, work = Dataset.load(args.fit).likes()
        for name, ids in (("popularity", work), ("activity", user)):
            counts = np.bincount(ids)
            curve = fit_curve(counts)
            print(f"{name}: {curve}\n  data: {curve_stats(counts)}\n  fit:  {curve_stats(curve.counts(int((counts > 0).sum()), int(counts.sum())))}")
        return 0
    if args.out is None:
        parser.error("--out is required (or --fit)")
    cfg = SynthConfig(args.works, args.readers, args.likes, args.clusters, args.noise, seed=args.seed)
    synth = generate(cfg)
    start = time.perf_counter()
    synth.save(args.out, compress=not args.fast_save)
    print(f"saved {args.out} in {time.perf_counter() - start:.1f} s")
    print(json.dumps({k: synth.stats[k] for k in ("likes", "paired_in_cluster_share", "popularity", "activity", "seconds")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
