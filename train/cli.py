"""`rarereads train`: flags from TrainConfig's fields, then train/train.py does the work.

Only the standard library and light modules are imported here; torch is imported inside `run`.
"""
from __future__ import annotations

import argparse
import logging
import time
import types
import typing
from dataclasses import fields
from pathlib import Path

from rarereads.paths import DEFAULT_DATASET
from rarereads.settings import PathSettings, add_flags

from .config import OPTIMIZERS, SAMPLERS, TrainConfig
from .registry import MODELS

log = logging.getLogger(__name__)
CHOICES = {"model": tuple(MODELS), "sampler": SAMPLERS, "optimizer": OPTIMIZERS}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = TrainConfig()
    hints = typing.get_type_hints(TrainConfig)
    group = parser.add_argument_group("training settings (TrainConfig)")
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        hint = hints[f.name]
        default = getattr(defaults, f.name)
        per_model = {name: spec.defaults[f.name] for name, spec in MODELS.items() if f.name in spec.defaults}
        if default is None and per_model:
            default = ", ".join(f"{value} for {name}" for name, value in per_model.items())
        if f.name == "model":
            default = f"{default}; " + "; ".join(f"{name}: {spec.description}" for name, spec in MODELS.items())
        text = f"{f.metadata['help']} (default: {default})"
        # Flags default to None so that a resumed run can tell which settings were given.
        if hint is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=text)
            continue
        if isinstance(hint, types.UnionType):  # "float | None"
            hint = next(t for t in typing.get_args(hint) if t is not type(None))
        group.add_argument(flag, type=hint, default=None, choices=CHOICES.get(f.name),
                           metavar=None if f.name in CHOICES else f.name.upper(), help=text)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATASET,
                        help=f"dataset folder made by `rarereads prepare` (default: {DEFAULT_DATASET})")
    add_flags(parser, PathSettings, "models_dir")
    parser.add_argument("--out", type=Path, default=None, help="model folder to write (default: a new one in --models-dir)")
    parser.add_argument("--resume", type=Path, metavar="CHECKPOINT",
                        help="continue from a checkpoint (its settings apply; flags given here override some)")
    parser.add_argument("--extra-likes", type=Path, metavar="CSV",
                        help="more likes to learn from: a CSV with columns reader,title,author (unknown works are skipped)")
    parser.add_argument("--extra-negatives", type=Path, metavar="CSV",
                        help="readers' 'not interested' marks, same columns and reader names as --extra-likes "
                             "(elsa learns them as targets of -1; other models ignore them)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")


def config_overrides(args: argparse.Namespace) -> dict:
    """The TrainConfig fields given on the command line."""
    return {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name, None) is not None}


def default_out(models_dir: Path, model: str) -> Path:
    """models/<UTC time>-<model>, with -2, -3... for runs started in the same second (names sort by age)."""
    base = Path(models_dir) / f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{model}"
    path, n = base, 1
    while path.exists() or (path.parent / "checkpoints" / path.name).exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def run(args: argparse.Namespace) -> int:
    from engine.dataset import Dataset
    from engine.errors import DataFormatError
    from rarereads.settings import SettingsError, flag_values, read_settings

    from . import train as trainer  # torch comes in here

    try:
        models_dir = read_settings(PathSettings, **flag_values(args, PathSettings, "models_dir")).models_dir
    except SettingsError as exc:
        raise SystemExit(f"rarereads train: {exc}") from exc
    overrides = config_overrides(args)
    try:
        config = (trainer.checkpoint_config(args.resume, overrides) if args.resume
                  else TrainConfig(**overrides).validate())
    except (ValueError, OSError) as exc:
        raise SystemExit(f"rarereads train: {exc}") from exc
    try:
        dataset = Dataset.load(args.data)
    except DataFormatError as exc:
        raise SystemExit(f"rarereads train: {exc}") from exc
    extra, extra_stats, negatives, readers = None, None, None, {}
    try:
        if args.extra_likes:
            users, works, extra_stats = trainer.read_extra_likes(args.extra_likes, dataset, readers)
            extra = (users, works)
            log.info("extra likes from %s: %d rows, %d matched, %d unknown works skipped", args.extra_likes,
                     extra_stats["rows"], extra_stats["matched"], extra_stats["unknown_works"])
        if args.extra_negatives:
            users, works, negative_stats = trainer.read_extra_likes(args.extra_negatives, dataset, readers)
            negatives = (users, works)
            extra_stats = {**(extra_stats or {}), "negatives": negative_stats}
            log.info("'not interested' marks from %s: %d rows, %d matched", args.extra_negatives,
                     negative_stats["rows"], negative_stats["matched"])
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise SystemExit(f"rarereads train: {exc}") from exc
    out = args.out or default_out(models_dir, config.model)
    checkpoints = Path(models_dir if args.out is None else out.parent) / "checkpoints" / out.name
    try:
        path = trainer.train(config, dataset, out, resume=args.resume, checkpoint_dir=checkpoints, extra=extra,
                             extra_stats=extra_stats, negatives=negatives, progress=not args.no_progress)
    except ValueError as exc:
        raise SystemExit(f"rarereads train: {exc}") from exc
    if path is not None:
        from engine.modelfolder import read_manifest

        metrics = read_manifest(path).metrics
        print(f"model folder: {path}")
        rate = (f", {metrics['pairs_per_second']:,} pairs/s" if "pairs_per_second" in metrics
                else f", {metrics['readers_per_second']:,} readers/s" if "readers_per_second" in metrics else "")
        loss = f", final loss {metrics['final_loss']:.4f}" if metrics.get("final_loss") is not None else ""
        print(f"  {metrics['train_seconds']:.1f} s on {metrics['device']}{rate}{loss}")
        if metrics.get("colike_works"):
            print(f"  co-like weights: {metrics['colike_weights']:,} for {metrics['colike_works']:,} works "
                  f"({metrics['colike_seconds']:.1f} s)")
        if metrics.get("val_hit@20") is not None:
            print(f"  validation hit@20 {metrics['val_hit@20']:.4f}, mean rank "
                  f"{100 * metrics['val_mean_rank_pct']:.2f}% of {metrics['data']['works']:,} works")
        if metrics.get("checkpoint"):
            print(f"  checkpoint: {metrics['checkpoint']}")
    return 0
