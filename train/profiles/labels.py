"""The team's genre labels (`data/labels/genres.tsv`, docs/PROFILES.md), matched to a catalogue's works."""
from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine import profiles as P
from engine.dataset import Works
from engine.normalize import isbn13, work_key

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
LABELS = PROJECT_ROOT / "data" / "labels" / "genres.tsv"
SECOND_GENRE = 0.3  # the share of a label's second genre in its work's profile


@dataclass
class Labels:
    """Labels matched to a catalogue's works (parallel arrays)."""

    work: np.ndarray  # int64 work id
    genre: np.ndarray  # int64 index into GENRES
    genre2: np.ndarray  # int64, -1 without a second genre
    audience: np.ndarray  # int64 index into AUDIENCES
    test: np.ndarray  # bool: kept out of fitting (measured on)
    sample: np.ndarray  # str: "top" (the 10,000 most liked) or "tail" (a random sample of works with 1-4 likes)

    def __len__(self) -> int:
        return len(self.work)

    def subset(self, keep: np.ndarray) -> "Labels":
        return Labels(*(getattr(self, f)[keep] for f in ("work", "genre", "genre2", "audience", "test", "sample")))

    def targets(self, n_works: int) -> np.ndarray:
        """float64 [n_works, N_GENRES]: each labelled work's genre distribution (rows of zeros elsewhere)."""
        t = np.zeros((n_works, P.N_GENRES))
        second = self.genre2 >= 0
        t[self.work, self.genre] = np.where(second, 1 - SECOND_GENRE, 1.0)
        t[self.work[second], self.genre2[second]] += SECOND_GENRE
        return t


def read_labels(path: Path = LABELS) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def labels_digest(path: Path = LABELS) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def match_labels(rows: list[dict], works: Works) -> Labels:
    """The labelled rows found in `works`: by any ISBN of a work's editions, else by title and author."""
    by_isbn: dict[str, int] = {}
    for i, joined in enumerate(works.isbns):
        for isbn in joined.split("|") if joined else ():
            by_isbn.setdefault(isbn13(isbn), i)
    by_key = {}
    wanted = {work_key(r["title"], r["author"]) for r in rows}
    for i, (title, author) in enumerate(zip(works.title, works.author)):
        key = work_key(title, author)
        if key in wanted:
            by_key.setdefault(key, i)
    found: dict[int, dict] = {}
    for row in rows:
        work = by_isbn.get(isbn13(row["isbn"]))
        if work is None:
            work = by_key.get(work_key(row["title"], row["author"]))
        if work is not None and work not in found:
            found[work] = row
    ids = np.array(sorted(found), np.int64)
    rows = [found[i] for i in ids.tolist()]
    return Labels(ids, np.array([P.INDEX[r["genre"]] for r in rows], np.int64),
                  np.array([P.INDEX[r["genre2"]] if r["genre2"] else -1 for r in rows], np.int64),
                  np.array([P.AUDIENCES.index(r["audience"]) for r in rows], np.int64),
                  np.array([r["split"] == "test" for r in rows], bool), np.array([r["sample"] for r in rows]))
