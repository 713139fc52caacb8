"""`rarereads eval`: rarereads' models and the strongest simple recommenders, on equal terms.

Protocols (`--protocol`):

- `readme` (the reference): the dataset's likes (`Dataset.likes()`: ratings >= 7 of 10 on
  Book-Crossing); every reader with at least 5 likes holds out 20% of them, rounded half up
  and at least one (5-7 likes: 1, 8-12: 2, ...), chosen at random with seed 0. Everything
  else is training data. An evaluated reader's shelf is their training likes.
- `new-readers` (the bot's situation: a reader the model has never seen brings a shelf):
  10% of the readers with at least 5 likes (seed 0) are held out of training entirely;
  80% of each one's likes are their shelf, the other 20% (rounded as above) are to be found.

Equal terms:

- Every method is fitted on the same training likes, and ranks every work except the
  reader's shelf.
- Every method's hyperparameters (the baselines' and rarereads' own) are chosen on a
  validation split carved from the training likes by the same protocol (seed + 1), never on
  the test split; the objective is recall at k under `any` plus tail recall at k under the
  default rarity. The chosen values are printed and saved with the rows.
- Every method's list goes through the same rarity setting (`engine.rarity.adjust`, the
  engine's own function), which works on ranks and co-reader counts, not on scores, so no
  method's scale favours or hurts it. Co-readers (for support floors) are training readers
  who liked the candidate and a shelf work, counted the same way for every method.
- `--served` adds, for rarereads' models, the same protocol answered through
  `Engine.recommend` (index candidates, rarity, support floors, language and kind rules,
  diversity, exclusions): what readers actually get.

Head and tail: the head is the most-liked works that together hold 20% of training likes
(ties at the boundary included, `engine.rarity.head_mask`); the tail is the rest.

Metrics at k (means over evaluated readers unless said otherwise):

- `recall`: hits / min(k, held-out likes): the usual truncated recall (Liang et al.
  2018, "Variational autoencoders for collaborative filtering"), 1 is reachable;
- `ndcg`: DCG of the binary hits (gain 1 / log2(rank + 1)) over the ideal DCG of
  min(k, held-out likes) hits;
- `tail_recall`: the same recall counting only held-out likes of tail works, averaged
  over readers with at least one such like;
- `arp`: average recommendation popularity: the mean of training likes of the listed works;
- `tail_share`: the share of tail works in each list;
- `coverage`: distinct works in all lists / works in the universe (catalogue coverage).

Methods: rarereads' models from `train.registry` (`elsa`, the default, with its co-like
weights; `skipgram`; `mf`) and the baselines of `train.baselines` (`popularity`, `itemknn`,
`rp3beta`, `als`, `ease`).
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from engine import rarity as rarity_mod
from engine.dataset import Dataset
from engine.errors import RarereadsError

from engine.scoring import best_of

from .baselines import BASELINES, Method, Scorer

log = logging.getLogger(__name__)

K = 20
HOLDOUT = 0.2
MIN_LIKES = 5
NEW_READERS = 0.1  # new-readers protocol: share of the readers with MIN_LIKES likes held out of training
SEED = 0
COLUMNS = ("method", "rarity", "recall", "ndcg", "tail_recall", "arp", "tail_share", "coverage")
PROTOCOLS = ("readme", "new-readers")
OURS = ("elsa", "skipgram", "mf")
METHODS = OURS + tuple(BASELINES)


# --- split ----------------------------------------------------------------------------

def holdout_mask(user: np.ndarray, holdout: float = HOLDOUT, min_likes: int = MIN_LIKES,
                 seed: int = SEED) -> np.ndarray:
    """Which likes are held out for testing.

    Args:
        user: Reader of each like (non-negative ints; one like per (reader, work)).
        holdout: Share of a reader's likes held out, rounded half up, at least 1.
        min_likes: Readers with fewer likes hold out nothing.
        seed: Seed of the random choice.

    Returns:
        Boolean mask over the likes, True for held-out ones.
    """
    user = np.asarray(user, dtype=np.int64)
    if len(user) == 0:
        return np.zeros(0, dtype=bool)
    keys = np.random.default_rng(seed).random(len(user))
    order = np.lexsort((keys, user))  # grouped by reader, random within a reader
    counts = np.bincount(user)
    starts = np.cumsum(counts) - counts
    rank = np.empty(len(user), dtype=np.int64)
    rank[order] = np.arange(len(user)) - np.repeat(starts, counts)
    n_test = np.where(counts >= min_likes, np.maximum(1, np.floor(holdout * counts + 0.5)), 0)
    return rank < n_test[user]


def new_reader_mask(user: np.ndarray, share: float = NEW_READERS, min_likes: int = MIN_LIKES,
                    seed: int = SEED) -> np.ndarray:
    """Which likes belong to readers held out of training (`share` of those with `min_likes` likes)."""
    user = np.asarray(user, dtype=np.int64)
    counts = np.bincount(user) if len(user) else np.zeros(0, np.int64)
    eligible = np.flatnonzero(counts >= min_likes)
    chosen = np.random.default_rng(seed).choice(eligible, size=int(round(share * len(eligible))), replace=False)
    held = np.zeros(len(counts), dtype=bool)
    held[chosen] = True
    return held[user] if len(user) else np.zeros(0, dtype=bool)


@dataclass
class Split:
    """Training likes, and the evaluated readers' shelves and held-out likes, over a compact universe.

    Readers and works are numbered 0..n-1; `work_ids` maps universe works back to the dataset.
    """

    n_users: int
    n_works: int
    train_user: np.ndarray
    train_work: np.ndarray
    shelf_user: np.ndarray  # the books each evaluated reader brings
    shelf_work: np.ndarray
    test_user: np.ndarray  # their held-out likes, to be found
    test_work: np.ndarray
    work_ids: np.ndarray  # dataset work id of each universe work
    protocol: str = "readme"

    @property
    def readers(self) -> np.ndarray:
        """Evaluated readers: those with held-out likes, ascending."""
        return np.unique(self.test_user)

    def train_likes(self) -> np.ndarray:
        """Training likes per universe work."""
        return np.bincount(self.train_work, minlength=self.n_works).astype(np.int64)

    def _matrix(self, user: np.ndarray, work: np.ndarray):
        from scipy.sparse import csr_matrix

        ones = np.ones(len(user), dtype=np.float32)
        return csr_matrix((ones, (user, work)), shape=(self.n_users, self.n_works))

    def train_matrix(self):
        """Training likes as a CSR matrix, readers x works, float32 ones."""
        return self._matrix(self.train_user, self.train_work)

    def shelf_matrix(self):
        """Each evaluated reader's shelf as a CSR matrix, readers x works."""
        return self._matrix(self.shelf_user, self.shelf_work)

    def validation(self, seed: int) -> "Split":
        """A split of the training likes alone by the same protocol (to choose hyperparameters on)."""
        if self.protocol == "new-readers":
            new = new_reader_mask(self.train_user, seed=seed)
            return _new_reader_split(self.n_users, self.n_works, self.train_user, self.train_work, new,
                                     self.work_ids, seed)
        test = holdout_mask(self.train_user, seed=seed)
        keep = ~test
        return Split(self.n_users, self.n_works, self.train_user[keep], self.train_work[keep],
                     self.train_user[keep], self.train_work[keep], self.train_user[test], self.train_work[test],
                     self.work_ids, self.protocol)


