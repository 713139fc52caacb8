"""What a list of recommendations is worth against a reader's held-out likes.

Metrics at k (means over evaluated readers unless said otherwise):

- `recall`: hits / min(k, held-out likes): the usual truncated recall (Liang et al.
  2018, "Variational autoencoders for collaborative filtering"), 1 is reachable;
- `ndcg`: DCG of the binary hits (gain 1 / log2(rank + 1)) over the ideal DCG of
  min(k, held-out likes) hits;
- `tail_recall`: the same recall counting only held-out likes of tail works, averaged
  over readers with at least one such like;
- `pop_recall`: popularity-stratified recall (Steck 2011, "Item popularity and
  recommendation accuracy"): each held-out like counts 1 / sqrt(its work's training likes),
  so finding a rarely liked book counts for more; a reader's sum over hits is divided by the
  most the reader could reach in k picks (the k heaviest of their held-out likes);
- `arp`: average recommendation popularity: the mean of training likes of the listed works;
- `tail_share`: the share of tail works in each list;
- `coverage`: distinct works in all lists / works in the universe (catalogue coverage).

Head and tail: the head is the most-liked works that together hold 20% of training likes
(ties at the boundary included, `engine.rarity.head_mask`); the tail is the rest.
"""
from __future__ import annotations

import math

import numpy as np

from engine import rarity as rarity_mod

COLUMNS = ("method", "rarity", "recall", "ndcg", "tail_recall", "pop_recall", "arp", "tail_share", "coverage")
POP_EXPONENT = 0.5  # pop_recall weighs a held-out like by likes^-POP_EXPONENT (Steck 2011)


def ranking_metrics(top: np.ndarray, truth_row: np.ndarray, truth_work: np.ndarray, likes: np.ndarray,
                    head: np.ndarray | None = None) -> dict[str, float]:
    """Metrics of recommendation lists against held-out likes (see the module docstring).

    Args:
        top: `[n_readers, k]` recommended works, best first; -1 marks an empty slot.
        truth_row: Row of `top` (reader) of each held-out like.
        truth_work: Work of each held-out like.
        likes: Training likes per work (defines ARP, the head, and the number of works).
        head: Boolean head mask; by default `engine.rarity.head_mask(likes)`.

    Returns:
        `recall`, `ndcg`, `tail_recall`, `pop_recall`, `arp`, `tail_share`, `coverage` (NaN
        when undefined).
    """
    top = np.asarray(top, dtype=np.int64)
    per_reader = reader_metrics(top, truth_row, truth_work, likes, head)
    out = {name: float(values[where].mean()) if where.any() else math.nan for name, (values, where) in per_reader.items()}
    valid = top >= 0
    out["coverage"] = len(np.unique(top[valid])) / len(likes) if len(likes) else math.nan
    return out


