"""How a model folder orders works for a reader: the dense order, the co-like order, their fusion.

A folder's embedding gives every work with a vector a dense score (`mean(query[L]) @
target[c]`); its co-like weights, when it has them, give the works co-liked with the
reader's books a second score (the sum of `W[l, c]` over the reader's books l). The two
live on unrelated scales, so they are fused by ranks (reciprocal-rank fusion): within
the works the rarity setting allows, each order's best `POOL` works get

    fused = (1 - weight) / (k + colike_rank) + weight / (k + dense_rank)

(a term is 0 for a work outside that order's pool), and the fused score orders the
candidates. The engine fuses its index hits and the co-like rows it reads; `rarereads
eval` fuses whole score matrices with the same functions, so both rank alike.
Numpy only.
"""
from __future__ import annotations

import numpy as np

from .rarity import POOL

DEFAULT_FUSION = {"fusion_weight": 0.35, "fusion_k": 20}


def pool_ranks(scores: np.ndarray, pool: int = POOL) -> np.ndarray:
    """1-based ranks of each row's best `pool` finite scores (ties by position); inf for the rest.

    Args:
        scores: `[b, n]` or `[n]` scores, `-inf` for works out of the running.
    """
    scores = np.asarray(scores, dtype=np.float64)
    ranks = np.full(scores.shape, np.inf)
    if scores.shape[-1] == 0:
        return ranks
    flat, out = scores.reshape(-1, scores.shape[-1]), ranks.reshape(-1, scores.shape[-1])
    ids, values = best_of(flat, pool)
    position = np.broadcast_to(np.arange(1, ids.shape[1] + 1, dtype=np.float64), ids.shape)
    np.put_along_axis(out, ids, np.where(np.isfinite(values), position, np.inf), axis=1)
    return ranks


def best_of(scores: np.ndarray, take: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, scores) `[b, take]` of each row's `take` best scores, best first (equal scores: lower id
    first); rows with fewer finite scores are padded with `-inf` scores."""
    b, n = scores.shape
    take = min(take, n)
    if take == 0:
        return np.zeros((b, 0), np.int64), np.zeros((b, 0))
    ids = np.argpartition(-scores, take - 1, axis=1)[:, :take] if take < n else np.tile(np.arange(n), (b, 1))
    values = np.take_along_axis(scores, ids, axis=1)
    order = np.lexsort((ids, -values), axis=1)
    return np.take_along_axis(ids, order, axis=1), np.take_along_axis(values, order, axis=1)


def fuse(colike_ranks: np.ndarray, dense_ranks: np.ndarray, fusion_weight: float, fusion_k: float) -> np.ndarray:
    """Reciprocal-rank fusion of two rank arrays (inf = not ranked); -inf where neither ranks a work."""
    fused = (1 - fusion_weight) / (fusion_k + colike_ranks) + fusion_weight / (fusion_k + dense_ranks)
    return np.where(np.isfinite(colike_ranks) | np.isfinite(dense_ranks), fused, -np.inf)


def fuse_scores(colike: np.ndarray, dense: np.ndarray, scoring: dict, pool: int = POOL) -> np.ndarray:
    """Fused scores from the two orders' raw scores (`-inf` = not a candidate of that order)."""
    settings = {**DEFAULT_FUSION, **(scoring or {})}
    return fuse(pool_ranks(colike, pool), pool_ranks(dense, pool), float(settings["fusion_weight"]),
                float(settings["fusion_k"]))


