"""`rarereads bench`: speed and memory at the shipped size, at 300k works, or at Lit2Vec2's 2.8M.

Every figure is printed as a Markdown table and appended, with the machine it ran on, to
BENCHMARKS.md (one section per run; other sections are left alone). Figures:

- trainer: skip-gram pairs/s and seconds per step of the real model, sampler and optimiser,
  ELSA readers/s, and one fit of the co-like weights, on this machine's device, for a short
  run after a warm-up;
- HNSW (engine.ann.HnswIndex.build): build time, index size, recall@10 against exact
  inner-product search on a sample, single-query p50;
- serving, in a fresh process that imports no torch (like the bot): model folder load time
  (engine ready), resident memory, matcher p50/p99 and top-1 accuracy on a generated query
  set (typos, missing words, wrong case, accents, "title by author"), a brute-force rapidfuzz
  baseline over all titles, and `recommend` end to end (match, index, rarity re-rank, reasons);
  beside the generated queries, the natural ones of `tools/natural_queries.py` (well-known
  titles typed as people type them; only catalogues that hold those books have them).

Sizes: `shipped` (data/bookcrossing), `300k` and `2.8m` (synthetic, from tools.synth, cached
under var/bench/), `tiny` (synthetic, for tests). Vectors come from `--model` or, without one,
from the newest model folder trained on the same data; else planted stand-ins are used (the
synthetic taste clusters, or random clusters for the shipped data), and the table says so.
Medians throughout.

One module a job, each importable without torch (the trainer's is imported when it runs):
`cli` (the flags and a run, start to end), `data` (the dataset of a size, the vectors),
`machine` (what it ran on), `trainer`, `hnsw`, `queries` (the generated query set and its
judge), `matcher`, `serving` (the fresh serving process and its launcher), `report` (the
Markdown and BENCHMARKS.md).
"""
