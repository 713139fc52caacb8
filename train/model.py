"""The two models: skip-gram over readers' likes (default) and matrix factorisation.

Both score a (row, work) pair as `vector · target[work] + bias[work]` and learn with binary
cross-entropy against sampled negatives. Each table is looked up exactly once per step (positives
and negatives concatenated), which keeps every sparse gradient the same size on every rank; the
multi-GPU gradient exchange in train.py relies on that.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _lookup(table: nn.Embedding, index: torch.Tensor) -> torch.Tensor:
    """Rows of `table` on `index`'s device, wherever the table lives (see TrainConfig.cpu_embeddings)."""
    weight_device = table.weight.device
    if weight_device == index.device:
        return table(index)
    return table(index.to(weight_device)).to(index.device, non_blocking=True)


def _sampled_bce(row: torch.Tensor, positive: torch.Tensor, positive_bias: torch.Tensor,
                 negative: torch.Tensor, negative_bias: torch.Tensor, k: int) -> torch.Tensor:
    """Summed logistic loss of positives and their negatives, k negatives' worth per positive.

    Args:
        row: [B, d] one vector per batch row (a target work or a reader).
        positive: [B, C, d] and positive_bias [B, C]: candidates the row's reader liked.
        negative: either [B, C * k, d] (per-pair negatives, weight 1 each) or [P, d] (a pool
            shared by every row, each weighted C * k / P so that the expected weight a candidate
            gets as a negative, k * P_neg(c) per positive, is the same either way).
        negative_bias: [B, C * k] or [P].
    """
    n_positive = positive.shape[1]
    pos_logit = torch.einsum("bcd,bd->bc", positive, row).float() + positive_bias.float()
    if negative.dim() == 2:  # shared pool: one matrix product, cheap on CPU and tensor cores
        neg_logit = (row @ negative.T).float() + negative_bias.float()
        weight = n_positive * k / negative.shape[0]
    else:
        neg_logit = torch.einsum("bmd,bd->bm", negative, row).float() + negative_bias.float()
        weight = 1.0
    return -(F.logsigmoid(pos_logit).sum() + weight * F.logsigmoid(-neg_logit).sum())


def _candidates(table: nn.Embedding, bias: nn.Embedding, positive: torch.Tensor, negative: torch.Tensor):
    """Vectors and biases of positives [B, C] and negatives ([B, M] or [P]) from one lookup per table."""
    flat = torch.cat([positive.reshape(-1), negative.reshape(-1)])
    vectors, biases = _lookup(table, flat), _lookup(bias, flat).squeeze(-1)
    n = positive.numel()
    dim = vectors.shape[-1]
    pos_vec, neg_vec = vectors[:n].view(*positive.shape, dim), vectors[n:].view(*negative.shape, dim)
    return pos_vec, biases[:n].view(positive.shape), neg_vec, biases[n:].view(negative.shape)


def _init_bias(bias: nn.Embedding, values: torch.Tensor | None) -> None:
    """Start the candidate biases at `values` (see `train.sampled.build_model`), else at zero."""
    with torch.no_grad():
        if values is None:
            bias.weight.zero_()
        else:
            bias.weight.copy_(values.reshape(-1, 1))


def _squares(*tensors: torch.Tensor) -> torch.Tensor:
    return sum(t.float().pow(2).sum() for t in tensors)


class SkipGram(nn.Module):
    """Work-to-work skip-gram with negative sampling (Lit2Vec2's model for books).

    `query` vectors describe a work as something a reader liked, `target` vectors as a
    candidate; `bias` is a learned per-candidate offset (the export adds the sampler's
    log-probability to it, see export.py).
    """

    def __init__(self, n_works: int, dim: int, bias_init: torch.Tensor | None = None, sparse: bool = True):
        super().__init__()
        self.query = nn.Embedding(n_works, dim, sparse=sparse)
        self.target = nn.Embedding(n_works, dim, sparse=sparse)
        self.bias = nn.Embedding(n_works, 1, sparse=sparse)
        # word2vec's start: small random inputs, zero outputs (the outputs move first).
        nn.init.uniform_(self.query.weight, -0.5 / dim, 0.5 / dim)
        nn.init.zeros_(self.target.weight)
        _init_bias(self.bias, bias_init)

    def forward(self, target: torch.Tensor, context: torch.Tensor, negative: torch.Tensor, k: int,
                weight_decay: float = 0.0) -> torch.Tensor:
        """Mean loss per positive (target, context) pair, its negatives included.

        Args:
            target: [B] work ids; context: [B, C] works the same readers liked;
            negative: [B, C * k] per-pair negatives or [P] a shared pool; k: negatives per positive.
        """
        row = _lookup(self.query, target)
        pos, pos_bias, neg, neg_bias = _candidates(self.target, self.bias, context, negative)
        loss = _sampled_bce(row, pos, pos_bias, neg, neg_bias, k)
        if weight_decay:
            loss = loss + weight_decay * _squares(row, pos, pos_bias, neg, neg_bias)
        return loss / context.numel()


class MatrixFactorization(nn.Module):
    """Reader and work vectors with biases; a like is `reader · work + reader_bias + work_bias`."""

    def __init__(self, n_readers: int, n_works: int, dim: int, bias_init: torch.Tensor | None = None,
                 sparse: bool = True):
        super().__init__()
        self.reader = nn.Embedding(n_readers, dim, sparse=sparse)
        self.reader_bias = nn.Embedding(n_readers, 1, sparse=sparse)
        self.target = nn.Embedding(n_works, dim, sparse=sparse)
        self.bias = nn.Embedding(n_works, 1, sparse=sparse)
        nn.init.normal_(self.reader.weight, std=0.1 / dim ** 0.5)
        nn.init.normal_(self.target.weight, std=0.1 / dim ** 0.5)
        nn.init.zeros_(self.reader_bias.weight)
        _init_bias(self.bias, bias_init)

    def forward(self, reader: torch.Tensor, work: torch.Tensor, negative: torch.Tensor, k: int,
                weight_decay: float = 0.0) -> torch.Tensor:
        """Mean loss per like, its negatives included (shapes as in SkipGram.forward, with C = 1)."""
        row = _lookup(self.reader, reader)
        row_bias = _lookup(self.reader_bias, reader)  # [B, 1]: broadcasts over candidates
        pos, pos_bias, neg, neg_bias = _candidates(self.target, self.bias, work.unsqueeze(1), negative)
        # A shared pool's biases [P] become [B, P] with each row's reader bias.
        loss = _sampled_bce(row, pos, pos_bias + row_bias, neg, neg_bias + row_bias, k)
        if weight_decay:
            loss = loss + weight_decay * _squares(row, row_bias, pos, pos_bias, neg, neg_bias)
        return loss / reader.numel()
