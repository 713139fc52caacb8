"""From trained tables to a model folder: the contract's `query`, `target` and `bias`, plus plots.

The engine scores candidate c for a reader who liked works L as

    score(c | L) = mean(query[L]) @ target[c] + bias[c]

and wants an estimate of how likely such a reader likes c, popularity included (the rarity
settings take popularity out again where asked, so it must be in the score to begin with).

Both models are trained with negatives drawn from a sampler P_neg, k per positive. The logistic
loss is minimised at logit(x, c) = log P(c | x) - log(k * P_neg(c)), where x is the target work
(skipgram) or the reader (mf) and P(c | x) the chance that a positive drawn for x is c
(the word2vec/PMI argument of Levy & Goldberg 2014, with P_neg in place of the unigram
distribution). The learned logit lacks the popularity term that the sampler took out, so
the export adds it back:

- skipgram: logit = query[t] @ target[c] + b[c]; so query = query table, target = target table,
  bias = b + log(k * P_neg). Then score(c | L) = mean over t in L of log P(c | t).
  With log-uniform negatives, rare works are drawn as negatives far more often than their share
  of likes, so the model spends its capacity telling them apart; the bias restores their
  (small) prior at serving time and the rarity setting decides how much of it to keep.
- mf: logit = reader[u] @ target[c] + b[c] + reader_bias[u]. A chat user is no training
  reader, so a work's query vector is the mean vector of the readers who liked it (a reader
  of L is pictured as the average of L's readers); target = work table;
  bias = b + log(k * P_neg). The reader bias is a constant per reader and ranks nothing, so
  it is left out.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from engine.dataset import Dataset
from engine.modelfolder import write_model_folder

from .config import TrainConfig
from .model import MatrixFactorization, SkipGram
from .sampler import NegativeSampler, ReaderLikes

N_LABELLED = 20  # works named on map.png
MAP_POINTS = 20_000  # works drawn on map.png (a sample: more only smear the picture)
MF_CHUNK = 1 << 22  # likes per chunk when averaging reader vectors (bounds memory at 100M likes)


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


def plot_loss(history: dict, path: Path) -> Path:
    """Training loss per step, and validation hit-rate on a second axis when there is one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    steps, losses = zip(*history["loss"]) if history["loss"] else ((), ())
    ax.plot(steps, losses, color="tab:blue", label="training loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss per positive pair", color="tab:blue")
    if history.get("val"):
        right = ax.twinx()
        right.plot([v["step"] for v in history["val"]], [v["hit@20"] for v in history["val"]], "o-",
                   color="tab:orange", label="validation hit@20")
        right.set_ylabel("validation hit@20", color="tab:orange")
    ax.set_title("rarereads training")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_map(vectors: np.ndarray, titles: list[str], like_counts: np.ndarray, path: Path, seed: int = 0) -> Path:
    """2-D PCA of the works' vectors, the most-liked ones labelled (a sanity picture, not a metric)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labelled = np.argsort(-like_counts, kind="stable")[:N_LABELLED]
    rng = np.random.default_rng(seed)
    shown = rng.choice(len(vectors), size=min(MAP_POINTS, len(vectors)), replace=False)
    centre = vectors[shown].mean(0)
    _, _, axes = np.linalg.svd(vectors[shown] - centre, full_matrices=False)
    xy = (vectors - centre) @ axes[:2].T if len(axes) >= 2 else np.zeros((len(vectors), 2))
    fig, ax = plt.subplots(figsize=(9, 7), dpi=100)
    ax.scatter(xy[shown, 0], xy[shown, 1], s=2, color="0.75", linewidths=0)
    ax.scatter(xy[labelled, 0], xy[labelled, 1], s=14, color="tab:red")
    for i in labelled:
        title = titles[i] if len(titles[i]) <= 32 else titles[i][:31] + "…"
        ax.annotate(title, xy[i], fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_title("works' query vectors, first two principal components")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_fans(indptr: np.ndarray, indices: np.ndarray, n_works: int, folder: Path) -> dict[str, Path]:
    """Readers of each work as CSR `.npy` files (memory-mapped by the engine, even at 100M likes)."""
    readers = np.repeat(np.arange(len(indptr) - 1, dtype=np.int32), np.diff(indptr))
    order = np.argsort(indices, kind="stable")  # likes are grouped by reader: readers stay sorted per work
    fans_indptr = np.zeros(n_works + 1, dtype=np.int64)
    np.cumsum(np.bincount(indices, minlength=n_works), out=fans_indptr[1:])
    paths = {"fans_indptr.npy": folder / "fans_indptr.npy", "fans_readers.npy": folder / "fans_readers.npy"}
    np.save(paths["fans_indptr.npy"], fans_indptr)
    np.save(paths["fans_readers.npy"], readers[order])
    return paths


def export_model_folder(out_dir: Path, *, dataset: Dataset, work_ids: np.ndarray, like_counts: np.ndarray,
                        vectors: tuple[np.ndarray, np.ndarray, np.ndarray], config: TrainConfig,
                        metrics: dict, history: dict,
                        reader_likes: tuple[np.ndarray, np.ndarray] | None = None) -> Path:
    """Write the model folder (atomically, via engine.modelfolder) and return its path.

    Args:
        work_ids: catalogue row -> work id in `dataset` (works with at least one training like).
        like_counts: training likes per catalogue row.
        vectors: numpy (query, target, bias) from `contract_vectors`.
        reader_likes: training likes as reader CSR (indptr, catalogue rows); written as the
            engine's "fans" (readers of each work) so reasons can count shared readers.
    """
    from dataclasses import asdict

    query, target, bias = (np.ascontiguousarray(v, dtype=np.float32) for v in vectors)
    if not all(np.isfinite(v).all() for v in (query, target, bias)):
        raise FloatingPointError("training diverged: the vectors hold NaN or infinity (try a lower --lr)")
    works = dataset.works.subset(work_ids)
    with tempfile.TemporaryDirectory(prefix="rarereads-plots-") as tmp:
        plots = {"loss.png": plot_loss(history, Path(tmp) / "loss.png"),
                 "map.png": plot_map(query, works.title, like_counts, Path(tmp) / "map.png", config.seed)}
        if reader_likes is not None:
            plots.update(write_fans(*reader_likes, len(works), Path(tmp)))
        return write_model_folder(out_dir, works=works, likes=np.asarray(like_counts, dtype=np.int64),
                                  query=query, target=target, bias=bias, config=asdict(config),
                                  metrics=metrics, data_fingerprint=dataset.fingerprint(), extra_files=plots)