def reader_metrics(top: np.ndarray, truth_row: np.ndarray, truth_work: np.ndarray, likes: np.ndarray,
                   head: np.ndarray | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each reader's `recall`, `ndcg`, `tail_recall`, `pop_recall`, `arp` and `tail_share` as
    (values [n_readers], the readers it is defined for); `ranking_metrics` is their mean."""
    top = np.asarray(top, dtype=np.int64)
    n_readers, k = top.shape
    likes = np.asarray(likes, dtype=np.int64)
    n_works = len(likes)
    head = rarity_mod.head_mask(likes) if head is None else np.asarray(head, dtype=bool)
    truth_row = np.asarray(truth_row, dtype=np.int64)
    truth_work = np.asarray(truth_work, dtype=np.int64)

    valid = top >= 0
    keys = np.sort(truth_row * n_works + truth_work)
    listed = np.arange(n_readers)[:, None] * n_works + np.where(valid, top, 0)
    found = np.searchsorted(keys, listed)
    hit = valid & (keys[np.minimum(found, len(keys) - 1)] == listed) if len(keys) else np.zeros_like(valid)
    in_tail = valid & ~head[np.where(valid, top, 0)]

    n_true = np.bincount(truth_row, minlength=n_readers)
    n_true_tail = np.bincount(truth_row[~head[truth_work]], minlength=n_readers)
    has = n_true > 0
    discount = 1.0 / np.log2(np.arange(k) + 2.0)
    ideal = np.concatenate([[0.0], np.cumsum(discount)])[np.minimum(n_true, k)]
    n_listed = valid.sum(axis=1)
    # pop_recall: each held-out like weighs likes^-POP_EXPONENT; the best a reader can do is
    # their k heaviest held-out likes.
    weight = np.maximum(likes, 1).astype(np.float64) ** -POP_EXPONENT
    truth_weight = weight[truth_work]
    hit_weight = np.where(hit, weight[np.where(valid, top, 0)], 0.0).sum(axis=1)
    order = np.lexsort((-truth_weight, truth_row))  # by reader, heaviest first
    place = np.arange(len(order)) - np.repeat(np.cumsum(n_true) - n_true, n_true)
    best_weight = np.bincount(truth_row[order], weights=np.where(place < k, truth_weight[order], 0.0),
                              minlength=n_readers)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "recall": (hit.sum(axis=1) / np.minimum(n_true, k), has),
            "ndcg": ((hit * discount).sum(axis=1) / ideal, has),
            "tail_recall": ((hit & in_tail).sum(axis=1) / np.minimum(n_true_tail, k), n_true_tail > 0),
            "pop_recall": (hit_weight / best_weight, has),
            "arp": (np.where(valid, likes[np.where(valid, top, 0)], 0).sum(axis=1) / n_listed, n_listed > 0),
            "tail_share": (in_tail.sum(axis=1) / n_listed, n_listed > 0),
        }


def ratio_interval(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], resamples: int = 2000,
                   seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """mean(a) / mean(b) for one metric of two methods over the same readers (`reader_metrics`
    entries), and its `level` interval by resampling the readers (percentile bootstrap)."""
    (va, wa), (vb, wb) = a, b
    ratio = float(va[wa].mean() / vb[wb].mean())
    rng = np.random.default_rng(seed)
    draws = np.empty(resamples)
    for i in range(resamples):
        pick = rng.integers(0, len(va), len(va))
        draws[i] = va[pick][wa[pick]].mean() / vb[pick][wb[pick]].mean()
    low, high = np.percentile(draws, [50 * (1 - level), 50 * (1 + level)])
    return ratio, float(low), float(high)


def support_counts(shelves, train) -> np.ndarray:
    """`[b, n]` co-readers: training readers who liked the work and at least one shelf work."""
    co_readers = (shelves @ train.T).tocsr()
    co_readers.data[:] = 1
    return np.asarray((co_readers @ train).toarray(), dtype=np.int32)


def served_figures(support: np.ndarray, skipped: dict[str, int], lists: int) -> dict[str, float]:
    """What the engine's rules did: the share of picks resting on 0 and on 1 co-readers
    (`support0_share`, `support1_share`), and per list the candidates each rule passed over
    (`skipped_<reason>`, see `engine.rules.SKIP_REASONS`)."""
    return {**support_share(support), **{f"skipped_{reason}": count / max(lists, 1) for reason, count in skipped.items()}}


def support_share(support: np.ndarray) -> dict[str, float]:
    """The share of picks whose co-reader count is 0 and 1 (NaN without picks)."""
    return {f"support{n}_share": float(np.mean(support == n)) if len(support) else math.nan for n in (0, 1)}


def _format(column: str, value) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if column == "arp" or column.startswith("skipped_"):
        return f"{value:.1f}"
    return f"{value:.3f}" if column.endswith("_share") else f"{value:.4f}"


def markdown_table(rows: list[dict], columns: tuple[str, ...] = COLUMNS) -> str:
    """Rows as a Markdown table with the given columns (`COLUMNS` by default)."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(columns) - 2)) + "|"]
    lines += ["| " + " | ".join(_format(c, row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def json_value(value):
    return None if isinstance(value, float) and math.isnan(value) else value
