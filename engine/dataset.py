"""The compact dataset: works (editions merged) and ratings as int32 arrays.

On disk a dataset is a folder:

- `dataset.json`: format version, source, rating scale, counts, skipped rows, fingerprint
- `works.tsv.gz`: `title, author, year, cover_url, isbns` (row number = work id; isbns `|`-joined)
- `ratings.npz`: `user`, `work` (int32), `rating` (float32, 0 = implicit)
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DataFormatError
from .loaders import RawData
from .normalize import clean_text, display_title, first_author, work_key

FORMAT_VERSION = 1
DEFAULT_LIKE_THRESHOLD = {10: 7.0, 5: 4.0}  # Lit2Vec2: >= 7 of 10, >= 4 of 5


@dataclass
class Works:
    """Catalogue of works, one row per work id."""

    title: list[str]
    author: list[str]
    year: np.ndarray  # int32, 0 = unknown
    cover_url: list[str]
    isbns: list[str]  # "|"-joined ISBNs of every edition

    def __len__(self) -> int:
        return len(self.title)

    def subset(self, ids: np.ndarray) -> "Works":
        """Works `ids`, renumbered 0..len(ids)-1 in that order."""
        return Works([self.title[i] for i in ids], [self.author[i] for i in ids], self.year[ids].copy(),
                     [self.cover_url[i] for i in ids], [self.isbns[i] for i in ids])

    def write_tsv(self, path: Path, extra: dict[str, np.ndarray] | None = None) -> None:
        """Write as gzipped TSV; `extra` adds numeric columns (e.g. likes)."""
        extra = extra or {}
        with gzip.open(path, "wt", encoding="utf-8", newline="", compresslevel=9) as handle:
            writer = csv.writer(handle, delimiter="\t", quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
            writer.writerow(["title", "author", "year", "cover_url", "isbns", *extra])
            for i in range(len(self)):
                writer.writerow([self.title[i], self.author[i], int(self.year[i]), self.cover_url[i],
                                 self.isbns[i], *(int(col[i]) for col in extra.values())])

    @classmethod
    def read_tsv(cls, path: Path) -> tuple["Works", dict[str, np.ndarray]]:
        """Inverse of `write_tsv`: the works and their extra numeric columns."""
        csv.field_size_limit(1 << 24)
        with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle, delimiter="\t")
            header = next(reader)
            columns = list(zip(*reader)) or [()] * len(header)
        data = dict(zip(header, columns))
        works = cls(list(data["title"]), list(data["author"]), np.array(data["year"], dtype=np.int32),
                    list(data["cover_url"]), list(data["isbns"]))
        extra = {k: np.array(v, dtype=np.int64) for k, v in data.items() if k not in
                 ("title", "author", "year", "cover_url", "isbns")}
        return works, extra


@dataclass
class Dataset:
    """Works plus (user, work, rating) triples; see the module docstring for the disk format."""

    works: Works
    user: np.ndarray  # int32 user index
    work: np.ndarray  # int32 work id
    rating: np.ndarray  # float32 on `rating_scale`; 0 = implicit
    rating_scale: int
    source: str = ""
    n_users: int = 0
    meta: dict = field(default_factory=dict)

    def like_threshold(self, threshold: float | None = None) -> float:
        return float(threshold) if threshold is not None else DEFAULT_LIKE_THRESHOLD.get(self.rating_scale, 0.7 * self.rating_scale)

    def likes(self, threshold: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(user, work) int32 arrays of likes: explicit ratings >= threshold, one per pair."""
        keep = self.rating >= self.like_threshold(threshold)
        return self.user[keep], self.work[keep]

    def fingerprint(self) -> str:
        """Content hash of ratings and titles; a model folder records the one it was trained on."""
        digest = hashlib.sha256()
        for array in (self.user, self.work, self.rating):
            digest.update(np.ascontiguousarray(array).tobytes())
        digest.update("\n".join(self.works.title).encode())
        return digest.hexdigest()[:16]

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.works.write_tsv(folder / "works.tsv.gz")
        np.savez_compressed(folder / "ratings.npz", user=self.user.astype(np.int32), work=self.work.astype(np.int32),
                            rating=self.rating.astype(np.float32))
        meta = {**self.meta, "format_version": FORMAT_VERSION, "source": self.source,
                "rating_scale": self.rating_scale, "n_users": int(self.n_users), "n_works": len(self.works),
                "n_ratings": int(len(self.user)), "fingerprint": self.fingerprint()}
        (folder / "dataset.json").write_text(json.dumps(meta, indent=2) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "Dataset":
        folder = Path(folder)
        try:
            meta = json.loads((folder / "dataset.json").read_text())
            works, _ = Works.read_tsv(folder / "works.tsv.gz")
            arrays = np.load(folder / "ratings.npz")
        except (OSError, ValueError, KeyError) as exc:
            raise DataFormatError(f"{folder} is not a rarereads dataset ({exc}); make one with `rarereads prepare`") from exc
        if meta.get("format_version") != FORMAT_VERSION:
            raise DataFormatError(f"{folder}: dataset format {meta.get('format_version')} is not {FORMAT_VERSION}")
        return cls(works, arrays["user"], arrays["work"], arrays["rating"], int(meta["rating_scale"]),
                   meta.get("source", ""), int(meta.get("n_users", 0)), meta)


def _pick(values: list[str]) -> str:
    """Most common variant; ties go to the shortest (usually the plainest) one."""
    counts = Counter(v for v in values if v)
    if not counts:
        return ""
    return min(counts, key=lambda v: (-counts[v], len(v), v))


def build_dataset(raw: RawData, keep_implicit: bool = False) -> Dataset:
    """Merge editions into works (normalised title + first author) and index users.

    Only works and users with at least one kept rating are kept. When a user rated
    several editions of one work, the highest rating counts.
    """
    key_of: dict[str, str] = {}
    editions_of: dict[str, list] = defaultdict(list)
    for edition in raw.editions:
        key = work_key(edition.title, edition.author)
        if key.startswith("|"):  # a title that folds to nothing cannot be matched or shown
            raw.skipped["books with unusable titles"] += 1
            continue
        key_of[edition.book_id] = key
        editions_of[key].append(edition)

    best: dict[tuple[str, str], float] = {}
    for user, book_id, rating in raw.ratings:
        if rating <= 0 and not keep_implicit:
            continue
        key = key_of.get(book_id)
        if key is None:
            continue
        pair = (user, key)
        if best.get(pair, -1.0) < rating:
            best[pair] = rating
    if not best:
        raise DataFormatError(f"{raw.source}: no usable ratings")

    rated_keys = sorted({key for _, key in best})
    work_id = {key: i for i, key in enumerate(rated_keys)}
    users = sorted({user for user, _ in best}, key=lambda u: (len(u), u))
    user_id = {u: i for i, u in enumerate(users)}

    titles, authors, years, covers, isbns = [], [], [], [], []
    for key in rated_keys:
        eds = editions_of[key]
        titles.append(_pick([display_title(e.title) for e in eds]))
        authors.append(_pick([clean_text(first_author(e.author)) for e in eds]))
        known_years = [e.year for e in eds if e.year]
        years.append(min(known_years) if known_years else 0)
        covers.append(next((e.cover_url for e in eds if e.cover_url), ""))
        isbns.append("|".join(dict.fromkeys(i for e in eds for i in e.isbns)))

    pairs = np.array([(user_id[u], work_id[k]) for u, k in best], dtype=np.int64).reshape(-1, 2)
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    rating = np.fromiter(best.values(), dtype=np.float32, count=len(best))[order]
    works = Works(titles, authors, np.array(years, dtype=np.int32), covers, isbns)
    meta = {"skipped": dict(raw.skipped), "n_editions": len(raw.editions)}
    return Dataset(works, pairs[order, 0].astype(np.int32), pairs[order, 1].astype(np.int32), rating,
                   raw.rating_scale, raw.source, len(users), meta)
