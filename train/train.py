"""The trainer, top to bottom: data, device, model, loop, evaluation, export.

Run it through `rarereads train` (train/cli.py). For several GPUs start the same command with
`torchrun --nproc_per_node N -m rarereads train ...`: every rank draws its own batches (seed + rank)
and the gradients are averaged before each optimiser step.

Multi-GPU choice: the tables stay sparse (nn.Embedding(sparse=True) with SparseAdam or Adagrad)
and the ranks exchange their *uncoalesced* sparse gradients with an all-gather. Each table is
looked up exactly once per step with a fixed number of indices, so every rank's gradient has
the same shape and no sizes need agreeing first (no host sync). The result equals one step
with world_size times the batch. Traffic per step is proportional to the rows a batch
touches, not to the catalogue, which keeps multi-million-work tables cheap to train.
"""
from __future__ import annotations

import csv
import logging
import math
import os
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from engine.dataset import Dataset
from engine.normalize import work_key

from .config import TrainConfig
from .export import contract_vectors, export_model_folder
from .model import MatrixFactorization, SkipGram
from .sampler import NegativeSampler, ReaderLikes, sample_mf, sample_skipgram

log = logging.getLogger(__name__)
HIT_AT = 20  # validation: is the held-out work among the top HIT_AT?
EVAL_CHUNK = 256  # validation readers scored at once
# Settings that decide the data split or the tables' shapes: a resumed run must keep them.
FIXED_ON_RESUME = ("model", "dim", "like_threshold", "min_likes", "seed", "val_readers", "optimizer")


# ---------------------------------------------------------------------------------------- data

@dataclass
class TrainingData:
    """Likes ready for training, in catalogue numbering (numpy, host side)."""

    work_ids: np.ndarray  # int64 [n_works] catalogue row -> work id in the dataset
    indptr: np.ndarray  # int64 [n_readers + 1] CSR over training readers
    indices: np.ndarray  # int32 [n_likes] catalogue rows, grouped by reader
    like_counts: np.ndarray  # int64 [n_works] training likes per catalogue row (what the model learns from)
    catalogue_likes: np.ndarray  # int64 [n_works] every like but the validation ones, lone-like readers included
    val_reader: np.ndarray  # int64 [n_val] training reader whose like was held out
    val_work: np.ndarray  # int64 [n_val] the held-out work (catalogue row)
    stats: dict = field(default_factory=dict)

    @property
    def n_works(self) -> int:
        return len(self.work_ids)

    @property
    def n_readers(self) -> int:
        return len(self.indptr) - 1


def read_extra_likes(path: str | Path, dataset: Dataset) -> tuple[np.ndarray, np.ndarray, dict]:
    """Likes from a CSV with columns `reader,title,author` (e.g. shelves exported by an admin).

    Works are matched by `engine.normalize.work_key`; rows naming a work the dataset lacks are
    skipped and counted. Readers get new ids after the dataset's, so they never merge with one.

    Returns:
        (user, work) int64 arrays and counts {"rows", "matched", "unknown_works", "readers"}.
    """
    key_to_work: dict[str, int] = {}
    for i, (title, author) in enumerate(zip(dataset.works.title, dataset.works.author)):
        key_to_work.setdefault(work_key(title, author), i)
    first_new = int(max(dataset.n_users, int(dataset.user.max(initial=-1)) + 1))
    readers: dict[str, int] = {}
    users, works, rows, unknown = [], [], 0, 0
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"reader", "title", "author"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: extra likes need columns reader,title,author (missing {', '.join(sorted(missing))})")
        for row in reader:
            rows += 1
            work = key_to_work.get(work_key(row["title"] or "", row["author"] or ""))
            if work is None:
                unknown += 1
                continue
            users.append(readers.setdefault(row["reader"], first_new + len(readers)))
            works.append(work)
    stats = {"rows": rows, "matched": len(works), "unknown_works": unknown, "readers": len(readers)}
    return np.array(users, dtype=np.int64), np.array(works, dtype=np.int64), stats


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """`np.unique` of a 1-D integer array by sorting: numpy 2's plain `np.unique` hashes instead,
    20-70x slower at millions of values (221 s of data preparation at 100M likes, 10 s sorting)."""
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


