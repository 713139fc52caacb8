"""What readers get: the protocol answered through `Engine.recommend`, reader by reader.

A served row takes a model folder trained on the split's training likes and asks the
engine for every evaluated reader's list: index candidates, fusion, the rarity setting and
every list rule of `engine.rules` (language, support, kind, same book and series,
diversity). rarereads' models and EASE are served alike (EASE as a folder whose co-like
table is its weights, `evaluation.baselines.write_ease_folder`), so a rule's cost is never
mistaken for a model's weakness; `rule_costs` measures each rule's cost by serving with
that rule alone turned off.
"""
from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Iterable

import numpy as np

from engine import rarity as rarity_mod
from engine.dataset import Dataset
from engine.rules import SKIP_REASONS

from .metrics import json_value, ranking_metrics, served_figures
from .protocol import K, Split, training_dataset

log = logging.getLogger("evaluation")


def served_metrics(folder: Path, split: Split, catalogue_ids: np.ndarray, rarities: Iterable[str], k: int = K,
                   rules=SKIP_REASONS, lang: str | None = None, workers: int | None = None,
                   lists: dict | None = None) -> dict[str, dict[str, float]]:
    """The protocol answered through `Engine.recommend` with the folder's model.

    Args:
        folder: A model folder trained on `split`'s training likes.
        catalogue_ids: Dataset work id of each of the folder's works (to renumber into the split's universe).
        rules: The list rules that apply (`engine.rules.SKIP_REASONS`: all of them).
        lang: The requests' `lang` (None: the language of each reader's shelf, as in chat).
        lists: When given, each rarity's lists are kept in it (`[readers, k]` split work ids, -1 for
            an empty slot; the rows of `split.readers`), for `metrics.reader_metrics`.
        workers: Processes that ask the engine, each for a share of the readers (default:
            one per CPU this process may use, at most `MAX_WORKERS`, each with `MIN_SHARE`
            readers or more).
    """
    to_folder = np.full(split.n_works, -1, np.int64)
    position = np.searchsorted(catalogue_ids, split.work_ids)
    found = (position < len(catalogue_ids)) & (catalogue_ids[np.minimum(position, len(catalogue_ids) - 1)] == split.work_ids)
    to_folder[found] = position[found]
    to_universe = np.searchsorted(split.work_ids, catalogue_ids)
    readers = split.readers
    shelves = split.shelf_matrix()[readers]
    queries = [to_folder[shelves[row].indices] for row in range(len(readers))]
    queries = [ids[ids >= 0].tolist() for ids in queries]
    likes = split.train_likes()
    head = rarity_mod.head_mask(likes)
    truth_row = np.searchsorted(readers, split.test_user)
    if workers is None:
        workers = min(len(os.sched_getaffinity(0)), MAX_WORKERS, len(readers) // MIN_SHARE)
    workers = max(1, min(workers, len(readers)))
    shares = np.array_split(np.arange(len(readers)), workers)
    # spawned, not forked: the parent may hold torch's and BLAS's threads
    spawned = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) if workers > 1 else None
    results = {}
    with spawned or contextlib.nullcontext() as pool:
        for name in rarities:
            job = (str(folder), tuple(rules), name, k, lang)
            parts = None
            if pool is not None:
                try:
                    parts = list(pool.map(_ask, [job] * workers, [[queries[i] for i in share] for share in shares]))
                except BrokenProcessPool:  # e.g. a calling script without `if __name__ == "__main__":`
                    log.warning("the served readers' processes could not start; serving them in this process")
                    pool, shares = None, [np.arange(len(readers))]
            if parts is None:
                parts = [_ask(job, queries)]
            top = np.full((len(readers), k), -1, np.int64)
            support, skipped, asked = [], dict.fromkeys(SKIP_REASONS, 0), 0
            for share, (picked, picked_support, part_skipped, part_lists) in zip(shares, parts):
                for row, listed in zip(share, picked):
                    listed = to_universe[np.asarray(listed, np.int64)]
                    top[row, :len(listed)] = listed
                support += picked_support
                for reason, count in part_skipped.items():
                    skipped[reason] += count
                asked += part_lists
            if lists is not None:
                lists[name] = top
            results[name] = {**ranking_metrics(top, truth_row, split.test_work, likes, head),
                             **served_figures(np.array(support), skipped, asked)}
    return results


