"""A run as Markdown, appended to BENCHMARKS.md: the heading with the machine and the data,
then one table of figures with the targets met at 2.8M works."""
from __future__ import annotations

import time
from pathlib import Path

TARGETS = {  # figure -> (comparison, bound); met at 2.8M
    "matcher_p50_ms": ("<=", 10.0), "matcher_p99_ms": ("<=", 50.0), "matcher_top1": (">=", 0.95),
    "hnsw_recall10": (">=", 0.98), "hnsw_query_p50_ms": ("<=", 1.0), "load_s": ("<=", 15.0),
    "serve_rss_gb": ("<", 2.5), "recommend_p99_ms": ("<=", 50.0),
}


def _met(name: str, value: float | None) -> str:
    """The target column: the bound and whether `value` meets it ("" for a figure without one)."""
    if name not in TARGETS or value is None:
        return ""
    op, bound = TARGETS[name]
    ok = {"<=": value <= bound, "<": value < bound, ">=": value >= bound}[op]
    return f"{op} {bound:g}: {'yes' if ok else 'NO'}"


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


def _kind_rows(m: dict) -> list[tuple[str, str]]:
    """(label, value) per query kind: top-1 and, where measured, p50."""
    p50 = m.get("matcher_p50_by_kind", {})
    return [(f"&nbsp;&nbsp;{kind}: top-1" + ("; p50" if kind in p50 else ""),
             f"{top1:.3f}" + (f"; {p50[kind]:.2f} ms" if kind in p50 else "")) for kind, top1 in m["matcher_top1_by_kind"].items()]


def _natural_rows(m: dict) -> list[tuple[str, str]]:
    """(label, value) for the natural queries, or a note that the catalogue holds none of their books."""
    missing = m.get("natural_missing", 0)
    if not m.get("natural_queries"):
        return [("natural queries (tools/natural_queries.py)", f"none of their {missing} books is in this catalogue")]
    left = f"; {missing} not in this catalogue" if missing else ""
    resolved = f"; resolve answers {m['natural_resolved']:.3f} with that work" if "natural_resolved" in m else ""
    return [(f"natural queries, well-known titles as people type them ({m['natural_queries']}{left}): top-1; p50",
             f"{m['natural_top1']:.3f}{resolved}; {m['natural_p50_ms']:.2f} ms")]


def trainer_rows(trainer: list[dict]) -> list[str]:
    """Table rows for the trainer's results (`tools.bench.trainer`)."""
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


def trainer_report(size: str, info: dict, data: dict, trainer: list[dict], command: str) -> str:
    """Markdown for a `--trainer-only` run."""
    return "\n".join(_header(f"{size} --trainer-only", info, data, command) + trainer_rows(trainer)) + "\n"


def _matcher_rows(m: dict) -> list[tuple[str, str, str]]:
    """(label, value, target) of the matcher's figures, as `--matcher-only` and a whole run show them."""
    rows = [(f"matcher p50 / p99 ({m['queries']} queries)", f"{m['matcher_p50_ms']:.2f} / {m['matcher_p99_ms']:.2f} ms",
             f"{_met('matcher_p50_ms', m['matcher_p50_ms'])}; {_met('matcher_p99_ms', m['matcher_p99_ms'])}"),
            ("matcher top-1 (same work, or an identical-title twin)", f"{m['matcher_top1']:.3f}",
             _met("matcher_top1", m["matcher_top1"])),
            ("matcher top-1, same work only", f"{m['matcher_top1_strict']:.3f}", ""),
            ("queries left out: missing-word queries with no single right answer", str(m.get("left_out", 0)), "")]
    rows += [(label, value, "") for label, value in _kind_rows(m) + _natural_rows(m)]
    if m.get("baseline_p50_ms") is not None:
        ratio = m["baseline_p50_ms"] / max(m["matcher_p50_ms"], 1e-9)
        rows.append((f"baseline: rapidfuzz WRatio over all titles ({m['baseline_queries']} queries) p50",
                     f"{m['baseline_p50_ms']:.1f} ms ({ratio:,.0f}x the matcher's p50), top-1 {m['baseline_top1']:.2f}", ""))
    return rows


def matcher_report(size: str, info: dict, data: dict, m: dict, command: str) -> str:
    """Markdown for a `--matcher-only` run."""
    lines = _header(f"{size} --matcher-only", info, data, command) + [
             f"| title matcher build | {m['build_s']:.1f} s |  |",
             f"| title matcher index in memory; matcher.npz | {m['index_mb']:.0f} MiB; {m['file_mb']:.0f} MiB |  |",
             f"| matcher.npz save / load | {m['save_s']:.1f} / {m['load_s']:.2f} s |  |"]
    lines += [f"| {label} | {value} | {target} |" for label, value, target in _matcher_rows(m)]
    return "\n".join(lines) + "\n"


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
    for label, value, target in _matcher_rows(serving):
        lines.append(f"| {label} | {value} | {target} |")
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