def prepare_data(dataset: Dataset, config: TrainConfig, extra: tuple[np.ndarray, np.ndarray] | None = None) -> TrainingData:
    """Likes -> hold-out split -> filters -> catalogue numbering -> CSR.

    Validation holds out one like each of `val_readers` random readers with 3+ likes, and only
    likes whose work keeps other training likes, so every held-out work is in the catalogue.
    Skip-gram learns only from readers with 2+ training likes (a lone like has no context);
    the catalogue is the works with at least one like the model learns from.
    """
    user, work = (a.astype(np.int64) for a in dataset.likes(config.like_threshold))
    if extra is not None and len(extra[0]):
        user, work = np.concatenate([user, extra[0]]), np.concatenate([work, extra[1]])
    n_all_works = len(dataset.works)
    pair = _sorted_unique(user * n_all_works + work)  # one like per (reader, work), sorted by reader
    user, work = pair // n_all_works, pair % n_all_works
    if len(user) == 0:
        raise ValueError("the dataset has no likes at this like threshold")

    rng = np.random.default_rng(config.seed)
    reader_counts = np.bincount(user)
    reader_start = np.concatenate([[0], np.cumsum(reader_counts)])
    eligible = np.flatnonzero(reader_counts >= 3)
    chosen = np.sort(rng.choice(eligible, size=min(config.val_readers, len(eligible)), replace=False))
    held = reader_start[chosen] + rng.integers(0, reader_counts[chosen])
    work_counts = np.bincount(work, minlength=n_all_works)
    held_per_work = np.bincount(work[held], minlength=n_all_works)
    held = held[work_counts[work[held]] > held_per_work[work[held]]]
    train = np.ones(len(user), dtype=bool)
    train[held] = False

    def keep_readers_with_context() -> None:
        if config.model == "skipgram":
            counts = np.bincount(user[train], minlength=len(reader_counts))
            train[counts[user] < 2] = False

    keep_readers_with_context()
    if config.min_likes > 1:
        counts = np.bincount(work[train], minlength=n_all_works)
        train[counts[work] < config.min_likes] = False
        keep_readers_with_context()
    if not train.any():
        raise ValueError("no training likes left (too few readers with two or more likes?)")

    work_ids = _sorted_unique(work[train])
    reader_ids = _sorted_unique(user[train])
    row = np.searchsorted(work_ids, work)
    reader = np.searchsorted(reader_ids, user)
    in_catalogue = (row < len(work_ids)) & (work_ids[np.minimum(row, len(work_ids) - 1)] == work)
    in_training = (reader < len(reader_ids)) & (reader_ids[np.minimum(reader, len(reader_ids) - 1)] == user)
    held = held[in_catalogue[held] & in_training[held]]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(reader[train], minlength=len(reader_ids)))])
    stats = {"likes": int(len(user)), "train_likes": int(train.sum()), "val_likes": int(len(held)),
             "readers": int(len(reader_ids)), "works": int(len(work_ids)),
             "works_with_likes": int((work_counts > 0).sum())}
    # Served like counts (the rarity head, "N readers liked it") count every reader, also those
    # with one like whom skip-gram cannot learn from, so they match the data's own popularity.
    counted = in_catalogue.copy()
    counted[held] = False
    return TrainingData(work_ids=work_ids, indptr=indptr.astype(np.int64), indices=row[train].astype(np.int32),
                        like_counts=np.bincount(row[train], minlength=len(work_ids)).astype(np.int64),
                        catalogue_likes=np.bincount(row[counted], minlength=len(work_ids)).astype(np.int64),
                        val_reader=reader[held], val_work=row[held], stats=stats)


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


def average_gradients(model: torch.nn.Module, world: int) -> None:
    """Average gradients over ranks: sparse ones by all-gather (see the module docstring)."""
    for param in model.parameters():
        grad = param.grad
        if grad is None:
            continue
        if not grad.is_sparse:
            dist.all_reduce(grad)
            grad /= world
            continue
        index, value = grad._indices()[0], grad._values()
        all_index = index.new_empty((world * index.numel(),))
        all_value = value.new_empty((world * value.shape[0], *value.shape[1:]))
        gather = getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor  # renamed in torch 2.13
        gather(all_index, index.contiguous())
        gather(all_value, value.contiguous())
        # Duplicate rows are fine: the optimisers coalesce (sum) them, as for one big batch.
        param.grad = torch.sparse_coo_tensor(all_index.unsqueeze(0), all_value / world, grad.shape,
                                             check_invariants=False)


# -------------------------------------------------------------------------------- model, state

