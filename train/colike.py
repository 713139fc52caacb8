"""Co-like weights: each work regressed on the works most often liked with it (sparse, local EASE).

EASE (Steck 2019) predicts a reader's like of work j from all their other likes with one
ridge regression per work, `b_j = (G + lambda I)^-1 G[:, j]` with `G = X^T X` (co-like
counts) and `b_jj = 0`; it needs the dense inverse of a works x works matrix, which does
not fit at millions of works. Here work j is regressed only on its `m` most co-liked
works S_j:

    b_j = (G[S_j, S_j] + lambda I)^-1 G[S_j, j]

a batch of small m x m systems (`torch.linalg.solve`), on the GPU when there is one, and
memory linear in the number of works (the co-like counts of the pairs it reads, the m
weights per work). On Book-Crossing it kept 97% of EASE's recall with m = 50; the default is
150, chosen on the validation split by served and plain recall (BENCHMARKS.md). Unlike an
embedding, it keeps the detail of which rare book goes with which. Most of its time is
reading the m(m - 1) / 2 co-like counts of each work's system from the sorted pair keys.

The weights are returned by source work (CSR: row l holds `b_j[l]` for the works j whose
support holds l), so a reader of works L is scored by adding the rows of L. Only works
with at least `min_likes` training likes take part (fewer likes make a regression of noise).
"""
from __future__ import annotations

import logging
import time

import numpy as np
import torch

log = logging.getLogger(__name__)

SOLVE_ENTRIES = 1 << 24  # gram entries of the systems solved at once (4096 works at 64 neighbours)
PAIR_BATCH = 1 << 22  # co-like pairs counted at once (bounds memory at 100M likes)
KEY32_WORKS = 46_340  # up to this many works a pair key a * n + b fits in 32 bits


