"""Likes ready for a model: the hold-out split, the catalogue, the readers' CSR (numpy only).

Two numberings meet here. The *catalogue* is every work with a like in the data (what a
model folder lists, so every liked book can be found and shelved). The *model rows* are
the works a model can learn from (liked by a reader who gives it context); models see
only those, and `rows` says where each sits in the catalogue.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.dataset import Dataset
from engine.normalize import work_key

from .config import TrainConfig


@dataclass
class TrainingData:
    """Likes ready for training (numpy, host side)."""

    work_ids: np.ndarray  # int64 [n_works] model row -> work id in the dataset
    indptr: np.ndarray  # int64 [n_readers + 1] CSR over training readers
    indices: np.ndarray  # int32 [n_likes] model rows, grouped by reader
    like_counts: np.ndarray  # int64 [n_works] training likes per model row (what the model learns from)
    catalogue_ids: np.ndarray  # int64 [n_catalogue] catalogue row -> work id in the dataset (every liked work)
    rows: np.ndarray  # int64 [n_works] catalogue row of each model row
    catalogue_likes: np.ndarray  # int64 [n_catalogue] every like but the validation ones, lone-like readers included
    val_reader: np.ndarray  # int64 [n_val] training reader whose like was held out
    val_work: np.ndarray  # int64 [n_val] the held-out work (model row)
    negative_indptr: np.ndarray = None  # int64 [n_readers + 1] CSR of "not interested" marks (model rows)
    negative_indices: np.ndarray = None  # int32 [n_negatives]
    stats: dict = field(default_factory=dict)

    @property
    def n_works(self) -> int:
        return len(self.work_ids)

    @property
    def n_readers(self) -> int:
        return len(self.indptr) - 1


@dataclass
class Fitted:
    """What a model's `fit` returns: vectors over the model rows, and how the run went.

    `query` and `target` follow the model-folder contract (`engine.modelfolder`): the dense
    score of row c for a reader of rows L is `mean(query[L]) @ target[c]`.
    """

    query: np.ndarray  # float32 [n_works, d]
    target: np.ndarray  # float32 [n_works, d]
    history: dict  # {"loss": [(step, value)], "val": [...]} for loss.png
    metrics: dict  # train_seconds, steps, epochs, ...; merged into the manifest
    checkpoint: str | None = None


def read_extra_likes(path: str | Path, dataset: Dataset,
                     readers: dict[str, int] | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Likes (or "not interested" marks) from a CSV with columns `reader,title,author` (`work_key` optional).

    Works are matched by `work_key` (the column when given, else `engine.normalize.work_key`
    of title and author); rows naming a work the dataset lacks are skipped and counted.
    Readers get new ids after the dataset's, so they never merge with one; pass the same
    `readers` dict to both calls so the likes and the marks of one reader meet.

    Returns:
        (user, work) int64 arrays and counts {"rows", "matched", "unknown_works", "readers"}.
    """
    key_to_work: dict[str, int] = {}
    for i, (title, author) in enumerate(zip(dataset.works.title, dataset.works.author)):
        key_to_work.setdefault(work_key(title, author), i)
    first_new = int(max(dataset.n_users, int(dataset.user.max(initial=-1)) + 1))
    readers = {} if readers is None else readers
    users, works, rows, unknown, seen = [], [], 0, 0, set()
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"reader", "title", "author"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: extra likes need columns reader,title,author (missing {', '.join(sorted(missing))})")
        for row in reader:
            rows += 1
            key = (row.get("work_key") or "").strip() or work_key(row["title"] or "", row["author"] or "")
            work = key_to_work.get(key)
            if work is None:
                work = key_to_work.get(work_key(row["title"] or "", row["author"] or ""))
            if work is None:
                unknown += 1
                continue
            seen.add(row["reader"])
            users.append(readers.setdefault(row["reader"], first_new + len(readers)))
            works.append(work)
    stats = {"rows": rows, "matched": len(works), "unknown_works": unknown, "readers": len(seen)}
    return np.array(users, dtype=np.int64), np.array(works, dtype=np.int64), stats


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """`np.unique` of a 1-D integer array by sorting: numpy 2's plain `np.unique` hashes instead,
    20-70x slower at millions of values (221 s of data preparation at 100M likes, 10 s sorting)."""
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


