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

`build` (model and optimiser) and `train_step` (one batch of readers) are the step that
`fit`'s loop runs and that `rarereads bench` times.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

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


@dataclass
class Shelves:
    """The training readers' likes (and "not interested" marks) as CSR tensors on the device.

    Attributes:
        indptr, indices: int64; reader r's liked works are `indices[indptr[r]:indptr[r + 1]]`.
        neg_indptr, neg_indices: The same for marks, or None without any.
    """

    indptr: torch.Tensor
    indices: torch.Tensor
    neg_indptr: torch.Tensor | None = None
    neg_indices: torch.Tensor | None = None

    @classmethod
    def from_data(cls, data: TrainingData, device: torch.device) -> "Shelves":
        def on_device(array: np.ndarray | None, dtype=None) -> torch.Tensor | None:
            return None if array is None else torch.from_numpy(array if dtype is None else array.astype(dtype)).to(device)

        return cls(on_device(data.indptr), on_device(data.indices, np.int64), on_device(data.negative_indptr),
                   on_device(data.negative_indices, np.int64))


def build(config: TrainConfig, n_works: int, device: torch.device) -> tuple[ELSA, torch.optim.Optimizer]:
    """The model of `n_works` works on `device` (seeded by `config.seed`) and its Adam optimiser."""
    model = ELSA(n_works, config.dim, config.seed).to(device)
    return model, torch.optim.Adam(model.parameters(), lr=config.lr)


def train_step(model: ELSA, optimizer: torch.optim.Optimizer, shelves: Shelves, readers: torch.Tensor) -> torch.Tensor:
    """One step on a batch of readers: gather their likes and marks, loss, backward, Adam.

    Args:
        readers: int64 ids of the batch's readers, on the device.

    Returns:
        The batch's summed loss, detached and left on the device (reading it waits for the device).
    """
    row, col = _gather(shelves.indptr, shelves.indices, readers)
    neg_row = neg_col = None
    if shelves.neg_indices is not None and shelves.neg_indices.numel():
        neg_row, neg_col = _gather(shelves.neg_indptr, shelves.neg_indices, readers)
    loss = model(row, col, len(readers), neg_row, neg_col)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def fit(config: TrainConfig, data: TrainingData, device: torch.device, *, progress: bool = True,
        resume=None, checkpoint_dir=None, rank: int = 0, world: int = 1, fingerprint: str = "") -> Fitted:
    """Train ELSA on the readers of `data` (each has two or more likes) and return its vectors."""
    if resume is not None:
        raise ValueError("elsa trains in one go (minutes even at millions of works): --resume is for skipgram and mf")
    if world > 1:
        raise ValueError("elsa trains on one device; start it without torchrun")
    started = time.perf_counter()
    model, optimizer = build(config, data.n_works, device)
    shelves = Shelves.from_data(data, device)
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
        loss_sum += train_step(model, optimizer, shelves, readers)
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