def capped_likes(indptr: np.ndarray, indices: np.ndarray, eligible: np.ndarray, reader_cap: int,
                 seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Each reader's likes of eligible works, as (reader, compact work id) sorted by reader, and the count
    of eligible works. A reader with more than `reader_cap` such likes keeps a random sample of
    that many: a reader of thousands of books says little about any one pair and costs millions of pairs."""
    code = np.full(len(eligible), -1, np.int64)
    n = int(eligible.sum())
    code[eligible] = np.arange(n)
    readers = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    works = code[indices]
    keep = works >= 0
    readers, works = readers[keep], works[keep]
    order = np.lexsort((np.random.default_rng(seed).random(len(works)), readers))  # shuffled within readers
    readers, works = readers[order], works[order]
    starts = np.r_[0, np.flatnonzero(np.diff(readers)) + 1] if len(readers) else np.zeros(0, np.int64)
    sizes = np.diff(np.r_[starts, len(readers)])
    keep = np.arange(len(readers)) - np.repeat(starts, sizes) < reader_cap
    return readers[keep], works[keep], n


def colike_counts(readers: np.ndarray, works: np.ndarray, n: int,
                  device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Co-like counts among `n` works: sorted pair keys a * n + b (both orders, no diagonal) and counts."""
    starts = np.r_[0, np.flatnonzero(np.diff(readers)) + 1] if len(readers) else np.zeros(0, np.int64)
    sizes = np.diff(np.r_[starts, len(readers)])
    cumulative = np.cumsum(sizes * sizes)
    keys, values, first = [], [], 0
    while first < len(starts):
        budget = (cumulative[first - 1] if first else 0) + PAIR_BATCH
        last = max(first + 1, int(np.searchsorted(cumulative, budget, side="right")))
        chunk_keys = _pairs(works, starts[first:last], sizes[first:last], n, device)
        if chunk_keys.numel():
            unique, count = torch.unique(chunk_keys, return_counts=True)
            keys.append(unique)
            values.append(count)
        first = last
    if not keys:
        return torch.zeros(0, dtype=torch.int64, device=device), torch.zeros(0, device=device)
    unique, inverse = torch.unique(torch.cat(keys), return_inverse=True)
    total = torch.zeros(len(unique), dtype=torch.float32, device=device).index_add_(0, inverse, torch.cat(values).float())
    return unique, total


def _pairs(works: np.ndarray, starts: np.ndarray, sizes: np.ndarray, n: int, device: torch.device) -> torch.Tensor:
    """Keys a * n + b of every ordered pair a != b of works liked by one reader, for a run of readers."""
    sizes_t = torch.from_numpy(sizes).to(device)
    starts_t = torch.from_numpy(starts).to(device)
    w = torch.from_numpy(works).to(device)
    per = sizes_t * sizes_t
    reader = torch.repeat_interleave(torch.arange(len(sizes_t), device=device), per)
    offset = torch.arange(int(per.sum()), device=device) - torch.repeat_interleave(torch.cumsum(per, 0) - per, per)
    size = sizes_t[reader]
    i, j = offset // size, offset % size
    keep = i != j
    a = w[starts_t[reader[keep]] + i[keep]]
    b = w[starts_t[reader[keep]] + j[keep]]
    return a * n + b


def fit_colike(indptr: np.ndarray, indices: np.ndarray, n_works: int, *, neighbours: int, lam: float,
               min_likes: int, reader_cap: int, seed: int = 0, device: torch.device | str = "cpu",
               lone_likes: np.ndarray | None = None) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], dict]:
    """Co-like weights over model rows from the readers' CSR (see the module docstring).

    Args:
        lone_likes: Likes per model row from readers left out of `indptr` (one like each): they
            co-like nothing but belong in each work's own count, G[j, j], as in EASE.

    Returns:
        ((indptr [n_works + 1], target rows int32, weights float32), figures for the manifest).
    """
    started = time.perf_counter()
    device = torch.device(device)
    likes = np.bincount(indices, minlength=n_works)
    eligible = likes >= min_likes
    rows = np.flatnonzero(eligible)  # compact id -> model row
    readers, works, n = capped_likes(indptr, indices, eligible, reader_cap, seed)
    keys, counts = colike_counts(readers, works, n, device)
    own = np.bincount(works, minlength=n).astype(np.float32)
    if lone_likes is not None:
        own += np.asarray(lone_likes, np.float32)[rows]
    self_counts = torch.from_numpy(own).to(device)
    if n == 0 or len(keys) == 0:
        return _empty(n_works), {"colike_works": 0, "colike_weights": 0, "colike_seconds": 0.0}
    # Support of each work: its `neighbours` most co-liked works (rows of the symmetric counts).
    source, target = keys // n, keys % n
    m = neighbours
    order = torch.argsort(source * (int(counts.max()) + 1) + (int(counts.max()) - counts.long()), stable=True)
    source, target, counts_sorted = source[order], target[order], counts[order]
    starts = torch.searchsorted(source, torch.arange(n, device=device))
    rank = torch.arange(len(source), device=device) - starts[source]
    top = rank < m
    support = torch.full((n, m), -1, dtype=torch.int64, device=device)
    support[source[top], rank[top]] = target[top]
    weights = torch.zeros((n, m), device=device)
    # The gram matrices are symmetric with a known diagonal: only the pairs above it are looked up,
    # with 32-bit keys where they fit (half the memory a binary search reads).
    upper, lower = torch.triu_indices(m, m, offset=1, device=device)
    table = keys.to(torch.int32) if n <= KEY32_WORKS else keys
    batch = max(1, SOLVE_ENTRIES // (m * m))
    for first in range(0, n, batch):
        j = torch.arange(first, min(n, first + batch), device=device)
        s = support[j]  # [b, m]; -1 pads works with fewer co-liked works
        valid = s >= 0
        safe = torch.where(valid, s, torch.zeros_like(s))
        pairs = _lookup(table, counts, (safe[:, upper] * n + safe[:, lower]).to(table.dtype))
        pairs = torch.where(valid[:, upper] & valid[:, lower], pairs, torch.zeros_like(pairs))
        gram = torch.zeros((len(j), m, m), device=device)
        gram[:, upper, lower] = pairs
        gram[:, lower, upper] = pairs
        diagonal = torch.where(valid, self_counts[safe], torch.zeros_like(safe, dtype=torch.float32))
        gram = gram + torch.diag_embed(diagonal + lam)  # padded rows become lam * I: their weight is 0
        rhs = torch.where(valid, _lookup(table, counts, (safe * n + j[:, None]).to(table.dtype)),
                          torch.zeros_like(diagonal))
        weights[j] = torch.linalg.solve(gram, rhs.unsqueeze(-1)).squeeze(-1)
    # Back to model rows, by source: W[support[j, p], j] = weights[j, p].
    valid = support >= 0
    column = torch.arange(n, device=device)[:, None].expand(n, m)[valid]
    src, value = support[valid], weights[valid]
    order = torch.argsort(src * n + column)
    src, column, value = (t[order].cpu().numpy() for t in (src, column, value))
    source_rows = rows[src]
    out_indptr = np.zeros(n_works + 1, np.int64)
    np.cumsum(np.bincount(source_rows, minlength=n_works), out=out_indptr[1:])
    figures = {"colike_works": int(n), "colike_weights": int(len(value)), "colike_pairs": int(len(keys)),
               "colike_seconds": round(time.perf_counter() - started, 2)}
    log.info("co-like weights: %d works, %d weights (%d co-liked pairs) in %.1f s", n, len(value), len(keys),
             figures["colike_seconds"])
    return (out_indptr, rows[column].astype(np.int32), value.astype(np.float32)), figures


def _lookup(keys: torch.Tensor, values: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """values[keys == query] for each query key, 0 where a key is absent (keys sorted)."""
    flat = query.reshape(-1)
    at = torch.searchsorted(keys, flat).clamp_(max=len(keys) - 1)
    found = keys[at] == flat
    return torch.where(found, values[at], torch.zeros_like(values[at])).reshape(query.shape)


def _empty(n_works: int):
    return np.zeros(n_works + 1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32)