def fuse_lists(colike: tuple[np.ndarray, np.ndarray], dense: tuple[np.ndarray, np.ndarray], scoring: dict,
               n_works: int) -> tuple[np.ndarray, np.ndarray]:
    """`fuse` for rows of ranked candidate lists (`best_of`'s output, one per order).

    Returns:
        (ids, fused) `[b, c]`: each row's candidates of either order and their fused scores
        (padding: `-inf`), in no particular order.
    """
    settings = {**DEFAULT_FUSION, **(scoring or {})}
    weight, k = float(settings["fusion_weight"]), float(settings["fusion_k"])
    parts = []
    for (ids, values), share in ((colike, 1 - weight), (dense, weight)):
        rank = np.arange(1, ids.shape[1] + 1, dtype=np.float64)
        parts.append((ids, np.where(np.isfinite(values), share / (k + rank), np.nan)))
    ids = np.concatenate([p[0] for p in parts], axis=1)
    gain = np.concatenate([p[1] for p in parts], axis=1)
    rows = np.broadcast_to(np.arange(len(ids))[:, None], ids.shape)
    keep = ~np.isnan(gain)
    key = rows[keep] * n_works + ids[keep]
    unique, inverse = np.unique(key, return_inverse=True)
    total = np.bincount(inverse, weights=gain[keep], minlength=len(unique))
    row_of, id_of = unique // n_works, unique % n_works
    counts = np.bincount(row_of, minlength=len(ids))
    width = max(1, int(counts.max(initial=0)))
    out_ids = np.zeros((len(ids), width), np.int64)
    out = np.full((len(ids), width), -np.inf)
    position = np.arange(len(unique)) - np.repeat(np.cumsum(counts) - counts, counts)
    out_ids[row_of, position] = id_of
    out[row_of, position] = total
    return out_ids, out


class FolderScorer:
    """Scores whole shelves against every work the way the engine orders them (for `rarereads eval`).

    Args:
        query, target: float32 [n, d] (the model-folder contract; rows of untrained works ignored).
        trained: bool [n], works with a vector.
        colike: Co-like weights as a scipy CSR matrix [n, n] (rows: source works), or None.
        scoring: The fusion settings (`fusion_weight`, `fusion_k`).
    """

    def __init__(self, query: np.ndarray, target: np.ndarray, trained: np.ndarray, colike=None,
                 scoring: dict | None = None):
        self.trained = np.asarray(trained, dtype=bool)
        self.n = len(self.trained)
        self.query = np.where(self.trained[:, None], np.asarray(query, np.float32), 0).astype(np.float32)
        self.target_t = np.ascontiguousarray(np.where(self.trained[:, None], np.asarray(target, np.float32), 0).T)
        self.colike = colike
        self.scoring = {**DEFAULT_FUSION, **(scoring or {})}
        self._parts = (None, None)

    @classmethod
    def from_folder(cls, folder) -> "FolderScorer":
        """For a loaded `engine.modelfolder.ModelFolder`."""
        colike = folder.colike.to_scipy(len(folder.works)) if folder.colike is not None else None
        return cls(folder.query, folder.target, folder.trained, colike, folder.scoring)

    def dense(self, shelves) -> np.ndarray:
        """`[b, n]` dense scores of shelves (a scipy CSR matrix, readers x works), `-inf` for untrained works."""
        from scipy.sparse import diags

        known = shelves @ diags(self.trained.astype(np.float32))
        counts = np.asarray(known.sum(axis=1)).ravel()
        means = diags((1.0 / np.maximum(counts, 1)).astype(np.float32)) @ known
        scores = np.asarray((means @ self.query) @ self.target_t, dtype=np.float32)
        scores[:, ~self.trained] = -np.inf
        return scores

    def colike_scores(self, shelves) -> np.ndarray:
        """`[b, n]` co-like scores, `-inf` for works no shelf book is co-liked with."""
        product = (shelves @ self.colike).tocsr()
        scores = np.full(product.shape, -np.inf, dtype=np.float32)
        rows = np.repeat(np.arange(product.shape[0]), np.diff(product.indptr))
        scores[rows, product.indices] = product.data
        return scores

    def __call__(self, readers, shelves, allowed: np.ndarray | None = None):
        """Scores in the engine's order: `[b, n]` dense scores, or with co-like weights the fused
        candidates as `(ids [b, c], scores [b, c])` (the two pools' union, as the engine's).

        The shelves' own works are never candidates; `allowed` (bool [n], the works a rarity
        setting keeps) bounds each order's pool, as in the engine. The two orders of one
        batch are computed once and fused again for each `allowed`.
        """
        key, parts = self._parts
        if key is not shelves:
            seen = shelves.tocoo()
            parts = [self.dense(shelves)] + ([self.colike_scores(shelves)] if self.colike is not None else [])
            for part in parts:
                part[seen.row, seen.col] = -np.inf
            self._parts = (shelves, parts)
        if self.colike is None:
            return parts[0]
        dense, colike = parts[0], parts[1]
        if allowed is not None:
            dense, colike = np.where(allowed, dense, -np.inf), np.where(allowed, colike, -np.inf)
        return fuse_lists(best_of(colike, POOL), best_of(dense, POOL), self.scoring, self.n)
