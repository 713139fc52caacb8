"""The compact dataset: works (editions merged) and ratings as int32 arrays.

On disk a dataset is a folder:

- `dataset.json`: format version, source, rating scale, counts, skipped rows, fingerprint
- `works.tsv.gz`: `title, author, year, cover_url, isbns, publisher, series` (row number = work
  id; isbns `|`-joined, the most rated edition's first; `series`: the series or publisher's
  line its editions' titles name in parentheses, "Dune Chronicles"; files without
  `publisher` or `series` read them as empty)
- `ratings.npz`: `user`, `work` (int32), `rating` (float32, 0 = implicit)
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .editions import Grouping, group_editions
from .errors import DataFormatError
from .loaders import RawData
from .normalize import clean_text, display_title, first_author, https_url, series_note, split_subtitle, tidy_case

FORMAT_VERSION = 1
DEFAULT_LIKE_THRESHOLD = {10: 7.0, 5: 4.0}  # Lit2Vec2: >= 7 of 10, >= 4 of 5


@dataclass
class Works:
    """Catalogue of works, one row per work id."""

    title: list[str]
    author: list[str]
    year: np.ndarray  # int32, 0 = unknown
    cover_url: list[str]
    isbns: list[str]  # "|"-joined ISBNs of every edition, the most rated edition's first
    publisher: Sequence[str] | None = None  # most common publisher of its editions; None: all unknown
    series: Sequence[str] | None = None  # the series note most of its editions carry ("Dune Chronicles"); None: none

    TEXT_COLUMNS = ("title", "author", "cover_url", "isbns", "publisher", "series")

    def __post_init__(self):
        if self.publisher is None:
            self.publisher = [""] * len(self.title)
        if self.series is None:
            self.series = [""] * len(self.title)

    def __len__(self) -> int:
        return len(self.title)

    def subset(self, ids: np.ndarray) -> "Works":
        """Works `ids`, renumbered 0..len(ids)-1 in that order."""
        return Works([self.title[i] for i in ids], [self.author[i] for i in ids], self.year[ids].copy(),
                     [self.cover_url[i] for i in ids], [self.isbns[i] for i in ids], [self.publisher[i] for i in ids],
                     [self.series[i] for i in ids])

    def write_tsv(self, path: Path, extra: dict[str, np.ndarray] | None = None) -> None:
        """Write as gzipped TSV; `extra` adds numeric columns (e.g. likes)."""
        extra = extra or {}
        with gzip.open(path, "wt", encoding="utf-8", newline="", compresslevel=9) as handle:
            writer = csv.writer(handle, delimiter="\t", quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
            writer.writerow(["title", "author", "year", "cover_url", "isbns", "publisher", "series", *extra])
            for i in range(len(self)):
                writer.writerow([self.title[i], self.author[i], int(self.year[i]), self.cover_url[i],
                                 self.isbns[i], self.publisher[i], self.series[i], *(int(col[i]) for col in extra.values())])

    @classmethod
    def read_tsv(cls, path: Path, compact: bool = False) -> tuple["Works", dict[str, np.ndarray]]:
        """Inverse of `write_tsv`: the works and their extra numeric columns.

        Args:
            path: A `works.tsv.gz` written by `write_tsv` (one without `publisher` or `series` reads them
                as unknown).
            compact: Keep text columns as `TextColumn`s (the file's bytes plus offsets,
                decoded on access) instead of lists of str: at 2.8M works this loads in
                seconds and holds a fraction of the memory. For read-only use (the engine).
        """
        with gzip.open(path, "rb") as handle:
            data = handle.read()
        header_end = data.find(b"\n")
        header = data[:max(header_end, 0)].decode("utf-8").split("\t") if header_end >= 0 else []
        columns = _split_tsv(data, len(header)) if header else None
        if columns is None:  # quoted tabs or line breaks inside fields: the csv module reads those
            columns = _read_csv_columns(data)
            header = list(columns)
        else:
            columns = dict(zip(header, columns))
        text = {}
        for name in cls.TEXT_COLUMNS:
            column = columns.get(name)
            text[name] = column if column is None or compact or not isinstance(column, TextColumn) else list(column)
        works = cls(text["title"], text["author"], _ints(columns["year"], np.int32), text["cover_url"], text["isbns"],
                    text["publisher"], text["series"])
        extra = {k: _ints(v, np.int64) for k, v in columns.items() if k not in cls.TEXT_COLUMNS and k != "year"}
        return works, extra


class TextColumn(Sequence[str]):
    """A read-only column of strings kept as one UTF-8 buffer plus field offsets.

    Decodes an item when it is read; a list of 2.8M str would take several times the
    memory and most of a model folder's load time to build.

    Args:
        data: The buffer (e.g. a whole decompressed TSV file, shared by its columns).
        starts: int64 offset in `data` where each item begins.
        ends: int64 offset where each item ends (exclusive).
        overrides: Items to return instead of their bytes (rows the csv module parsed).
    """

    def __init__(self, data: bytes, starts: np.ndarray, ends: np.ndarray, overrides: dict[int, str] | None = None):
        self._data, self._starts, self._ends = data, starts, ends
        self._overrides = overrides or {}

    def __len__(self) -> int:
        return len(self._starts)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        if self._overrides and i in self._overrides:
            return self._overrides[i]
        return self._data[self._starts[i]:self._ends[i]].decode("utf-8")

    def __iter__(self) -> Iterator[str]:
        data, overrides = self._data, self._overrides
        for i, (start, end) in enumerate(zip(self._starts.tolist(), self._ends.tolist())):
            yield overrides[i] if overrides and i in overrides else data[start:end].decode("utf-8")

    def __eq__(self, other) -> bool:
        return isinstance(other, Sequence) and len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None


def _split_tsv(data: bytes, width: int) -> list[TextColumn] | None:
    """Columns of a header-first TSV with `width` fields a row, split with numpy; None if irregular.

    Rows holding a quote or carriage return (quoted by `csv.writer`) are parsed by the csv
    module one by one; None when such a field spans lines or holds a tab, or a row has
    the wrong number of fields.
    """
    if not data.endswith(b"\n"):
        data += b"\n"
    raw = np.frombuffer(data, np.uint8)
    seps = np.flatnonzero((raw == 9) | (raw == 10))
    kinds = raw[seps]
    first = int(np.searchsorted(seps, data.find(b"\n"))) + 1  # separators of the body
    seps, kinds = seps[first:], kinds[first:]
    if len(seps) % width:
        return None
    kinds = kinds.reshape(-1, width)
    if not ((kinds[:, -1] == 10).all() and (kinds[:, :-1] == 9).all()):
        return None
    ends = seps.reshape(-1, width)
    starts = np.empty_like(ends)
    starts[:, 1:] = ends[:, :-1] + 1
    starts[1:, 0] = ends[:-1, -1] + 1
    starts[:1, 0] = data.find(b"\n") + 1
    overrides: list[dict[int, str]] = [{} for _ in range(width)]
    special = np.flatnonzero((raw == ord('"')) | (raw == 13))
    if len(special):
        rows = np.unique(np.searchsorted(ends[:, -1], special))
        for row in rows.tolist():
            line = data[starts[row, 0]:ends[row, -1]].decode("utf-8")
            fields = next(csv.reader([line], delimiter="\t"), [])
            if len(fields) != width:
                return None
            for col, value in enumerate(fields):
                overrides[col][row] = value
    return [TextColumn(data, np.ascontiguousarray(starts[:, c]), np.ascontiguousarray(ends[:, c]), overrides[c])
            for c in range(width)]


def _read_csv_columns(data: bytes) -> dict[str, list[str]]:
    """The slow, general way: every column as a list of str."""
    csv.field_size_limit(1 << 24)
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter="\t")
    header = next(reader)
    columns = list(zip(*reader)) or [()] * len(header)
    return {name: list(column) for name, column in zip(header, columns)}


def _ints(column: Sequence[str], dtype) -> np.ndarray:
    """Integers of a text column; digit-only `TextColumn`s are parsed without Python per row."""
    if isinstance(column, TextColumn) and not column._overrides:
        raw = np.frombuffer(column._data, np.uint8)
        width = column._ends - column._starts
        digits_ok = len(width) == 0 or (width.min() >= 1 and width.max() <= 18)
        if digits_ok:
            value = np.zeros(len(width), np.int64)
            for j in range(int(width.max(initial=0))):
                has = np.flatnonzero(width > j)
                digit = raw[column._starts[has] + j].astype(np.int64) - 48
                if ((digit < 0) | (digit > 9)).any():
                    break
                value[has] = value[has] * 10 + digit
            else:
                return value.astype(dtype)
    return np.array([int(x) for x in column], dtype=dtype)


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
    folder: Path | None = None  # where it was loaded from (derived tables such as the genre profile sit beside it)

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
                   meta.get("source", ""), int(meta.get("n_users", 0)), meta, folder)


def _pick(values: list[str], weights: list[float] | None = None) -> str:
    """Most common variant ignoring case; within it, one not in capitals, then the most common.

    Ties go to the shortest (usually the plainest) form: "Dune" over "Dune: Special Edition".
    `weights` count each value more than once (e.g. by its edition's ratings).
    """
    counts: Counter = Counter()
    for v, w in zip(values, weights or [1.0] * len(values)):
        if v:
            counts[v] += w
    if not counts:
        return ""
    groups: Counter = Counter()
    for v, n in counts.items():
        groups[v.casefold()] += n
    best = min(groups, key=lambda g: (-groups[g], len(g), g))
    return tidy_case(min((v for v in counts if v.casefold() == best), key=lambda v: (v.isupper(), -counts[v], v)))


def group_raw(raw: RawData, keep_implicit: bool = False) -> tuple[Grouping, Counter]:
    """`raw`'s editions grouped into works, and the kept ratings of each edition (book id -> count).

    Editions with more ratings weigh more when author names are grouped.
    """
    ratings_of = Counter(book for _, book, rating in raw.ratings if rating > 0 or keep_implicit)
    editions = raw.editions
    grouping = group_editions([e.title for e in editions], [e.author for e in editions],
                              [ratings_of[e.book_id] for e in editions])
    return grouping, ratings_of


def build_dataset(raw: RawData, keep_implicit: bool = False, grouping: tuple[Grouping, Counter] | None = None) -> Dataset:
    """Merge editions into works (`engine.editions`) and index users.

    Only works and users with at least one kept rating are kept. When a user rated
    several editions of one work, the highest rating counts. A work shows the most
    common title and author spelling of its editions (`display_title`), the most common
    publisher, the earliest known year, the cover of its most rated edition with one,
    over https, and every edition's ISBN, the most rated edition's first.

    `grouping`: `group_raw(raw, keep_implicit)` when the caller has it already.
    """
    grouping, ratings_of = grouping or group_raw(raw, keep_implicit)
    editions = raw.editions
    groups = grouping.works
    raw.skipped["books with unusable titles"] += len(editions) - sum(len(members) for _, members in groups)
    work_of: dict[str, int] = {}
    for g, (_, members) in enumerate(groups):
        for i in members:
            work_of[editions[i].book_id] = g

    best: dict[tuple[str, int], float] = {}
    for user, book_id, rating in raw.ratings:
        if rating <= 0 and not keep_implicit:
            continue
        group = work_of.get(book_id)
        if group is None:
            continue
        pair = (user, group)
        if best.get(pair, -1.0) < rating:
            best[pair] = rating
    if not best:
        raise DataFormatError(f"{raw.source}: no usable ratings")

    # Works numbered in the order of their keys (title key, then first author), as before merging.
    author_of = lambda i: grouping.author_keys[editions[i].author]  # noqa: E731
    rated = sorted({group for _, group in best}, key=lambda g: (groups[g][0], min(map(author_of, groups[g][1]))))
    work_id = {group: i for i, group in enumerate(rated)}
    users = sorted({user for user, _ in best}, key=lambda u: (len(u), u))
    user_id = {u: i for i, u in enumerate(users)}

    columns: dict[str, list] = {name: [] for name in ("title", "author", "year", "cover_url", "isbns", "publisher",
                                                      "series")}
    shown_author = _Memo(lambda a: clean_text(first_author(a)))
    shown_publisher = _Memo(clean_text)
    series_of = _Memo(series_note)
    for group in rated:
        title_key, members = groups[group]
        members = sorted(members, key=lambda i: -ratings_of[editions[i].book_id])  # the most rated first
        eds = [editions[i] for i in members]
        # Most editions first, then most ratings; editions that joined by subtitle show their main title.
        total = sum(ratings_of[e.book_id] for e in eds)
        weight = [1.0 + ratings_of[e.book_id] / (1.0 + total) for e in eds]
        titles = [grouping.shown[i] if grouping.title_keys[i] == title_key else display_title(split_subtitle(grouping.shown[i])[0])
                  for i in members]
        own = [j for j, i in enumerate(members) if grouping.title_keys[i] == title_key]  # its authors' spellings
        columns["title"].append(_pick(titles, weight))
        columns["author"].append(_pick([shown_author[eds[j].author] for j in own], [weight[j] for j in own]))
        known_years = [e.year for e in eds if e.year]
        columns["year"].append(min(known_years) if known_years else 0)
        columns["cover_url"].append(https_url(next((e.cover_url for e in eds if e.cover_url), "")))
        columns["isbns"].append("|".join(dict.fromkeys(i for e in eds for i in e.isbns)))
        columns["publisher"].append(_pick([shown_publisher[e.publisher] for e in eds], weight))
        columns["series"].append(_pick([series_of[e.title] for e in eds], weight))

    pairs = np.array([(user_id[u], work_id[g]) for u, g in best], dtype=np.int64).reshape(-1, 2)
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    rating = np.fromiter(best.values(), dtype=np.float32, count=len(best))[order]
    works = Works(columns["title"], columns["author"], np.array(columns["year"], dtype=np.int32), columns["cover_url"],
                  columns["isbns"], columns["publisher"], columns["series"])
    meta = {"skipped": dict(raw.skipped), "n_editions": len(raw.editions)}
    return Dataset(works, pairs[order, 0].astype(np.int32), pairs[order, 1].astype(np.int32), rating,
                   raw.rating_scale, raw.source, len(users), meta)



class _Memo(dict):
    """`memo[x]` is `function(x)`, computed once per distinct x (many editions share an author)."""

    def __init__(self, function):
        super().__init__()
        self.function = function

    def __missing__(self, key):
        value = self[key] = self.function(key)
        return value
