"""The engine: one loaded model folder answering title look-ups and recommendations.

`Engine` is read-only once built, so many threads may share one; `EngineHolder` swaps
in a retrained model without stopping the bot (each request reads `.current` once and
uses that engine throughout).
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from . import rarity as rarities
from .errors import AmbiguousTitle, BookNotFound, InvalidInput
from .editions import find_by_key, is_study_guide
from .matcher import TitleMatcher, fast_fold, string_hash
from .modelfolder import FileRows, ModelFolder, load_model_folder
from .normalize import ARTICLES, isbn13, normalize_author, normalize_title, work_key
from .results import Recommendation, RecommendationList, TitleLookup, TitleMatch, Work

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 300
NOT_FOUND_BELOW = 68.0  # best match score under which we ask "did you mean"
AMBIGUOUS_WITHIN = 2.5  # other works this close to the best make the title ambiguous
DOMINANT_SHARE = 0.75  # of those works' likes, the share one needs to be the answer anyway
MIN_DOMINANT_LIKES = 3  # and at least this many
INDEX_CANDIDATES = 500  # HNSW hits re-scored exactly; rarity filters can drop many of them
SERVING_EF = 600  # HNSW search breadth when serving: recall@10 ~0.99 on trained vectors (BENCHMARKS.md)
POPULAR_CANDIDATES = 200  # top works by bias added for `any`, where popularity counts fully
MAX_PER_AUTHOR = 2
MAX_PER_SERIES = 1
_ARTICLES = ARTICLES  # one list of leading articles (engine.normalize)


def series_stem(title: str) -> str:
    """Shared beginning of a series' titles ("harry potter" for every Harry Potter book).

    The first two words that are not an article, of the part before a colon; a one-word
    title has no stem (it would lump "Dune" with "Dune Road").
    """
    words = [w for w in fast_fold(title.split(":")[0]).split() if w not in _ARTICLES]
    return " ".join(words[:2]) if len(words) >= 2 else ""


class Engine:
    """Title matching and recommendations over one model folder.

    Args:
        folder: A loaded model folder.
        ef: HNSW search breadth; at least the number of candidates fetched.
    """

    def __init__(self, folder: ModelFolder, ef: int = SERVING_EF):
        self.folder = folder
        self.works = folder.works
        self.likes = np.asarray(folder.likes, dtype=np.int64)
        self.bias = np.asarray(folder.bias, dtype=np.float32)
        self.index = folder.index
        self.index.set_ef(max(ef, INDEX_CANDIDATES))  # once: set_ef is not safe while others query
        # A model folder's matcher.npz loads in a second; building takes minutes at 2.8M works.
        self.matcher = folder.matcher or TitleMatcher(self.works.title, self.works.author, self.likes)
        self._head = rarities.head_threshold(self.likes)
        self._popular = np.argsort(-self.bias, kind="stable")[:POPULAR_CANDIDATES]
        self._popular_sorted = np.sort(self._popular)
        self._query_rows = FileRows(folder.query)  # a few rows per request (see FileRows)
        self._popular_target = FileRows(folder.target).rows(self._popular_sorted).astype(np.float32)
        self._isbn_lock = threading.Lock()
        self._isbn_hash: np.ndarray | None = None
        self._isbn_work: np.ndarray | None = None
        self._fans = self._load_fans(folder.path / "likes.npz")

    @classmethod
    def from_folder(cls, path: str | Path, check_hashes: bool = True) -> "Engine":
        """Load a model folder (see `engine.modelfolder`); raises ModelFolderError if unusable."""
        return cls(load_model_folder(path, check_hashes=check_hashes))

    @property
    def version(self) -> str:
        """The model folder's name (a timestamp for trained models)."""
        return self.folder.path.name

    @property
    def manifest(self) -> dict:
        return self.folder.manifest

    @property
    def n_works(self) -> int:
        return len(self.works)

    # --- catalogue --------------------------------------------------------------------

    def work(self, work_id: int) -> Work:
        """The work with id `work_id`; raises KeyError for ids outside the catalogue."""
        i = int(work_id)
        if not 0 <= i < self.n_works:
            raise KeyError(f"no work {work_id}")
        w = self.works
        return Work(i, w.title[i], w.author[i], int(w.year[i]), int(self.likes[i]), w.cover_url[i],
                    tuple(x for x in w.isbns[i].split("|") if x), work_key(w.title[i], w.author[i]), w.publisher[i])

    def work_by_key(self, key: str) -> Work | None:
        """The work whose `work_key` is `key` (keys survive retrains; ids do not).

        Keys stored before editions were merged the current way still find their work
        (`engine.editions.find_by_key`): "the alchemist a fable about following your
        dream|coelho paulo" is now "alchemist|coelho paulo".
        """
        found = find_by_key(key, self._works_titled)
        return self.work(found) if found is not None else None

    def _works_titled(self, title_key: str) -> list[tuple[int, str, str, int]]:
        """(id, title, author, likes) of the works whose title key is `title_key`."""
        w = self.works
        ids = np.unique(self.matcher.exact_titles([title_key, *(f"{a} {title_key}" for a in ARTICLES)])).tolist()
        return [(i, w.title[i], w.author[i], int(self.likes[i])) for i in ids if normalize_title(w.title[i]) == title_key]

    def work_by_isbn(self, isbn: str) -> Work | None:
        """The work one of whose editions has this ISBN, written as ISBN-10 or ISBN-13."""
        isbn = isbn13(str(isbn))
        if not isbn:
            return None
        hashes, owners = self._isbn_table()
        h = _hash(isbn)
        lo, hi = np.searchsorted(hashes, h, "left"), np.searchsorted(hashes, h, "right")
        for i in owners[lo:hi]:
            if isbn in map(isbn13, self.works.isbns[i].split("|")):
                return self.work(int(i))
        return None

    def _isbn_table(self) -> tuple[np.ndarray, np.ndarray]:
        """Sorted hashes of every edition's ISBN-13 and their works, built on first use (imports need it, chats rarely)."""
        with self._isbn_lock:
            if self._isbn_hash is None:
                hashes, owners = [], []
                for i, joined in enumerate(self.works.isbns):
                    for isbn in joined.split("|") if joined else ():
                        hashes.append(_hash(isbn13(isbn)))
                        owners.append(i)
                hashes_arr = np.array(hashes, dtype=np.uint64)
                order = np.argsort(hashes_arr, kind="stable")
                self._isbn_hash, self._isbn_work = hashes_arr[order], np.array(owners, np.int32)[order]
            return self._isbn_hash, self._isbn_work

    # --- titles -----------------------------------------------------------------------

    def match_title(self, query: str, limit: int = 10) -> list[TitleMatch]:
        """Works for a typed title, best first (score 0..100)."""
        return [TitleMatch(self.work(i), score) for i, score in self.matcher.match(query, limit)]

    def resolve(self, query: str) -> Work:
        """The one work `query` names (`lookup` without the works it could also have named)."""
        return self.lookup(query).work

    def lookup(self, query: str) -> TitleLookup:
        """The one work `query` names, and the equally matching works the evidence set aside.

        When several different works match about equally well, the evidence decides: if
        one holds at least `DOMINANT_SHARE` of their likes (*Of Mice and Men* by Steinbeck,
        not a reader's edition with one like), or the others are all study guides, it is
        the answer and the others are its `also`; otherwise the title is ambiguous.

        Raises:
            InvalidInput: empty, longer than 300 characters, or without letters or digits.
            BookNotFound: nothing matches well; `candidates` are "did you mean" options.
            AmbiguousTitle: several different works match about equally well and none
                stands out (two books with one title by different authors); `candidates`
                lists them, the most liked first.
        """
        text = " ".join((query or "").split())
        if not text:
            raise InvalidInput("Type a book title, e.g. Dune.")
        if len(text) > MAX_QUERY_CHARS:
            raise InvalidInput(f"That is too long for a title (at most {MAX_QUERY_CHARS} characters).")
        if not any(c.isalnum() for c in text):  # digits count: "1984" is a title
            raise InvalidInput("A title needs letters or digits.")
        matches = self.match_title(text, limit=10)
        if not matches or matches[0].score < NOT_FOUND_BELOW:
            raise BookNotFound(text, [m for m in matches[:5] if m.score >= 40])
        best = matches[0]
        if self._names_exactly(text, best.work):
            return TitleLookup(best.work)
        close, keys = [], set()  # one per work key: a catalogue that lists a work twice names it once
        for m in matches:
            if m.score >= best.score - AMBIGUOUS_WITHIN and m.work.key not in keys:
                keys.add(m.work.key)
                close.append(m.work)
        if len(close) == 1:
            return TitleLookup(best.work)
        close.sort(key=lambda w: -w.likes)  # stable: equally liked ones keep their match order
        leader, others = close[0], close[1:]
        if leader.likes >= max(MIN_DOMINANT_LIKES, DOMINANT_SHARE * sum(w.likes for w in close)) or (
                not is_study_guide(leader) and all(map(is_study_guide, others))):
            return TitleLookup(leader, tuple(others))
        raise AmbiguousTitle(text, close[:9])

    @staticmethod
    def _names_exactly(text: str, work: Work) -> bool:
        """Whether `text` is the work's title and author ("dune by frank herbert", "Dune - Herbert")."""
        folded, title = fast_fold(text), fast_fold(work.title)
        author = fast_fold(work.author)
        if not author or not folded.startswith(title + " "):
            return False
        rest = folded[len(title):].split()
        if rest and rest[0] == "by":
            rest = rest[1:]
        said = " ".join(rest)
        return bool(said) and (said == author or normalize_author(said) == normalize_author(work.author)
                               or (len(rest) == 1 and rest[0] == author.split()[-1]))

    # --- recommendations --------------------------------------------------------------

    def nearest(self, vector: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, inner products) of the `n` works whose target vectors have the largest inner product with `vector` (HNSW)."""
        n = min(int(n), self.n_works)
        if n <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        labels, distances = self.index.knn_query(np.asarray(vector, np.float32).reshape(1, -1), k=n)
        return labels[0].astype(np.int64), 1 - distances[0]  # hnswlib's "ip" distance is 1 - inner product

    def recommend(self, works: Sequence[Work | int], k: int = 10, rarity: str | None = None,
                  exclude: Iterable[int | str] = ()) -> RecommendationList:
        """Works that readers of `works` loved, at the chosen rarity.

        Args:
            works: The liked works (one title, or a whole shelf).
            k: How many picks.
            rarity: A name from `engine.rarity.RARITIES`; None means the default.
            exclude: Work ids or work keys never to recommend (e.g. the reader's shelf).

        Raises:
            InvalidInput: no works, or an unknown rarity.
        """
        setting = self._rarity(rarity)
        liked = [w if isinstance(w, Work) else self.work(w) for w in works]
        if not liked:
            raise InvalidInput("Name at least one book you liked.")
        k = max(1, int(k))
        ids = np.array([w.id for w in liked], dtype=np.int64)
        seed_rows = self._query_rows.rows(ids)
        vector = seed_rows.mean(axis=0)
        # The index gives the candidates' inner products: the target vectors (0.7 GB at 2.8M
        # works, memory-mapped) are read only for the few popular works `any` adds.
        candidates, dots = self.nearest(vector, INDEX_CANDIDATES)
        if setting.name == "any":
            extra = np.setdiff1d(self._popular, candidates)
            candidates = np.concatenate([candidates, extra])
            dots = np.concatenate([dots, self._popular_target[np.searchsorted(self._popular_sorted, extra)] @ vector])
        scores = dots + self.bias[candidates]
        adjusted = rarities.adjust(scores, self.likes, setting, threshold=self._head, candidates=candidates)
        banned_ids = set(ids.tolist()) | {int(x) for x in exclude if not isinstance(x, str)}
        banned_keys = {w.key for w in liked} | {x for x in exclude if isinstance(x, str)}
        query_series = {(series_stem(w.title), normalize_author(w.author)) for w in liked} - {("", "")}
        # "Children of Dune" is Dune's own series too: same author, every word of the query's title.
        query_words = {}
        for w in liked:
            words = frozenset(fast_fold(w.title).split()) - _ARTICLES
            if words:
                query_words.setdefault(normalize_author(w.author), []).append(words)
        # What the reasons compare each pick with, read once per request, not once per pick.
        sources = liked[:50]
        source_fans = [self.fans(w.id) for w in sources] if self._fans is not None else None
        picks: list[Recommendation] = []
        per_author: dict[str, int] = {}
        per_series: dict[str, int] = {}
        for i in np.argsort(-adjusted, kind="stable"):
            if len(picks) >= k or not np.isfinite(adjusted[i]):
                break
            c = int(candidates[i])
            if c in banned_ids:
                continue
            work = self.work(c)
            author, stem = normalize_author(work.author), series_stem(work.title)
            if work.key in banned_keys or (stem, author) in query_series:
                continue  # the query's own book, another edition of it, or its own series
            if author in query_words:
                title_words = set(fast_fold(work.title).split())
                if any(words <= title_words for words in query_words[author]):
                    continue
            if author and per_author.get(author, 0) >= MAX_PER_AUTHOR:
                continue
            if stem and per_series.get(stem, 0) >= MAX_PER_SERIES:
                continue
            per_author[author] = per_author.get(author, 0) + 1
            if stem:
                per_series[stem] = per_series.get(stem, 0) + 1
            picks.append(Recommendation(work, round(float(scores[i]), 4), self._reason(work, sources, source_fans, seed_rows[:50])))
        return RecommendationList(liked, picks, setting.name, self.version)

    @staticmethod
    def _rarity(rarity: str | None):
        try:
            return rarities.get_rarity(rarity)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None

    # --- reasons ----------------------------------------------------------------------

    def _load_fans(self, path: Path):
        """Readers of each work, as CSR arrays: `fans_*.npy` (memory-mapped), or an older `likes.npz`."""
        folder = path.parent
        if (folder / "fans_indptr.npy").exists() and (folder / "fans_readers.npy").exists():
            try:
                indptr = np.load(folder / "fans_indptr.npy", mmap_mode="r")
                readers = np.load(folder / "fans_readers.npy", mmap_mode="r")
                if len(indptr) == self.n_works + 1 and indptr[-1] == len(readers):
                    return np.array(indptr), FileRows(readers)
                log.warning("ignoring fans_*.npy in %s: they do not fit the catalogue", folder)
            except (OSError, ValueError) as exc:
                log.warning("ignoring fans_*.npy in %s: %s", folder, exc)
        if not path.exists():
            return None
        try:
            data = np.load(path)
            users = np.asarray(data["user"] if "user" in data else data["reader"], dtype=np.int32)
            items = np.asarray(data["work"], dtype=np.int64)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring %s: %s", path, exc)
            return None
        order = np.lexsort((users, items))  # by work, then reader: each list sorted for intersect
        indptr = np.zeros(self.n_works + 1, np.int64)
        np.cumsum(np.bincount(items, minlength=self.n_works)[:self.n_works], out=indptr[1:])
        return indptr, FileRows(users[order])

    def fans(self, work_id: int) -> np.ndarray:
        """Sorted ids of the training readers who liked `work_id` (empty without likes.npz)."""
        if self._fans is None:
            return np.zeros(0, np.int32)
        indptr, users = self._fans
        return users.span(int(indptr[work_id]), int(indptr[work_id + 1]))

    def _reason(self, pick: Work, sources: list[Work], source_fans: list[np.ndarray] | None,
                source_rows: np.ndarray) -> str:
        """"loved by 12 readers who loved Dune", or without co-like data the closest query book.

        `sources` are the query's books, with their fans and query vectors (`source_rows`).
        """
        if source_fans is not None:
            fans = self.fans(pick.id)
            counts = [np.intersect1d(fans, theirs, assume_unique=True).size for theirs in source_fans]
            best = int(np.argmax(counts))
            if counts[best]:
                count = counts[best]
                return f"loved by {count} reader{'s' if count != 1 else ''} who loved {sources[best].title}"
        # Which of the query's books points at this pick the most.
        target = self.index.get_items([pick.id], return_type="numpy")[0]  # the index's copy: no page of target read
        source = sources[int(np.argmax(source_rows @ target))]
        readers = f"{pick.likes} reader{'s' if pick.likes != 1 else ''}"
        return f"loved by readers of {source.title}; {readers} liked it"


def _hash(text: str) -> np.uint64:
    return np.uint64(string_hash(text))


class EngineHolder:
    """The engine in service, swappable while requests run.

    A request reads `.current` once and keeps that engine, so a swap never mixes two
    models within one answer.
    """

    def __init__(self, engine: Engine | None = None):
        self._lock = threading.Lock()
        self._engine = engine

    @property
    def current(self) -> Engine:
        engine = self._engine  # one read: atomic in CPython
        if engine is None:
            raise RuntimeError("no model loaded yet")
        return engine

    def swap(self, engine: Engine) -> Engine | None:
        """Put `engine` in service; returns the previous one."""
        with self._lock:
            previous, self._engine = self._engine, engine
        log.info("serving model %s (%d works)", engine.version, engine.n_works)
        return previous
