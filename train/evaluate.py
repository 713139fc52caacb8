"""`rarereads eval`: offline evaluation of the model and baselines, at every rarity.

Protocol:

- Data: the dataset's likes (`Dataset.likes()`: ratings >= 7 of 10 on Book-Crossing).
  The universe is the works with at least one like; users are the readers with one.
- Split: every reader with at least 5 likes holds out 20% of them, rounded half up and
  at least one (5-7 likes: 1, 8-12: 2, ...), chosen at random with seed 0. Everything
  else is training data. The split depends only on the likes and the seed.
- Every method is fitted on the training likes only: `rarereads eval` trains the
  skip-gram itself with the trainer (a model folder trained on all likes would have
  seen the held-out ones); `--model FOLDER` takes that folder's training config and
  saves the results there as `eval.md` and `eval.json`.
- Candidates: every work of the universe except the reader's training likes. Each
  method scores all of them (batches of readers x all works); the rarity setting
  (`engine.rarity.adjust`, the same function the engine uses) re-ranks and filters the
  scores; the top k = 20 form the list. The skip-gram's rarity settings see the like
  counts of its model folder, as the engine does; the baselines' see the training likes.
- Head and tail: the head is the most-liked works that together hold 20% of training
  likes (ties at the boundary included, `engine.rarity.head_mask`); the tail is the rest.

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

Methods: `skipgram` (this project's model: `mean(query[liked]) @ target + bias`),
`popularity` (most training likes), `itemknn` (sum of cosine similarities of co-like
vectors, no neighbour cut-off), `als` (implicit's ALS, 64 factors, 15 iterations) and
`bpr` (implicit's BPR, 64 factors, 100 iterations). Baseline scores are put on a log
scale (log1p of counts, log of similarities and ALS preferences; BPR's are log-odds
already) so the rarity penalty means the same for every method.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from engine import rarity as rarity_mod
from engine.dataset import Dataset, Works
from engine.errors import RarereadsError

log = logging.getLogger(__name__)

K = 20
HOLDOUT = 0.2
MIN_LIKES = 5
SEED = 0
COLUMNS = ("method", "rarity", "recall", "ndcg", "tail_recall", "arp", "tail_share", "coverage")
METHODS = ("skipgram", "popularity", "itemknn", "als", "bpr")
ALS_FACTORS, ALS_ITERATIONS = 64, 15
BPR_FACTORS, BPR_ITERATIONS = 64, 100

Scorer = Callable[[np.ndarray], np.ndarray]  # reader ids [b] -> float32 scores [b, n_works]


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


@dataclass
class Split:
    """Training and held-out likes over a compact universe (ids 0..n-1)."""

    n_users: int
    n_works: int
    train_user: np.ndarray
    train_work: np.ndarray
    test_user: np.ndarray
    test_work: np.ndarray
    work_ids: np.ndarray  # dataset work id of each universe work
    held_out: np.ndarray  # bool per like given to `make_split`: True when held out

    @property
    def readers(self) -> np.ndarray:
        """Evaluated readers: those with held-out likes, ascending."""
        return np.unique(self.test_user)

    def train_likes(self) -> np.ndarray:
        """Training likes per universe work."""
        return np.bincount(self.train_work, minlength=self.n_works).astype(np.int64)

    def train_matrix(self):
        """Training likes as a CSR matrix, readers x works, float32 ones."""
        from scipy.sparse import csr_matrix

        ones = np.ones(len(self.train_user), dtype=np.float32)
        return csr_matrix((ones, (self.train_user, self.train_work)), shape=(self.n_users, self.n_works))


def make_split(user: np.ndarray, work: np.ndarray, holdout: float = HOLDOUT, min_likes: int = MIN_LIKES,
               seed: int = SEED) -> Split:
    """Split likes (dataset ids) into training and held-out likes over the liked works."""
    users, user_index = np.unique(np.asarray(user), return_inverse=True)
    work_ids, work_index = np.unique(np.asarray(work), return_inverse=True)
    user_index, work_index = user_index.astype(np.int32), work_index.astype(np.int32)
    test = holdout_mask(user_index, holdout, min_likes, seed)
    return Split(len(users), len(work_ids), user_index[~test], work_index[~test],
                 user_index[test], work_index[test], work_ids, test)


# --- metrics --------------------------------------------------------------------------

def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best scores per row, best first; -1 where the score is -inf."""
    n = scores.shape[1]
    k = min(k, n)
    part = np.argpartition(scores, n - k, axis=1)[:, n - k:]
    values = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
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