def make_split(user: np.ndarray, work: np.ndarray, holdout: float = HOLDOUT, min_likes: int = MIN_LIKES,
               seed: int = SEED, protocol: str = "readme") -> Split:
    """Split likes (dataset ids) by `protocol` over the liked works."""
    users, user_index = np.unique(np.asarray(user), return_inverse=True)
    work_ids, work_index = np.unique(np.asarray(work), return_inverse=True)
    user_index, work_index = user_index.astype(np.int32), work_index.astype(np.int32)
    if protocol == "new-readers":
        return _new_reader_split(len(users), len(work_ids), user_index, work_index,
                                 new_reader_mask(user_index, min_likes=min_likes, seed=seed), work_ids, seed, holdout)
    if protocol != "readme":
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    test = holdout_mask(user_index, holdout, min_likes, seed)
    return Split(len(users), len(work_ids), user_index[~test], work_index[~test], user_index[~test],
                 work_index[~test], user_index[test], work_index[test], work_ids, protocol)


def _new_reader_split(n_users, n_works, user, work, new, work_ids, seed, holdout=HOLDOUT) -> Split:
    """Readers marked `new` leave training; 80% of their likes are shelves, 20% to find."""
    test = new & holdout_mask(user, holdout, 1, seed)
    shelf = new & ~test
    return Split(n_users, n_works, user[~new], work[~new], user[shelf], work[shelf], user[test], work[test],
                 work_ids, "new-readers")


