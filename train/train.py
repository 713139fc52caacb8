"""The trainer, top to bottom: data, device, model, co-like weights, validation, export.

Run it through `rarereads train` (train/cli.py). The model comes from `train.registry`
(ELSA by default); each model's module holds its own loop. For several GPUs the sampled
models (skipgram, mf) start the same command with `torchrun --nproc_per_node N -m rarereads
train ...` (see train/sampled.py).
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from engine.dataset import Dataset
from engine.ranking import DEFAULT_FUSION, FolderScorer
from engine.rules import writer_codes

from .colike import fit_colike
from .config import TrainConfig
from .data import Fitted, TrainingData, prepare_data, read_extra_likes  # noqa: F401  (read_extra_likes: the CLI's)
from .export import export_model_folder
from .profiles import dataset_profile
from .registry import get_model

log = logging.getLogger(__name__)
HIT_AT = 20  # validation: is the held-out work among the top HIT_AT?
VAL_CHUNK = 256  # validation readers scored at once
PRIMARY = "val_hit@20"  # the manifest figure a retrain is judged on (metrics["primary"])
# Settings that decide the data split or the tables' shapes: a resumed run must keep them.
FIXED_ON_RESUME = ("model", "dim", "like_threshold", "min_likes", "seed", "val_readers", "optimizer")


# -------------------------------------------------------------------------------------- device

def init_distributed() -> tuple[int, int, int]:
    """(rank, world_size, local_rank); starts the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, 0
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0"))


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """The one place the device is chosen: "auto" takes this rank's GPU when there is one."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        name = f"cuda:{local_rank}"
    device = torch.device(name)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def checkpoint_config(path: str | Path, overrides: dict | None = None) -> TrainConfig:
    """The config a checkpoint was trained with, `overrides` applied (fields that fix the data refuse to change)."""
    from .sampled import load_checkpoint

    config = TrainConfig.from_dict(load_checkpoint(path)["config"])
    for name, value in (overrides or {}).items():
        if name in FIXED_ON_RESUME and value != getattr(config, name):
            raise ValueError(f"--{name.replace('_', '-')} cannot change on resume (checkpoint has {getattr(config, name)!r})")
        setattr(config, name, value)
    return config.validate()


# ---------------------------------------------------------------------------------- validation

def validate(data: TrainingData, fitted: Fitted, colike, scoring: dict, profile: np.ndarray | None = None,
             writers: np.ndarray | None = None) -> dict:
    """Rank each held-out like among all works the reader has not liked, in the served order
    (`engine.ranking.FolderScorer`, the evaluation's scorer: the engine's fusion and pools).

    Args:
        profile: The model rows' genre profiles (`engine.profiles`), for the genre term.
        writers: The model rows' `engine.rules.writer_codes`, for the author order.

    Returns:
        {"hit@20": share ranked in the top 20, "mean_rank_pct": mean rank as a share of the
        works}, or {} without validation likes.
    """
    if not len(data.val_reader):
        return {}
    from scipy.sparse import csr_matrix

    from engine.profiles import Profiles

    n = data.n_works
    shelves = csr_matrix((np.ones(len(data.indices), np.float32), data.indices, data.indptr), shape=(data.n_readers, n))
    weights = csr_matrix((colike[2], colike[1], colike[0]), shape=(n, n)) if colike is not None else None
    scorer = FolderScorer(fitted.query, fitted.target, np.ones(n, bool), weights, scoring, data.like_counts,
                          Profiles(profile) if profile is not None else None, shelves.T.tocsr(), writers)
    ranks = []
    for first in range(0, len(data.val_reader), VAL_CHUNK):
        readers = data.val_reader[first:first + VAL_CHUNK]
        held = data.val_work[first:first + VAL_CHUNK]
        result = scorer(readers, shelves[readers])
        if isinstance(result, tuple):  # fused candidates: a held-out work outside them ranks below them all
            ids, scores = result
            at = ids == held[:, None]
            held_score = np.where(at.any(axis=1), np.where(at, scores, -np.inf).max(axis=1), -np.inf)
        else:
            scores = result
            held_score = scores[np.arange(len(readers)), held]
        finite = np.isfinite(scores).sum(axis=1)
        ranks.append(np.where(np.isfinite(held_score), (scores > held_score[:, None]).sum(axis=1), finite))
    rank = np.concatenate(ranks).astype(np.float64)
    return {"hit@20": float((rank < HIT_AT).mean()), "mean_rank_pct": float((rank / n).mean())}


# ---------------------------------------------------------------------------------------- train

@dataclass(frozen=True)
class Parts:
    """What `train` fits before it writes a folder, fitted elsewhere with the same config and data."""

    fitted: Fitted
    colike: tuple | None  # (`fit_colike`'s table, its figures), or None without co-likes
    profile: np.ndarray  # the dataset's genre profiles (`dataset_profile`)


def fusion_settings(config: TrainConfig) -> dict:
    """A folder's `scoring`: the fusion and reshaping settings of `config`."""
    return {name: getattr(config, name) for name in DEFAULT_FUSION}