def evaluate_scorer(scorer: Scorer, split: Split, rarities: Iterable[str], k: int = K,
                    batch_size: int = 256, rarity_likes: np.ndarray | None = None) -> dict[str, dict[str, float]]:
    """Score every evaluated reader against every work and measure each rarity's lists.

    Args:
        scorer: Maps reader ids to `[b, n_works]` float32 log-scale scores.
        split: The split (training likes are excluded from the candidates).
        rarities: Rarity names to measure.
        k: List length.
        batch_size: Readers scored at once (memory: about 3 x batch x works x 4 bytes).
        rarity_likes: The like counts the rarity setting sees, when the method has its own
            (a model folder's, as the engine uses them); by default the training likes.
            Metrics always use the training likes.

    Returns:
        Metrics per rarity name.
    """
    rarities = list(rarities)
    readers = split.readers
    likes = split.train_likes()
    threshold = rarity_mod.head_threshold(likes)
    seen_likes = likes if rarity_likes is None else np.asarray(rarity_likes)
    seen_threshold = rarity_mod.head_threshold(seen_likes)
    train = split.train_matrix()
    tops = {name: np.empty((len(readers), min(k, split.n_works)), dtype=np.int64) for name in rarities}
    for start in range(0, len(readers), batch_size):
        batch = readers[start:start + batch_size]
        scores = np.array(scorer(batch), dtype=np.float32, copy=True)
        seen = train[batch].tocoo()
        scores[seen.row, seen.col] = -np.inf
        for name in rarities:
            adjusted = rarity_mod.adjust(scores, seen_likes, name, threshold=seen_threshold)
            tops[name][start:start + len(batch)] = top_k(adjusted, k)
    truth_row = np.searchsorted(readers, split.test_user)
    head = likes >= threshold
    return {name: ranking_metrics(tops[name], truth_row, split.test_work, likes, head) for name in rarities}


# --- methods --------------------------------------------------------------------------

def _row_means(split: Split, known: np.ndarray | None = None):
    """Training matrix scaled so each row averages over the reader's liked works (`known` ones only)."""
    from scipy.sparse import diags

    train = split.train_matrix()
    if known is not None:
        train = train @ diags(np.asarray(known, dtype=np.float32))
    counts = np.asarray(train.sum(axis=1)).ravel()
    return (diags((1.0 / np.maximum(counts, 1)).astype(np.float32)) @ train).tocsr()


def vector_scorer(query: np.ndarray, target: np.ndarray, bias: np.ndarray, split: Split,
                  known: np.ndarray | None = None) -> Scorer:
    """The model's score, `mean(query[liked]) @ target + bias`, as the engine computes it.

    Args:
        query, target, bias: Vectors over the split's universe.
        split: The split.
        known: Works the model has vectors for (default: all); the others are never
            recommended and left out of the readers' means.
    """
    means = _row_means(split, known)
    query = np.asarray(query, dtype=np.float32)
    target_t = np.ascontiguousarray(np.asarray(target, dtype=np.float32).T)
    bias = np.array(bias, dtype=np.float32)
    if known is not None:
        bias[~np.asarray(known, dtype=bool)] = -np.inf

    def score(batch: np.ndarray) -> np.ndarray:
        return (means[batch] @ query) @ target_t + bias

    return score


def popularity_scorer(split: Split) -> Scorer:
    """Everyone gets the most-liked works."""
    logs = np.log1p(split.train_likes()).astype(np.float32)
    return lambda batch: np.broadcast_to(logs, (len(batch), len(logs)))


