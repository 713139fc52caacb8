"""The engine: one loaded model folder answering title look-ups and recommendations.

`Engine` is read-only once built, so many threads may share one; `EngineHolder` swaps
in a retrained model without stopping the bot (each request reads `.current` once and
uses that engine throughout).
"""
from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from . import rarity as rarities
from .editions import find_by_key
from .errors import InvalidInput
from .profiles import Profiles
from .rules import SKIP_REASONS, Catalogue, ListRules  # noqa: F401  (SKIP_REASONS: the callers' name for it)
from .language import parse_language, wanted_languages
from .lookup import Titles
from .matcher import TitleMatcher, string_hash
from .manifest import Manifest  # noqa: F401  (the type `manifest` returns)
from .modelfolder import FileRows, ModelFolder, load_model_folder
from .normalize import ARTICLES, https_url, isbn13, normalize_title, work_key
from .results import Recommendation, RecommendationList, TitleLookup, TitleMatch, Work
from .ranking import Ranker

log = logging.getLogger(__name__)

POOL = rarities.POOL  # candidates each order contributes (the index fetch); rarity re-ranks among them
WORK_CACHE = 20_000  # Work records kept built (a candidate's title and key are normalised once)
SERVING_EF = 600  # HNSW search breadth when serving: recall@10 ~0.99 on trained vectors (BENCHMARKS.md)
MAX_QUERY_WORKS = 1000  # a shelf's books read per request (the most recent first, as the caller orders them)
SOURCES_READ = 50  # query works whose readers the reasons and co-reader counts read
SUPPORT_BLOCK = 64  # candidates whose co-readers are counted at once, in list order


