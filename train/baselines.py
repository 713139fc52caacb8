"""The baselines `rarereads eval` measures rarereads against, each with its hyperparameter grid.

Every method is a `Method`: a name, a grid of hyperparameters (the evaluation picks one on
a validation split carved from the training likes, never on the test split) and
`fit(train, params) -> Scorer`. A scorer maps the evaluated readers (their ids in the
split and the CSR rows of the books they bring, their "shelves") to scores over every
work, `-inf` for works it never recommends (`allowed`, the works a rarity setting keeps,
matters only to methods that rank within it). Scores are on each method's own scale: the
rarity settings (`engine.rarity`) work on ranks, so no method is favoured by its scale.

- `popularity`: most training likes first.
- `itemknn`: sum over the shelf of co-likes / (|shelf work|^0.5 |candidate|^alpha); alpha = 0.5
  is the cosine, larger alphas lean away from popular candidates.
- `rp3beta`: Paudel et al. 2017: two-step random walk work -> reader -> work with transition
  probabilities raised to alpha, divided by the candidate's popularity^beta.
- `als`: implicit's AlternatingLeastSquares (confidence 1 + alpha per like); readers outside
  the training data are folded in (least squares against the fixed work factors).
- `ease`: Steck 2019, the closed form `B = I - P / diag(P)`, `P = (XᵀX + lambda I)^-1`, over the
  works with at least `EASE_MIN_LIKES` training likes (a dense inverse of that many works
  fits in memory; works with fewer likes are never recommended by it).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

log = logging.getLogger(__name__)

EASE_MIN_LIKES = 3
EASE_MAX_WORKS = 30_000  # a dense float32 inverse of this many works takes 3.6 GB
Scorer = Callable[..., np.ndarray]  # (reader ids [b], shelves CSR [b, n], allowed=None) -> [b, n] float32


@dataclass(frozen=True)
class Method:
    """A recommender the evaluation fits and scores.

    Attributes:
        name: Its row name in the table.
        fit: `(split, params) -> Scorer` (`split` is a `train.evaluate.Split`).
        grid: Hyperparameter sets to choose from on the validation split (one: nothing to choose).
        note: Said beside its row (e.g. what it cannot recommend).
    """

    name: str
    fit: Callable[..., Scorer]
    grid: list[dict] = field(default_factory=lambda: [{}])
    note: str = ""


def _likes(train) -> np.ndarray:
    return np.asarray(train.sum(axis=0)).ravel()


def popularity(train, params: dict) -> Scorer:
    logs = np.log1p(_likes(train)).astype(np.float32)
    return lambda readers, shelves, allowed=None: np.tile(logs, (shelves.shape[0], 1))


def itemknn(train, params: dict) -> Scorer:
    """Computed through readers, `((S / |l|^0.5) @ Xᵀ) @ X / |c|^alpha`: no works x works matrix."""
    from scipy.sparse import diags

    likes = np.maximum(_likes(train), 1)
    left = diags((likes ** -0.5).astype(np.float32))
    right = (train @ diags((likes ** -params["alpha"]).astype(np.float32))).tocsr()
    train_t = train.T.tocsr()

    def score(readers, shelves, allowed=None):
        product = (((shelves @ left) @ train_t) @ right).toarray()
        return np.where(product > 0, product, -np.inf).astype(np.float32)

    return score


def rp3beta(train, params: dict) -> Scorer:
    """W[l, c] = (P(l -> u) P(u -> c) summed over readers u)^alpha / pop(c)^beta (sparse works x works)."""
    from scipy.sparse import diags

    likes = np.maximum(_likes(train), 1)
    per_reader = np.maximum(np.asarray(train.sum(axis=1)).ravel(), 1)
    to_readers = (diags((1 / likes).astype(np.float32)) @ train.T).tocsr()  # work -> reader
    to_works = (diags((1 / per_reader).astype(np.float32)) @ train).tocsr()  # reader -> work
    walk = (to_readers @ to_works).tocsr()
    walk.setdiag(0)
    walk.eliminate_zeros()
    walk.data = walk.data ** params["alpha"]
    walk = (walk @ diags((likes ** -params["beta"]).astype(np.float32))).tocsr()

    def score(readers, shelves, allowed=None):
        product = (shelves @ walk).toarray()
        return np.where(product > 0, product, -np.inf).astype(np.float32)

    return score


def als(train, params: dict) -> Scorer:
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):  # implicit parallelises itself
        model = AlternatingLeastSquares(factors=params["factors"], regularization=params["regularization"],
                                        alpha=params["alpha"], iterations=15, random_state=0)
        model.fit(train, show_progress=False)
    users, items = np.asarray(model.user_factors), np.asarray(model.item_factors)
    known = np.asarray(train.sum(axis=1)).ravel() > 0
    gram = items.T @ items
    regularization, alpha = params["regularization"], params["alpha"]

    def fold_in(shelf: np.ndarray) -> np.ndarray:
        """Least squares against the fixed work factors, as implicit's recalculate_user."""
        y = items[shelf]
        a = gram + alpha * (y.T @ y) + regularization * np.eye(len(gram), dtype=gram.dtype)
        return np.linalg.solve(a, (1 + alpha) * y.sum(axis=0))

    def score(readers, shelves, allowed=None):
        vectors = np.empty((len(readers), items.shape[1]), np.float32)
        for row, reader in enumerate(readers):
            in_training = reader < len(known) and known[reader]
            vectors[row] = users[reader] if in_training else fold_in(shelves[row].indices)
        return (vectors @ items.T).astype(np.float32)

    return score