def itemknn_scorer(split: Split) -> Scorer:
    """Sum over the reader's likes of the cosine similarity of co-like vectors.

    Computed through readers, `((R / |i|) @ X.T) @ X / |c|`, so the works x works
    similarity matrix is never built.
    """
    from scipy.sparse import diags

    train = split.train_matrix().tocsr()
    inverse_norm = diags((1.0 / np.sqrt(np.maximum(split.train_likes(), 1))).astype(np.float32))
    left = train @ inverse_norm
    right_t = train.T.tocsr()
    right = (train @ inverse_norm).tocsr()

    def score(batch: np.ndarray) -> np.ndarray:
        similarity = ((left[batch] @ right_t) @ right).toarray()
        return np.log(similarity + 1e-12, dtype=np.float32)

    return score


def _limit_blas():
    """implicit wants single-threaded BLAS (it parallelises itself)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, "blas")


def als_scorer(split: Split, factors: int = ALS_FACTORS, iterations: int = ALS_ITERATIONS) -> Scorer:
    """implicit's AlternatingLeastSquares; scores are log(max(preference, 1e-6))."""
    from implicit.cpu.als import AlternatingLeastSquares

    with _limit_blas():
        model = AlternatingLeastSquares(factors=factors, iterations=iterations, random_state=SEED)
        model.fit(split.train_matrix(), show_progress=False)
    users, items_t = model.user_factors, np.ascontiguousarray(model.item_factors.T)
    return lambda batch: np.log(np.maximum(users[batch] @ items_t, 1e-6))


def bpr_scorer(split: Split, factors: int = BPR_FACTORS, iterations: int = BPR_ITERATIONS) -> Scorer:
    """implicit's BayesianPersonalizedRanking; its scores are log-odds already."""
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    with _limit_blas():
        model = BayesianPersonalizedRanking(factors=factors, iterations=iterations, random_state=SEED)
        model.fit(split.train_matrix(), show_progress=False)
    users, items_t = model.user_factors, np.ascontiguousarray(model.item_factors.T)
    return lambda batch: users[batch] @ items_t


def skipgram_scorer(split: Split, dataset: Dataset, settings: dict) -> tuple[Scorer, np.ndarray]:
    """Train the project's model on the training likes: its scorer and its folder's like counts."""
    known, query, target, bias, likes = train_vectors(split, dataset, settings)
    return vector_scorer(query, target, bias, split, known), likes


def train_config(settings: dict):
    """A `TrainConfig` from `settings` (strings from the command line are converted).

    Evaluation trains on every training like unless told otherwise (`val_readers=0`):
    every method sees the same data.
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


def train_vectors(split: Split, dataset: Dataset, settings: dict):
    """Train with `train/` on the training likes only and read the vectors back.

    Returns:
        (known, query, target, bias, likes) over the split's universe; `known` marks works
        the trainer kept in its catalogue (the others have zero vectors); `likes` are the
        like counts of the model folder, which the engine's rarity settings use.
    """
    import tempfile

    from train import train as trainer

    config = train_config(settings)
    like = dataset.rating >= dataset.like_threshold()  # the likes `split` was made from, in order
    train = np.flatnonzero(like)[~split.held_out]
    training = Dataset(dataset.works, dataset.user[train], dataset.work[train], dataset.rating[train],
                       dataset.rating_scale, dataset.source, dataset.n_users, dict(dataset.meta))
    with tempfile.TemporaryDirectory(prefix="rarereads-eval-") as tmp:
        folder = trainer.train(config, training, Path(tmp) / "model", checkpoint_dir=Path(tmp) / "checkpoints",
                               progress=False)
        vectors = np.load(folder / "vectors.npz")
        query, target, bias = vectors["query"], vectors["target"], vectors["bias"]
        folder_likes = Works.read_tsv(folder / "works.tsv.gz")[1]["likes"]
        rows = trainer.prepare_data(training, config).work_ids  # model row -> dataset work id
    universe = np.searchsorted(split.work_ids, rows)
    known = np.zeros(split.n_works, dtype=bool)
    known[universe] = True
    full = [np.zeros((split.n_works, query.shape[1]), np.float32) for _ in range(2)]
    full[0][universe], full[1][universe] = query, target
    full_bias = np.zeros(split.n_works, np.float32)
    full_bias[universe] = bias
    likes = np.zeros(split.n_works, np.int64)
    likes[universe] = folder_likes
    return known, full[0], full[1], full_bias, likes


BASELINES = {"popularity": popularity_scorer, "itemknn": itemknn_scorer, "als": als_scorer, "bpr": bpr_scorer}


# --- output ---------------------------------------------------------------------------

def _format(column: str, value) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.1f}" if column == "arp" else f"{value:.3f}" if column == "tail_share" else f"{value:.4f}"


def markdown_table(rows: list[dict]) -> str:
    """Rows as a Markdown table with the columns of `COLUMNS`."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(COLUMNS) - 2)) + "|"]
    lines += ["| " + " | ".join(_format(c, row[c]) for c in COLUMNS) + " |" for row in rows]
    return "\n".join(lines)