# --- metrics --------------------------------------------------------------------------

def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best scores per row, best first (equal scores: lower index first); -1 where -inf."""
    n = scores.shape[1]
    k = min(k, n)
    part = np.argpartition(scores, n - k, axis=1)[:, n - k:]
    values = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -values), axis=1)
    top = np.take_along_axis(part, order, axis=1)
    top[~np.isfinite(np.take_along_axis(values, order, axis=1))] = -1
    return top


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
        `recall`, `ndcg`, `tail_recall`, `arp`, `tail_share`, `coverage` (NaN when undefined).
    """
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
    has_tail = n_true_tail > 0
    discount = 1.0 / np.log2(np.arange(k) + 2.0)
    ideal = np.concatenate([[0.0], np.cumsum(discount)])[np.minimum(n_true, k)]
    n_listed = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = hit.sum(axis=1) / np.minimum(n_true, k)
        ndcg = (hit * discount).sum(axis=1) / ideal
        tail_recall = (hit & in_tail).sum(axis=1) / np.minimum(n_true_tail, k)
        arp = np.where(valid, likes[np.where(valid, top, 0)], 0).sum(axis=1) / n_listed
        tail_share = in_tail.sum(axis=1) / n_listed

    def mean(values: np.ndarray, where: np.ndarray) -> float:
        return float(values[where].mean()) if where.any() else math.nan

    return {
        "recall": mean(recall, has),
        "ndcg": mean(ndcg, has),
        "tail_recall": mean(tail_recall, has_tail),
        "arp": mean(arp, n_listed > 0),
        "tail_share": mean(tail_share, n_listed > 0),
        "coverage": len(np.unique(top[valid])) / n_works if n_works else math.nan,
    }


def support_counts(shelves, train) -> np.ndarray:
    """`[b, n]` co-readers: training readers who liked the work and at least one shelf work."""
    co_readers = (shelves @ train.T).tocsr()
    co_readers.data[:] = 1
    return np.asarray((co_readers @ train).toarray(), dtype=np.int32)


