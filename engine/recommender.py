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
from .errors import AmbiguousTitle, BookNotFound, InvalidInput
from .editions import find_by_key, name_tokens, one_book, same_person
from .kinds import AID, BOOK
from .profiles import Profiles
from .rules import SKIP_REASONS, Catalogue, ListRules  # noqa: F401  (SKIP_REASONS: the callers' name for it)
from .language import parse_language, wanted_languages
from .matcher import TitleMatcher, string_hash
from .manifest import Manifest  # noqa: F401  (the type `manifest` returns)
from .modelfolder import FileRows, ModelFolder, load_model_folder
from .normalize import ARTICLES, digits, drop_article, fold, holds_words, https_url, isbn13, normalize_author, normalize_title, split_alternate, work_key
from .results import Recommendation, RecommendationList, TitleLookup, TitleMatch, Work
from .ranking import Ranker

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 300
NOT_FOUND_BELOW = 68.0  # best match score under which we ask "did you mean"
AMBIGUOUS_WITHIN = 2.5  # other works this close to the best make the title ambiguous
DOMINANT_SHARE = 0.75  # of those works' likes, the share one needs to be the answer anyway
MIN_DOMINANT_LIKES = 3  # and at least this many
# A book whose title holds the typed words ("To Kill a Mockingbird" for "mockingbird") is in the
# running against a work of exactly that title when it has FAMOUS_RATIO times its likes, against
# a lesser match when it has as many, and on its own, with nothing matching well, at FAMOUS_LIKES
# (about the 99th percentile of Book-Crossing works).
FAMOUS_RATIO = 10
THIN_LIKES = 5  # a work of the typed title with more likes than this is the one meant (the 90th percentile is 4)
FAMOUS_LIKES = 30
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
        return [TitleMatch(self.work(i), score) for i, score in self.matcher.match(query, limit)]

    def resolve(self, query: str) -> Work:
        """The one work `query` names (`lookup` without the works it could also have named)."""
        return self.lookup(query).work

    def lookup(self, query: str) -> TitleLookup:
        """The one work `query` names, and the equally matching works the evidence set aside.

        When several different works match about equally well, the evidence decides: if
        one holds at least `DOMINANT_SHARE` of their likes (*Of Mice and Men* by Steinbeck,
        not a reader's edition with one like; Maguire's *Wicked: The Life and Times of the
        Wicked Witch of the West* for "Wicked", not two romances titled *Wicked*), or it is a
        book and the others are all study aids (`engine.kinds`: study guides, workbooks,
        reference), or they are all editions of one book that the catalogue keeps apart (one
        author, one title before the subtitle, or one spelled a letter apart: "Siddartha", a
        misspelt edition, is in the running for "siddartha" however far below it *Siddhartha*
        matches), the most liked is the answer and the others
        are its `also`; otherwise the title is ambiguous.

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
        found = bool(matches) and matches[0].score >= NOT_FOUND_BELOW
        if found and self._names_exactly(text, matches[0].work):
            return TitleLookup(matches[0].work)
        # A far better-known book whose title holds the words ("mockingbird", "gatsby"): in the running.
        bar = self._famous_bar(text, matches) if found else FAMOUS_LIKES
        famous = self._holding(text, bar)
        if not found and not famous:
            raise BookNotFound(text, [m for m in matches[:5] if m.score >= 40])
        close, keys = [], set()  # one per work key: a catalogue that lists a work twice names it once
        if found:
            best = matches[0]
            for m in matches:  # the best match's book spelled a letter apart is in the running at any score
                if (m.score >= best.score - AMBIGUOUS_WITHIN or self._one_book(best.work, m.work)) and m.work.key not in keys:
                    keys.add(m.work.key)
                    close.append(m.work)
        for w in famous:
            if w.key not in keys:
                keys.add(w.key)
                close.append(w)
        if len(close) == 1:
            return TitleLookup(close[0])
        close.sort(key=lambda w: -w.likes)  # stable: equally liked ones keep their match order
        leader, others = close[0], close[1:]
        if leader.likes >= max(MIN_DOMINANT_LIKES, DOMINANT_SHARE * sum(w.likes for w in close)) or (
                self.kind[leader.id] == BOOK and all(self.kind[w.id] == AID for w in others)) or all(
                self._one_book(leader, w) for w in others):
            return TitleLookup(leader, tuple(others))
        raise AmbiguousTitle(text, close[:9])

    def _holding(self, text: str, likes: float) -> list[Work]:
        """Works with at least `likes` likes whose main title holds the words of `text`, the most liked first."""
        if likes == float("inf"):
            return []
        return [w for w in map(self.work, self.matcher.containing(fold(text)).tolist())
                if w.likes >= likes and holds_words(split_alternate(w.title)[0], fold(text))]

    @staticmethod
    def _famous_bar(text: str, matches: list[TitleMatch]) -> float:
        """Likes a book whose main title holds `text` needs to be in the running against the
        matches: none when `text` is the title or main title of a known work (Garwood's *The
        Secret* stays *The Secret*); FAMOUS_RATIO times theirs when it names only thin works
        (*Mockingbird*, two likes, against *To Kill a Mockingbird*); otherwise the best match's."""
        said = drop_article(digits(fold(text)))
        named = [m.work.likes for m in matches
                 if said in {drop_article(digits(fold(t))) for t in (m.work.title, split_alternate(m.work.title)[0])}]
        if not named:
            return max(MIN_DOMINANT_LIKES, matches[0].work.likes)
        return FAMOUS_RATIO * max(max(named), 1) if max(named) <= THIN_LIKES else float("inf")

    def _one_book(self, a: Work, b: Work) -> bool:
        """`_one_book`, in one language: *Der Klient* is Grisham's *The Client* spelled a letter apart,
        and a German reader asked for it."""
        languages = {int(self.language[a.id]), int(self.language[b.id])} - {0}
        return len(languages) <= 1 and _one_book(a, b)

    @staticmethod
    def _names_exactly(text: str, work: Work) -> bool:
        """Whether `text` is the work's title and author ("dune by frank herbert", "Dune - Herbert")."""
        folded, title = fold(text), fold(work.title)
        author = fold(work.author)
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


def _one_book(a: Work, b: Work) -> bool:
    """Whether two works are likely editions of one book (`editions.one_book`)."""
    return one_book(a.title, a.author, b.title, b.author)


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
