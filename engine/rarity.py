"""Rarity: how far recommendations lean away from the books everyone already reads.

A model scores a candidate work on a log scale (`mean(query[liked]) @ target + bias`
estimates how likely a reader of the liked works is to like it, popularity
included). A rarity setting re-ranks those scores with two levers:

- a popularity penalty: `adjusted = score - penalty * log(1 + likes)`, where `likes`
  counts a work's training likes (with `penalty = 1` the score becomes roughly a
  lift: how much more often the reader's peers like the work than readers at large);
- a filter: works outside it get `-inf` and are never recommended.

The settings (`RARITIES`):

- `any`: pure relevance, the model's own order (popular books included);
- `balanced`: a mild popularity penalty, nothing excluded;
- `rare` (default): the head is excluded (the most-liked works that together hold
  20% of all training likes) and a popularity penalty applies to the rest;
- `deep`: only the long tail: works with at most `DEEP_MAX_LIKES` training likes.

`adjust` is a pure function of (scores, likes, rarity): the engine applies it to the
candidates it fetched from the index and `rarereads eval` applies it to every work,
so both rank the same way and the evaluation measures what users get. The engine
should fetch enough candidates (the filter and penalty can reorder them a lot);
`allowed(likes, rarity)` gives the filter alone, e.g. for hnswlib's `filter=`.
Numpy only: the serving side never needs torch.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HEAD_SHARE = 0.2  # the head holds this share of all training likes
DEEP_MAX_LIKES = 5  # `deep`: works with at most this many training likes


@dataclass(frozen=True)
class Rarity:
    """One rarity setting.

    Attributes:
        name: Its name, as users type it.
        description: One line for help texts.
        penalty: Weight of `log(1 + likes)` subtracted from the score.
        exclude_head: Whether head works (see `head_threshold`) are filtered out.
        max_likes: If set, only works with at most this many likes are kept.
    """

    name: str
    description: str
    penalty: float = 0.0
    exclude_head: bool = False
    max_likes: int | None = None


RARITIES: dict[str, Rarity] = {
    r.name: r for r in (
        Rarity("any", "pure relevance, popular books included"),
        Rarity("balanced", "relevance with a mild lean to less-read books", penalty=0.5),
        Rarity("rare", "no bestsellers: books outside the most-read few hundred", penalty=0.5, exclude_head=True),
        Rarity("deep", f"only the long tail: books at most {DEEP_MAX_LIKES} readers liked", penalty=0.5,
               max_likes=DEEP_MAX_LIKES),
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
    """Boolean mask of the works `rarity` may recommend.

    Args:
        likes: Training likes per work (all works of the model, so the head is the model's head).
        rarity: A rarity name or `Rarity`.
        threshold: The head threshold if already known (`head_threshold(likes)`).
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
           threshold: int | None = None, candidates: np.ndarray | None = None) -> np.ndarray:
    """Rarity-adjusted scores: sort them descending to get the recommendations.

    Args:
        scores: Model scores, `[..., n]` (log scale; `-inf` marks works already excluded).
        likes: Training likes per work of the whole model, `[n_works]`.
        rarity: A rarity name, a `Rarity`, or None for the default.
        threshold: The head threshold of `likes` if already known (saves a sort per call).
        candidates: If the scores cover only some works (the engine's index hits), their
            ids, `[n]`; `likes` still covers every work so the head stays the same.

    Returns:
        float32 array shaped like `scores`; works the rarity filters out get `-inf`.
        For `any` it equals `scores`, so the order is unchanged.
    """
    setting = get_rarity(rarity)
    scores = np.asarray(scores, dtype=np.float32)
    likes = np.asarray(likes)
    if setting.exclude_head and threshold is None:
        threshold = head_threshold(likes)
    if candidates is not None:
        likes = likes[np.asarray(candidates)]
    if setting.penalty == 0 and not setting.exclude_head and setting.max_likes is None:
        return scores.copy()
    offset = (-setting.penalty * np.log1p(likes.astype(np.float64))).astype(np.float32)
    offset[~allowed(likes, setting, threshold)] = -np.inf
    return scores + offset