def evaluate_scorers(scorers: dict[str, Scorer], split: Split, rarities: Iterable[str], k: int = K,
                     batch_size: int = 256, support_shares: bool = False) -> dict[str, dict[str, dict[str, float]]]:
    """Score every evaluated reader against every work, apply each rarity, measure the lists.

    Args:
        scorers: Method name -> scorer (see `train.baselines`).
        split: The split (shelves are excluded from the candidates).
        rarities: Rarity names (or `engine.rarity.Rarity` settings) to measure.
        k: List length.
        batch_size: Readers scored at once (memory: a few batch x works float32 arrays).
        support_shares: Also measure the share of listed picks resting on 0 and on 1
            co-readers (`support0_share`, `support1_share`), as `--served` does.

    Returns:
        Metrics per method and rarity name.
    """
    rarities = [r if isinstance(r, rarity_mod.Rarity) else rarity_mod.get_rarity(r) for r in rarities]
    readers = split.readers
    likes = split.train_likes()
    threshold = rarity_mod.head_threshold(likes)
    allowed = {r.name: rarity_mod.allowed(likes, r, threshold) for r in rarities}
    train, shelves = split.train_matrix(), split.shelf_matrix()
    need_support = support_shares or any(r.min_support for r in rarities)
    listed_support = {(m, r.name): [] for m in scorers for r in rarities}
    width = min(k, split.n_works)
    tops = {(m, r.name): np.empty((len(readers), width), dtype=np.int64) for m in scorers for r in rarities}
    for start in range(0, len(readers), batch_size):
        batch = readers[start:start + batch_size]
        shelf = shelves[batch]
        seen = shelf.tocoo()
        support = support_counts(shelf, train) if need_support else None
        for name, scorer in scorers.items():
            dense = None
            for r in rarities:
                result = scorer(batch, shelf, allowed[r.name])
                if isinstance(result, tuple):  # candidate lists (fused models), the shelf already out
                    ids, scores = result
                else:  # scores over every work: the setting's best `POOL` works, as the engine fetches
                    if dense is None:
                        dense = np.array(result, dtype=np.float64, copy=True)
                        dense[seen.row, seen.col] = -np.inf
                    ids, scores = best_of(np.where(allowed[r.name], dense, -np.inf), rarity_mod.POOL)
                rows = np.arange(len(batch))[:, None]
                keys = rarity_mod.adjust(scores, likes, r, threshold=threshold, candidates=ids,
                                         support=support[rows, ids] if support is not None else None)
                best = top_k(keys, k)
                listed = np.where(best >= 0, np.take_along_axis(ids, np.maximum(best, 0), axis=1), -1)
                tops[name, r.name][start:start + len(batch)] = -1
                tops[name, r.name][start:start + len(batch), :listed.shape[1]] = listed
                if support_shares:
                    listed_rows = np.broadcast_to(rows, listed.shape)
                    listed_support[name, r.name].append(support[listed_rows[listed >= 0], listed[listed >= 0]])
    truth_row = np.searchsorted(readers, split.test_user)
    head = likes >= threshold
    results = {m: {r.name: ranking_metrics(tops[m, r.name], truth_row, split.test_work, likes, head) for r in rarities}
               for m in scorers}
    if support_shares:
        for (m, name), parts in listed_support.items():
            results[m][name].update(support_share(np.concatenate(parts) if parts else np.zeros(0, np.int32)))
    return results


# --- rarereads' own models --------------------------------------------------------------

def training_dataset(split: Split, dataset: Dataset) -> Dataset:
    """The split's training likes as a dataset the trainer reads (every like rated 10)."""
    return Dataset(dataset.works, split.train_user.astype(np.int32), split.work_ids[split.train_work].astype(np.int32),
                   np.full(len(split.train_user), 10.0, np.float32), 10, dataset.source, split.n_users,
                   dict(dataset.meta))


