"""The baselines `rarereads eval` measures rarereads against, each with its hyperparameter grid.

(`write_ease_folder` also serves EASE through the engine: `--served` and the blind read.)

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
EASE_NEIGHBOURS = 100  # weights per work kept in a served EASE folder's co-like table
Scorer = Callable[..., np.ndarray]  # (reader ids [b], shelves CSR [b, n], allowed=None) -> [b, n] float32


@dataclass(frozen=True)
class Method:
    """A recommender the evaluation fits and scores.

    Attributes:
        name: Its row name in the table.
        fit: `(split, params) -> Scorer` (`split` is an `evaluation.protocol.Split`).
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


def spd_inverse(matrix: np.ndarray, block: int = 2048) -> np.ndarray:
    """The inverse of a symmetric positive definite matrix through its Cholesky factor (half the
    work of `np.linalg.inv`'s LU), computed in the memory of `matrix` (C-ordered)."""
    from scipy.linalg import lapack

    potrf, potri = lapack.get_lapack_funcs(("potrf", "potri"), (matrix,))
    # matrix.T is the same symmetric matrix in Fortran order: LAPACK works on it without a copy
    factor, info = potrf(matrix.T, lower=False, overwrite_a=True, clean=False)
    if info == 0:
        inverse, info = potri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"the matrix is not positive definite (LAPACK info {info})")
    n = len(inverse)
    for start in range(0, n, block):  # potri fills the upper triangle; mirror it a block of rows at a time
        stop = min(start + block, n)
        inverse[stop:, start:stop] = inverse[start:stop, stop:].T
        corner = inverse[start:stop, start:stop]
        corner[...] = np.triu(corner) + np.triu(corner, 1).T
    return inverse.T  # symmetric: the C-ordered view of the same numbers


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
    inverse = spd_inverse(gram)
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

    score.weights = (keep, weights)  # for serving the same weights (`write_ease_folder`), not fitting them twice
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


def write_ease_folder(out, dataset, lam: float, neighbours: int = EASE_NEIGHBOURS,
                      fitted: tuple[np.ndarray, np.ndarray] | None = None,
                      profile: np.ndarray | None = None) -> np.ndarray:
    """A model folder serving EASE through the engine, and its catalogue's dataset work ids.

    No embedding: EASE's weights, each work's `neighbours` largest by magnitude, are the
    folder's co-like table (fusion weight 0), and it carries the same fans and genre profiles
    as a trained folder, so every list rule applies to it as to rarereads' models.

    Args:
        fitted: EASE already fitted on these very likes, as (dataset work ids of its works,
            weights among them); fitted here when None.
        profile: The dataset's genre profiles (`train.profiles.dataset_profile`) when already
            carried; carried here when None.
    """
    from scipy.sparse import csr_matrix

    from engine.modelfolder import write_model_folder
    from engine.ranking import best_of
    from train.config import TrainConfig
    from train.data import prepare_data
    from train.export import fans, to_catalogue
    from train.profiles import dataset_profile

    data = prepare_data(dataset, TrainConfig(val_readers=0).validate(), context=1)
    train = csr_matrix((np.ones(len(data.indices), np.float32), data.indices, data.indptr),
                       shape=(data.n_readers, data.n_works))
    if fitted is None:
        keep, weights = ease_weights(train, lam)
    else:  # the same likes in the dataset's numbering: EASE's works as this folder's model rows
        ids, weights = fitted
        keep = np.searchsorted(data.work_ids, ids)
        if not np.array_equal(data.work_ids[np.minimum(keep, len(data.work_ids) - 1)], ids):
            raise ValueError("the fitted EASE is over works these likes do not have")
    top, _ = best_of(np.abs(weights), min(neighbours, len(keep)))
    values = np.take_along_axis(weights, top, axis=1)
    rows = np.zeros(data.n_works + 1, np.int64)
    sizes = np.zeros(data.n_works, np.int64)
    sizes[keep] = top.shape[1]
    np.cumsum(sizes, out=rows[1:])
    order = np.argsort(top, axis=1)
    columns = keep[np.take_along_axis(top, order, axis=1)].ravel().astype(np.int32)
    values = np.take_along_axis(values, order, axis=1).ravel().astype(np.float32)
    n = len(data.catalogue_ids)
    colike = to_catalogue((rows, columns, values), data.rows, n)
    write_model_folder(out, works=dataset.works.subset(data.catalogue_ids), likes=data.catalogue_likes,
                       query=np.zeros((n, 1), np.float32), target=np.zeros((n, 1), np.float32),
                       trained=np.zeros(n, bool), colike=colike, scoring={"fusion_weight": 0.0},
                       fans=to_catalogue(fans(data.indptr, data.indices, data.n_works), data.rows, n, renumber=False),
                       config={"model": "ease", "lambda": lam, "neighbours": neighbours}, metrics={},
                       data_fingerprint=dataset.fingerprint(),
                       profile=(profile if profile is not None else dataset_profile(dataset, dataset.folder))[
                           data.catalogue_ids])
    return data.catalogue_ids
