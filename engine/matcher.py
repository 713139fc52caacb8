"""Fuzzy title lookup that stays fast from a few thousand to millions of works.

Two stages:

1. Words narrow the catalogue to a few hundred candidates. Each query word is looked
   up in the vocabulary of title and author words: exactly, through an index of
   *sorted* character trigrams over the vocabulary when it may be a typo ("dnue" and
   "dune" share the trigrams "dnu" and "enu" once each trigram's letters are sorted, so
   swapped letters, the commonest slip, are found), and as a prefix when it is the last
   word. Postings live in numpy CSR arrays (`indptr`, `postings`), not in Python
   containers, so 2.8M titles stay compact and can be saved and loaded with numpy.
2. rapidfuzz re-scores the candidates (title, "title author", "title by author" read
   both ways, and "dune frank herbert" read as title plus the author words at its end)
   and a small popularity prior breaks ties in favour of the work more readers liked.
"""
from __future__ import annotations

import bisect
import functools
import re
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from .normalize import ARTICLES, digits, drop_article, fold, split_alternate

ALPHABET = 64  # codes per character: space, a-z, 0-9, a few hash buckets, separator
N_GRAMS = ALPHABET ** 3  # trigram ids per field
TITLE, AUTHOR = 0, 1
_SEP = 63  # code of the "\x00" that separates documents in a build chunk
_CHUNK = 200_000  # documents per vectorised build step (bounds peak memory)

# "title by author", "title - author", "title / author", "title, author": the part after
# the last separator may be an author. Titles contain these too, so the whole query is
# always tried as a title as well.
_AUTHOR_SEPARATORS = re.compile(r"\s+by\s+|\s+[-–—/|]+\s+|\s*[,;]\s+", re.IGNORECASE)

_LUT = np.full(128, 37, dtype=np.uint8)  # ASCII that fold() never leaves (it only keeps [a-z0-9 ])
_LUT[ord(" ")] = 0
_LUT[ord("a"):ord("z") + 1] = np.arange(1, 27)
_LUT[ord("0"):ord("9") + 1] = np.arange(27, 37)
_LUT[0] = _SEP

_NON_WORD_ASCII = re.compile(r"[^a-z0-9\n]+")  # the same, on lowercased ASCII lines



def fold_many(texts: Sequence[str]) -> list[str]:
    """`fold` of every text; plain ASCII texts are folded together, as one string."""
    texts = texts if isinstance(texts, list) else list(texts)
    plain = [i for i, t in enumerate(texts) if t.isascii() and "\n" not in t]
    if len(plain) < len(texts):
        out = [fold(t) for t in texts]  # the non-ASCII ones need unicodedata anyway
        if not plain:
            return out
        for i, folded in zip(plain, fold_many([texts[i] for i in plain])):
            out[i] = folded
        return out
    joined = "\n".join(texts).lower().replace("&", " and ").replace("+", " and ").replace("`", "'")  # as fold does
    joined = joined.replace("s's", "s").replace("'", "")
    joined = _NON_WORD_ASCII.sub(" ", joined).replace(" \n", "\n").replace("\n ", "\n").strip(" ")
    return joined.split("\n") if texts else []


def _codes(text: str) -> np.ndarray:
    """One small code per character; non-ASCII letters share 25 hash buckets."""
    cp = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    return np.where(cp < 128, _LUT[np.minimum(cp, 127)], 38 + (cp % 25)).astype(np.uint8)