class OurModels:
    """Fits rarereads' models on a split, sharing work between hyperparameter sets.

    An ELSA or skip-gram embedding does not depend on the co-like or fusion settings,
    and the co-like weights not on the fusion settings, so a grid over those trains each
    embedding and each co-like table once.
    """

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self._cache: dict = {}

    def method(self, name: str, grid: list[dict]) -> Method:
        return Method(name, lambda split, params: self.fit(name, split, params), grid)

    def config(self, name: str, params: dict):
        return train_config({**params, "model": name})

    def fit(self, name: str, split: Split, params: dict) -> Scorer:
        from engine.scoring import FolderScorer
        from scipy.sparse import csr_matrix

        config = self.config(name, params)
        embedding, data = self._embedding(split, config)
        colike = None
        if config.colike:
            key = ("colike", id(split), config.colike, config.colike_lambda, config.colike_min_likes,
                   config.colike_reader_cap)
            if key not in self._cache:
                from .colike import fit_colike

                lone = np.maximum(data.catalogue_likes[data.rows] - data.like_counts, 0)
                self._cache[key] = fit_colike(data.indptr, data.indices, data.n_works, neighbours=config.colike,
                                              lam=config.colike_lambda, min_likes=config.colike_min_likes,
                                              reader_cap=config.colike_reader_cap, seed=config.seed,
                                              lone_likes=lone)[0]
            indptr, columns, weights = self._cache[key]
            universe = self._universe(split, data)
            rows = np.repeat(universe, np.diff(indptr))
            colike = csr_matrix((weights, (rows, universe[columns])), shape=(split.n_works, split.n_works))
        query, target, trained = embedding
        return FolderScorer(query, target, trained, colike,
                            {"fusion_weight": config.fusion_weight, "fusion_k": config.fusion_k})

    def _universe(self, split: Split, data) -> np.ndarray:
        return np.searchsorted(split.work_ids, data.work_ids)

    def _embedding(self, split: Split, config):
        """(query, target, trained) over the split's universe, and the training data (cached per split)."""
        import torch

        from .data import prepare_data
        from .registry import get_model
        from .train import resolve_device

        structural = {k: v for k, v in vars(config).items()
                      if k not in ("colike", "colike_lambda", "colike_min_likes", "colike_reader_cap",
                                   "fusion_weight", "fusion_k")}
        key = ("embedding", id(split), tuple(sorted(structural.items())))
        if key not in self._cache:
            if config.threads:
                torch.set_num_threads(config.threads)
            data = prepare_data(training_dataset(split, self.dataset), config)
            fitted = get_model(config.model).fit(config, data, resolve_device(config.device), progress=False)
            universe = self._universe(split, data)
            query = np.zeros((split.n_works, fitted.query.shape[1]), np.float32)
            target = np.zeros_like(query)
            query[universe], target[universe] = fitted.query, fitted.target
            trained = np.zeros(split.n_works, dtype=bool)
            trained[universe] = True
            self._cache[key] = ((query, target, trained), data)
        return self._cache[key]


# The grids of rarereads' models: what the validation split chooses among.
OUR_GRIDS = {
    "elsa": [{"colike_lambda": lam, "fusion_weight": 0.35} for lam in (50.0, 100.0, 200.0)]
            + [{"colike_lambda": 100.0, "fusion_weight": w} for w in (0.2, 0.5)],
    "skipgram": [{"dim": d} for d in (64, 128)],
    "mf": [{"dim": d} for d in (64, 128)],
}


def train_config(settings: dict):
    """A `TrainConfig` from `settings` (strings from the command line are converted).

    Evaluation trains on every training like (`val_readers=0`): every method sees the same data.
    """
    import typing
    from dataclasses import fields

    from train.config import TrainConfig

    hints = typing.get_type_hints(TrainConfig)
    names = {f.name for f in fields(TrainConfig)}
    values = {"val_readers": 0}
    for name, value in settings.items():
        if name not in names:
            raise SystemExit(f"--model-config: unknown training setting {name!r}; see `rarereads train --help`")
        values[name] = _coerce(hints[name], value)
    try:
        return TrainConfig(**values).validate()
    except (TypeError, ValueError) as exc:
        raise SystemExit(f"--model-config: {exc}") from None


def _coerce(hint, value):
    """A setting's value from a command-line string, following the field's type hint."""
    if not isinstance(value, str):
        return value
    if value.lower() in ("none", "") and type(None) in getattr(hint, "__args__", ()):
        return None
    kind = next((t for t in getattr(hint, "__args__", (hint,)) if t is not type(None)), str)
    if kind is bool:
        if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise SystemExit(f"--model-config: {value!r} is not true or false")
        return value.lower() in ("1", "true", "yes")
    try:
        return kind(value)
    except ValueError:
        raise SystemExit(f"--model-config: {value!r} is not a {kind.__name__}") from None


# --- choosing hyperparameters -------------------------------------------------------------

