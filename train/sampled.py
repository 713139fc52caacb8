"""Skip-gram and matrix factorisation: the sampled-negatives training loop both share.

Both models (train/model.py) score a (row, work) pair as `vector · target[work] + bias[work]`
and learn with binary cross-entropy against negatives from a popularity-aware sampler
(train/sampler.py). The loop supports checkpoints, `--resume` and several GPUs. One step is
`draw_batch` then `train_step` on what `build` made: `fit`'s loop and `rarereads bench` run it.

Multi-GPU choice: the tables stay sparse (nn.Embedding(sparse=True) with SparseAdam or Adagrad)
and the ranks exchange their *uncoalesced* sparse gradients with an all-gather. Each table is
looked up exactly once per step with a fixed number of indices, so every rank's gradient has
the same shape and no sizes need agreeing first (no host sync). The result equals one step
with world_size times the batch. Traffic per step is proportional to the rows a batch
touches, not to the catalogue, which keeps multi-million-work tables cheap to train.

Export: both losses are minimised at logit(x, c) = log P(c | x) - log(k * P_neg(c)), where x
is the target work (skipgram) or the reader (mf) and P(c | x) the chance that a positive drawn
for x is c (the word2vec/PMI argument of Levy & Goldberg 2014, with P_neg in place of the
unigram distribution). The learned logit lacks the popularity term the sampler took out, so
the export adds it back into the bias, `b + log(k * P_neg)`, and folds the bias into the
vectors (query `[q, 1]`, target `[t, b]`) so that the model-folder contract's plain inner
product `mean(query[L]) @ target[c]` is the whole score and the index searches it exactly:

- skipgram: query = the query table, target = the target table. Then the score of c for a
  reader of L is the mean over t in L of log P(c | t). With log-uniform negatives, rare works
  are drawn as negatives far more often than their share of likes, so the model spends its
  capacity telling them apart.
- mf: a chat user is no training reader, so a work's query vector is the mean vector of the
  readers who liked it (a reader of L is pictured as the average of L's readers); target = the
  work table. The reader bias is a constant per reader and ranks nothing, so it is left out.
"""
from __future__ import annotations

import logging
import math
import os
import time
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from .config import TrainConfig
from .data import Fitted, TrainingData
from .model import MatrixFactorization, SkipGram
from .sampler import NegativeSampler, ReaderLikes, sample_mf, sample_skipgram

log = logging.getLogger(__name__)
HIT_AT = 20  # validation: is the held-out work among the top HIT_AT?
EVAL_CHUNK = 256  # validation readers scored at once
MF_CHUNK = 1 << 22  # likes per chunk when averaging reader vectors (bounds memory at 100M likes)


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

    At the optimum, logit(x, c) = log P(c | x) - log(k * P_neg(c)) (module docstring). Starting the
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


def build(config: TrainConfig, data: TrainingData, sampler: NegativeSampler,
          device: torch.device) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    """The model on `device` (or in pinned host memory with `config.cpu_embeddings` on a GPU) and its optimiser."""
    model = build_model(config, data, sampler)
    if config.cpu_embeddings and device.type == "cuda":
        for param in model.parameters():
            param.data = param.data.pin_memory()
    else:
        model.to(device)
    return model, build_optimizer(config, model)


def autocast(config: TrainConfig, device: torch.device):
    """The context a step's forward pass runs in: bf16 autocast on CUDA with `config.amp`, else none."""
    return torch.autocast("cuda", dtype=torch.bfloat16) if config.amp and device.type == "cuda" else nullcontext()


def draw_batch(config: TrainConfig, likes: ReaderLikes, sampler: NegativeSampler,
               generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """One step's batch on the device: `config.batch_size` targets (or likes, for mf) with their negatives."""
    if config.model == "skipgram":
        return sample_skipgram(likes, config.batch_size, config.contexts, sampler, config.negatives,
                               config.negative_pool, generator)
    return sample_mf(likes, config.batch_size, sampler, config.negatives, config.negative_pool, generator)


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, batch: tuple[torch.Tensor, ...],
               config: TrainConfig, *, context=nullcontext(), world: int = 1) -> torch.Tensor:
    """One step on a batch from `draw_batch`: forward, backward, gradients averaged over ranks, update.

    Args:
        context: What the forward pass runs in (`autocast(config, device)`).
        world: Ranks training together (> 1: gradients are averaged first).

    Returns:
        The batch's mean loss, detached and left on the device (reading it waits for the device).
    """
    with context:
        loss = model(*batch, k=config.negatives, weight_decay=config.weight_decay)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if world > 1:
        average_gradients(model, world)
    optimizer.step()
    return loss.detach()


