"""Synthetic catalogues at any size, shaped like real likes, with planted taste clusters.

`python -m tools.synth --works 2829853 --readers 3000000 --likes 100000000 --out DIR`
writes an `engine.dataset.Dataset` folder (through `Dataset.save`, the one writer of that
format) that the trainer reads unchanged, plus `clusters.npy` (int16 taste cluster of each
work), `parents.npy` and `synth.json` (the settings and the realised statistics).

How it is made (every step vectorised numpy; see docs/SCALE.md for the fitted numbers):

1. Likes per work and likes per reader follow curves fitted to Book-Crossing likes
   (`fit_curve`): a Zipf–Mandelbrot law over the rank quantile q = rank / n with a
   tail cut-off, `c(q) = C (q + beta)^-alpha (1 - q)^delta`. The shape (alpha, beta,
   delta) is kept and C is set so that the counts sum to the target number of likes.
2. Works fall into taste clusters of uneven size. Each reader has a few favourite
   clusters (more for heavy readers); most of a reader's likes go to them, the rest
   (`noise`) to any cluster.
3. A configuration model pairs reader "stubs" (one per like a reader will give) with
   work "stubs" (one per like a work will get) inside each cluster, so both curves
   are met exactly; surplus stubs pair across clusters. Repeated (reader, work) pairs
   are re-paired a few times, then dropped.
4. Titles and authors come from word lists, with deliberate near-duplicates
   ("The Glass Harbor" / "The Glass Harbour" / "Glass Harbor"), series
   ("Glass Harbor: Book 2") and reused titles, so that matching is hard.

One module a job: `curves` (the fitted curves and their statistics, step 1), `generate`
(clusters and pairing, steps 2 and 3), `names` (step 4), `__main__` (the command).
"""