def objective(metrics: dict[str, dict[str, float]]) -> float:
    """What validation maximises: recall under `any` plus tail recall under the default rarity."""
    def value(x):
        return 0.0 if x is None or (isinstance(x, float) and math.isnan(x)) else x

    return value(metrics["any"]["recall"]) + value(metrics[rarity_mod.DEFAULT_RARITY]["tail_recall"])


def choose(method: Method, validation: Split, k: int, batch_size: int) -> tuple[dict, list[tuple[dict, float]]]:
    """The grid point with the best validation objective, and every point's objective."""
    if len(method.grid) == 1:
        return method.grid[0], []
    tried = []
    for params in method.grid:
        t0 = time.perf_counter()
        scorer = method.fit(validation, params)
        metrics = evaluate_scorers({method.name: scorer}, validation, ["any", rarity_mod.DEFAULT_RARITY], k,
                                   batch_size)[method.name]
        tried.append((params, objective(metrics)))
        log.info("%s %s: validation objective %.4f (%.0f s)", method.name, params, tried[-1][1],
                 time.perf_counter() - t0)
    best = max(tried, key=lambda t: t[1])[0]
    return best, tried


# --- served -----------------------------------------------------------------------------

def served_metrics(folder: Path, split: Split, dataset: Dataset, config, rarities: Iterable[str], k: int = K,
                   diversify: bool = True, lang: str | None = None) -> dict[str, dict[str, float]]:
    """The protocol answered through `Engine.recommend`, reader by reader (what users get).

    Args:
        folder: A model folder trained on `split`'s training likes.
        config: Its training config (to renumber its catalogue into the split's universe).
        diversify: The engine's per-author and per-series limits (off: the model's own list).
        lang: The requests' `lang` (None: the language of each reader's shelf, as in chat).
    """
    from engine.recommender import SKIP_REASONS, Engine

    from .data import prepare_data

    engine = Engine.from_folder(folder, check_hashes=False, diversify=diversify)
    catalogue = prepare_data(training_dataset(split, dataset), config).catalogue_ids
    to_folder = np.full(split.n_works, -1, np.int64)
    position = np.searchsorted(catalogue, split.work_ids)
    found = (position < len(catalogue)) & (catalogue[np.minimum(position, len(catalogue) - 1)] == split.work_ids)
    to_folder[found] = position[found]
    to_universe = np.searchsorted(split.work_ids, catalogue)
    readers = split.readers
    shelves = split.shelf_matrix()
    likes = split.train_likes()
    head = rarity_mod.head_mask(likes)
    truth_row = np.searchsorted(readers, split.test_user)
    results = {}
    for name in rarities:
        top = np.full((len(readers), k), -1, np.int64)
        support, skipped, lists = [], dict.fromkeys(SKIP_REASONS, 0), 0
        for row, reader in enumerate(readers):
            ids = to_folder[shelves[reader].indices]
            ids = ids[ids >= 0]
            if not len(ids):
                continue
            answer = engine.recommend(ids.tolist(), k=k, rarity=name, lang=lang)
            listed = to_universe[[p.work.id for p in answer.picks]]
            top[row, :len(listed)] = listed
            support += [p.support for p in answer.picks]
            for reason, count in answer.skipped.items():
                skipped[reason] += count
            lists += 1
        results[name] = {**ranking_metrics(top, truth_row, split.test_work, likes, head),
                         **served_figures(np.array(support), skipped, lists)}
    return results


def served_figures(support: np.ndarray, skipped: dict[str, int], lists: int) -> dict[str, float]:
    """What the engine's rules did: the share of picks resting on 0 and on 1 co-readers
    (`support0_share`, `support1_share`), and per list the candidates each rule passed over
    (`skipped_<reason>`, see `engine.recommender.SKIP_REASONS`)."""
    return {**support_share(support), **{f"skipped_{reason}": count / max(lists, 1) for reason, count in skipped.items()}}


def support_share(support: np.ndarray) -> dict[str, float]:
    """The share of picks whose co-reader count is 0 and 1 (NaN without picks)."""
    return {f"support{n}_share": float(np.mean(support == n)) if len(support) else math.nan for n in (0, 1)}


