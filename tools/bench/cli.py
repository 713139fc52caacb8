"""`rarereads bench`: its flags, and a run from the data to the report (see the package docstring).

Only the standard library, numpy and `engine` are imported at module level; each part imports
what it measures when it runs (the trainer's part brings torch).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from engine.dataset import Dataset
from rarereads.paths import PROJECT_ROOT

from ..natural_queries import natural_queries
from .data import find_model, load_data, stand_in_vectors
from .hnsw import bench_hnsw
from .machine import machine_info
from .matcher import bench_matcher_only
from .queries import make_queries
from .report import append_report, matcher_report, report, trainer_report
from .serving import run_serving


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `rarereads bench` (the dispatcher `rarereads.cli` calls this, then `run`)."""
    parser.add_argument("--size", choices=("shipped", "300k", "2.8m", "tiny"), default="shipped",
                        help="catalogue size: the shipped Book-Crossing data or a synthetic one (default: shipped)")
    parser.add_argument("--data", type=Path, help="dataset folder to use instead of the size's (synthetic: with clusters.npy)")
    parser.add_argument("--model", type=Path, help="model folder whose vectors to use (default: newest on the same data, else stand-ins)")
    parser.add_argument("--cache", type=Path, default=PROJECT_ROOT / "var" / "bench", help="where synthetic datasets are kept")
    parser.add_argument("--queries", type=int, default=1000, help="matcher and recommend queries (default 1000)")
    parser.add_argument("--baseline-queries", type=int, default=5, help="queries for the brute-force rapidfuzz baseline")
    parser.add_argument("--train-steps", type=int, default=20, help="timed trainer steps (0: skip the trainer)")
    parser.add_argument("--train-shapes", default="4096x4",
                        help="skip-gram batch shapes, targets x contexts, comma-separated (Lit2Vec2's is 128x4; default 4096x4)")
    parser.add_argument("--elsa-batches", default="8192",
                        help="default model (ELSA): readers per step to time, comma-separated (default 8192; none: skip); "
                             "its co-like weights are timed once")
    parser.add_argument("--hnsw-sample", type=int, default=500, help="queries for HNSW recall and latency")
    parser.add_argument("--threads", type=int, default=-1, help="threads for the HNSW build (default: all cores)")
    parser.add_argument("--matcher-only", action="store_true",
                        help="measure the title matcher alone (build, save, load, latency, accuracy): no trainer, vectors or index")
    parser.add_argument("--trainer-only", action="store_true",
                        help="measure the trainer alone (data preparation, s/step and memory per shape): no index or serving")
    parser.add_argument("--output", type=Path, default=PROJECT_ROOT / "BENCHMARKS.md", help="file the run is appended to")
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to --output")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")


def run(args: argparse.Namespace) -> int:
    """Measure what the flags ask for, print the report and append it to `--output`."""
    command = _command_line(args)
    info = machine_info()
    dataset, clusters, data_folder = load_data(args)
    data = {"works": len(dataset.works), "readers": int(dataset.n_users), "likes": int(len(dataset.likes()[0])),
            "source": dataset.source or str(data_folder)}
    if args.matcher_only:
        figures = bench_matcher_only(dataset, args.queries, args.baseline_queries)
        return _publish(args, matcher_report(args.size, info, data, figures, command))
    trainer = _trainer(args, dataset)
    if args.trainer_only:
        return _publish(args, trainer_report(args.size, info, data, trainer, command))
    hnsw, serving = _index_and_serving(args, dataset, clusters, data)
    _publish(args, report(args.size, info, data, trainer, hnsw, serving, command))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "data": data, "trainer": trainer, "hnsw": hnsw,
                                         "serving": serving}, indent=2, default=str) + "\n")
    return 0


def _trainer(args: argparse.Namespace, dataset: Dataset) -> list[dict]:
    """The skip-gram shapes of `--train-shapes`, then ELSA's `--elsa-batches` and its co-like weights."""
    if args.train_steps <= 0:
        return []
    from .trainer import bench_elsa, bench_trainer

    shapes = [tuple(int(x) for x in shape.split("x")) for shape in args.train_shapes.split(",")]
    trainer = bench_trainer(dataset, args.train_steps, shapes)
    if args.elsa_batches.strip().lower() not in ("", "none", "0"):
        trainer += bench_elsa(dataset, args.train_steps, [int(b) for b in args.elsa_batches.split(",")])
    return trainer


def _index_and_serving(args: argparse.Namespace, dataset: Dataset, clusters: np.ndarray | None,
                       data: dict) -> tuple[dict, dict]:
    """HNSW over the vectors (a trained model's, else stand-ins written into a model folder), then
    the serving process on that folder; `data` gains a line saying which vectors."""
    from engine.modelfolder import load_model_folder, write_model_folder

    model = find_model(args, dataset)
    with tempfile.TemporaryDirectory(prefix="rarereads-bench-") as tmp:
        if model is not None:
            folder = load_model_folder(model, check_hashes=False)
            query, target = folder.query[folder.trained], folder.target[folder.trained]
            titles, authors, likes = list(folder.works.title), list(folder.works.author), folder.likes
            data["vectors"] = f"trained model {model.name} ({len(target):,} works x {folder.dim})"
            del folder
        else:
            titles, authors = dataset.works.title, dataset.works.author
            likes = np.bincount(dataset.likes()[1], minlength=len(dataset.works))
            query, target = stand_in_vectors(len(dataset.works), clusters)
            data["vectors"] = f"planted stand-ins ({'synthetic clusters' if clusters is not None else 'random clusters'}, no trained model)"
        threads = args.threads if args.threads > 0 else (os.cpu_count() or 1)
        hnsw, index = bench_hnsw(query, target, args.hnsw_sample, threads)
        hnsw.update(threads=threads, sample=min(args.hnsw_sample, len(query)))
        if model is None:
            start = time.perf_counter()
            model = write_model_folder(Path(tmp) / "model", works=dataset.works, likes=likes, query=query, target=target,
                                       config={"stand_in": True}, metrics={}, index=index,
                                       data_fingerprint=dataset.fingerprint())
            hnsw["folder_write_s"] = time.perf_counter() - start
        del query, target, index
        dropped: dict = {}
        queries = make_queries(titles, authors, args.queries, dropped=dropped)
        natural, missing = natural_queries(titles, authors, likes)
        del titles, authors  # the serving process reads its own catalogue
        serving = run_serving(model, queries + natural, args.baseline_queries)
        serving.update(left_out=sum(dropped.values()), natural_missing=missing)
    return hnsw, serving


def _command_line(args: argparse.Namespace) -> str:
    """The command as typed; when `rarereads.cli.main` was called with its own list (tests), the
    flags whose values differ from their defaults (this process's own arguments are another's)."""
    if sys.argv[1:2] == ["bench"]:
        return "rarereads bench " + " ".join(sys.argv[2:])
    parser = argparse.ArgumentParser(add_help=False)
    add_arguments(parser)
    words = ["rarereads", "bench"]
    for action in parser._actions:
        value = getattr(args, action.dest, action.default)
        if value != action.default:
            words += [action.option_strings[0]] + ([] if isinstance(value, bool) else [str(value)])
    return " ".join(words)


def _publish(args: argparse.Namespace, text: str) -> int:
    """Print the report and, unless `--no-append`, append it to `--output`."""
    print(text)
    if not args.no_append:
        append_report(args.output, text)
        print(f"appended to {args.output}")
    return 0