def prepare_data(dataset: Dataset, config: TrainConfig, extra: tuple[np.ndarray, np.ndarray] | None = None,
                 negatives: tuple[np.ndarray, np.ndarray] | None = None, context: int = 2) -> TrainingData:
    """Likes -> hold-out split -> filters -> catalogue and model numbering -> CSR.

    Validation holds out one like each of `val_readers` random readers with 3+ likes, and only
    likes whose work keeps other training likes, so every held-out work has a model row.
    Models learn only from readers with `context`+ training likes (a lone like says nothing
    about what goes with what); the model rows are the works with a like they learn from;
    the catalogue is every work with a like.

    Args:
        extra: More (user, work) likes (`read_extra_likes`).
        negatives: (user, work) "not interested" marks, same reader ids as `extra`.
        context: Training likes a reader needs to be learned from.
    """
    user, work = (a.astype(np.int64) for a in dataset.likes(config.like_threshold))
    if extra is not None and len(extra[0]):
        user, work = np.concatenate([user, extra[0]]), np.concatenate([work, extra[1]])
    n_all_works = len(dataset.works)
    pair = _sorted_unique(user * n_all_works + work)  # one like per (reader, work), sorted by reader
    user, work = pair // n_all_works, pair % n_all_works
    if len(user) == 0:
        raise ValueError("the dataset has no likes at this like threshold")

    rng = np.random.default_rng(config.seed)
    reader_counts = np.bincount(user)
    reader_start = np.concatenate([[0], np.cumsum(reader_counts)])
    eligible = np.flatnonzero(reader_counts >= 3)
    chosen = np.sort(rng.choice(eligible, size=min(config.val_readers, len(eligible)), replace=False))
    held = reader_start[chosen] + rng.integers(0, reader_counts[chosen])
    work_counts = np.bincount(work, minlength=n_all_works)
    held_per_work = np.bincount(work[held], minlength=n_all_works)
    held = held[work_counts[work[held]] > held_per_work[work[held]]]
    train = np.ones(len(user), dtype=bool)
    train[held] = False

    def keep_readers_with_context() -> None:
        counts = np.bincount(user[train], minlength=len(reader_counts))
        train[counts[user] < context] = False

    keep_readers_with_context()
    if config.min_likes > 1:
        counts = np.bincount(work[train], minlength=n_all_works)
        train[counts[work] < config.min_likes] = False
        keep_readers_with_context()
    if not train.any():
        raise ValueError("no training likes left (too few readers with two or more likes?)")

    work_ids = _sorted_unique(work[train])
    reader_ids = _sorted_unique(user[train])
    row = np.searchsorted(work_ids, work)
    reader = np.searchsorted(reader_ids, user)
    in_model = (row < len(work_ids)) & (work_ids[np.minimum(row, len(work_ids) - 1)] == work)
    in_training = (reader < len(reader_ids)) & (reader_ids[np.minimum(reader, len(reader_ids) - 1)] == user)
    held = held[in_model[held] & in_training[held]]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(reader[train], minlength=len(reader_ids)))])
    # Served like counts (the rarity head, "N readers liked it") count every reader, also those
    # with one like whom no model learns from, so they match the data's own popularity.
    counted = np.ones(len(user), dtype=bool)
    counted[held] = False
    catalogue_ids = _sorted_unique(work)
    catalogue_likes = np.bincount(np.searchsorted(catalogue_ids, work[counted]), minlength=len(catalogue_ids))
    neg_indptr, neg_indices = np.zeros(len(reader_ids) + 1, np.int64), np.zeros(0, np.int32)
    if negatives is not None and len(negatives[0]):
        n_user, n_work = (np.asarray(a, np.int64) for a in negatives)
        n_reader, n_row = np.searchsorted(reader_ids, n_user), np.searchsorted(work_ids, n_work)
        ok = ((n_reader < len(reader_ids)) & (reader_ids[np.minimum(n_reader, len(reader_ids) - 1)] == n_user)
              & (n_row < len(work_ids)) & (work_ids[np.minimum(n_row, len(work_ids) - 1)] == n_work))
        order = np.argsort(n_reader[ok], kind="stable")
        neg_indices = n_row[ok][order].astype(np.int32)
        neg_indptr = np.concatenate([[0], np.cumsum(np.bincount(n_reader[ok], minlength=len(reader_ids)))])
    stats = {"likes": int(len(user)), "train_likes": int(train.sum()), "val_likes": int(len(held)),
             "readers": int(len(reader_ids)), "works": int(len(work_ids)), "catalogue": int(len(catalogue_ids)),
             "works_with_likes": int((work_counts > 0).sum()), "negatives": int(len(neg_indices))}
    return TrainingData(work_ids=work_ids, indptr=indptr.astype(np.int64), indices=row[train].astype(np.int32),
                        like_counts=np.bincount(row[train], minlength=len(work_ids)).astype(np.int64),
                        catalogue_ids=catalogue_ids, rows=np.searchsorted(catalogue_ids, work_ids),
                        catalogue_likes=catalogue_likes.astype(np.int64),
                        val_reader=reader[held], val_work=row[held],
                        negative_indptr=neg_indptr.astype(np.int64), negative_indices=neg_indices, stats=stats)
