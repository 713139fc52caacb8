"""Rarity: how far recommendations lean away from the books everyone already reads.

A rarity setting re-ranks a method's candidates with three levers, none of which looks
at the scale of the method's scores (a skip-gram's log-odds, EASE's regression weights
and ALS's preferences live on different scales, so a penalty added to the scores would
mean something else for each):

- a filter: works outside it are never recommended (`exclude_head`, `max_likes`);
- a support floor: a pick needs at least `min_support` co-readers, training readers who
  liked it and at least one of the query's books (so a pick never rests on no evidence);
- a popularity penalty on ranks: among the works the filter keeps, the candidate ranked
  r-th by the method (1 = best) gets the key

      key = -log(r) - penalty * log(1 + likes)

  and the list is the candidates sorted by key. With `penalty = 0.5` a work four times
  as liked as another must rank at least twice as high to stay ahead of it. Ranks make
  the setting scale-free: adding a constant to a method's scores or multiplying them by
  a positive factor (any increasing transform, in fact) changes no list.

Only the `POOL` best-ranked candidates that the filter keeps are re-ranked: the engine
fetches that many from its index, and `rarereads eval` takes each method's best `POOL`
too, so both rank the same way and the evaluation measures what users get.

The settings (`RARITIES`, the one list of rarity names: bots, help texts and the CLI
read it from here):

- `any`: pure relevance, the model's own order (popular books included);
- `balanced`: the rank penalty with weight 0.5, nothing excluded;
- `rare` (default): the head is excluded (the most-liked works that together hold 20%
  of all training likes), the order is the model's; at least one co-reader;
- `deep`: only the long tail, works with at most `DEEP_MAX_LIKES` training likes, in
  the model's order; no support needed (the deep tail is where a single co-reader is
  the usual evidence, and readers who ask for it know that).

Numpy only: the serving side never needs torch.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ranking import POOL, best_of

HEAD_SHARE = 0.2  # the head holds this share of all training likes
DEEP_MAX_LIKES = 5  # `deep`: works with at most this many training likes


@dataclass(frozen=True)
class Rarity:
    """One rarity setting.

    Attributes:
        name: Its name, as users type it.
        description: One line for help texts.
        penalty: Weight of `log(1 + likes)` subtracted from `-log(rank)`.
        exclude_head: Whether head works (see `head_threshold`) are filtered out.
        max_likes: If set, only works with at most this many likes are kept.
        min_support: Co-readers (readers who liked the pick and a query book) a pick needs.
    """

    name: str
    description: str
    penalty: float = 0.0
    exclude_head: bool = False
    max_likes: int | None = None
    min_support: int = 0


RARITIES: dict[str, Rarity] = {
    r.name: r for r in (
        Rarity("any", "pure relevance, popular books included"),
        Rarity("balanced", "relevance with a lean to less-read books", penalty=0.5),
        Rarity("rare", "no bestsellers: books outside the most-read few hundred", exclude_head=True, min_support=1),
        Rarity("deep", f"only the long tail: books at most {DEEP_MAX_LIKES} readers liked", max_likes=DEEP_MAX_LIKES),
    )
}
DEFAULT_RARITY = "rare"


def get_rarity(rarity: str | Rarity | None) -> Rarity:
    """The `Rarity` for a name (None means the default); raises ValueError for unknown names."""
    if isinstance(rarity, Rarity):
        return rarity
    name = DEFAULT_RARITY if rarity is None else str(rarity).strip().lower()
    try:
        return RARITIES[name]
    except KeyError:
        raise ValueError(f"unknown rarity {rarity!r}; choose one of {', '.join(RARITIES)}") from None


def head_threshold(likes: np.ndarray, share: float = HEAD_SHARE) -> int:
    """Fewest likes a head work has.

    The head is the most-liked works that together hold `share` of all likes. Works
    tied at the boundary count all alike (all head), so the head may hold a little
    more than `share`; the head is exactly `likes >= head_threshold(likes)`.

    Args:
        likes: Training likes per work.
        share: Share of all likes the head holds.

    Returns:
        The threshold; larger than every count when there are no likes (empty head).
    """
    likes = np.asarray(likes, dtype=np.int64)
    total = int(likes.sum())
    if total == 0:
        return int(likes.max(initial=0)) + 1
    ordered = np.sort(likes)[::-1]
    reach = int(np.searchsorted(np.cumsum(ordered), share * total))  # first index reaching the share
    return max(1, int(ordered[min(reach, len(ordered) - 1)]))


def head_mask(likes: np.ndarray, share: float = HEAD_SHARE) -> np.ndarray:
    """Boolean mask of head works (see `head_threshold`)."""
    likes = np.asarray(likes)
    return likes >= head_threshold(likes, share)


def allowed(likes: np.ndarray, rarity: str | Rarity | None, threshold: int | None = None) -> np.ndarray:
    """Boolean mask of the works `rarity` may recommend (its filter alone, support aside).

    Args:
        likes: Training likes of the works to check.
        rarity: A rarity name or `Rarity`.
        threshold: The head threshold of the whole model (`head_threshold` of every work's
            likes); computed from `likes` when None, which is right only for all works.
    """
    setting = get_rarity(rarity)
    likes = np.asarray(likes)
    keep = np.ones(likes.shape, dtype=bool)
    if setting.exclude_head:
        keep &= likes < (head_threshold(likes) if threshold is None else threshold)
    if setting.max_likes is not None:
        keep &= likes <= setting.max_likes
    return keep


def adjust(scores: np.ndarray, likes: np.ndarray, rarity: str | Rarity | None,
           threshold: int | None = None, candidates: np.ndarray | None = None,
           support: np.ndarray | None = None, pool: int = POOL) -> np.ndarray:
    """Rarity keys: sort them descending to get the recommendations.

    Args:
        scores: A method's scores, `[..., n]`, higher is better, any scale; `-inf` marks
            works already excluded (the reader's own books).
        likes: Training likes per work of the whole model, `[n_works]`.
        rarity: A rarity name, a `Rarity`, or None for the default.
        threshold: The head threshold of `likes` if already known (saves a sort per call).
        candidates: If the scores cover only some works (the engine's index hits), their
            ids, `[n]`; `likes` still covers every work so the head stays the same.
        support: Co-readers of each scored work, shaped like `scores`; needed when the
            setting has a support floor (without it the floor is not applied).
        pool: How many of the best works the filter keeps are ranked (see `POOL`).

    Returns:
        float64 keys shaped like `scores` (see the module docstring); `-inf` for works the
        setting filters out, that lack support, or that rank below the pool.
    """
    setting = get_rarity(rarity)
    scores = np.asarray(scores, dtype=np.float64)
    likes = np.asarray(likes)
    if setting.exclude_head and threshold is None:
        threshold = head_threshold(likes)
    if candidates is not None:
        likes = likes[np.asarray(candidates)]
    keep = np.isfinite(scores) & allowed(likes, setting, threshold)
    if setting.min_support and support is not None:
        keep &= np.asarray(support) >= setting.min_support
    if scores.shape[-1] == 0:
        return np.full(scores.shape, -np.inf)
    flat = np.where(keep, scores, -np.inf).reshape(-1, scores.shape[-1])
    keys = np.full(flat.shape, -np.inf)
    best, ranked = best_of(flat, pool)  # the pool, best first; equal scores keep the works' order
    take = best.shape[1]
    if take == 0:
        return keys.reshape(scores.shape)
    rank_keys = np.where(np.isfinite(ranked), -np.log(np.arange(1, take + 1, dtype=np.float64)), -np.inf)
    if setting.penalty:
        pool_likes = np.broadcast_to(likes, scores.shape).reshape(flat.shape)
        rank_keys = rank_keys - setting.penalty * np.log1p(np.take_along_axis(pool_likes, best, axis=1).astype(np.float64))
    np.put_along_axis(keys, best, rank_keys, axis=1)
    return keys.reshape(scores.shape)
