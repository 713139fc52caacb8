"""The command line end to end on the shipped Book-Crossing snapshot: train, recommend, refuse."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def rarereads(*args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rarereads", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def shipped_model(tmp_path_factory) -> Path:
    """A short training run on the shipped data (fewer epochs than the default, same code path)."""
    models = tmp_path_factory.mktemp("models")
    done = rarereads("train", "--models-dir", str(models), "--epochs", "1", "--negative-pool", "512",
                     "--checkpoint-every", "0", "--no-progress")
    assert done.returncode == 0, done.stderr[-2000:]
    (folder,) = [p for p in models.iterdir() if p.is_dir() and (p / "manifest.json").exists()]
    return folder


def test_recommend_json_for_dune(shipped_model):
    done = rarereads("recommend", "dnue", "--json", "-k", "10", "--model", str(shipped_model))
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["query"]["title"] == "Dune" and answer["query"]["author"] == "Frank Herbert"
    picks = answer["recommendations"]
    assert len(picks) == 10
    assert {"title", "author", "year", "likes", "score", "reason", "url"} <= set(picks[0])
    assert answer["query"]["url"].startswith("https://openlibrary.org/isbn/") and answer["query"]["also"] == []
    assert all(p["url"].startswith("https://openlibrary.org/") for p in picks)
    assert all(p["title"] != "Dune" for p in picks)
    # the default rarity keeps to books that are far less liked than Dune itself
    assert max(p["likes"] for p in picks) < answer["query"]["likes"]
    assert all("Dune" in p["reason"] for p in picks)
    # most picks share real readers with Dune (the rest come from the embedding alone)
    assert sum("who loved Dune" in p["reason"] for p in picks) >= len(picks) // 2


def test_rarity_any_is_more_popular_than_deep(shipped_model):
    def mean_likes(rarity: str) -> float:
        done = rarereads("recommend", "The Hobbit", "--json", "--rarity", rarity, "--model", str(shipped_model))
        assert done.returncode == 0, done.stderr
        picks = json.loads(done.stdout)["recommendations"]
        return sum(p["likes"] for p in picks) / len(picks)

    assert mean_likes("any") > mean_likes("deep")


def test_an_equally_matching_minor_work_is_named_beside_the_answer(shipped_model):
    done = rarereads("recommend", "of mice and men", "--json", "-k", "3", "--model", str(shipped_model))
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["query"]["author"] == "John Steinbeck" and answer["query"]["also"]
    done = rarereads("recommend", "of mice and men", "-k", "3", "--model", str(shipped_model))
    assert done.stdout.startswith("also: Of Mice")


def test_a_misspelt_title_and_author_resolve_and_an_unknown_title_fails(shipped_model):
    done = rarereads("recommend", "Dune Mesiah by Herbrt", "-k", "3", "--model", str(shipped_model))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Readers who loved Dune Messiah — Frank Herbert")
    assert len([line for line in done.stdout.splitlines() if line[:2] in ("1.", "2.", "3.")]) == 3
    done = rarereads("recommend", "qqqqq zzzzz", "--model", str(shipped_model))
    assert done.returncode == 1 and done.stderr.strip() and "Traceback" not in done.stderr


def test_chat_on_shipped_model(shipped_model, tmp_path):
    lines = "/recommend Neuromancer k=3\n/shelf add the hobbit\n/shelf\n" + "x" * 10_000 + "\n/recommend\n"
    done = subprocess.run([sys.executable, "-m", "rarereads", "chat", "--model", str(shipped_model),
                           "--db", str(tmp_path / "s.sqlite")], cwd=ROOT, input=lines, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Readers who loved Neuromancer" in done.stdout
    assert "The Hobbit" in done.stdout and "Traceback" not in done.stdout + done.stderr
    assert "on your shelf also loved" in done.stdout or "Readers who loved The Hobbit" in done.stdout


def test_tampered_folder_is_refused(shipped_model, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(shipped_model, copy)
    with open(copy / "vectors.npz", "r+b") as handle:
        handle.seek(200)
        handle.write(b"\x00\x01\x02\x03")
    done = rarereads("recommend", "Dune", "--model", str(copy))
    assert done.returncode != 0 and "vectors.npz" in done.stderr and "Traceback" not in done.stderr
