"""The evaluation protocols: who holds out which likes, and what the methods learn from.

- `readme` (the reference): the dataset's likes (`Dataset.likes()`: ratings >= 7 of 10 on
  Book-Crossing); every reader with at least 5 likes holds out 20% of them, rounded half up
  and at least one (5-7 likes: 1, 8-12: 2, ...), chosen at random with seed 0. Everything
  else is training data. An evaluated reader's shelf is their training likes.
- `new-readers` (the bot's situation: a reader the model has never seen brings a shelf):
  10% of the readers with at least 5 likes (seed 0) are held out of training entirely;
  80% of each one's likes are their shelf, the other 20% (rounded as above) are to be found.

Hyperparameters are chosen on a validation split carved from the training likes by the
same protocol (`Split.validation`, seed + 1), never on the test split.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.dataset import Dataset

K = 20
HOLDOUT = 0.2
MIN_LIKES = 5
NEW_READERS = 0.1  # new-readers protocol: share of the readers with MIN_LIKES likes held out of training
SEED = 0
PROTOCOLS = ("readme", "new-readers")


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


def training_dataset(split: Split, dataset: Dataset) -> Dataset:
    """The split's training likes as a dataset the trainer reads (every like rated 10)."""
    return Dataset(dataset.works, split.train_user.astype(np.int32), split.work_ids[split.train_work].astype(np.int32),
                   np.full(len(split.train_user), 10.0, np.float32), 10, dataset.source, split.n_users,
                   dict(dataset.meta))