# --- output ---------------------------------------------------------------------------

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


def _json_value(value):
    return None if isinstance(value, float) and math.isnan(value) else value


# --- command --------------------------------------------------------------------------

def _parse_key_values(items: list[str], what: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"{what} takes KEY=VALUE, not {item!r}")
        pairs[key.strip().replace("-", "_")] = value.strip()
    return pairs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rarereads.paths import DEFAULT_DATASET

    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="dataset folder (default: %(default)s)")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="readme",
                        help="readme: readers hold out 20%% of their likes; new-readers: 10%% of readers are "
                             "held out of training and bring 80%% of their likes as a shelf (default: %(default)s)")
    parser.add_argument("--model", type=Path, help="model folder: evaluate its config and save eval.md/eval.json into it")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"comma-separated methods among {', '.join(METHODS)} (default: all)")
    parser.add_argument("--rarities", default=",".join(rarity_mod.RARITIES),
                        help=f"comma-separated rarity settings among {', '.join(rarity_mod.RARITIES)} (default: all)")
    parser.add_argument("--model-config", action="append", default=[], metavar="KEY=VALUE",
                        help="a training setting of rarereads' models (repeatable), e.g. dim=64; it is not tuned")
    parser.add_argument("--no-tune", action="store_true",
                        help="skip the validation search: each method's first grid point and rarereads' defaults")
    parser.add_argument("--chosen", default=None, metavar="JSON",
                        help="hyperparameters already chosen on this protocol's validation split, as a JSON object "
                             "method -> settings (e.g. from an earlier run's log or eval.json): those methods skip "
                             "the search")
    parser.add_argument("--served", action="store_true",
                        help="also answer the protocol through Engine.recommend for rarereads' models (what users get)")
    parser.add_argument("-k", type=int, default=K, help="list length (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=SEED, help="split seed (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=256, help="readers scored at once (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of a Markdown table")


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise SystemExit(f"unknown method(s) {', '.join(unknown)}; choose among {', '.join(METHODS)}")
    rarities = [r.strip() for r in args.rarities.split(",") if r.strip()]
    for name in rarities:
        try:
            rarity_mod.get_rarity(name)
        except ValueError as exc:
            raise SystemExit(str(exc)) from None
    try:
        overrides = model_overrides(args)
        dataset = Dataset.load(args.dataset)
    except RarereadsError as exc:
        raise SystemExit(f"rarereads eval: {exc}") from None
    split = make_split(*dataset.likes(), seed=args.seed, protocol=args.protocol)
    validation = split.validation(args.seed + 1)
    log.info("%s split: %d training likes, %d readers evaluated (%d shelf likes, %d held out), %d works",
             args.protocol, len(split.train_user), len(split.readers), len(split.shelf_user), len(split.test_user),
             split.n_works)

    ours = OurModels(dataset)
    folder_model = overrides.pop("model", None)
    if folder_model:  # --model FOLDER: its settings are for its own model only
        methods = [m for m in methods if m not in OURS or m == folder_model]
    given = _parse_chosen(args.chosen, methods)
    chosen, scorers, notes = {}, {}, {}
    for name in methods:
        if name in OURS:
            grid = [dict(overrides)] if (overrides or args.no_tune) else [{**p} for p in OUR_GRIDS[name]]
            method = ours.method(name, grid)
        else:
            method = BASELINES[name]
            if args.no_tune:
                method = Method(method.name, method.fit, method.grid[:1], method.note)
        if name in given:
            method = Method(method.name, method.fit, [given[name]], method.note)
        params, tried = choose(method, validation, args.k, args.batch_size)
        chosen[name] = {"params": params, "validation": [{"params": p, "objective": round(o, 5)} for p, o in tried]}
        t0 = time.perf_counter()
        scorers[name] = method.fit(split, params)
        notes[name] = method.note
        log.info("%s: chose %s; fitted in %.0f s", name, params or "(no hyperparameters)", time.perf_counter() - t0)
    metrics = evaluate_scorers(scorers, split, rarities, args.k, args.batch_size)
    rows = [{"method": m, "rarity": r, **{c: _json_value(v) for c, v in metrics[m][r].items()}}
            for m in methods for r in rarities]
    if args.served:
        rows += served_rows(args, split, dataset, ours, chosen, [m for m in methods if m in OURS], rarities)

    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(markdown_table(rows))
        print()
        served = [row for row in rows if "support0_share" in row]
        if served:
            print("What the engine's rules did (served): share of picks on 0 and 1 co-readers, candidates "
                  "passed over per list by each rule:")
            print(markdown_table(served, ("method", "rarity", "support0_share", "support1_share")
                                 + tuple(c for c in served[0] if c.startswith("skipped_"))))
            print()
        print("Chosen on the validation split (objective: recall@k under any + tail recall@k under "
              f"{rarity_mod.DEFAULT_RARITY}):")
        for name in methods:
            note = f" ({notes[name]})" if notes.get(name) else ""
            print(f"- {name}: {json.dumps(chosen[name]['params']) if chosen[name]['params'] else 'nothing to choose'}{note}")
    seconds = time.perf_counter() - started
    log.info("evaluated in %.0f s", seconds)
    if args.model:
        from engine.modelfolder import write_eval_results

        command = "rarereads eval " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["eval"] else "rarereads eval"
        write_eval_results(args.model, rows, {"command": command, "k": args.k, "seed": args.seed,
                                              "protocol": args.protocol, "seconds": round(seconds, 1),
                                              "model_config": overrides, "chosen": chosen}, markdown_table(rows))
    return 0


def served_rows(args, split: Split, dataset: Dataset, ours: OurModels, chosen: dict, names: list[str],
                rarities: list[str]) -> list[dict]:
    """`--served` rows: each of rarereads' models trained with its chosen settings, asked reader by reader."""
    import tempfile

    from .train import train as trainer

    rows = []
    for name in names:
        config = ours.config(name, chosen[name]["params"])
        with tempfile.TemporaryDirectory(prefix="rarereads-eval-") as tmp:
            folder = trainer(config, training_dataset(split, dataset), Path(tmp) / "model",
                             checkpoint_dir=Path(tmp) / "checkpoints", progress=False)
            t0 = time.perf_counter()
            metrics = served_metrics(folder, split, dataset, config, rarities, args.k)
        log.info("%s served: %d readers x %d rarities in %.0f s", name, len(split.readers), len(rarities),
                 time.perf_counter() - t0)
        rows += [{"method": f"{name} (served)", "rarity": r, **{c: _json_value(v) for c, v in metrics[r].items()}}
                 for r in rarities]
    return rows


def _parse_chosen(text: str | None, methods: list[str]) -> dict[str, dict]:
    """`--chosen`: method -> settings chosen earlier (no search for those methods)."""
    if not text:
        return {}
    try:
        given = json.loads(text)
    except ValueError as exc:
        raise SystemExit(f"--chosen is not JSON: {exc}") from None
    if not isinstance(given, dict) or not all(isinstance(v, dict) for v in given.values()):
        raise SystemExit('--chosen takes a JSON object of method -> settings, e.g. {"ease": {"lambda": 100}}')
    unknown = sorted(set(given) - set(methods))
    if unknown:
        raise SystemExit(f"--chosen names method(s) not evaluated: {', '.join(unknown)}")
    return given


def model_overrides(args: argparse.Namespace) -> dict[str, str]:
    """Training settings for rarereads' models: the model folder's config, then `--model-config`.

    The folder's `val_readers` is left out: in evaluation every method learns from all
    training likes (see `train_config`).
    """
    settings: dict[str, str] = {}
    if args.model:
        from engine.modelfolder import read_manifest

        config = read_manifest(args.model).get("config", {})
        settings.update({k: v for k, v in config.items() if k != "val_readers"})
    settings.update(_parse_key_values(args.model_config, "--model-config"))
    return settings
