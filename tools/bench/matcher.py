"""The title matcher's figures: latency and top-1 of any matcher over a query set, the
brute-force baseline it replaces, and the matcher alone at full size (`--matcher-only`)."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from engine.dataset import Dataset

from ..natural_queries import natural_queries
from .queries import judge, make_queries


def time_matcher(match, queries: list[dict], correct) -> dict:
    """p50/p99 of `match(text) -> [work ids, best first]` and its top-1 accuracy, overall and per kind."""
    match_ms, hits, by_kind, ms_by_kind = [], [], {}, {}
    for q in queries:
        t = time.perf_counter()
        found = match(q["text"])
        match_ms.append(1e3 * (time.perf_counter() - t))
        ok = correct(found[0] if len(found) else None, q)
        hits.append(ok)
        by_kind.setdefault(q["kind"], []).append(ok[1])
        ms_by_kind.setdefault(q["kind"], []).append(match_ms[-1])
    return {"matcher_p50_ms": float(np.median(match_ms)), "matcher_p99_ms": float(np.percentile(match_ms, 99)),
            "matcher_top1": float(np.mean([h[1] for h in hits])), "matcher_top1_strict": float(np.mean([h[0] for h in hits])),
            "matcher_top1_by_kind": {k: float(np.mean(v)) for k, v in by_kind.items()},
            "matcher_p50_by_kind": {k: float(np.median(v)) for k, v in ms_by_kind.items()}, "queries": len(queries)}


def natural_figures(match, natural: list[dict], correct, resolve=None) -> dict:
    """Top-1 (the right work itself), p50, and with `resolve` how many it answers directly, of the natural queries."""
    if not natural:
        return {"natural_queries": 0}
    timed = time_matcher(match, natural, correct)
    figures = {"natural_queries": len(natural), "natural_top1": timed["matcher_top1_strict"],
               "natural_p50_ms": timed["matcher_p50_ms"]}
    if resolve is not None:
        from engine.errors import RarereadsError

        answered = 0
        for q in natural:
            try:
                answered += resolve(q["text"]) == q["work"]
            except RarereadsError:
                pass
        figures["natural_resolved"] = answered / len(natural)
    return figures


def brute_force_baseline(titles, queries: list[dict], correct) -> dict:
    """p50 and top-1 of rapidfuzz's WRatio over every title, one query at a time (what the matcher replaces)."""
    from rapidfuzz import fuzz, process

    from engine.normalize import fold

    folded = [fold(t) for t in titles] if queries else []
    base_ms, base_hits = [], []
    for q in queries:
        t = time.perf_counter()
        best = process.extractOne(fold(q["text"]), folded, scorer=fuzz.WRatio)
        base_ms.append(1e3 * (time.perf_counter() - t))
        base_hits.append(correct(best[2] if best else None, q)[1])
    return {"baseline_p50_ms": float(np.median(base_ms)) if base_ms else None,
            "baseline_top1": float(np.mean(base_hits)) if base_hits else None, "baseline_queries": len(base_ms)}


def bench_matcher_only(dataset: Dataset, n_queries: int, baseline_queries: int) -> dict:
    """The title matcher alone at full size: build, save and load (matcher.npz), latency, accuracy."""
    from engine.matcher import TitleMatcher

    works = dataset.works
    likes = np.bincount(dataset.likes()[1], minlength=len(works))
    start = time.perf_counter()
    matcher = TitleMatcher(works.title, works.author, likes)
    result = {"build_s": time.perf_counter() - start, "index_mb": matcher.nbytes() / 2 ** 20}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "matcher.npz"
        start = time.perf_counter()
        matcher.save(path)
        result["save_s"] = time.perf_counter() - start
        result["file_mb"] = path.stat().st_size / 2 ** 20
        del matcher
        start = time.perf_counter()
        matcher = TitleMatcher.load(path)
        result["load_s"] = time.perf_counter() - start
        dropped: dict = {}
        queries = make_queries(works.title, works.author, n_queries, dropped=dropped)
        result["left_out"] = sum(dropped.values())

        def correct(top: int | None, q: dict) -> tuple[bool, bool]:
            return judge(top, q, works.title, works.author)

        matcher.match("warm up the matcher", limit=5)
        result.update(time_matcher(lambda text: [i for i, _ in matcher.match(text, limit=5)], queries, correct))
        natural, result["natural_missing"] = natural_queries(works.title, works.author, likes)
        result.update(natural_figures(lambda text: [i for i, _ in matcher.match(text, limit=5)], natural, correct))
    result.update(brute_force_baseline(works.title, queries[:baseline_queries], correct))
    return result
