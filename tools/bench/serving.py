"""The serving benchmark, in a fresh process that imports no torch (as the bot's): model folder
load, resident memory, matcher and `recommend` latency.

`run_serving` starts `python -m tools.bench.serving FOLDER QUERIES BASELINE_QUERIES`, whose
`main` prints `serve_child`'s figures as one JSON line: the launcher and the entry point
share that protocol here.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rarereads.paths import PROJECT_ROOT

from .matcher import brute_force_baseline, natural_figures, time_matcher
from .queries import judge


def run_serving(folder: Path, queries: list[dict], baseline_queries: int) -> dict:
    """`serve_child` in a fresh interpreter (`main`), so its memory is the serving process's alone."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "queries.json"
        path.write_text(json.dumps(queries))
        done = subprocess.run([sys.executable, "-m", "tools.bench.serving", str(folder), str(path), str(baseline_queries)],
                              capture_output=True, text=True, cwd=PROJECT_ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"serving benchmark failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result.pop("torch_imported"):
        result["note"] = "torch was imported by the serving process"
    return result


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


def main(argv: list[str] | None = None) -> int:
    """`python -m tools.bench.serving FOLDER QUERIES_JSON BASELINE_QUERIES`: print the figures as one JSON line."""
    folder, queries_path, baseline_queries = sys.argv[1:] if argv is None else argv
    figures = serve_child(folder, queries_path, int(baseline_queries))
    figures["torch_imported"] = "torch" in sys.modules  # the bot never loads it; neither may this process
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
