"""The nearest-neighbour index (`engine.ann.HnswIndex`): build time, size, recall@10 against
exact inner-product search, and single-query latency."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np


def bench_hnsw(query: np.ndarray, target: np.ndarray, sample: int, threads: int, ef: int | None = None,
               seed: int = 0) -> tuple[dict, object]:
    """Build time, size, recall@10 against exact inner-product search, single-query p50 (at the serving ef)."""
    from engine.ann import HNSW_EF_CONSTRUCTION, HNSW_M, HnswIndex
    from engine.recommender import SERVING_EF

    ef = ef or SERVING_EF
    start = time.perf_counter()
    index = HnswIndex.build(target, threads=threads)
    build_s = time.perf_counter() - start
    index.set_breadth(ef)
    with tempfile.TemporaryDirectory() as tmp:
        index.save(Path(tmp) / "index.bin")
        size = (Path(tmp) / "index.bin").stat().st_size
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(query), size=min(sample, len(query)), replace=False)
    queries = np.ascontiguousarray(query[rows], dtype=np.float32)
    exact = np.empty((len(queries), 10), np.int64)
    for lo in range(0, len(queries), 64):  # exact top-10 by brute force, a few queries at a time
        scores = queries[lo:lo + 64] @ target.T
        part = np.argpartition(-scores, 9, axis=1)[:, :10]
        exact[lo:lo + 64] = np.take_along_axis(part, np.argsort(-np.take_along_axis(scores, part, 1), 1), 1)

    def measure(at: int) -> tuple[float, list[float]]:
        index.set_breadth(at)
        found = index.search_batch(queries, 10, threads=threads)
        recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact)]))
        times = []
        for q in queries:
            t = time.perf_counter()
            index.search(q, 10)
            times.append(time.perf_counter() - t)
        return recall, times

    # The trade-off at a lighter search breadth than serving uses (serving fetches 500 candidates).
    light = {}
    for at in (64, 128, 256):
        r, t = measure(at)
        light[at] = (r, 1e3 * float(np.median(t)))
    recall, times = measure(ef)
    return {"build_s": build_s, "index_mb": size / 2 ** 20, "recall10": recall, "ef": ef, "M": HNSW_M,
            "ef_construction": HNSW_EF_CONSTRUCTION, "query_p50_ms": 1e3 * float(np.median(times)),
            "query_p99_ms": 1e3 * float(np.percentile(times, 99)), "light": light}, index