def load_checkpoint(path: str | Path) -> dict:
    """A checkpoint written by `save_checkpoint` (tensors and plain values only, so weights_only)."""
    return torch.load(path, map_location="cpu", weights_only=True)


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



def fit(config: TrainConfig, data: TrainingData, device: torch.device, *, progress: bool = True,
        resume: str | Path | None = None, checkpoint_dir: str | Path | None = None, rank: int = 0, world: int = 1,
        fingerprint: str = "") -> Fitted | None:
    """Train a skip-gram or an MF with sampled negatives; None on ranks other than 0.

    Args:
        resume: checkpoint to continue from (its config should already be in `config`).
        checkpoint_dir: where checkpoints go (None: no checkpoints, e.g. inside the evaluation).
        fingerprint: the dataset's fingerprint (a checkpoint resumes only on the same data).
    """
    if config.cpu_embeddings and world > 1:
        raise ValueError("cpu_embeddings works on one GPU only (sparse gradients are exchanged on the GPUs)")
    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    likes = ReaderLikes.from_csr(data.indptr, data.indices, device)
    sampler = NegativeSampler(config.sampler, data.like_counts, config.alpha, device)
    train_seconds = 0.0

    # Model and optimiser; tables on the device unless asked to stay in (pinned) host memory.
    model, optimizer = build(config, data, sampler, device)
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
    context = autocast(config, device)

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
        batch = draw_batch(config, likes, sampler, generator)
        loss_sum += train_step(model, optimizer, batch, config, context=context, world=world)  # no host sync
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
        if rank == 0 and checkpoint_dir is not None and (
                (config.checkpoint_every and step % config.checkpoint_every == 0) or step == total_steps):
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

    query, target, bias = (t.float().cpu().numpy() for t in contract_vectors(model, likes, sampler, config))
    query, target = fold_bias(query, target, bias)
    metrics = {
        "final_loss": history["loss"][-1][1] if history["loss"] else None,
        "popularity_baseline": history.get("popularity_baseline", {}),
        "train_seconds": round(train_seconds + elapsed, 2),
        "pairs_per_second": round(pairs_per_step * (step - start_step) / max(1e-9, elapsed - paused)),
        "steps": step,
        "epochs": round(step / steps_per_epoch, 3),
    }
    return Fitted(query=query, target=target, history=history, metrics=metrics,
                  checkpoint=str(last_checkpoint) if last_checkpoint else None)


def fold_bias(query: np.ndarray, target: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectors whose inner product is `query @ target + bias`: query gains a 1, target the bias."""
    n = len(query)
    return (np.hstack([query, np.ones((n, 1), np.float32)]).astype(np.float32),
            np.hstack([target, bias.reshape(-1, 1)]).astype(np.float32))


@torch.no_grad()
def contract_vectors(model: torch.nn.Module, likes: ReaderLikes, sampler: NegativeSampler,
                     config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(query [n, d], target [n, d], bias [n]) float32 on the tables' device, per the module docstring."""
    target = model.target.weight.detach().float()
    device = target.device
    log_prior = torch.from_numpy(np.log(config.negatives * sampler.probs)).to(device, torch.float32)
    bias = model.bias.weight.detach().float()[:, 0] + log_prior
    if isinstance(model, SkipGram):
        return model.query.weight.detach().float(), target, bias
    if not isinstance(model, MatrixFactorization):
        raise TypeError(f"cannot export {type(model).__name__}")
    readers = model.reader.weight.detach().float()
    query = torch.zeros_like(target)
    counts = torch.zeros(len(target), device=device)
    for start in range(0, likes.n_likes, MF_CHUNK):
        work = likes.indices[start:start + MF_CHUNK].to(device).long()
        row = likes.row[start:start + MF_CHUNK].to(device).long()
        query.index_add_(0, work, readers[row])
        counts.index_add_(0, work, torch.ones_like(work, dtype=torch.float32))
    return query / counts.clamp(min=1).unsqueeze(1), target, bias