def _trigrams(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position, sorted-trigram id) of every trigram that does not cross a separator."""
    a, b, c = (codes[i:len(codes) - 2 + i].astype(np.int32) for i in range(3))
    keep = np.flatnonzero((a != _SEP) & (b != _SEP) & (c != _SEP))
    a, b, c = a[keep], b[keep], c[keep]
    lo, hi = np.minimum(np.minimum(a, b), c), np.maximum(np.maximum(a, b), c)
    return keep, lo * (ALPHABET * ALPHABET) + (a + b + c - lo - hi) * ALPHABET + hi


def query_grams(text: str) -> np.ndarray:
    """Unique sorted-trigram ids of one folded string."""
    if not text:
        return np.zeros(0, np.int32)
    return np.unique(_trigrams(_codes(f" {text} "))[1])


def _doc_grams(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(doc, gram) pairs, unique per document, sorted by doc then gram."""
    docs, grams = [], []
    for start in range(0, len(texts), _CHUNK):
        chunk = texts[start:start + _CHUNK]
        codes = _codes("\x00".join(f" {t} " for t in chunk))
        lengths = np.fromiter((len(t) + 3 for t in chunk), np.int64, len(chunk))  # padding + separator
        doc_of = np.repeat(np.arange(len(chunk), dtype=np.int64), lengths)[:len(codes)]
        pos, gram = _trigrams(codes)
        pairs = np.unique(doc_of[pos] * N_GRAMS + gram)
        docs.append((pairs // N_GRAMS + start).astype(np.int32))
        grams.append((pairs % N_GRAMS).astype(np.int32))
    if not docs:
        return np.zeros(0, np.int32), np.zeros(0, np.int32)
    return np.concatenate(docs), np.concatenate(grams)


def string_hash(text: str) -> int:
    """Stable 64-bit hash (Python's hash() changes per process, and indexes can be saved)."""
    data = text.encode("utf-8")
    return (zlib.crc32(data) << 32) | zlib.adler32(data)


class _Strings:
    """Many strings in one UTF-8 buffer plus offsets: a fraction of the memory of a list of str."""

    def __init__(self, data: bytes, offsets: np.ndarray):
        self.data, self.offsets = data, np.ascontiguousarray(offsets, np.int64)
        self._at = memoryview(self.offsets)  # Python ints without numpy's per-item cost

    @classmethod
    def from_list(cls, texts: Sequence[str]) -> "_Strings":
        encoded = [t.encode("utf-8") for t in texts]
        offsets = np.zeros(len(encoded) + 1, np.int64)
        np.cumsum(np.fromiter((len(e) for e in encoded), np.int64, len(encoded)), out=offsets[1:])
        return cls(b"".join(encoded), offsets)

    def __getitem__(self, i: int) -> str:
        return self.data[self._at[i]:self._at[i + 1]].decode("utf-8")

    def many(self, ids: np.ndarray) -> list[str]:
        """The strings at `ids`, in order."""
        ids = np.asarray(ids, np.int64)
        data = self.data
        return [data[a:b].decode("utf-8") for a, b in zip(self.offsets[ids].tolist(), self.offsets[ids + 1].tolist())]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def nbytes(self) -> int:
        return len(self.data) + self.offsets.nbytes


class TitleMatcher:
    """Ranks works for a typed title ("dnue", "the hobbit by tolkien", "Cien años de soledad").

    Stage 1 works on words: each query word is looked up in the vocabulary of title and
    author words, exactly and, when it may be a typo, through a sorted-trigram index over
    the vocabulary (a few hundred thousand words, so that search is cheap); the last word
    may also be a prefix ("harry potter and the sorc"). Postings of those words, rarest
    first and up to `budget`, give each work a weighted overlap; the best works by Dice
    (favours equal length) and by coverage (finds long titles from a few words) go on.

    Args:
        titles: display title of each work (row = work id).
        authors: display author of each work.
        likes: readers who liked each work; the popularity prior that breaks ties.
        max_df: words found in more than this share of works ("the", "of") narrow nothing;
            their postings are not stored (they still count in the scores).
        budget: postings read per query at most; the rarest words are read first.
        candidates: works kept by each stage-1 ranking for rapidfuzz to score.
    """

    FORMAT_VERSION = 4  # of `save`'s file; bump when the arrays or their meaning change
    MAIN_TITLE_SCORE = 98.0  # text score of a work whose title before its subtitle is the query ("Wicked")
    PRIOR_POINTS = 4.0  # the most a very popular work gains over an unknown one, out of 100

    def __init__(self, titles: Sequence[str], authors: Sequence[str], likes: Sequence[int] | np.ndarray,
                 max_df: float = 0.02, budget: int = 100_000, candidates: int = 60):
        self.budget, self.n_candidates = budget, candidates
        n = len(titles)
        if not (len(authors) == len(likes) == n):
            raise ValueError("titles, authors and likes must have one entry per work")
        folded_titles = fold_many(titles)
        # Many works share an author: fold each distinct author once and point to it.
        author_id = {a: i for i, a in enumerate(dict.fromkeys(authors))}
        doc_author = np.fromiter(map(author_id.__getitem__, authors), np.int32, n)
        folded_authors = fold_many(list(author_id))
        del author_id
        self._titles = _Strings.from_list(folded_titles)
        self._authors = _Strings.from_list(folded_authors)
        self._doc_author = doc_author
        likes = np.asarray(likes, dtype=np.float64)
        self.prior = (np.log1p(np.maximum(likes, 0)) / max(np.log1p(likes.max(initial=0)), 1.0)).astype(np.float32)
        self._title_hash = np.fromiter(map(string_hash, folded_titles), np.uint64, n)
        self._hash_order = np.argsort(self._title_hash, kind="stable").astype(np.int32)
        self._sorted_hash = self._title_hash[self._hash_order]
        # Titles before their subtitle ("Wicked" of "Wicked: The Life and Times of ..."), without
        # a leading article: hashed for works that have a subtitle, so a short title finds them.
        main_hash = np.fromiter((string_hash(drop_article(fold(main))) if sub else 0
                                 for main, sub in map(split_alternate, titles)), np.uint64, n)
        self._main_order = np.flatnonzero(main_hash).astype(np.int32)
        self._main_order = self._main_order[np.argsort(main_hash[self._main_order], kind="stable")]
        self._sorted_main_hash = main_hash[self._main_order]
        del main_hash

        # Words of all titles (then authors) in one list, "\n" between documents.
        title_tokens = "\n".join(folded_titles).replace("\n", " \n ").split(" ")
        author_tokens = "\n".join(folded_authors).replace("\n", " \n ").split(" ")
        del folded_titles
        vocab = sorted((set(title_tokens) | set(author_tokens)) - {"\n", ""})
        word_id = {w: i for i, w in enumerate(vocab)}
        self.n_words = v = len(vocab)
        self._vocab = _Strings.from_list(vocab)
        t_doc, t_word = self._pairs(title_tokens, word_id)
        a_doc, a_word = self._pairs(author_tokens, word_id)
        del title_tokens, author_tokens, word_id
        a_doc, a_word = self._expand_authors(a_doc, a_word)
        docs = np.concatenate([t_doc, a_doc])
        keys = np.concatenate([t_word, a_word + v])  # key = field * n_words + word
        del t_doc, t_word, a_doc, a_word
        self.df = np.bincount(keys, minlength=2 * v).astype(np.int32)
        self.idf = (np.log((n + 1.0) / (self.df + 1.0)) + 0.1).astype(np.float32)
        self.doc_weight = np.zeros((2, n), np.float32)  # sum of idf per field: the Dice denominator
        for field in (TITLE, AUTHOR):
            mask = (keys >= v) if field == AUTHOR else (keys < v)
            self.doc_weight[field] = np.bincount(docs[mask], self.idf[keys[mask]], minlength=n)
        self.max_df = max(int(max_df * n), 500)
        stored = self.df[keys] <= self.max_df
        docs, keys = docs[stored], keys[stored]
        # Each posting list sorted by work (author words' pairs come grouped by author): the
        # query merges them with a sort that is fastest on sorted runs.
        order = np.argsort(keys.astype(np.int64) * n + docs, kind="stable")
        self.postings = docs[order]
        self.indptr = np.zeros(2 * v + 1, np.int64)
        np.cumsum(np.bincount(keys, minlength=2 * v), out=self.indptr[1:])
        del docs, keys, order
        # Sorted-trigram index over the vocabulary, for typos.
        w_doc, w_gram = _doc_grams(vocab)
        self.word_grams = np.bincount(w_doc, minlength=v).astype(np.int16)
        order = np.argsort(w_gram, kind="stable")
        self.gram_postings = w_doc[order]
        self.gram_indptr = np.zeros(N_GRAMS + 1, np.int64)
        np.cumsum(np.bincount(w_gram, minlength=N_GRAMS), out=self.gram_indptr[1:])

    @staticmethod
    def _pairs(tokens: list[str], word_id: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        """(doc, word) pairs, one per distinct word of each doc, sorted; "\n" in `tokens` ends a doc."""
        ids = np.fromiter(map({**word_id, "\n": -1, "": -2}.__getitem__, tokens), np.int64, len(tokens))
        docs = np.cumsum(ids == -1)
        keep = ids >= 0
        size = max(len(word_id), 1)
        pairs = docs[keep] * size + ids[keep]
        pairs.sort()
        pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]] if len(pairs) else pairs
        return (pairs // size).astype(np.int32), (pairs % size).astype(np.int32)

    def _expand_authors(self, a_doc: np.ndarray, a_word: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Work-level pairs from (distinct author, word) pairs."""
        works_by_author = np.argsort(self._doc_author, kind="stable").astype(np.int32)
        start = np.zeros(len(self._authors) + 1, np.int64)
        np.cumsum(np.bincount(self._doc_author, minlength=len(self._authors)), out=start[1:])
        per_pair = start[a_doc + 1] - start[a_doc]
        pair_of = np.repeat(np.arange(len(a_doc)), per_pair)
        offset_in = np.arange(len(pair_of)) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair)
        return works_by_author[start[a_doc][pair_of] + offset_in], a_word[pair_of]

    def __len__(self) -> int:
        return len(self._titles)

    @functools.cached_property
    def _max_idf(self) -> float:
        """Weight of a query word found nowhere (as rare as a word can be)."""
        return float(self.idf.max(initial=1.0))

    def nbytes(self) -> int:
        """Memory held by the index (arrays and string buffers)."""
        return int(sum(getattr(self, name).nbytes for name in self._ARRAYS)
                   + sum(s.nbytes for s in (self._titles, self._authors, self._vocab)))

    # --- stage 1 ----------------------------------------------------------------------

    def _word(self, word: str) -> int:
        """Vocabulary id of `word`, or -1."""
        i = bisect.bisect_left(range(self.n_words), word, key=self._vocab.__getitem__)
        return i if i < self.n_words and self._vocab[i] == word else -1

    def _expand(self, word: str, field: int, last: bool) -> list[tuple[int, float]]:
        """(vocabulary id, likeness 0..1) of the words `word` may stand for."""
        found = self._word(word)
        out = {found: 1.0} if found >= 0 else {}
        v = self.n_words
        exact_df = int(self.df[field * v + found]) if found >= 0 else 0
        if len(word) >= 4 and exact_df < 3:  # missing or nearly unused: probably a typo
            grams = query_grams(word)
            lists = [self.gram_postings[self.gram_indptr[g]:self.gram_indptr[g + 1]] for g in grams]
            if lists:
                ids, shared = np.unique(np.concatenate(lists), return_counts=True)
                dice = 2 * shared / (len(grams) + self.word_grams[ids])
                ids = ids[_top(dice, 40)]
                sims = process.cdist([word], self._vocab.many(ids), scorer=fuzz.ratio,
                                     dtype=np.float32, workers=1)[0]
                for i in _top(sims, 6):
                    if sims[i] >= 70 and self.df[field * v + ids[i]] > 0:
                        out.setdefault(int(ids[i]), float(sims[i]) / 100)
        if last and len(word) >= 3:  # still being typed: "harry potter and the sorc"
            key = self._vocab.__getitem__
            lo = bisect.bisect_left(range(v), word, key=key)
            hi = bisect.bisect_left(range(v), word[:-1] + chr(ord(word[-1]) + 1), lo=lo, key=key)
            span = np.arange(lo, hi)
            for i in span[_top(self.df[field * v + span].astype(np.float32), 4)]:
                out.setdefault(int(i), 0.9)
        return list(out.items())

    def _stage1(self, readings: list[list[tuple[int, str]]]) -> np.ndarray:
        """Candidate work ids for several readings of a query, from one read of the postings.

        Each reading is a list of (field, folded text) searched together, e.g. the whole
        query as a title, or "dune" as a title plus "herbert" as an author. The readings
        share most words, so their postings are read once (rarest first, up to `budget`)
        and each reading ranks the works it reaches by Dice and by coverage.
        """
        v = self.n_words
        key_index: dict[int, int] = {}
        key_list: list[int] = []
        plans = []  # per reading: ({key index: weight}, total, fields)
        expanded: dict[tuple[str, int, bool], list[tuple[int, float]]] = {}  # readings share words
        for fields in readings:
            weights: dict[int, float] = {}
            total = 0.0
            for field, text in fields:
                words = text.split()
                for j, word in enumerate(dict.fromkeys(words)):
                    how = (word, field, j == len(words) - 1)
                    if how not in expanded:
                        expanded[how] = self._expand(*how)
                    expansions = expanded[how]
                    idf = [float(self.idf[field * v + w]) for w, _ in expansions]
                    total += max(idf, default=self._max_idf)
                    for (w, sim), weight in zip(expansions, idf):
                        k = key_index.setdefault(field * v + w, len(key_list))
                        if k == len(key_list):
                            key_list.append(field * v + w)
                        weights[k] = max(weights.get(k, 0.0), sim * weight)
            plans.append((weights, total, sorted({f for f, _ in fields})))
        if not key_list:
            return np.zeros(0, np.int32)
        keys = np.array(key_list)
        df = self.df[keys]
        usable = np.flatnonzero((df > 0) & (df <= self.max_df))
        usable = usable[np.argsort(df[usable], kind="stable")]
        # Rarest words first: they narrow the most and cost the least to read. Each
        # reading's rarest word is read even over the budget, so none goes empty-handed.
        must = {next((k for k in usable.tolist() if k in weights), -1) for weights, _, _ in plans} - {-1}
        spent, chosen = 0, []
        for i in usable.tolist():
            if i in must or not chosen or spent + df[i] <= self.budget:
                chosen.append(i)
                spent += int(df[i])
        if not chosen:
            return np.zeros(0, np.int32)
        chosen = chosen[:255]
        lists = [self.postings[self.indptr[keys[i]]:self.indptr[keys[i] + 1]] for i in chosen]
        # One int64 per posting, the list number in the low byte: one sort of the packed
        # values groups each work's postings, cheaper than an argsort plus two gathers.
        packed = np.concatenate([(x.astype(np.int64) << 8) | j for j, x in enumerate(lists)])
        packed.sort(kind="stable")  # timsort merges the already sorted lists: ~2.5x quicksort
        docs = (packed >> 8).astype(np.int32)
        which = (packed & 255).astype(np.intp)
        del packed
        starts = np.flatnonzero(np.r_[True, docs[1:] != docs[:-1]])
        docs = docs[starts]
        read = set(chosen)
        k = self.n_candidates
        found = []
        for weights, total, fields in plans:
            w = np.array([weights.get(i, 0.0) for i in chosen], np.float32)
            if not w.any():
                continue
            matched = np.add.reduceat(w[which], starts)
            # Only the best-matched few hundred can make either ranking; the Dice denominator
            # and the prior are gathered for those alone (random reads into 2.8M-long arrays).
            pool = self._pool(matched, docs, 6 * k)
            pool = pool[matched[pool] > 0]
            pool_docs, matched = docs[pool], matched[pool]
            # Words not read ("the", "of", words over the budget) are looked up for the few
            # works left, where they weigh enough to reorder them ("Last Station Foxhollow").
            unread = [(key_list[i], wt) for i, wt in weights.items() if i not in read and wt >= 0.1 * total]
            if unread:
                matched = matched + self._unread_weight(pool_docs, unread)
            doc_total = self.doc_weight[fields[0], pool_docs] if len(fields) == 1 else \
                self.doc_weight[TITLE, pool_docs] + self.doc_weight[AUTHOR, pool_docs]
            tie = 1e-3 * self.prior[pool_docs]
            dice = 2 * matched / (total + doc_total) + tie  # whole-string likeness
            cover = matched / total + tie  # query covered: long titles from a few words
            found += [pool_docs[_top(dice, k)], pool_docs[_top(cover, k)]]
        return np.unique(np.concatenate(found)) if found else np.zeros(0, np.int32)

    def _unread_weight(self, docs: np.ndarray, unread: list[tuple[int, float]]) -> np.ndarray:
        """Weight of the `unread` (key, weight) words found in each of `docs`.

        A stored word is looked up in its posting list (sorted by work); a word too common
        to store ("the", an initial) in the docs' texts, joined into one bytes string per
        field with " \n " between them so that each word is searched once, not once per doc.
        """
        extra = np.zeros(len(docs), np.float32)
        v = self.n_words
        texts = {}
        for key, weight in unread:
            if self.df[key] <= self.max_df:
                postings = self.postings[self.indptr[key]:self.indptr[key + 1]]
                if len(postings):
                    at = np.minimum(np.searchsorted(postings, docs), len(postings) - 1)
                    extra[postings[at] == docs] += weight
                continue
            field = key // v
            if field not in texts:
                strings, rows = (self._titles, docs) if field == TITLE else (self._authors, self._doc_author[docs])
                lo, hi = strings.offsets[rows].tolist(), strings.offsets[rows + 1].tolist()
                parts = [strings.data[a:b] for a, b in zip(lo, hi)]
                ends = np.cumsum([len(x) + 3 for x in parts])  # where each doc's " text \n" ends
                texts[field] = (b" " + b" \n ".join(parts) + b" ", ends)
            joined, ends = texts[field]
            at = [m.start() for m in re.finditer(re.escape(f" {self._vocab[key % v]} ".encode()), joined)]
            if at:
                extra[np.unique(np.searchsorted(ends, at, side="right"))] += weight
        return extra

    def _pool(self, matched: np.ndarray, docs: np.ndarray, size: int) -> np.ndarray:
        """Indices of the `size` best-matched docs; ties at the cut go to the most liked."""
        n = len(matched)
        if n <= size:
            return np.arange(n)
        # Partitioning ~100k values costs more than the rest of this: a strided sample
        # gives a threshold that about twice `size` values reach, and only those are
        # partitioned. Exact: a threshold that too few reach falls back to all values.
        step = n // (16 * size)
        if step >= 2:
            sample = matched[::step]
            rank = min(2 * size // step + 1, len(sample) - 1)
            threshold = np.partition(sample, len(sample) - 1 - rank)[len(sample) - 1 - rank]
            keep = np.flatnonzero(matched >= threshold)
            if len(keep) >= size:
                return keep[self._cut(matched[keep], docs[keep], size)]
        return self._cut(matched, docs, size)

    def _cut(self, matched: np.ndarray, docs: np.ndarray, size: int) -> np.ndarray:
        """`_pool` by partitioning all of `matched`."""
        n = len(matched)
        cut = np.partition(matched, n - size)[n - size]
        above = np.flatnonzero(matched > cut)
        at = np.flatnonzero(matched == cut)
        at = at[_top(self.prior[docs[at]], size - len(above))]
        return np.concatenate([above, at])

    def exact_titles(self, folded_titles: Sequence[str]) -> np.ndarray:
        """Works whose folded title is one of `folded_titles`, in one pass over the sorted hashes."""
        h = np.fromiter((string_hash(t) for t in folded_titles), np.uint64, len(folded_titles))
        lo, hi = np.searchsorted(self._sorted_hash, h, "left"), np.searchsorted(self._sorted_hash, h, "right")
        spans = [self._hash_order[a:b] for a, b in zip(lo.tolist(), hi.tolist()) if b > a]
        return np.concatenate(spans) if spans else np.zeros(0, np.int32)

    def main_titles(self, folded_title: str, limit: int = 20) -> np.ndarray:
        """Works with a subtitle whose title before it is `folded_title` (leading articles aside),
        the most liked first when over `limit`."""
        h = np.uint64(string_hash(drop_article(folded_title)))
        lo, hi = np.searchsorted(self._sorted_main_hash, h, "left"), np.searchsorted(self._sorted_main_hash, h, "right")
        ids = self._main_order[lo:hi]
        return ids[_top(self.prior[ids], limit)] if len(ids) > limit else ids

    def exact_title(self, folded_title: str, limit: int | None = 50) -> np.ndarray:
        """Works whose folded title equals `folded_title`, the most liked first when over `limit`."""
        h = np.uint64(string_hash(folded_title))
        lo, hi = np.searchsorted(self._sorted_hash, h, "left"), np.searchsorted(self._sorted_hash, h, "right")
        ids = self._hash_order[lo:hi]
        if limit is not None and len(ids) > limit:
            ids = ids[_top(self.prior[ids], limit)]
        return ids

    def containing(self, folded_query: str, limit: int = 20) -> np.ndarray:
        """Works whose folded title holds the query's words in a row, the most liked first, at most `limit`.

        Whole words, each also with an "s" after it, which a possessive folds to ("hitchhiker" is
        in "the hitchhikers guide to the galaxy"; `normalize.holds_words` tells a possessive from
        a plural on the display title). Words too common to have stored postings ("the", "of")
        are checked in the titles only; a query of such words alone holds nothing.
        """
        words = folded_query.split()
        v = self.n_words
        lists = []
        for word in words:
            ids = [i for i in (self._word(word), self._word(word + "s")) if i >= 0]
            if not ids:
                return np.zeros(0, np.int32)
            if all(self.df[i] <= self.max_df for i in ids):
                lists.append(np.unique(np.concatenate([self.postings[self.indptr[i]:self.indptr[i + 1]] for i in ids])))
        if not lists:
            return np.zeros(0, np.int32)
        docs = functools.reduce(np.intersect1d, sorted(lists, key=len))
        phrase = re.compile(r"(?:^| )" + " ".join(re.escape(w) + "s?" for w in words) + r"(?: |$)")
        docs = docs[[bool(phrase.search(self._titles[d])) for d in docs.tolist()]].astype(np.int32)
        return docs[_top(self.prior[docs], limit)] if len(docs) else docs

    # --- stage 2 ----------------------------------------------------------------------

    def match(self, query: str, limit: int = 10) -> list[tuple[int, float]]:
        """Best works for `query`: (work id, score 0..100), best first.

        The score is 96% text likeness and up to 4 points of popularity, so an exact
        title of a known book scores about 100 and one nobody liked scores about 96.
        """
        q = fold(query or "")
        if not q:
            return []
        hypotheses = [(q, "")]
        split = None
        for split in _AUTHOR_SEPARATORS.finditer(query):
            pass  # the last separator: titles hold commas and dashes more often than authors do
        if split is not None:
            title, author = fold(query[:split.start()]), fold(query[split.end():])
            if title and author:
                hypotheses.append((title, author))
                if all(map(self._is_author_word, title.split())):
                    hypotheses.append((author, title))  # "herbert - dune" happens too
        readings = [[(TITLE, q)]]
        marked = len(hypotheses) > 1
        exact = self.exact_title(q)
        if marked:
            if self._author_fits(hypotheses[1][1], self.exact_title(hypotheses[1][0])):
                readings = []  # "dune by frank herbert" names a whole title and its author: no need to read it all as a title
            readings += [[(TITLE, title), (AUTHOR, author)] for title, author in hypotheses[1:]]
        elif not len(exact):  # (a query that is a whole title needs no author readings)
            # "dune frank herbert": an author with no separator, read off the ends of the query.
            unmarked = self._author_at_ends(q.split())
            hypotheses += unmarked
            readings += [[(TITLE, title), (AUTHOR, author)] for title, author in unmarked]
            if not unmarked and " " in q:  # perhaps a misspelt author: every word either way
                readings.append([(TITLE, q), (AUTHOR, q)])
        respaced = self._respaced(q)
        if respaced:  # "snowcrash", "spider man": words joined or split the other way in titles
            readings.append([(TITLE, respaced)])
        mains = self.main_titles(q)
        spoken = self.exact_title(in_digits) if (in_digits := digits(q)) != q else np.zeros(0, np.int64)
        candidates = [self._stage1(readings), exact, mains, *self._with_articles(q), spoken]
        candidates += [self.exact_title(title) for title, _ in hypotheses[1:]]
        ids = np.unique(np.concatenate(candidates)).astype(np.int64)
        if not len(ids):
            return []
        titles = self._titles.many(ids)
        authors = self._authors.many(self._doc_author[ids])
        text = self._text_scores(q, hypotheses, titles, authors, marked=marked)
        # "Wicked" names "Wicked: The Life and Times of ..." nearly as well as a book titled "Wicked".
        text[np.isin(ids, mains)] = np.maximum(text[np.isin(ids, mains)], self.MAIN_TITLE_SCORE)
        text[np.isin(ids, spoken)] = 100.0  # "nineteen eighty four" is the title "1984", its numbers in words
        final = 0.96 * text + self.PRIOR_POINTS * self.prior[ids]
        top = _top(final, limit)
        return [(int(ids[i]), round(float(final[i]), 2)) for i in top]

    def _with_articles(self, folded: str) -> list[np.ndarray]:
        """Works titled `folded` with its leading article dropped or another one added ("hobbit", "the hobbit")."""
        bare = drop_article(folded)
        ids = self.exact_titles(sorted({bare, *(f"{a} {bare}" for a in ARTICLES)} - {folded}))
        return [ids[_top(self.prior[ids], 10)]]

    def _respaced(self, folded: str) -> str | None:
        """`folded` with words the vocabulary lacks split in two it knows, and pairs it knows joined; None if unchanged."""
        words, out, i = folded.split(), [], 0
        while i < len(words):
            word = words[i]
            if i + 1 < len(words) and min(len(word), len(words[i + 1])) >= 3 and self._word(word + words[i + 1]) >= 0:
                out.append(word + words[i + 1])  # "spider man" -> "spiderman"
                i += 2
                continue
            if len(word) >= 6 and self._word(word) < 0:
                cut = next((k for k in range(3, len(word) - 2)
                            if self._word(word[:k]) >= 0 and self._word(word[k:]) >= 0), None)
                if cut is not None:
                    out += [word[:cut], word[cut:]]  # "snowcrash" -> "snow crash"
                    i += 1
                    continue
            out.append(word)
            i += 1
        respaced = " ".join(out)
        return respaced if respaced != folded else None

    def _author_fits(self, author: str, ids: np.ndarray) -> bool:
        """Whether `author` (folded) names the author of one of the works `ids`, give or take a slip."""
        names = list(dict.fromkeys(self._authors[a] for a in self._doc_author[ids]))
        return bool(names) and bool(np.any(_author_likeness(author, names) >= 90))

    def _is_author_word(self, word: str) -> bool:
        """Whether `word` is used in authors' names at least half as often as in titles."""
        i = self._word(word)
        return i >= 0 and 0 < self.df[AUTHOR * self.n_words + i] >= self.df[TITLE * self.n_words + i] / 2

    def _author_at_ends(self, words: list[str], most: int = 3) -> list[tuple[str, str]]:
        """(title, author) readings of a query whose last (else first) words are author words.

        Up to `most` words at the end, each a word of some author's name ("dune frank
        herbert" gives ("dune frank", "herbert") and ("dune", "frank herbert")); the start
        is tried only when the end names no author ("frank herbert dune").
        """
        for ends in (lambda n: (words[:-n], words[-n:]), lambda n: (words[n:], words[:n])):
            found = []
            for n in range(1, min(most, len(words) - 1) + 1):
                title, author = ends(n)
                if not all(map(self._is_author_word, author)):
                    break
                found.append((" ".join(title), " ".join(author)))
            if found:
                return found
        return []

    @staticmethod
    def _text_scores(q: str, hypotheses: list[tuple[str, str]], titles: list[str], authors: list[str],
                     marked: bool = True) -> np.ndarray:
        """Best likeness (0..100) of each candidate under any reading of the query.

        `marked`: the (title, author) hypotheses come from a separator ("by", " - "); when
        they were only guessed from author words at an end of the query they count a little
        less, so that a title that merely ends in a name still wins as a title.
        """
        score = _likeness(q, titles)
        # A leading article missing or added ("hobbit", "the hobbit") and words joined or split
        # ("snowcrash"): compared without either, nearly as good as the title as it is written.
        squashed = [_squash(t) for t in titles]
        score = np.maximum(score, 98 * process.cdist([_squash(q)], squashed, dtype=np.float32, workers=1,
                                                     scorer=OSA.normalized_similarity)[0])
        # Title and author in one string ("dune frank herbert", or "trial by fire nancy taylor
        # rosenberg", where "by" belongs to the title); scaled so that a plain title match
        # still wins when the query is just the title.
        score = np.maximum(score, 0.97 * _likeness(q, [f"{t} {a}" for t, a in zip(titles, authors)]))
        for n, (title, author) in enumerate(hypotheses[1:]):
            if marked and n == 0:  # "title by author", the reading the separator asks for
                score = np.maximum(score, 0.75 * _likeness(title, titles) + 0.25 * _author_likeness(author, authors))
                continue
            # A guessed reading ("herbert - dune" read backwards, an author taken off the end
            # of the query) counts only for works whose author it fits; the rest are not
            # scored under it, which saves most of its cost.
            fits = np.flatnonzero(_scores(author, authors, fuzz.token_set_ratio) >= 70)
            if len(fits):
                by_author = _author_likeness(author, [authors[i] for i in fits])
                title_score = _likeness(title, [titles[i] for i in fits])
                scale = 1.0 if marked else 0.97
                score[fits] = np.maximum(score[fits], scale * (0.75 * title_score + 0.25 * by_author))
        return score

    # --- persistence --------------------------------------------------------------------

    _ARRAYS = ("postings", "indptr", "df", "idf", "doc_weight", "prior", "_title_hash", "_hash_order",
               "_sorted_hash", "_main_order", "_sorted_main_hash", "_doc_author", "word_grams", "gram_postings",
               "gram_indptr")

    def save(self, path: str | Path) -> None:
        """Write the index to one `.npz` (uncompressed: loading is then a memory copy)."""
        arrays = {name.lstrip("_"): getattr(self, name) for name in self._ARRAYS}
        np.savez(path, titles_blob=np.frombuffer(self._titles.data, np.uint8), titles_offsets=self._titles.offsets,
                 authors_blob=np.frombuffer(self._authors.data, np.uint8), authors_offsets=self._authors.offsets,
                 vocab_blob=np.frombuffer(self._vocab.data, np.uint8), vocab_offsets=self._vocab.offsets,
                 settings=np.array([self.max_df, self.budget, self.n_candidates], np.int64),
                 format_version=np.array([self.FORMAT_VERSION]), **arrays)

    @classmethod
    def load(cls, path: str | Path) -> "TitleMatcher":
        """Inverse of `save`; raises ValueError for a file another version of the matcher wrote."""
        data = np.load(path)
        if "format_version" not in data or int(data["format_version"][0]) != cls.FORMAT_VERSION:
            raise ValueError(f"{path} holds another matcher format than {cls.FORMAT_VERSION}")
        self = cls.__new__(cls)
        for name in cls._ARRAYS:
            setattr(self, name, data[name.lstrip("_")])
        self._titles = _Strings(data["titles_blob"].tobytes(), data["titles_offsets"])
        self._authors = _Strings(data["authors_blob"].tobytes(), data["authors_offsets"])
        self._vocab = _Strings(data["vocab_blob"].tobytes(), data["vocab_offsets"])
        self.n_words = len(self._vocab)
        self.max_df, self.budget, self.n_candidates = (int(x) for x in data["settings"])
        return self


def _squash(folded: str) -> str:
    """A folded title without its leading article and its spaces ("the da vinci code" -> "davincicode")."""
    return drop_article(folded).replace(" ", "")


def _scores(query: str, choices: list[str], scorer) -> np.ndarray:
    return process.cdist([query], choices, scorer=scorer, dtype=np.float32, workers=1)[0]


def _likeness(query: str, choices: list[str]) -> np.ndarray:
    """0..100 per choice, built from rapidfuzz scorers that each forgive one kind of slip.

    The edit distance (optimal string alignment: Damerau-Levenshtein with no substring
    edited twice, bit-parallel in rapidfuzz, 20x faster than the full Damerau-Levenshtein
    and equal to it on typos) counts a swapped pair or a missing letter as one edit (so "dnue"
    is as close to "Dune" as to "Due", and the prior decides); token scores forgive word
    order and missing words, scaled below an exact match; the partial ratio finds a title
    from its beginning but only for queries long enough not to match any fragment.
    WRatio is not used: its partial token-set score is 100 for any shared word ("of the").
    """
    def scores(scorer):
        return _scores(query, choices, scorer)

    edit = 100 * process.cdist([query], choices, scorer=OSA.normalized_similarity,
                               dtype=np.float32, workers=1)[0]
    best = np.maximum(edit, 0.95 * scores(fuzz.token_sort_ratio))
    if " " in query:
        # Token sets forgive words the query leaves out, not words it adds that the
        # title lacks ("the book of night" is not "The Night"). (Scored only where 90, their
        # most, would beat the best so far.)
        low = np.flatnonzero(best < 91)  # (0.9 x 100 with rounding stays below 91)
        token_set = 0.9 * _scores(query, [choices[i] for i in low], fuzz.token_set_ratio)
        # The query adds more words than it leaves out exactly when it has more distinct words.
        n_words = len(set(query.split()))
        shorter = [j for j in np.flatnonzero(token_set > best[low]).tolist()
                   if len(set(choices[low[j]].split())) < n_words]
        token_set[shorter] *= 0.7 / 0.9
        best[low] = np.maximum(best[low], token_set)
    if len(query) >= 8:
        low = np.flatnonzero(best < 86)  # (where 85, its most, would beat the best so far)
        best[low] = np.maximum(best[low], 0.85 * _scores(query, [choices[i] for i in low], fuzz.partial_ratio))
    return 0.8 * best + 0.2 * edit


def _author_likeness(query: str, authors: list[str]) -> np.ndarray:
    """`_likeness`, and near full marks when the query names part of the author ("herbert")."""
    score = _likeness(query, authors)
    if len(query) >= 3:
        score = np.maximum(score, 0.95 * _scores(query, authors, fuzz.token_set_ratio))
    return score


def _top(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest values, largest first."""
    if len(values) > k:
        part = np.argpartition(-values, k - 1)[:k]
    else:
        part = np.arange(len(values))
    return part[np.argsort(-values[part], kind="stable")]