def positive_log_prior(config: TrainConfig, data: TrainingData) -> np.ndarray:
    """log of the chance that a positive drawn by the sampler is each work.

    mf draws likes uniformly, so it is likes(c) / likes. skipgram draws a target like uniformly
    and a context among the same reader's n - 1 other likes, so each of c's likes weighs
    n / (n - 1) for a reader with n likes.
    """
    counts = np.diff(data.indptr)
    weight = np.ones(len(data.indices))
    if config.model == "skipgram":
        weight = np.repeat(counts / np.maximum(counts - 1, 1), counts)
    mass = np.bincount(data.indices, weights=weight, minlength=data.n_works)
    return np.log(mass / mass.sum())


def build_model(config: TrainConfig, data: TrainingData, sampler: NegativeSampler) -> torch.nn.Module:
    """The model, its candidate biases starting where the popularity prior puts them.

    At the optimum, logit(x, c) = log P(c | x) - log(k * P_neg(c)) (see export.py). Starting the
    bias at log P(c) - log(k * P_neg(c)) makes the untrained model score by popularity, so the
    vectors only learn how a reader's taste moves P(c | x) away from P(c). Without it, rare works
    under log-uniform negatives need logits near +10 that Adam's small steps take many epochs to reach.
    """
    torch.manual_seed(config.seed)  # initial vectors are made on the CPU: the same on every device
    bias = torch.from_numpy(positive_log_prior(config, data) - np.log(config.negatives * sampler.probs)).float()
    if config.model == "skipgram":
        return SkipGram(data.n_works, config.dim, bias)
    return MatrixFactorization(data.n_readers, data.n_works, config.dim, bias)