def _json_value(value):
    return None if isinstance(value, float) and math.isnan(value) else value


def save_to_model_folder(folder: Path, rows: list[dict], info: dict) -> None:
    """Write `eval.md` and merge the rows into `eval.json` (the manifest is left alone)."""
    path = folder / "eval.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    merged = {(r["method"], r["rarity"]): r for r in previous.get("rows", [])}
    merged.update({(r["method"], r["rarity"]): r for r in rows})
    document = {**info, "rows": list(merged.values())}
    path.write_text(json.dumps(document, indent=2) + "\n")
    (folder / "eval.md").write_text(f"{info['command']}\n\n{markdown_table(list(merged.values()))}\n")


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
    parser.add_argument("--model", type=Path, help="model folder: train with its config and save eval.md/eval.json into it")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"comma-separated methods among {', '.join(METHODS)} (default: all)")
    parser.add_argument("--rarities", default=",".join(rarity_mod.RARITIES),
                        help="comma-separated rarity settings to measure (default: all)")
    parser.add_argument("--model-config", action="append", default=[], metavar="KEY=VALUE",
                        help="override a training setting of the skip-gram (repeatable), e.g. dim=64")
    parser.add_argument("--sweep", metavar="KEY=V1,V2,...",
                        help="train one skip-gram per value of a setting and compare them, e.g. sampler=uniform,unigram")
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
    split = make_split(*dataset.likes(), seed=args.seed)
    log.info("split: %d training likes, %d held out from %d readers, %d works",
             len(split.train_user), len(split.test_user), len(split.readers), split.n_works)

    rows = []
    for method in methods:
        variants = _variants(args.sweep, overrides) if method == "skipgram" else [(method, {})]
        for label, settings in variants:
            t0 = time.perf_counter()
            scorer, likes = (skipgram_scorer(split, dataset, settings) if method == "skipgram"
                             else (BASELINES[method](split), None))
            t1 = time.perf_counter()
            metrics = evaluate_scorer(scorer, split, rarities, args.k, args.batch_size, likes)
            log.info("%s: fitted in %.1f s, scored in %.1f s", label, t1 - t0, time.perf_counter() - t1)
            rows += [{"method": label, "rarity": name, **{c: _json_value(v) for c, v in metrics[name].items()}}
                     for name in rarities]

    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(markdown_table(rows))
    seconds = time.perf_counter() - started
    log.info("evaluated in %.0f s", seconds)
    if args.model:
        command = "rarereads eval " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["eval"] else "rarereads eval"
        save_to_model_folder(args.model, rows, {"command": command, "k": args.k, "seed": args.seed,
                                                "seconds": round(seconds, 1), "model_config": overrides})
    return 0


def _variants(sweep: str | None, overrides: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    """(label, training settings) of each skip-gram to train: one, or one per swept value."""
    if not sweep:
        return [("skipgram", overrides)]
    key, _, values = sweep.partition("=")
    key = key.strip().replace("-", "_")
    if not key or not values.strip():
        raise SystemExit(f"--sweep takes KEY=V1,V2,..., not {sweep!r}")
    return [(f"skipgram {key}={v.strip()}", {**overrides, key: v.strip()}) for v in values.split(",") if v.strip()]


def model_overrides(args: argparse.Namespace) -> dict[str, str]:
    """Training settings for the skip-gram: the model folder's config, then `--model-config`.

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
