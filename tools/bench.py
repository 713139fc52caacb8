"""`rarereads bench`: speed and memory at the shipped size, at 300k works, or at Lit2Vec2's 2.8M.

Every figure is printed as a Markdown table and appended, with the machine it ran on, to
BENCHMARKS.md (one section per run; other sections are left alone). Figures:

- trainer: skip-gram pairs/s and seconds per step of the real model, sampler and optimiser
  (train/) on this machine's device, for a short run after a warm-up;
- HNSW (engine.ann.HnswIndex.build): build time, index size, recall@10 against exact
  inner-product search on a sample, single-query p50;
- serving, in a fresh process that imports no torch (like the bot): model folder load time
  (engine ready), resident memory, matcher p50/p99 and top-1 accuracy on a generated query
  set (typos, missing words, wrong case, accents, "title by author"), a brute-force rapidfuzz
  baseline over all titles, and `recommend` end to end (match, index, rarity re-rank, reasons);
  beside the generated queries, the natural ones of `train/natural_queries.py` (well-known
  titles typed as people type them; only catalogues that hold those books have them).

Sizes: `shipped` (data/bookcrossing), `300k` and `2.8m` (synthetic, from tools.synth, cached
under var/bench/), `tiny` (synthetic, for tests). Vectors come from `--model` or, without one,
from the folder that serves (the gate's record) if trained on the same data; else planted stand-ins are used (the
synthetic taste clusters, or random clusters for the shipped data), and the table says so.
Medians throughout. Only the standard library and `engine` are imported at module level.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import logging
import time
from pathlib import Path

import numpy as np

from engine.dataset import Dataset
from engine.errors import RarereadsError

from .natural_queries import natural_queries

log = logging.getLogger(__name__)

SIZES = {  # works, readers, likes (the 2.8M shape is Lit2Vec2's; 300k keeps its ratios)
    "tiny": (4_000, 4_300, 140_000),
    "300k": (300_000, 318_000, 10_600_000),
    "2.8m": (2_829_853, 3_000_000, 100_000_000),
}
TARGETS = {  # figure -> (comparison, bound); met at 2.8M
    "matcher_p50_ms": ("<=", 10.0), "matcher_p99_ms": ("<=", 50.0), "matcher_top1": (">=", 0.95),
    "hnsw_recall10": (">=", 0.98), "hnsw_query_p50_ms": ("<=", 1.0), "load_s": ("<=", 15.0),
    "serve_rss_gb": ("<", 2.5), "recommend_p99_ms": ("<=", 50.0),
}
QUERY_KINDS = ("exact", "typo", "missing word", "wrong case", "accents", "title by author", "typo by author")
ACCENTS = {"a": "á", "e": "é", "i": "í", "o": "ö", "u": "ü", "c": "ç", "n": "ñ"}
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _median_step(step, warmup: int, steps: int, cuda_device=None) -> float:
    """Median seconds of `step()` over `steps` runs after `warmup` (synchronised on a GPU)."""
    import torch

    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        if cuda_device is not None:
            torch.cuda.synchronize(cuda_device)
        t = time.perf_counter()
        step()
        if cuda_device is not None:
            torch.cuda.synchronize(cuda_device)
        times.append(time.perf_counter() - t)
    return float(np.median(times))

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", choices=("shipped", "300k", "2.8m", "tiny"), default="shipped",
                        help="catalogue size: the shipped Book-Crossing data or a synthetic one (default: shipped)")
    parser.add_argument("--data", type=Path, help="dataset folder to use instead of the size's (synthetic: with clusters.npy)")
    parser.add_argument("--model", type=Path, help="model folder whose vectors to use (default: newest on the same data, else stand-ins)")
    parser.add_argument("--cache", type=Path, default=PROJECT_ROOT / "var" / "bench", help="where synthetic datasets are kept")
    parser.add_argument("--queries", type=int, default=1000, help="matcher and recommend queries (default 1000)")
    parser.add_argument("--baseline-queries", type=int, default=5, help="queries for the brute-force rapidfuzz baseline")
    parser.add_argument("--train-steps", type=int, default=20, help="timed trainer steps (0: skip the trainer)")
    parser.add_argument("--train-shapes", default="4096x4",
                        help="skip-gram batch shapes, targets x contexts, comma-separated (Lit2Vec2's is 128x4; default 4096x4)")
    parser.add_argument("--elsa-batches", default="8192",
                        help="default model (ELSA): readers per step to time, comma-separated (default 8192; none: skip); "
                             "its co-like weights are timed once")
    parser.add_argument("--hnsw-sample", type=int, default=500, help="queries for HNSW recall and latency")
    parser.add_argument("--threads", type=int, default=-1, help="threads for the HNSW build (default: all cores)")
    parser.add_argument("--matcher-only", action="store_true",
                        help="measure the title matcher alone (build, save, load, latency, accuracy): no trainer, vectors or index")
    parser.add_argument("--trainer-only", action="store_true",
                        help="measure the trainer alone (data preparation, s/step and memory per shape): no index or serving")
    parser.add_argument("--output", type=Path, default=PROJECT_ROOT / "BENCHMARKS.md", help="file the run is appended to")
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to --output")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")


# --- machine ------------------------------------------------------------------------------------


def machine_info() -> dict:
    """CPU model, cores, RAM, GPU (if torch sees one) and library versions."""
    info = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "ram_gb": None,
            "gpu": "none", "torch": "not installed", "python": platform.python_version(), "numpy": np.__version__,
            "load": round(os.getloadavg()[0], 1)}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["ram_gb"] = round(int(line.split()[1]) / 2 ** 20, 1)
    except OSError:
        pass
    try:
        import torch

        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


# --- data and vectors -------------------------------------------------------------------------


def load_data(args: argparse.Namespace) -> tuple[Dataset, np.ndarray | None, Path]:
    """The dataset, its planted clusters (synthetic only) and its folder; makes synthetic data once."""
    if args.data:
        folder = args.data
    elif args.size == "shipped":
        folder = PROJECT_ROOT / "data" / "bookcrossing"
    else:
        folder = args.cache / f"synth-{args.size}"
        if not (folder / "dataset.json").exists():
            from .synth import SynthConfig, generate

            works, readers, likes = SIZES[args.size]
            print(f"generating the {args.size} synthetic dataset into {folder} (once) ...", file=sys.stderr)
            generate(SynthConfig(works, readers, likes), log=lambda m: print("  " + m, file=sys.stderr)).save(folder)
    clusters = np.load(folder / "clusters.npy") if (folder / "clusters.npy").exists() else None
    return Dataset.load(folder), clusters, folder


def stand_in_vectors(n: int, clusters: np.ndarray | None, dim: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(query, target) shaped like the default model's (ELSA): unit rows around taste-cluster centres.

    Used only when no trained model is at hand, so that HNSW, loading and serving can be
    measured at any size; the figures say so.
    """
    rng = np.random.default_rng(seed)
    if clusters is None:
        clusters = rng.integers(0, max(4, int(np.sqrt(n) * 2 / 3)), n)
    k = int(clusters.max()) + 1
    centre = rng.standard_normal((k, dim), dtype=np.float32)
    centre /= np.linalg.norm(centre, axis=1, keepdims=True)
    target = np.empty((n, dim), np.float32)
    for lo in range(0, n, 1 << 20):
        hi = min(n, lo + (1 << 20))
        noise = rng.standard_normal((hi - lo, dim), dtype=np.float32) * np.float32(0.7 / np.sqrt(dim))
        rows = centre[clusters[lo:hi]] + noise
        target[lo:hi] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return target, target