class Engine:
    """Title matching and recommendations over one model folder.

    Args:
        folder: A loaded model folder.
        ef: HNSW search breadth; at least the number of candidates fetched.
    """

    def __init__(self, folder: ModelFolder, ef: int = SERVING_EF, diversify: bool = True, rules=SKIP_REASONS):
        self.folder = folder
        self.works = folder.works
        self.likes = np.asarray(folder.likes, dtype=np.int64)
        self.trained = np.asarray(folder.trained, dtype=bool)
        self.language = np.asarray(folder.language, dtype=np.uint8)
        self.kind = np.asarray(folder.kind, dtype=np.uint8)
        self.index = folder.index
        self.index.set_breadth(max(ef, POOL))  # once: hnswlib's set_ef is not safe while others search
        self.profiles = Profiles.from_array(folder.profile) if folder.profile is not None else None
        # The list rules (`engine.rules`); an evaluation may turn some off (`diversify=False`: the model's own list).
        enabled = [r for r in rules if diversify or r != "diversity"]
        self.rules = ListRules(Catalogue(self.likes, self.language, self.kind, folder.works.series, self.profiles,
                                         folder.works.author), enabled)
        # A model folder's matcher.npz loads in a second; building takes minutes at 2.8M works.
        self.matcher = folder.matcher or TitleMatcher(self.works.title, self.works.author, self.likes)
        self.titles = Titles(self.matcher, self.work, self.kind, self.language)
        self._head = rarities.head_threshold(self.likes)
        allowed = {name: rarities.allowed(self.likes, name, self._head) for name in rarities.RARITIES}
        self._colike = folder.colike
        self.writers = self.rules.catalogue.writers  # one number per person: the author order, the reasons, the rules
        # FileRows: a few query rows per request, read from the memory-mapped vectors.
        self.ranker = Ranker(self.index, FileRows(folder.query), self.trained, folder.colike, folder.scoring, allowed,
                             self.likes, writers=self.writers)
        self._fans = folder.fans
        # Readers are numbered 0..n-1 in the fans table: a request marks its query's readers once.
        self._n_readers = int(folder.fans.columns.array.max(initial=-1)) + 1 if folder.fans is not None else 0
        self._cached_work = functools.lru_cache(maxsize=WORK_CACHE)(self._make_work)  # candidates recur
        self._isbn_lock = threading.Lock()
        self._isbn_hash: np.ndarray | None = None
        self._isbn_work: np.ndarray | None = None

    @classmethod
    def from_folder(cls, path: str | Path, check_hashes: bool = True, **options) -> "Engine":
        """Load a model folder (see `engine.modelfolder`); raises ModelFolderError if unusable.

        `options` go to the constructor (`ef`, `diversify`)."""
        return cls(load_model_folder(path, check_hashes=check_hashes), **options)

    @property
    def version(self) -> str:
        """The model folder's name (a timestamp for trained models)."""
        return self.folder.path.name

    @property
    def manifest(self) -> "Manifest":
        """The folder's typed manifest (`engine.manifest.Manifest`)."""
        return self.folder.manifest

    @property
    def n_works(self) -> int:
        return len(self.works)

    # --- catalogue --------------------------------------------------------------------

    def work(self, work_id: int) -> Work:
        """The work with id `work_id`; raises KeyError for ids outside the catalogue.

        Its cover is over https even where the model folder's catalogue says http (folders
        prepared before covers were upgraded; Telegram shows only https thumbnails).
        """
        i = int(work_id)
        if not 0 <= i < self.n_works:
            raise KeyError(f"no work {work_id}")
        return self._cached_work(i)

    def _make_work(self, i: int) -> Work:
        w = self.works
        return Work(i, w.title[i], w.author[i], int(w.year[i]), int(self.likes[i]), https_url(w.cover_url[i]),
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
        return self.titles.match(query, limit)

    def resolve(self, query: str) -> Work:
        """The one work `query` names (`lookup` without the works it could also have named)."""
        return self.lookup(query).work

    def lookup(self, query: str) -> TitleLookup:
        """The one work `query` names, and the equally matching works the evidence set aside
        (`engine.lookup.Titles.lookup`: the rules and what each raises)."""
        return self.titles.lookup(query)

    # --- recommendations --------------------------------------------------------------

    def nearest(self, vector: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, inner products) of the `n` works whose target vectors have the largest inner product with `vector`."""
        return self.index.search(vector, n)

    def usable(self, work: Work | int) -> bool:
        """Whether recommendations can start from this work (it has a vector or co-like weights)."""
        i = work.id if isinstance(work, Work) else int(work)
        return bool(self.trained[i]) or (self._colike is not None and self._colike.indptr[i + 1] > self._colike.indptr[i])

    def recommend(self, works: Sequence[Work | int], k: int = 10, rarity: str | None = None,
                  exclude: Iterable[int | str] = (), lang: str | None = None) -> RecommendationList:
        """Works that readers of `works` loved, at the chosen rarity.

        Args:
            works: The liked works (one title, or a whole shelf; the first `MAX_QUERY_WORKS` are read).
            k: How many picks.
            rarity: A name from `engine.rarity.RARITIES`; None means the default.
            exclude: Work ids or work keys never to recommend (e.g. the reader's shelf).
            lang: None (picks in the language of `works`), "any", or a language code ("de").

        Returns:
            The picks; `unused` names the query works the model knows nothing about (liked by
            too few readers to have a vector), which did not shape the answer.

        Raises:
            InvalidInput: no works, an unknown rarity or language.
        """
        setting = self._rarity(rarity)
        try:
            language = parse_language(lang)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        liked = [w if isinstance(w, Work) else self.work(w) for w in works][:MAX_QUERY_WORKS]
        if not liked:
            raise InvalidInput("Name at least one book you liked.")
        k = max(1, int(k))
        used = [w for w in liked if self.usable(w)]
        unused = [w for w in liked if not self.usable(w)]
        if not used:
            return RecommendationList(liked, [], setting.name, self.version, unused)
        ids = np.array([w.id for w in liked], dtype=np.int64)
        request = self.rules.start(liked, setting.min_support, wanted_languages(self.language[ids], language), exclude)
        # What the reasons and co-reader counts compare each pick with, read once per request.
        sources = used[:SOURCES_READ]
        source_fans = [self.fans(w.id) for w in sources] if self._fans is not None else None
        readers, fan_index = None, None
        if source_fans:
            readers = np.zeros(self._n_readers, dtype=bool)
            for fans in source_fans:
                readers[fans] = True
            # Every (reader, source) pair sorted by reader: a pick's reason reads its co-readers per source.
            fan_readers = np.concatenate(source_fans)
            fan_sources = np.repeat(np.arange(len(source_fans)), [len(f) for f in source_fans])
            order = np.argsort(fan_readers, kind="stable")
            fan_index = (fan_readers[order], fan_sources[order])
        fitted: dict[str, np.ndarray] = {}  # the candidates' genre fits and co-readers: the terms', then the rules'

        def fit(ids: np.ndarray) -> np.ndarray:
            fitted["fits"] = self.rules.fits(request, ids)
            return fitted["fits"]

        def support(ids: np.ndarray) -> np.ndarray:
            fitted["support"] = self._supports(ids, readers)
            return fitted["support"]

        candidates, scores = self.ranker.candidates(
            [w.id for w in used], setting.name, request.banned_ids, fit=fit,
            support=support if readers is not None else None)
        fits = fitted["fits"] if "fits" in fitted else self.rules.fits(request, candidates)
        counted = fitted.get("support")  # every candidate's co-readers, when the order's terms read them
        keys = rarities.adjust(scores, self.likes, setting, threshold=self._head, candidates=candidates)
        picks: list[Recommendation] = []
        order = np.lexsort((candidates, -keys))  # equal keys: lower work id first, as in the evaluation
        order = order[np.isfinite(keys[order])]
        supports: dict[int, int] = {}  # co-readers, counted a block of the order at a time
        for place, i in enumerate(order):
            if len(picks) >= k:
                break
            c = int(candidates[i])
            if counted is not None:
                co_readers = int(counted[i])
            elif readers is not None:
                if place % SUPPORT_BLOCK == 0:
                    block = candidates[order[place:place + SUPPORT_BLOCK]]
                    supports = dict(zip(block.tolist(), self._supports(block, readers).tolist()))
                co_readers = supports[c]
            else:
                co_readers = None
            why = self.rules.passes(request, c, co_readers, fits[i])
            if why is None:
                work = self.work(c)
                why = self.rules.place(request, work)
            if why is not None:
                if why != "same_book" or c not in request.banned_ids:  # the query's own works were never candidates
                    request.skipped[why] += 1
                continue
            picks.append(Recommendation(work, round(float(keys[i]), 4), self._reason(work, sources, fan_index),
                                        co_readers if co_readers is not None else -1))
        return RecommendationList(liked, picks, setting.name, self.version, unused, request.skipped)

    @staticmethod
    def _rarity(rarity: str | None):
        try:
            return rarities.get_rarity(rarity)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None

    # --- reasons ----------------------------------------------------------------------

    def fans(self, work_id: int) -> np.ndarray:
        """Sorted ids of the training readers who liked `work_id` (empty when the folder has no fans)."""
        if self._fans is None:
            return np.zeros(0, np.int32)
        return self._fans.row(int(work_id))

    def _supports(self, ids: np.ndarray, readers: np.ndarray) -> np.ndarray:
        """Co-readers of each candidate in `ids`: training readers who liked it and at least one
        query work (`readers`: bool, one per reader, who liked a query work)."""
        ids = np.asarray(ids, np.int64)
        sizes = self._fans.indptr[ids + 1] - self._fans.indptr[ids]
        columns, _ = self._fans.rows(ids)
        return np.bincount(np.repeat(np.arange(len(ids)), sizes), weights=readers[columns],
                           minlength=len(ids)).astype(np.int64)

    def _reason(self, pick: Work, sources: list[Work], fan_index: tuple[np.ndarray, np.ndarray] | None) -> str:
        """"loved by 12 readers who loved Dune"; honest when the evidence is one reader or none; "by the
        author of Dune; ..." first for a book by the writer of a query book.

        `fan_index`: the query sources' (reader, source) pairs sorted by reader (None: no fans)."""
        writer = self.writers[pick.id]
        same = next((s for s in sources if writer >= 0 and self.writers[s.id] == writer), None)
        by = f"by the author of {same.title}; " if same is not None else ""
        return by + self._evidence(pick, sources, fan_index)

    def _evidence(self, pick: Work, sources: list[Work], fan_index: tuple[np.ndarray, np.ndarray] | None) -> str:
        if fan_index is None:
            return f"close to {sources[0].title} in what its readers like"
        fan_readers, fan_sources = fan_index
        fans = self.fans(pick.id)
        start, stop = np.searchsorted(fan_readers, fans, "left"), np.searchsorted(fan_readers, fans, "right")
        hits = stop - start  # how many sources each of the pick's fans loved
        at = np.repeat(start - np.concatenate(([0], np.cumsum(hits)[:-1])), hits) + np.arange(int(hits.sum()))
        counts = np.bincount(fan_sources[at], minlength=len(sources))
        best = int(np.argmax(counts))
        count, source = counts[best], sources[best].title
        if count >= 2:
            return f"loved by {count} readers who loved {source}"
        if count == 1:
            return f"loved by one reader who loved {source} (a single reader's pick)"
        return f"no reader of {source} rated it yet; readers with their taste did ({_plural(pick.likes, 'like')})"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


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