def ease_weights(train, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """EASE's works (ids with at least `EASE_MIN_LIKES` likes, at most `EASE_MAX_WORKS`) and its
    dense weights among them, `B = I - P / diag(P)` with `P = (XᵀX + lam I)^-1`, zero diagonal."""
    likes = _likes(train)
    keep = np.flatnonzero(likes >= EASE_MIN_LIKES)
    if len(keep) > EASE_MAX_WORKS:  # the most-liked ones: a dense inverse of more would not fit
        keep = np.sort(keep[np.argsort(-likes[keep], kind="stable")[:EASE_MAX_WORKS]])
    sub = train[:, keep].astype(np.float32)
    gram = (sub.T @ sub).toarray()
    gram[np.diag_indices_from(gram)] += lam
    inverse = np.linalg.inv(gram)
    weights = inverse / (-np.diag(inverse))
    weights[np.diag_indices_from(weights)] = 0
    return keep, weights


def ease(train, params: dict) -> Scorer:
    keep, weights = ease_weights(train, params["lambda"])
    n = train.shape[1]

    def score(readers, shelves, allowed=None):
        out = np.full((shelves.shape[0], n), -np.inf, np.float32)
        out[:, keep] = shelves[:, keep] @ weights
        return out

    return score


def _on_training_likes(fit: Callable[[object, dict], Scorer]) -> Callable[[object, dict], Scorer]:
    """A baseline's fit from the split's training matrix (readers x works)."""
    return lambda split, params: fit(split.train_matrix(), params)


BASELINES: dict[str, Method] = {m.name: m for m in (
    Method("popularity", _on_training_likes(popularity)),
    Method("itemknn", _on_training_likes(itemknn), [{"alpha": a} for a in (0.5, 0.75)]),
    Method("rp3beta", _on_training_likes(rp3beta), [{"alpha": a, "beta": b} for a in (0.5, 1.0) for b in (0.0, 0.25)]),
    Method("als", _on_training_likes(als),
           [{"factors": f, "alpha": a, "regularization": 0.1} for f in (64, 128) for a in (10.0, 20.0)]),
    Method("ease", _on_training_likes(ease), [{"lambda": x} for x in (50.0, 100.0, 200.0)],
           note=f"over works with >= {EASE_MIN_LIKES} training likes (a dense inverse)"),
)}
