"""Batches drawn on the device: likes held as CSR tensors, negatives from a popularity-aware sampler.

Nothing here loops over pairs in Python: a step draws `batch_size` like positions at once,
gathers readers, contexts and negatives with tensor indexing, and never waits for the device,
so the same code feeds a 2-core laptop and an H100 with 100M likes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class ReaderLikes:
    """Training likes as CSR over readers, on the device.

    Attributes:
        indptr: int32 [n_readers + 1]; reader r's likes are `indices[indptr[r]:indptr[r + 1]]`.
        indices: int32 [n_likes] catalogue work ids, grouped by reader.
        row: int32 [n_likes] the reader of each position (saves a searchsorted per step).
    """

    indptr: torch.Tensor
    indices: torch.Tensor
    row: torch.Tensor

    @classmethod
    def from_csr(cls, indptr: np.ndarray, indices: np.ndarray, device: torch.device) -> "ReaderLikes":
        counts = np.diff(indptr)
        row = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
        as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.int32)).to(device)  # noqa: E731
        return cls(as_tensor(indptr), as_tensor(indices), as_tensor(row))

    @property
    def n_likes(self) -> int:
        return int(self.indices.shape[0])


class NegativeSampler:
    """Draws negative works; `probs` (float64 numpy, sums to 1) is what the export corrects for.

    - `log_uniform`: works ranked by training likes, most-liked first; rank r has probability
      log((r + 2) / (r + 1)) / log(N + 1) (Zipf-like). Drawn by inverting the CDF
      log(r + 2) / log(N + 1) in closed form, so no table is searched. Rare works are drawn far
      more often than under `unigram`, so their vectors are pushed apart from the crowd and get
      informative, which is what a rare-book recommender needs.
    - `unigram`: P(w) proportional to likes(w) ** alpha (word2vec); inverse CDF via searchsorted.
    - `uniform`: every work alike.
    """

    def __init__(self, kind: str, like_counts: np.ndarray, alpha: float, device: torch.device):
        self.kind = kind
        self.device = device
        counts = np.asarray(like_counts, dtype=np.float64)
        n = len(counts)
        self.n = n
        if kind == "log_uniform":
            # Stable sort: ties keep catalogue order, so the ranking (and the run) is reproducible.
            rank_to_work = np.argsort(-counts, kind="stable")
            ranks = np.arange(n, dtype=np.float64)
            probs = np.empty(n)
            probs[rank_to_work] = np.log((ranks + 2) / (ranks + 1)) / math.log(n + 1)
            self.rank_to_work = torch.from_numpy(rank_to_work.astype(np.int64)).to(device)
            self.log_n1 = math.log(n + 1)
        elif kind == "unigram":
            weights = counts ** alpha
            probs = weights / weights.sum()
            cdf = np.cumsum(probs)
            cdf[-1] = 1.0
            self.cdf = torch.from_numpy(cdf).to(device)
        elif kind == "uniform":
            probs = np.full(n, 1.0 / n)
        else:
            raise ValueError(f"unknown sampler {kind!r}")
        self.probs = probs / probs.sum()

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        """int64 work ids of the given shape."""
        if self.kind == "uniform":
            return torch.randint(0, self.n, shape, generator=generator, device=self.device)
        # float64: in float32 the tail ranks of a multi-million catalogue would be unreachable.
        u = torch.rand(shape, generator=generator, device=self.device, dtype=torch.float64)
        if self.kind == "log_uniform":
            rank = (torch.exp(u * self.log_n1) - 1.0).long().clamp_(0, self.n - 1)
            return self.rank_to_work[rank]
        return torch.searchsorted(self.cdf, u, right=True).clamp_(max=self.n - 1)


def _negatives(negatives: NegativeSampler, rows: int, per_row: int, pool: int, generator: torch.Generator) -> torch.Tensor:
    """[pool] shared by the batch when pool > 0, else [rows, per_row]."""
    return negatives.sample((pool,) if pool else (rows, per_row), generator)


def sample_skipgram(likes: ReaderLikes, batch_size: int, contexts: int, negatives: NegativeSampler,
                    n_negatives: int, pool: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Targets, contexts from the same readers' likes, and negatives.

    Every reader in `likes` must have at least two likes, so a context can always avoid the
    target's own position (a work paired with itself teaches nothing).

    Returns:
        target int64 [B], context int64 [B, C], negative int64 [B, C * n_negatives] or [pool].
    """
    device = likes.indices.device
    pos = torch.randint(0, likes.n_likes, (batch_size,), generator=generator, device=device)
    reader = likes.row[pos].long()
    start = likes.indptr[reader].long()
    count = likes.indptr[reader + 1].long() - start
    # Uniform over the reader's other likes: draw from count - 1 slots, skip over the target's slot.
    draw = torch.rand((batch_size, contexts), generator=generator, device=device)
    slot = (draw * (count - 1).unsqueeze(1)).long()
    slot = torch.minimum(slot, (count - 2).unsqueeze(1))  # float rounding could reach count - 1
    slot += (slot >= (pos - start).unsqueeze(1)).long()
    target = likes.indices[pos].long()
    context = likes.indices[start.unsqueeze(1) + slot].long()
    return target, context, _negatives(negatives, batch_size, contexts * n_negatives, pool, generator)


def sample_mf(likes: ReaderLikes, batch_size: int, negatives: NegativeSampler, n_negatives: int, pool: int,
              generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Liked (reader, work) pairs drawn uniformly, with negatives for the same readers.

    Returns:
        reader int64 [B], work int64 [B], negative int64 [B, n_negatives] or [pool].
    """
    device = likes.indices.device
    pos = torch.randint(0, likes.n_likes, (batch_size,), generator=generator, device=device)
    reader = likes.row[pos].long()
    work = likes.indices[pos].long()
    return reader, work, _negatives(negatives, batch_size, n_negatives, pool, generator)