def train(config: TrainConfig, dataset: Dataset, out_dir: str | Path, *, resume: str | Path | None = None,
          checkpoint_dir: str | Path | None = None, extra: tuple[np.ndarray, np.ndarray] | None = None,
          extra_stats: dict | None = None, negatives: tuple[np.ndarray, np.ndarray] | None = None,
          progress: bool = True, parts: Parts | None = None) -> Path | None:
    """Train, validate and write the model folder `out_dir`.

    Args:
        resume: checkpoint to continue from (its config should already be in `config`; see `checkpoint_config`).
        checkpoint_dir: where checkpoints go (default: `<out_dir's parent>/checkpoints/<out_dir's name>`).
        extra: extra (user, work) likes from `read_extra_likes`, with `extra_stats` for the manifest.
        negatives: (user, work) "not interested" marks (same reader ids as `extra`).
        progress: show the tqdm bar.
        parts: the model, co-like weights and genre profiles already fitted with this config on
            this dataset (the evaluation's plain rows): written as they are, not fitted again.

    Returns:
        The model folder's path on rank 0; None on other ranks.
    """
    config.validate()
    spec = get_model(config.model)
    rank, world, local_rank = init_distributed()
    if world > 1 and not spec.distributed:
        raise ValueError(f"{spec.name} trains on one process; start it without torchrun")
    if resume is not None and not spec.resumable:
        raise ValueError(f"{spec.name} cannot --resume (it trains in one go); skipgram and mf can")
    if config.threads:
        torch.set_num_threads(config.threads)
    device = resolve_device(config.device, local_rank)
    out_dir = Path(out_dir)
    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else out_dir.parent / "checkpoints" / out_dir.name

    # Data: every rank builds the same split (same seed), then samples its own batches.
    data = prepare_data(dataset, config, extra, negatives)
    if rank == 0:
        log.info("%s likes: %s training, %s held out; %s readers, %s works (%s in the catalogue); %s on %s x %s",
                 f"{data.stats['likes']:,}", f"{data.stats['train_likes']:,}", f"{data.stats['val_likes']:,}",
                 f"{data.n_readers:,}", f"{data.n_works:,}", f"{data.stats['catalogue']:,}", spec.name, world,
                 device_name(device))

    # The model, then the co-like weights (any model can have them).
    if parts is not None:
        fitted = parts.fitted
    else:
        fitted = spec.fit(config, data, device, progress=progress, resume=resume, checkpoint_dir=checkpoint_dir,
                          rank=rank, world=world, fingerprint=dataset.fingerprint())
    if rank != 0:
        return None
    colike, scoring, colike_figures = None, {}, {}
    if parts is not None and config.colike:
        colike, colike_figures = parts.colike
        scoring = fusion_settings(config)
    elif config.colike:
        started = time.perf_counter()
        lone = data.catalogue_likes[data.rows] - data.like_counts  # likes of readers no model learns from
        colike, colike_figures = fit_colike(data.indptr, data.indices, data.n_works, neighbours=config.colike,
                                            lam=config.colike_lambda, min_likes=config.colike_min_likes,
                                            reader_cap=config.colike_reader_cap, seed=config.seed, device=device,
                                            lone_likes=np.maximum(lone, 0))
        scoring = fusion_settings(config)
        colike_figures["colike_seconds"] = round(time.perf_counter() - started, 2)

    # Validation as the engine scores, then the folder.
    profile = parts.profile if parts is not None else dataset_profile(dataset, dataset.folder)
    figures = validate(data, fitted, colike, scoring, profile[data.work_ids],
                       writer_codes([dataset.works.author[i] for i in data.work_ids]))
    if figures and progress:
        log.info("validation hit@%d %.4f, mean rank %.2f%% of %s works", HIT_AT, figures["hit@20"],
                 100 * figures["mean_rank_pct"], f"{data.n_works:,}")
    history = dict(fitted.history)
    if figures:  # the served order's figure is the last word (it replaces the loop's own at the same step)
        step = fitted.metrics.get("steps", 0)
        history["val"] = [v for v in history.get("val", []) if v.get("step") != step] + [{"step": step, **figures}]
    metrics = {
        **fitted.metrics,
        **colike_figures,
        "primary": PRIMARY,
        "val_hit@20": figures.get("hit@20"),
        "val_mean_rank_pct": figures.get("mean_rank_pct"),
        "val_likes": int(len(data.val_reader)),
        "validation": history.get("val", []),
        "device": device_name(device),
        "world_size": world,
        "data": data.stats,
        "extra_likes": extra_stats or {},
        "checkpoint": fitted.checkpoint,
        "resumed_from": str(resume) if resume else None,
        "torch": torch.__version__,
    }
    path = export_model_folder(out_dir, dataset=dataset, data=data, fitted=fitted, colike=colike, scoring=scoring,
                               config=config, metrics=metrics, history=history, profile=profile)
    log.info("wrote %s (%.1f s training)", path, metrics["train_seconds"])
    return path