def build_optimizer(config: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    if config.optimizer == "sparse_adam":
        return torch.optim.SparseAdam(list(model.parameters()), lr=config.lr)
    return torch.optim.Adagrad(model.parameters(), lr=config.lr)


def load_checkpoint(path: str | Path) -> dict:
    """A checkpoint written by `save_checkpoint` (tensors and plain values only, so weights_only)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def checkpoint_config(path: str | Path, overrides: dict | None = None) -> TrainConfig:
    """The config a checkpoint was trained with, `overrides` applied (fields that fix the data refuse to change)."""
    config = TrainConfig.from_dict(load_checkpoint(path)["config"])
    for name, value in (overrides or {}).items():
        if name in FIXED_ON_RESUME and value != getattr(config, name):
            raise ValueError(f"--{name.replace('_', '-')} cannot change on resume (checkpoint has {getattr(config, name)!r})")
        setattr(config, name, value)
    return config.validate()


def save_checkpoint(path: Path, *, config: TrainConfig, step: int, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer, generator: torch.Generator, history: dict,
                    data: TrainingData, fingerprint: str, train_seconds: float) -> Path:
    """Write atomically (a half-written checkpoint must never look resumable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"config": asdict(config), "step": step, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "generator": generator.get_state(), "history": history, "data_fingerprint": fingerprint,
             "work_ids": torch.from_numpy(data.work_ids), "train_seconds": train_seconds}
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------------------------- evaluation

@torch.no_grad()
def evaluate(query: torch.Tensor, target: torch.Tensor, bias: torch.Tensor, data: TrainingData,
             likes: ReaderLikes) -> dict:
    """Rank each held-out like among all works not already liked, by the served (contract) score.

    Returns:
        {"hit@20": share ranked in the top 20, "mean_rank_pct": mean rank as a share of the catalogue}.
    """
    device = query.device
    indptr, indices = likes.indptr.to(device).long(), likes.indices.to(device).long()
    val_reader = torch.from_numpy(data.val_reader).to(device)
    val_work = torch.from_numpy(data.val_work).to(device)
    ranks = []
    for s in range(0, len(val_reader), EVAL_CHUNK):
        reader, held = val_reader[s:s + EVAL_CHUNK], val_work[s:s + EVAL_CHUNK]
        start, count = indptr[reader], indptr[reader + 1] - indptr[reader]
        rows = torch.repeat_interleave(torch.arange(len(reader), device=device), count)
        first = torch.cumsum(count, 0) - count
        liked = indices[torch.arange(len(rows), device=device) - first[rows] + start[rows]]
        mean_query = torch.zeros(len(reader), query.shape[1], device=device).index_add_(0, rows, query[liked])
        scores = (mean_query / count.unsqueeze(1)) @ target.T + bias
        held_score = scores.gather(1, held.unsqueeze(1))
        scores[rows, liked] = -math.inf  # the reader's own shelf is never recommended back
        ranks.append((scores > held_score).sum(1))
    rank = torch.cat(ranks).double() if ranks else torch.zeros(0, dtype=torch.float64)
    if rank.numel() == 0:
        return {}
    return {"hit@20": float((rank < HIT_AT).double().mean()), "mean_rank_pct": float((rank / len(target)).mean())}


def popularity_baseline(data: TrainingData, likes: ReaderLikes) -> dict:
    """The same figures for "most liked first": a floor the model should beat."""
    counts = torch.from_numpy(data.like_counts).double().log1p()
    dim1 = torch.zeros(data.n_works, 1)
    return evaluate(dim1, dim1, counts.float(), data, ReaderLikes(likes.indptr.cpu(), likes.indices.cpu(), likes.row.cpu()))


# ---------------------------------------------------------------------------------------- train

def train(config: TrainConfig, dataset: Dataset, out_dir: str | Path, *, resume: str | Path | None = None,
          checkpoint_dir: str | Path | None = None, extra: tuple[np.ndarray, np.ndarray] | None = None,
          extra_stats: dict | None = None, progress: bool = True) -> Path | None:
    """Train, validate, checkpoint and write the model folder `out_dir`.

    Args:
        resume: checkpoint to continue from (its config should already be in `config`; see `checkpoint_config`).
        checkpoint_dir: where checkpoints go (default: `<out_dir's parent>/checkpoints/<out_dir's name>`).
        extra: extra (user, work) likes from `read_extra_likes`, with `extra_stats` for the manifest.
        progress: show the tqdm bar.

    Returns:
        The model folder's path on rank 0; None on other ranks.
    """
    config.validate()
    rank, world, local_rank = init_distributed()
    if config.threads:
        torch.set_num_threads(config.threads)
    device = resolve_device(config.device, local_rank)
    if config.cpu_embeddings and world > 1:
        raise ValueError("cpu_embeddings works on one GPU only (sparse gradients are exchanged on the GPUs)")
    out_dir = Path(out_dir)
    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else out_dir.parent / "checkpoints" / out_dir.name

    # Data: every rank builds the same split (same seed), then samples its own batches.
    data = prepare_data(dataset, config, extra)
    fingerprint = dataset.fingerprint()
    likes = ReaderLikes.from_csr(data.indptr, data.indices, device)
    sampler = NegativeSampler(config.sampler, data.like_counts, config.alpha, device)
    if rank == 0:
        log.info("%s likes: %s training, %s held out; %s readers, %s works; %s on %s x %s",
                 f"{data.stats['likes']:,}", f"{data.stats['train_likes']:,}", f"{data.stats['val_likes']:,}",
                 f"{data.n_readers:,}", f"{data.n_works:,}", config.model, world, device_name(device))

    # Model and optimiser; tables on the device unless asked to stay in (pinned) host memory.
    model = build_model(config, data, sampler)
    if config.cpu_embeddings and device.type == "cuda":
        for param in model.parameters():
            param.data = param.data.pin_memory()
    else:
        model.to(device)
    optimizer = build_optimizer(config, model)
    generator = torch.Generator(device=device)
    generator.manual_seed(config.seed + rank)
    step, train_seconds = 0, 0.0
    history: dict = {"loss": [], "val": []}
    if resume is not None:
        state = load_checkpoint(resume)
        if state["data_fingerprint"] != fingerprint or not np.array_equal(state["work_ids"].numpy(), data.work_ids):
            raise ValueError(f"{resume} was trained on other data (or other extra likes); it cannot continue here")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, train_seconds, history = state["step"], state["train_seconds"], state["history"]
        try:
            if world > 1:
                raise RuntimeError("each rank reseeds")
            generator.set_state(state["generator"])
        except RuntimeError:  # another device kind or world size: the stream cannot continue exactly
            generator.manual_seed(config.seed + rank + 7919 * step)
        if rank == 0:
            log.info("resumed %s at step %d", resume, step)

    # Loop bookkeeping: one epoch draws as many targets (or likes) as there are training likes.
    batch_size = config.batch_size
    steps_per_epoch = max(1, math.ceil(likes.n_likes / (batch_size * world)))
    total_steps = config.max_steps or max(1, math.ceil(config.epochs * steps_per_epoch))
    pairs_per_step = batch_size * (config.contexts if config.model == "skipgram" else 1) * world
    eval_every = config.eval_every or steps_per_epoch
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if config.amp and device.type == "cuda"
                else nullcontext())

    def draw():
        if config.model == "skipgram":
            return sample_skipgram(likes, batch_size, config.contexts, sampler, config.negatives,
                                   config.negative_pool, generator)
        return sample_mf(likes, batch_size, sampler, config.negatives, config.negative_pool, generator)

    def validate(at_step: int) -> dict:
        if not len(data.val_reader):
            return {}
        model.eval()
        figures = evaluate(*contract_vectors(model, likes, sampler, config), data, likes)
        model.train()
        history["val"].append({"step": at_step, **figures})
        return figures

    if rank == 0 and step == 0 and len(data.val_reader):
        history["popularity_baseline"] = popularity_baseline(data, likes)
    bar = tqdm(total=total_steps, initial=step, unit="step", disable=not progress or rank != 0,
               dynamic_ncols=True, mininterval=0.5)
    loss_sum, loss_steps = torch.zeros((), device=device), 0
    start_step, paused, last_checkpoint = step, 0.0, None
    started = time.perf_counter()
    while step < total_steps:
        batch = draw()
        with autocast:
            loss = model(*batch, k=config.negatives, weight_decay=config.weight_decay)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if world > 1:
            average_gradients(model, world)
        optimizer.step()
        loss_sum += loss.detach()  # stays on the device: no host sync per step
        loss_steps += 1
        step += 1
        bar.update(1)

        if step % config.log_every == 0 or step == total_steps:
            value = float(loss_sum / loss_steps)  # the one sync per log_every steps
            if not math.isfinite(value):
                raise FloatingPointError(f"loss is {value} at step {step}: training diverged (try a lower --lr)")
            history["loss"].append((step, value))
            loss_sum.zero_()
            loss_steps = 0
            rate = pairs_per_step * (step - start_step) / max(1e-9, time.perf_counter() - started - paused)
            bar.set_postfix_str(f"loss {value:.4f}, {rate:,.0f} pairs/s")
        if rank == 0 and (step % eval_every == 0 or step == total_steps):
            t = time.perf_counter()
            figures = validate(step)
            paused += time.perf_counter() - t
            if figures:
                bar.write(f"step {step}: validation hit@{HIT_AT} {figures['hit@20']:.4f}, "
                          f"mean rank {100 * figures['mean_rank_pct']:.2f}% of the catalogue")
        if rank == 0 and ((config.checkpoint_every and step % config.checkpoint_every == 0) or step == total_steps):
            t = time.perf_counter()
            path = checkpoint_dir / f"step-{step:08d}.pt"
            save_checkpoint(path, config=config, step=step, model=model, optimizer=optimizer, generator=generator,
                            history=history, data=data, fingerprint=fingerprint,
                            train_seconds=train_seconds + time.perf_counter() - started)
            if last_checkpoint is not None and last_checkpoint != path:
                last_checkpoint.unlink(missing_ok=True)  # keep the newest only: they are big
            last_checkpoint = path
            paused += time.perf_counter() - t
    bar.close()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - started
    if world > 1:
        dist.barrier()
    if rank != 0:
        return None

    # Export: the contract's vectors, metrics and plots into an atomically written model folder.
    query, target, bias = (t.float().cpu().numpy() for t in contract_vectors(model, likes, sampler, config))
    final_val = history["val"][-1] if history["val"] else {}
    steps_run = step - start_step
    metrics = {
        "final_loss": history["loss"][-1][1] if history["loss"] else None,
        "val_hit@20": final_val.get("hit@20"),
        "val_mean_rank_pct": final_val.get("mean_rank_pct"),
        "val_likes": int(len(data.val_reader)),
        "popularity_baseline": history.get("popularity_baseline", {}),
        "validation": history["val"],
        "train_seconds": round(train_seconds + elapsed, 2),
        "pairs_per_second": round(pairs_per_step * steps_run / max(1e-9, elapsed - paused)),
        "steps": step,
        "epochs": round(step / steps_per_epoch, 3),
        "device": device_name(device),
        "world_size": world,
        "data": data.stats,
        "extra_likes": extra_stats or {},
        "checkpoint": str(last_checkpoint) if last_checkpoint else None,
        "resumed_from": str(resume) if resume else None,
        "torch": torch.__version__,
    }
    path = export_model_folder(out_dir, dataset=dataset, work_ids=data.work_ids, like_counts=data.catalogue_likes,
                               vectors=(query, target, bias), config=config, metrics=metrics, history=history,
                               reader_likes=(data.indptr, data.indices))
    log.info("wrote %s (%.1f s training, %s pairs/s)", path, elapsed, f"{metrics['pairs_per_second']:,}")
    return path