def find_model(args: argparse.Namespace, dataset: Dataset) -> Path | None:
    """`--model`, else the folder that serves (the retrain gate's record, as chat and serve read
    it) if it was trained on exactly this dataset; None measures planted stand-in vectors."""
    if args.model:
        return args.model
    from engine.modelfolder import read_manifest, served_folder
    from engine.shelf import read_verdicts
    from rarereads.settings import PathSettings, SettingsError, read_settings

    try:
        paths = read_settings(PathSettings)  # RAREREADS_MODELS_DIR and RAREREADS_DB, as every command reads them
        folder = served_folder(paths.models_dir, {n: v.accepted for n, v in read_verdicts(paths.db).items()})
        if folder is not None and read_manifest(folder).data_fingerprint == dataset.fingerprint():
            return folder
    except (RarereadsError, SettingsError) as exc:
        log.warning("measuring stand-in vectors: %s", exc)
    return None


# --- trainer -------------------------------------------------------------------------------------


def bench_trainer(dataset: Dataset, steps: int, shapes: list[tuple[int, int]], warmup: int = 3,
                  device: str = "auto", amp: bool = True) -> list[dict]:
    """Pairs/s and seconds per step of the real skip-gram step (sample, forward, backward, SparseAdam).

    The step is train/train.py's inner loop without logging, checkpoints or validation, for
    each (targets, contexts) shape in `shapes`; data preparation is done and timed once
    (`prepare_s`). On CUDA the peak memory of each shape is recorded too.
    """
    import resource

    import torch

    from train.config import TrainConfig
    from train.data import prepare_data
    from train.sampled import build_model, build_optimizer
    from train.sampler import NegativeSampler, ReaderLikes, sample_skipgram
    from train.train import resolve_device

    base = TrainConfig(model="skipgram", val_readers=0, device=device, amp=amp).validate()
    dev = resolve_device(base.device)
    cuda = dev.type == "cuda"
    start = time.perf_counter()
    data = prepare_data(dataset, base)
    prepare_s = time.perf_counter() - start
    likes = ReaderLikes.from_csr(data.indptr, data.indices, dev)
    sampler = NegativeSampler(base.sampler, data.like_counts, base.alpha, dev)
    name = torch.cuda.get_device_name(dev) if cuda else f"cpu, {torch.get_num_threads()} threads"
    results = []
    for batch_size, contexts in shapes:
        config = TrainConfig(model="skipgram", batch_size=batch_size, contexts=contexts, val_readers=0, device=device,
                             amp=amp).validate()
        if cuda:
            torch.cuda.reset_peak_memory_stats(dev)
        model = build_model(config, data, sampler).to(dev)
        optimizer = build_optimizer(config, model)
        generator = torch.Generator(device=dev)
        generator.manual_seed(0)
        autocast = torch.autocast("cuda", dtype=torch.bfloat16) if amp and cuda else torch.autocast("cpu", enabled=False)

        def step() -> None:
            batch = sample_skipgram(likes, batch_size, contexts, sampler, config.negatives, config.negative_pool,
                                    generator)
            with autocast:
                loss = model(*batch, k=config.negatives)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        per_step = _median_step(step, warmup, steps, dev if cuda else None)
        steps_per_epoch = int(np.ceil(likes.n_likes / batch_size))
        results.append({"model": "skipgram", "device": name, "prepare_s": prepare_s, "batch": f"{batch_size}x{contexts}",
                        "s_per_step": per_step, "pairs_per_s": batch_size * contexts / per_step,
                        "train_likes": int(likes.n_likes), "epoch_min": steps_per_epoch * per_step / 60,
                        "gpu_peak_gb": torch.cuda.max_memory_allocated(dev) / 2 ** 30 if cuda else None,
                        "host_peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20})
        del model, optimizer
    return results


def bench_elsa(dataset: Dataset, steps: int, batches: list[int], warmup: int = 2, device: str = "auto") -> list[dict]:
    """The default model's step (ELSA: gather readers' likes, loss, backward, Adam) per readers-per-step
    in `batches`, and one fit of its co-like weights; peak memory on CUDA."""
    import resource

    import torch

    from train.colike import fit_colike
    from train.config import TrainConfig
    from train.data import prepare_data
    from train.elsa import ELSA, _gather
    from train.train import resolve_device

    base = TrainConfig(model="elsa", val_readers=0, device=device).validate()
    dev = resolve_device(base.device)
    cuda = dev.type == "cuda"
    start = time.perf_counter()
    data = prepare_data(dataset, base)
    prepare_s = time.perf_counter() - start
    name = torch.cuda.get_device_name(dev) if cuda else f"cpu, {torch.get_num_threads()} threads"
    indptr = torch.from_numpy(data.indptr).to(dev)
    indices = torch.from_numpy(data.indices.astype(np.int64)).to(dev)
    results = []
    for batch in batches:
        if cuda:
            torch.cuda.reset_peak_memory_stats(dev)
        model = ELSA(data.n_works, base.dim).to(dev)
        optimizer = torch.optim.Adam(model.parameters(), lr=base.lr)
        generator = torch.Generator().manual_seed(0)

        def step() -> None:
            readers = torch.randint(0, data.n_readers, (min(batch, data.n_readers),), generator=generator).to(dev)
            row, col = _gather(indptr, indices, readers)
            loss = model(row, col, len(readers))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        per_step = _median_step(step, warmup, steps, dev if cuda else None)
        steps_per_epoch = int(np.ceil(data.n_readers / batch))
        results.append({"model": "elsa", "device": name, "prepare_s": prepare_s, "batch": f"{batch} readers",
                        "s_per_step": per_step, "readers_per_s": min(batch, data.n_readers) / per_step,
                        "train_likes": int(len(data.indices)), "epoch_min": steps_per_epoch * per_step / 60,
                        "gpu_peak_gb": torch.cuda.max_memory_allocated(dev) / 2 ** 30 if cuda else None,
                        "host_peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20})
        del model, optimizer
    if cuda:
        torch.cuda.reset_peak_memory_stats(dev)
    start = time.perf_counter()
    _, figures = fit_colike(data.indptr, data.indices, data.n_works, neighbours=base.colike, lam=base.colike_lambda,
                            min_likes=base.colike_min_likes, reader_cap=base.colike_reader_cap, device=dev)
    results.append({"model": "elsa co-like weights", "device": name, "seconds": time.perf_counter() - start,
                    "works": figures["colike_works"], "pairs": figures.get("colike_pairs", 0),
                    "gpu_peak_gb": torch.cuda.max_memory_allocated(dev) / 2 ** 30 if cuda else None,
                    "host_peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20})
    return results


# --- HNSW ------------------------------------------------------------------------------------------


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


# --- query set ------------------------------------------------------------------------------------


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(len(word) - 1)
    kind = rng.choice(("swap", "drop", "double", "wrong"))
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == "drop":
        return word[:i] + word[i + 1:]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice("aeioustrnl") + word[i + 1:]


def _with_typo(title: str, rng: random.Random) -> str:
    words = title.split()
    long = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not long:
        return title
    i = rng.choice(long)
    words[i] = _typo(words[i], rng)
    return " ".join(words)


class _OneWordShort:
    """Which catalogue titles a query could be with one word left out (folded, distinct titles).

    Titles are kept sorted forwards and, reversed, backwards, so the titles that begin with
    the words before the gap or end with the words after it are two bisections away.
    """

    def __init__(self, titles: list[str]):
        from engine.matcher import fold_many

        self.titles = sorted(set(fold_many(titles)))
        self.exact = set(self.titles)
        self.backwards = sorted(t[::-1] for t in self.titles)

    @staticmethod
    def _starting(keys: list[str], prefix: str) -> list[str]:
        import bisect

        lo = bisect.bisect_left(keys, prefix)
        return keys[lo:bisect.bisect_left(keys, prefix + "\uffff", lo=lo)]

    def sources(self, words: list[str]) -> set[str]:
        """Titles that are `words` (folded) with one more word somewhere."""
        out = set()
        for gap in range(len(words) + 1):
            head, tail = " ".join(words[:gap]), " ".join(words[gap:])
            heads = self._starting(self.titles, head + " ") if head else None
            tails = self._starting(self.backwards, (" " + tail)[::-1]) if tail else None
            if heads is None or (tails is not None and len(tails) < len(heads)):
                found = [t[::-1] for t in tails]
            else:
                found = heads
            for title in found:
                middle = title[len(head) + 1 if head else 0:len(title) - (len(tail) + 1 if tail else 0)]
                if (middle and " " not in middle and (not head or title.startswith(head + " "))
                        and (not tail or title.endswith(" " + tail))):
                    out.add(title)
        return out


def _missing_word(title: str, rng: random.Random, short: _OneWordShort | None = None) -> str | None:
    """`title` less one word (never the first); None when every such query is ambiguous.

    A query that is another work's whole title, or that several titles give when a word is
    left out ("The Atlas of Jericho" from "The Ragged Atlas of Jericho" and "The Red Atlas of
    Jericho"), has no single right answer, so another word is tried instead.
    """
    words = title.split()
    if len(words) < 3:
        return title
    gaps = list(range(1, len(words)))
    rng.shuffle(gaps)
    if short is None:
        return " ".join(words[:gaps[0]] + words[gaps[0] + 1:])
    from engine.normalize import fold

    for gap in gaps:
        text = " ".join(words[:gap] + words[gap + 1:])
        folded = fold(text)
        if folded and folded not in short.exact and short.sources(folded.split()) == {fold(title)}:
            return text
    return None


def _accents(title: str, rng: random.Random) -> str:
    return "".join(ACCENTS[c] if c in ACCENTS and rng.random() < 0.3 else c for c in title)


def make_queries(titles: list[str], authors: list[str], n: int, seed: int = 0,
                 dropped: dict | None = None) -> list[dict]:
    """`n` queries, as people type them, for works drawn uniformly; each names its work.

    A "missing word" query with no single right answer is left out (see `_missing_word`);
    `dropped`, when given, counts the queries left out per kind.
    """
    rng = random.Random(seed)
    queries = []
    short = None
    ids = rng.sample(range(len(titles)), k=min(n, len(titles)))
    for i, work in enumerate(ids):
        kind = QUERY_KINDS[i % len(QUERY_KINDS)]
        title, author = titles[work], authors[work]
        if kind == "typo":
            text = _with_typo(title, rng)
        elif kind == "missing word":
            short = short or _OneWordShort(titles)
            text = _missing_word(title, rng, short)
            if text is None:
                if dropped is not None:
                    dropped[kind] = dropped.get(kind, 0) + 1
                continue
        elif kind == "wrong case":
            text = rng.choice((title.lower(), title.upper(), title.swapcase()))
        elif kind == "accents":
            text = _accents(title, rng)
        elif kind == "title by author":
            text = f"{title} by {author}" if author else title
        elif kind == "typo by author":
            text = f"{_with_typo(title, rng).lower()} {(author.split() or [''])[-1]}"
        else:
            text = title
        queries.append({"text": text, "work": work, "kind": kind, "with_author": "author" in kind})
    return queries


# --- serving (child process) ------------------------------------------------------------------------


def _rss_mb() -> tuple[float, float]:
    """(current, peak) resident set of this process in MiB."""
    status = Path("/proc/self/status").read_text().split("\n")
    values = {line.split(":")[0]: int(line.split()[1]) for line in status if line.startswith(("VmRSS", "VmHWM"))}
    return values.get("VmRSS", 0) / 1024, values.get("VmHWM", 0) / 1024


def serve_child(folder: str, queries_path: str, baseline_queries: int) -> dict:
    """Load the engine as the bot does and time what a user waits for; runs in a fresh process."""
    from engine.errors import AmbiguousTitle, BookNotFound, InvalidInput
    from engine.recommender import Engine

    queries = json.loads(Path(queries_path).read_text())
    start = time.perf_counter()
    engine = Engine.from_folder(folder)
    load_s = time.perf_counter() - start
    rss_load, _ = _rss_mb()
    first = time.perf_counter()
    engine.match_title("warm up the matcher", limit=5)
    first_query_s = time.perf_counter() - first

    def correct(top: int | None, q: dict) -> tuple[bool, bool]:
        return judge(top, q, engine.works.title, engine.works.author)

    natural = [q for q in queries if q.get("natural")]
    queries = [q for q in queries if not q.get("natural")]
    figures = time_matcher(lambda text: [m.work.id for m in engine.match_title(text, limit=5)], queries, correct)
    figures.update(natural_figures(lambda text: [m.work.id for m in engine.match_title(text, limit=5)], natural,
                                   correct, resolve=lambda text: engine.resolve(text).id))

    rec_ms = []
    for q in queries:
        t = time.perf_counter()
        try:
            work = engine.resolve(q["text"])
        except (AmbiguousTitle, BookNotFound) as exc:
            if not exc.candidates:
                continue
            first_candidate = exc.candidates[0]
            work = getattr(first_candidate, "work", first_candidate)
        except InvalidInput:
            continue
        engine.recommend([work], k=10)
        rec_ms.append(1e3 * (time.perf_counter() - t))
    rss, peak = _rss_mb()  # the serving figures end here; the baseline needs every title in a list

    return {
        "load_s": load_s, "first_query_s": first_query_s, "rss_after_load_mb": rss_load, "rss_mb": rss, "peak_rss_mb": peak,
        **figures, **brute_force_baseline(engine.works.title, queries[:baseline_queries], correct),
        "recommend_p50_ms": float(np.median(rec_ms)), "recommend_p99_ms": float(np.percentile(rec_ms, 99)),
        "recommend_queries": len(rec_ms), "queries": len(queries),
    }


def judge(top: int | None, q: dict, titles, authors) -> tuple[bool, bool]:
    """(same work, same work or an indistinguishable twin) for a query's top hit.

    A twin has the same folded title, and the same folded author when the query names one:
    nothing in the query can tell them apart.
    """
    from engine.normalize import fold

    if top is None:
        return False, False
    strict = top == q["work"]
    same = fold(titles[top]) == fold(titles[q["work"]]) and (
        not q["with_author"] or fold(authors[top]) == fold(authors[q["work"]]))
    return strict, strict or same


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


def _natural_rows(m: dict) -> list[tuple[str, str]]:
    """(label, value) for the natural queries, or a note that the catalogue holds none of their books."""
    missing = m.get("natural_missing", 0)
    if not m.get("natural_queries"):
        return [("natural queries (train/natural_queries.py)", f"none of their {missing} books is in this catalogue")]
    left = f"; {missing} not in this catalogue" if missing else ""
    resolved = f"; resolve answers {m['natural_resolved']:.3f} with that work" if "natural_resolved" in m else ""
    return [(f"natural queries, well-known titles as people type them ({m['natural_queries']}{left}): top-1; p50",
             f"{m['natural_top1']:.3f}{resolved}; {m['natural_p50_ms']:.2f} ms")]


def _kind_rows(m: dict) -> list[tuple[str, str]]:
    """(label, value) per query kind: top-1 and, where measured, p50."""
    p50 = m.get("matcher_p50_by_kind", {})
    return [(f"&nbsp;&nbsp;{kind}: top-1" + ("; p50" if kind in p50 else ""),
             f"{top1:.3f}" + (f"; {p50[kind]:.2f} ms" if kind in p50 else "")) for kind, top1 in m["matcher_top1_by_kind"].items()]


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


def _header(title: str, info: dict, data: dict, command: str) -> list[str]:
    """A run's heading, machine and data lines, and the head of its table."""
    gpu = f", GPU {info['gpu']}" if info["gpu"] != "none" else ", no GPU"
    vectors = f" Vectors: {data['vectors']}." if data.get("vectors") else ""
    return [f"### bench --size {title}: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "",
            f"Machine: {info['cpu']}, {info['cores']} cores, {info['ram_gb']} GB RAM{gpu}; torch {info['torch']}, "
            f"Python {info['python']}, numpy {info['numpy']}; load average {info['load']} at the start "
            f"(timings on a shared machine vary with it). Command: `{command}`.", "",
            f"Data: {data['works']:,} works, {data['readers']:,} readers, {data['likes']:,} likes ({data['source']}).{vectors}", "",
            "| figure | value | target (at 2.8M) |", "| --- | --- | --- |"]


def trainer_rows(trainer: list[dict]) -> list[str]:
    """Table rows for `bench_trainer`'s results."""
    rows = []
    for t in trainer:
        peak = f", GPU peak {t['gpu_peak_gb']:.1f} GB" if t["gpu_peak_gb"] is not None else ""
        if "seconds" in t:  # the co-like weights
            rows.append(f"| {t['model']} ({t['device']}): {t['works']:,} works, {t['pairs']:,} co-liked pairs "
                        f"| {t['seconds']:.1f} s (host peak {t['host_peak_gb']:.1f} GB{peak}) |  |")
            continue
        rate = (f"{t['pairs_per_s']:,.0f} pairs/s" if "pairs_per_s" in t else f"{t['readers_per_s']:,.0f} readers/s")
        rows.append(f"| trainer {t['model']} ({t['device']}, batch {t['batch']}) "
                    f"| {rate} ({t['s_per_step']:.4f} s/step, {t['epoch_min']:.1f} min/epoch{peak}) |  |")
    for model in dict.fromkeys(t["model"] for t in trainer if "prepare_s" in t):
        first = next(t for t in trainer if t["model"] == model)
        rows.append(f"| {model} data preparation ({first['train_likes']:,} training likes); host peak RSS "
                    f"| {first['prepare_s']:.1f} s; {trainer[-1]['host_peak_gb']:.1f} GB |  |")
    return rows


def matcher_report(size: str, info: dict, data: dict, m: dict, command: str) -> str:
    """Markdown for a `--matcher-only` run."""
    lines = _header(f"{size} --matcher-only", info, data, command) + [
             f"| title matcher build | {m['build_s']:.1f} s |  |",
             f"| title matcher index in memory; matcher.npz | {m['index_mb']:.0f} MiB; {m['file_mb']:.0f} MiB |  |",
             f"| matcher.npz save / load | {m['save_s']:.1f} / {m['load_s']:.2f} s |  |",
             f"| matcher p50 / p99 ({m['queries']} queries) | {m['matcher_p50_ms']:.2f} / {m['matcher_p99_ms']:.2f} ms "
             f"| {_met('matcher_p50_ms', m['matcher_p50_ms'])}; {_met('matcher_p99_ms', m['matcher_p99_ms'])} |",
             f"| matcher top-1 (same work, or an identical-title twin) | {m['matcher_top1']:.3f} "
             f"| {_met('matcher_top1', m['matcher_top1'])} |",
             f"| matcher top-1, same work only | {m['matcher_top1_strict']:.3f} |  |",
             f"| queries left out: missing-word queries with no single right answer | {m.get('left_out', 0)} |  |"]
    lines += [f"| {label} | {value} |  |" for label, value in _kind_rows(m) + _natural_rows(m)]
    if m.get("baseline_p50_ms") is not None:
        ratio = m["baseline_p50_ms"] / max(m["matcher_p50_ms"], 1e-9)
        lines.append(f"| baseline: rapidfuzz WRatio over all titles ({m['baseline_queries']} queries) p50 "
                     f"| {m['baseline_p50_ms']:.1f} ms ({ratio:,.0f}x the matcher's p50), top-1 {m['baseline_top1']:.2f} |  |")
    return "\n".join(lines) + "\n"


def run_serving(folder: Path, queries: list[dict], baseline_queries: int) -> dict:
    """`serve_child` in a fresh interpreter, so its memory is the serving process's alone."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "queries.json"
        path.write_text(json.dumps(queries))
        code = ("import json, sys; from tools.bench import serve_child; "
                "print(json.dumps(serve_child(sys.argv[1], sys.argv[2], int(sys.argv[3]))))")
        done = subprocess.run([sys.executable, "-c", code, str(folder), str(path), str(baseline_queries)],
                              capture_output=True, text=True, cwd=PROJECT_ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"serving benchmark failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if "torch" in done.stderr:
        result["note"] = "torch was imported by the serving process"
    return result


# --- report --------------------------------------------------------------------------------------


def _met(name: str, value: float | None) -> str:
    if name not in TARGETS or value is None:
        return ""
    op, bound = TARGETS[name]
    ok = {"<=": value <= bound, "<": value < bound, ">=": value >= bound}[op]
    return f"{op} {bound:g}: {'yes' if ok else 'NO'}"


def report(size: str, info: dict, data: dict, trainer: list[dict], hnsw: dict, serving: dict, command: str) -> str:
    """The run as Markdown: machine, then one table of figures."""
    lines = _header(size, info, data, command)

    def row(label: str, value: str, name: str = "", raw: float | None = None) -> None:
        lines.append(f"| {label} | {value} | {_met(name, raw)} |")

    lines += trainer_rows(trainer)
    row(f"HNSW build ({hnsw['threads']} threads, M={hnsw['M']}, ef_construction={hnsw['ef_construction']})",
        f"{hnsw['build_s']:.1f} s")
    row("HNSW index size", f"{hnsw['index_mb']:.0f} MiB")
    row(f"HNSW recall@10 vs exact (ef={hnsw['ef']}, {hnsw['sample']} queries)", f"{hnsw['recall10']:.4f}",
        "hnsw_recall10", hnsw["recall10"])
    row("HNSW single query p50 / p99", f"{hnsw['query_p50_ms']:.3f} / {hnsw['query_p99_ms']:.3f} ms",
        "hnsw_query_p50_ms", hnsw["query_p50_ms"])
    for at, (r, p50) in sorted(hnsw.get("light", {}).items()):
        row(f"&nbsp;&nbsp;at ef={at}: recall@10 / single query p50", f"{r:.4f} / {p50:.3f} ms")
    if "folder_write_s" in hnsw:
        row("model folder write (catalogue, vectors, index, title matcher build)", f"{hnsw['folder_write_s']:.1f} s")
    row("model folder load, engine ready (Engine.from_folder)", f"{serving['load_s']:.2f} s", "load_s", serving["load_s"])
    row("first query after load", f"{1e3 * serving['first_query_s']:.1f} ms")
    row("serving process RSS after load / after queries (peak)",
        f"{serving['rss_after_load_mb'] / 1024:.2f} / {serving['rss_mb'] / 1024:.2f} GB ({serving['peak_rss_mb'] / 1024:.2f})",
        "serve_rss_gb", serving["peak_rss_mb"] / 1024)
    row(f"matcher p50 / p99 ({serving['queries']} queries)",
        f"{serving['matcher_p50_ms']:.2f} / {serving['matcher_p99_ms']:.2f} ms", "matcher_p99_ms", serving["matcher_p99_ms"])
    lines[-1] = lines[-1].rstrip(" |") + f"; {_met('matcher_p50_ms', serving['matcher_p50_ms'])} |"
    row("matcher top-1 (same work, or an identical-title twin)", f"{serving['matcher_top1']:.3f}",
        "matcher_top1", serving["matcher_top1"])
    row("matcher top-1, same work only", f"{serving['matcher_top1_strict']:.3f}")
    row("queries left out: missing-word queries with no single right answer", str(serving.get("left_out", 0)))
    for label, value in _kind_rows(serving) + _natural_rows(serving):
        row(label, value)
    if serving.get("baseline_p50_ms") is not None:
        ratio = serving["baseline_p50_ms"] / max(serving["matcher_p50_ms"], 1e-9)
        row(f"baseline: rapidfuzz WRatio over all titles ({serving['baseline_queries']} queries) p50",
            f"{serving['baseline_p50_ms']:.1f} ms ({ratio:,.0f}x the matcher's p50), top-1 {serving['baseline_top1']:.2f}")
    row(f"recommend end to end p50 / p99 ({serving['recommend_queries']} queries)",
        f"{serving['recommend_p50_ms']:.2f} / {serving['recommend_p99_ms']:.2f} ms",
        "recommend_p99_ms", serving["recommend_p99_ms"])
    if serving.get("note"):
        lines += ["", f"Note: {serving['note']}."]
    return "\n".join(lines) + "\n"


def append_report(path: Path, text: str) -> None:
    """Append a run to BENCHMARKS.md, creating it (with a title) if missing; never rewrites it."""
    if not path.exists():
        path.write_text("# Benchmarks\n\nAppended by `rarereads bench` (one section per run) and by hand.\n\n")
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("\n" + text)


# --- command ------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    from engine.modelfolder import load_model_folder, read_catalogue, write_model_folder

    command = "rarereads bench " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["bench"] else sys.argv[1:])
    info = machine_info()
    dataset, clusters, data_folder = load_data(args)
    user, work = dataset.likes()
    n_works = len(dataset.works)
    data = {"works": n_works, "readers": int(dataset.n_users), "likes": int(len(user)), "source": dataset.source or str(data_folder)}

    if args.matcher_only:
        text = matcher_report(args.size, info, data, bench_matcher_only(dataset, args.queries, args.baseline_queries), command)
        print(text)
        if not args.no_append:
            append_report(args.output, text)
            print(f"appended to {args.output}")
        return 0

    trainer = []
    if args.train_steps > 0:
        shapes = [tuple(int(x) for x in shape.split("x")) for shape in args.train_shapes.split(",")]
        trainer = bench_trainer(dataset, args.train_steps, shapes)
        if args.elsa_batches.strip().lower() not in ("", "none", "0"):
            trainer += bench_elsa(dataset, args.train_steps, [int(b) for b in args.elsa_batches.split(",")])
    if args.trainer_only:
        text = "\n".join(_header(f"{args.size} --trainer-only", info, data, command) + trainer_rows(trainer)) + "\n"
        print(text)
        if not args.no_append:
            append_report(args.output, text)
            print(f"appended to {args.output}")
        return 0

    model = find_model(args, dataset)
    with tempfile.TemporaryDirectory(prefix="rarereads-bench-") as tmp:
        if model is not None:
            folder = load_model_folder(model, check_hashes=False)
            query, target = folder.query[folder.trained], folder.target[folder.trained]
            data["vectors"] = f"trained model {model.name} ({len(target):,} works x {folder.dim})"
            del folder
        else:
            likes = np.bincount(work, minlength=n_works)
            query, target = stand_in_vectors(n_works, clusters)
            data["vectors"] = f"planted stand-ins ({'synthetic clusters' if clusters is not None else 'random clusters'}, no trained model)"
        threads = args.threads if args.threads > 0 else (os.cpu_count() or 1)
        hnsw, index = bench_hnsw(query, target, args.hnsw_sample, threads)
        hnsw.update(threads=threads, sample=min(args.hnsw_sample, len(query)))
        if model is None:
            start = time.perf_counter()
            model = write_model_folder(Path(tmp) / "model", works=dataset.works, likes=likes, query=query, target=target,
                                       config={"stand_in": True}, metrics={}, index=index,
                                       data_fingerprint=dataset.fingerprint())
            hnsw["folder_write_s"] = time.perf_counter() - start
        del query, target, index
        works, extra = read_catalogue(model)
        dropped: dict = {}
        queries = make_queries(works.title, works.author, args.queries, dropped=dropped)
        natural, missing = natural_queries(works.title, works.author, extra["likes"])
        del works
        serving = run_serving(model, queries + natural, args.baseline_queries)
        serving.update(left_out=sum(dropped.values()), natural_missing=missing)

    text = report(args.size, info, data, trainer, hnsw, serving, command)
    print(text)
    if not args.no_append:
        append_report(args.output, text)
        print(f"appended to {args.output}")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "data": data, "trainer": trainer, "hnsw": hnsw,
                                         "serving": serving}, indent=2, default=str) + "\n")
    return 0
