"""ELSA: a low-rank linear autoencoder of readers' likes (Vančura et al., RecSys 2022).

Each work has one vector, its row of `A` normalised to unit length (`Â`). A reader's likes
`x` (a 0/1 row over works) are reconstructed as `x̂ = x Â Âᵀ − x`: the `− x` removes each
work's own contribution (the diagonal of `Â Âᵀ` is exactly 1), so a work must be predicted
from the reader's *other* likes. The loss is ELSA's normalised reconstruction error,
`‖x/|x| − x̂/|x̂|‖² = 2 − 2 cos(x, x̂)`, summed over readers.

Served as in the model-folder contract: the query of a shelf is the sum (mean) of its rows
of `Â`, the candidates are `Â`'s rows, inner-product search.

No dense readers x works matrix is formed. With `z = x Â` (the reader's query, d numbers)
every term of the loss reduces to d-sized quantities:

    x · x̂ = |z|² − |x|²,    |x̂|² = z (ÂᵀÂ) zᵀ − 2 |z|² + |x|²

so a step costs O(likes · d + works · d²) (`ÂᵀÂ` is d x d), on a CPU or a GPU, at any
catalogue size. "Not interested" marks are targets of −1 for that reader: with `t` the
target, `t · x̂` and `|t|` gain the marked works' `z · Â_c` and their count.
"""
from __future__ import annotations

import logging
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .config import TrainConfig
from .data import Fitted, TrainingData

log = logging.getLogger(__name__)


class ELSA(torch.nn.Module):
    """The work table `A` (rows normalised when used)."""

    def __init__(self, n_works: int, dim: int, seed: int = 0):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        bound = math.sqrt(6.0 / (n_works + dim))  # Xavier-uniform, as ELSA's reference code
        self.A = torch.nn.Parameter((torch.rand(n_works, dim, generator=generator) * 2 - 1) * bound)

    def vectors(self) -> torch.Tensor:
        return F.normalize(self.A, dim=1)

    def forward(self, row: torch.Tensor, col: torch.Tensor, n_rows: int, neg_row: torch.Tensor | None = None,
                neg_col: torch.Tensor | None = None) -> torch.Tensor:
        """Summed loss of a batch of readers given as (row in batch, work) pairs of their likes.

        Args:
            row, col: int64 [nnz]: reader (0..n_rows-1) and work of each like.
            neg_row, neg_col: the same for "not interested" marks (targets of -1).
        """
        a = self.vectors()
        gram = a.T @ a  # [d, d]
        liked = a[col]  # [nnz, d]
        z = torch.zeros(n_rows, a.shape[1], device=a.device, dtype=a.dtype).index_add_(0, row, liked)
        per_like = (z[row] * liked).sum(1)  # z · Â_i for each liked i
        zz = torch.zeros(n_rows, device=a.device, dtype=a.dtype).index_add_(0, row, per_like)  # = |z|²
        xx = torch.bincount(row, minlength=n_rows).to(a.dtype)  # |x|²
        predicted = ((z @ gram) * z).sum(1) - 2 * zz + xx  # |x̂|²
        agree = zz - xx  # t · x̂ for t = x
        target_norm = xx
        if neg_row is not None and neg_row.numel():
            marked = (z[neg_row] * a[neg_col]).sum(1)  # x̂_c = z · Â_c (x_c = 0)
            agree = agree - torch.zeros_like(agree).index_add_(0, neg_row, marked)
            target_norm = target_norm + torch.bincount(neg_row, minlength=n_rows).to(a.dtype)
        cosine = agree / (target_norm.sqrt() * predicted.clamp_min(1e-9).sqrt())
        return (2 - 2 * cosine).sum()


def fit(config: TrainConfig, data: TrainingData, device: torch.device, *, progress: bool = True,
        resume=None, checkpoint_dir=None, rank: int = 0, world: int = 1, fingerprint: str = "") -> Fitted:
    """Train ELSA on the readers of `data` (each has two or more likes) and return its vectors."""
    if resume is not None:
        raise ValueError("elsa trains in one go (minutes even at millions of works): --resume is for skipgram and mf")
    if world > 1:
        raise ValueError("elsa trains on one device; start it without torchrun")
    started = time.perf_counter()
    model = ELSA(data.n_works, config.dim, config.seed).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    indptr = torch.from_numpy(data.indptr).to(device)
    indices = torch.from_numpy(data.indices.astype(np.int64)).to(device)
    neg_indptr = torch.from_numpy(data.negative_indptr).to(device) if data.negative_indptr is not None else None
    neg_indices = (torch.from_numpy(data.negative_indices.astype(np.int64)).to(device)
                   if data.negative_indices is not None else None)
    generator = torch.Generator(device="cpu").manual_seed(config.seed)
    n_readers = data.n_readers
    steps_per_epoch = max(1, math.ceil(n_readers / config.batch_size))
    total_steps = config.max_steps or max(1, math.ceil(config.epochs * steps_per_epoch))
    history: dict = {"loss": [], "val": []}
    bar = tqdm(total=total_steps, unit="step", disable=not progress, dynamic_ncols=True, mininterval=0.5)
    step, loss_sum, loss_readers = 0, torch.zeros((), device=device), 0
    order = torch.zeros(0, dtype=torch.int64)
    while step < total_steps:
        if step % steps_per_epoch == 0:
            order = torch.randperm(n_readers, generator=generator)
        first = (step % steps_per_epoch) * config.batch_size
        readers = order[first:first + config.batch_size].to(device)
        row, col = _gather(indptr, indices, readers)
        neg_row = neg_col = None
        if neg_indices is not None and neg_indices.numel():
            neg_row, neg_col = _gather(neg_indptr, neg_indices, readers)
        loss = model(row, col, len(readers), neg_row, neg_col)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach()
        loss_readers += len(readers)
        step += 1
        bar.update(1)
        if step % steps_per_epoch == 0 or step == total_steps:
            value = float(loss_sum) / max(1, loss_readers)  # one sync per epoch
            if not math.isfinite(value):
                raise FloatingPointError(f"loss is {value} at step {step}: training diverged (try a lower --lr)")
            history["loss"].append((step, value))
            bar.set_postfix_str(f"loss {value:.4f}")
            loss_sum.zero_()
            loss_readers = 0
    bar.close()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - started
    vectors = model.vectors().detach().float().cpu().numpy()
    metrics = {"train_seconds": round(elapsed, 2), "steps": step, "epochs": round(step / steps_per_epoch, 3),
               "final_loss": history["loss"][-1][1] if history["loss"] else None,
               "readers_per_second": round(step * config.batch_size / max(elapsed, 1e-9))}
    return Fitted(query=vectors, target=vectors, history=history, metrics=metrics)


def _gather(indptr: torch.Tensor, indices: torch.Tensor, readers: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(row in batch, work) of every like of `readers`, from the CSR (indptr, indices)."""
    start, count = indptr[readers], indptr[readers + 1] - indptr[readers]
    row = torch.repeat_interleave(torch.arange(len(readers), device=readers.device), count)
    position = torch.arange(int(count.sum()), device=readers.device) - torch.repeat_interleave(torch.cumsum(count, 0) - count, count)
    return row, indices[start[row] + position]
