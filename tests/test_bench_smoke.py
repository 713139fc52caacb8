"""`rarereads bench` end to end on a tiny synthetic catalogue: it runs, prints the table, appends."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rarereads.cli import main
from tools.bench import QUERY_KINDS, append_report, make_queries

ROOT = Path(__file__).resolve().parent.parent


def test_bench_module_imports_no_torch():
    code = "import sys, tools.bench; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "False"


def test_queries_cover_every_kind_and_name_their_work():
    titles = ["The Glass Harbor", "Glass Harbor: Book 2", "A Moon for Basil", "The Lake and the Clock"] * 5
    authors = ["Ada K. Finch", "Ada K. Finch", "Lena Ricci", "Hazel Hughes"] * 5
    queries = make_queries(titles, authors, 14, seed=1)
    assert {q["kind"] for q in queries} == set(QUERY_KINDS)
    for q in queries:
        assert 0 <= q["work"] < len(titles) and q["text"]
        if q["kind"] == "title by author":
            assert q["text"] == f"{titles[q['work']]} by {authors[q['work']]}"
        if q["kind"] == "wrong case":
            assert q["text"].lower() == titles[q["work"]].lower()


def test_append_keeps_other_sections(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\n## someone else's run\n\n| a | b |\n")
    append_report(path, "## bench --size tiny\n\n| figure | value |\n")
    text = path.read_text()
    assert text.startswith("# Benchmarks\n\n## someone else's run\n\n| a | b |\n")
    assert text.rstrip().endswith("| figure | value |")
    append_report(tmp_path / "new.md", "## first\n")
    assert (tmp_path / "new.md").read_text().startswith("# Benchmarks")


@pytest.mark.slow
def test_bench_tiny_runs_and_prints_the_table(tmp_path, capsys):
    out, figures = tmp_path / "BENCHMARKS.md", tmp_path / "bench.json"
    code = main(["bench", "--size", "tiny", "--cache", str(tmp_path / "cache"), "--output", str(out),
                 "--queries", "42", "--baseline-queries", "2", "--train-steps", "2", "--train-shapes", "256x4,128x4",
                 "--elsa-batches", "64",
                 "--hnsw-sample", "50", "--threads", "2", "--json", str(figures)])
    assert code == 0
    printed = capsys.readouterr().out
    for label in ("trainer skipgram", "pairs/s", "trainer elsa", "readers/s", "co-like weights", "HNSW build", "HNSW recall@10", "model folder load", "serving process RSS",
                  "matcher p50 / p99", "matcher top-1", "baseline: rapidfuzz", "recommend end to end"):
        assert label in printed, label
    assert "Machine:" in printed and "cores" in printed
    assert out.read_text().count("## bench --size tiny") == 1
    result = json.loads(figures.read_text())
    assert result["hnsw"]["recall10"] > 0.9  # planted clusters: an easy index
    assert result["serving"]["matcher_top1"] > 0.8
    assert result["serving"]["recommend_queries"] > 30
    assert [(t["model"], t.get("batch")) for t in result["trainer"]] == [
        ("skipgram", "256x4"), ("skipgram", "128x4"), ("elsa", "64 readers"), ("elsa co-like weights", None)]
    assert all(t.get("pairs_per_s", t.get("readers_per_s", 1)) > 0 for t in result["trainer"])


def test_bench_matcher_only(tmp_path, capsys):
    out = tmp_path / "BENCHMARKS.md"
    code = main(["bench", "--size", "tiny", "--matcher-only", "--cache", str(tmp_path / "cache"), "--output", str(out),
                 "--queries", "35", "--baseline-queries", "2"])
    assert code == 0
    printed = capsys.readouterr().out
    for label in ("title matcher build", "matcher.npz save / load", "matcher p50 / p99", "matcher top-1",
                  "baseline: rapidfuzz", "load average"):
        assert label in printed, label
    assert "--matcher-only" in out.read_text()


def test_bench_trainer_only(tmp_path, capsys):
    out = tmp_path / "BENCHMARKS.md"
    code = main(["bench", "--size", "tiny", "--trainer-only", "--cache", str(tmp_path / "cache"), "--output", str(out),
                 "--train-steps", "2", "--train-shapes", "64x4,32x2"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "batch 64x4" in printed and "batch 32x2" in printed and "host peak RSS" in printed
    assert "trainer elsa" in printed and "batch 8192 readers" in printed and "co-like weights" in printed
    assert "HNSW" not in printed and "matcher" not in printed  # the trainer alone
    assert "--trainer-only" in out.read_text()
