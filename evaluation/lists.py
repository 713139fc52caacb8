"""Every evaluated reader's list from every scorer, through the same rarity function (plain rows)."""
from __future__ import annotations

from typing import Iterable

import numpy as np

from engine import rarity as rarity_mod
from engine.ranking import allowed_best, top_ids, wide_best

from .baselines import Scorer
from .metrics import ranking_metrics, support_counts, support_share
from .protocol import K, Split


def evaluate_scorers(scorers: dict[str, Scorer], split: Split, rarities: Iterable[str], k: int = K,
                     batch_size: int = 256, support_shares: bool = False) -> dict[str, dict[str, dict[str, float]]]:
    """Score every evaluated reader against every work, apply each rarity, measure the lists.

    Args:
        scorers: Method name -> scorer (see `evaluation.baselines`).
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
                        dense = np.array(result, dtype=np.result_type(result, np.float32), copy=True)
                        dense[seen.row, seen.col] = -np.inf
                        wide = wide_best(dense)
                    ids, scores = allowed_best(dense, wide, allowed[r.name])
                rows = np.arange(len(batch))[:, None]
                keys = rarity_mod.adjust(scores, likes, r, threshold=threshold, candidates=ids,
                                         support=support[rows, ids] if support is not None else None)
                best = top_ids(keys, k)
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