MAX_WORKERS = 8  # processes that serve an evaluation's readers at most
MIN_SHARE = 500  # readers a process serves at least (starting one takes about a second)


def _ask(job: tuple, queries: list[list[int]]) -> tuple[list[list[int]], list[int], dict[str, int], int]:
    """One process's share of `served_metrics`: each query's picks (folder work ids), every
    pick's co-readers, the candidates each rule passed over, and the lists asked."""
    from engine.recommender import Engine

    folder, rules, rarity, k, lang = job
    engine = Engine.from_folder(Path(folder), check_hashes=False, rules=list(rules))
    picked, support, skipped, lists = [], [], dict.fromkeys(SKIP_REASONS, 0), 0
    for ids in queries:
        if not ids:
            picked.append([])
            continue
        answer = engine.recommend(ids, k=k, rarity=rarity, lang=lang)
        picked.append([p.work.id for p in answer.picks])
        support += [p.support for p in answer.picks]
        for reason, count in answer.skipped.items():
            skipped[reason] += count
        lists += 1
    return picked, support, skipped, lists


class ServedFolders:
    """Model folders trained on one split's training likes, one per served method, in a temporary folder."""

    def __init__(self, split: Split, dataset: Dataset, scorers: dict | None = None):
        self.split, self.dataset = split, dataset
        self.scorers = scorers or {}  # the plain rows' scorers: EASE's weights are served, not fitted again
        self._tmp = tempfile.TemporaryDirectory(prefix="rarereads-eval-")
        self._folders: dict[str, tuple[Path, np.ndarray]] = {}

    def folder(self, name: str, params: dict, ours) -> tuple[Path, np.ndarray]:
        """(folder, its catalogue's dataset work ids) for method `name` with `params` (trained once)."""
        if name not in self._folders:
            from train.data import prepare_data

            from .baselines import write_ease_folder

            data = training_dataset(self.split, self.dataset)
            out = Path(self._tmp.name) / name
            if name == "ease":
                keep, weights = getattr(self.scorers.get("ease"), "weights", (None, None))
                fitted = (self.split.work_ids[keep], weights) if keep is not None else None
                catalogue = write_ease_folder(out, data, params["lambda"], fitted=fitted,
                                              profile=ours.profile_table(self.split))
            else:
                from train.train import train as trainer

                config = ours.config(name, params)
                trainer(config, data, out, checkpoint_dir=Path(self._tmp.name) / "checkpoints", progress=False,
                        parts=ours.parts(name, self.split, params))
                catalogue = prepare_data(data, config).catalogue_ids
            self._folders[name] = (out, catalogue)
        return self._folders[name]

    def close(self) -> None:
        self._tmp.cleanup()


def served_rows(folders: ServedFolders, ours, chosen: dict, names: list[str], rarities: list[str],
                k: int = K) -> list[dict]:
    """`--served` rows: each method's folder asked reader by reader, every rule on."""
    rows = []
    for name in names:
        folder, catalogue = folders.folder(name, chosen[name], ours)
        t0 = time.perf_counter()
        metrics = served_metrics(folder, folders.split, catalogue, rarities, k)
        log.info("%s served: %d readers x %d rarities in %.0f s", name, len(folders.split.readers), len(rarities),
                 time.perf_counter() - t0)
        rows += [{"method": f"{name} (served)", "rarity": r, **{c: json_value(v) for c, v in metrics[r].items()}}
                 for r in rarities]
    return rows


def rule_costs(folders: ServedFolders, ours, chosen: dict, names: list[str], rarity: str, k: int = K) -> list[dict]:
    """Each rule's cost: the served metrics with that rule alone turned off, for each method.

    Rows are named "<method> (served, no <rule>)"; the difference to the method's served row
    is what the rule costs (or gains) in each figure.
    """
    rows = []
    for name in names:
        folder, catalogue = folders.folder(name, chosen[name], ours)
        for rule in SKIP_REASONS:
            on = [r for r in SKIP_REASONS if r != rule]
            metrics = served_metrics(folder, folders.split, catalogue, [rarity], k, rules=on)[rarity]
            rows.append({"method": f"{name} (served, no {rule})", "rarity": rarity,
                         **{c: json_value(v) for c, v in metrics.items()}})
            log.info("%s served without %s: tail recall %.4f", name, rule, metrics["tail_recall"])
    return rows
