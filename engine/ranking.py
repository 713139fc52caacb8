"""How a model folder orders works for a reader: the one home of candidates, fusion and top-k.

Everything that orders works for a reader goes through here: the engine (`Ranker`, one
request at a time through the nearest-neighbour index), the evaluation and the trainer's
validation (`FolderScorer`, whole shelves against every work at once), and every top-k
(`best_of`). The two paths differ only in how the dense candidates are found (the index's
approximate search against an exact product); a parity test holds them to the same lists.

A folder's embedding gives every work with a vector a dense score (`mean(query[L]) @
target[c]`); its co-like weights, when it has them, give the works co-liked with the
reader's books a second score (the sum of `W[l, c]` over the reader's books l); and the
works' authors give a third order, `AuthorOrder`: the other books of the writers of the
reader's books (the writer of more of them first, then the more liked book). They live on
unrelated scales, so they are fused by ranks (reciprocal-rank fusion): within the works
the rarity setting allows, each order's best `POOL` works get

    fused = (1 - weight) / (k + colike_rank) + weight / (k + dense_rank) + author_weight / (k + author_rank)

(a term is 0 for a work outside that order's pool), and the fused score orders the
candidates. Optional terms of the folder's `scoring` then reshape it for each reader:
`genre_weight` multiplies by `((GENRE_FLOOR + fit) / (GENRE_FLOOR + 1))^genre_weight`,
where fit is how well the candidate's genre fits the reader's books (`engine.profiles`:
the genre profiles as side information), a prior that co-readers outweigh: with
`genre_evidence` e > 0 the exponent is `genre_weight * e / (e + support)`, so a book that
many of the reader's co-readers loved keeps its place whatever its genre, and one on thin
evidence leans on its genre; `specificity` multiplies by
`((SHARE_FLOOR + share) / (SHARE_FLOOR + 1))^specificity`, where share is the part of the
candidate's readers who liked one of the reader's books (a book *their* readers love, not a
classic everyone names); and `popularity` divides by `(1 + likes)^popularity` (the
candidate side of the `(n_i / n_j)^alpha` normalisation of item-item weights). The engine fuses its index hits and the co-like rows it reads; `rarereads
eval` fuses whole score matrices with the same functions, so both rank alike.
Numpy only.
"""
from __future__ import annotations

import numpy as np

POOL = 500  # candidates each order contributes, and a rarity setting re-ranks (the engine's index fetch)
# The author order's weight, chosen on the README protocol's validation split, served through the
# engine with every list rule on (tail recall at `rare`: 0.0199 without it, 0.0210 at 0.2, 0.0216 at
# 0.35, 0.0224 at 0.5, 0.0227 at 0.7, 0.0225 at 1; EASE 0.0172): 0.5, within 2% of the best, moves
# fewer picks to the shelf's writers than 0.7 (BENCHMARKS.md).
AUTHOR_WEIGHT = 0.5

# The defaults a trained folder's scoring takes (`train.config` reads them from here). The fusion
# weight was chosen on the README protocol's validation split (`evaluation/chosen.json`); the genre
# weight on blind reads of seeds drawn for them (2 against 0.5: fewer mismatches, preferred on 13
# and 12 of 20 seeds); the genre evidence among the values the validation objective rates near
# best (0.1172 at 3, 0.1159 at 10, 0.1087 without) by blind reads: at 3 the picks it changed fit
# worse (0.72 against 1.0 on 25 changed picks), at 10 it changes few (BENCHMARKS.md); popularity
# and specificity lowered the validation objective and are off. A prior on co-readers (a candidate
# on few yields to one on many) raised served recall on the validation split by 5% and on the test
# split by 1%, and the picks it changed read worse (0.89 against 1.15): not kept (BENCHMARKS.md).
DEFAULT_FUSION = {"fusion_weight": 0.35, "fusion_k": 20, "genre_weight": 2.0, "genre_evidence": 10.0, "popularity": 0.0,
                  "specificity": 0.0, "author_weight": AUTHOR_WEIGHT}
# A folder's scoring without these terms (EASE served, folders written before them) has them off.
TERMS_OFF = {"genre_weight": 0.0, "genre_evidence": 0.0, "popularity": 0.0, "specificity": 0.0, "author_weight": 0.0}
SHARE_FLOOR = 0.05  # the specificity term's floor: a candidate none of whose readers liked the query keeps (0.05/1.05)^s
GENRE_FLOOR = 0.25  # a candidate of another genre keeps (0.25 / 1.25)^genre_weight of its fused score
UNKNOWN_FIT = 0.5  # the genre fit assumed for a candidate nobody profiled


def pool_ranks(scores: np.ndarray, pool: int = POOL) -> np.ndarray:
    """1-based ranks of each row's best `pool` finite scores (ties by position); inf for the rest.

    Args:
        scores: `[b, n]` or `[n]` scores, `-inf` for works out of the running.
    """
    scores = np.asarray(scores, dtype=np.float64)
    ranks = np.full(scores.shape, np.inf)
    if scores.shape[-1] == 0:
        return ranks
    flat, out = scores.reshape(-1, scores.shape[-1]), ranks.reshape(-1, scores.shape[-1])
    ids, values = best_of(flat, pool)
    position = np.broadcast_to(np.arange(1, ids.shape[1] + 1, dtype=np.float64), ids.shape)
    np.put_along_axis(out, ids, np.where(np.isfinite(values), position, np.inf), axis=1)
    return ranks


def best_of(scores: np.ndarray, take: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, scores) `[b, take]` of each row's `take` best scores, best first (equal scores: lower id
    first); rows with fewer finite scores are padded with `-inf` scores. The one top-k of the project."""
    b, n = scores.shape
    take = min(take, n)
    if take == 0:
        return np.zeros((b, 0), np.int64), np.zeros((b, 0))
    ids = np.argpartition(-scores, take - 1, axis=1)[:, :take] if take < n else np.tile(np.arange(n), (b, 1))
    values = np.take_along_axis(scores, ids, axis=1)
    order = np.lexsort((ids, -values), axis=1)
    return np.take_along_axis(ids, order, axis=1), np.take_along_axis(values, order, axis=1)


WIDE = 4  # `wide_best` keeps WIDE x POOL works a row, from which each rarity's pool is read


def wide_best(scores: np.ndarray, take: int = POOL) -> tuple[np.ndarray, np.ndarray]:
    """`best_of(scores, WIDE * take)`: one partial sort of a batch of scores from which
    `allowed_best` reads the pool of every rarity setting."""
    return best_of(scores, WIDE * take)


def allowed_best(scores: np.ndarray, wide: tuple[np.ndarray, np.ndarray], allowed: np.ndarray | None,
                 take: int = POOL) -> tuple[np.ndarray, np.ndarray]:
    """`best_of(np.where(allowed, scores, -inf), take)`, read from `wide` (`wide_best(scores, take)`).

    A row's best allowed works are its first allowed works in the wide list whenever that
    list holds `take` of them or every finite score of the row; the other rows (a rarity
    setting that leaves out most of a row's best works) are sorted again in full.
    """
    ids, values = wide
    b, n = scores.shape
    take = min(take, n)
    keep = np.isfinite(values) & (allowed[ids] if allowed is not None else True)
    order = np.argsort(~keep, axis=1, kind="stable")[:, :take]  # allowed first, each in the wide order
    out_ids = np.take_along_axis(ids, order, axis=1)
    out = np.where(np.take_along_axis(keep, order, axis=1), np.take_along_axis(values, order, axis=1), -np.inf)
    if out_ids.shape[1] < take:  # the wide list is shorter than the pool (a batch of few works)
        return best_of(np.where(allowed, scores, -np.inf) if allowed is not None else scores, take)
    # rows whose wide list may end inside their allowed pool: too few allowed, or a tie at its end
    short = ((keep.sum(axis=1) < take) | (out[:, -1] == values[:, -1])) & np.isfinite(values[:, -1]) & (ids.shape[1] < n)
    if short.any():
        rows = np.flatnonzero(short)
        part = scores[rows] if allowed is None else np.where(allowed, scores[rows], -np.inf)
        out_ids[rows], out[rows] = best_of(part, take)
    return out_ids, out


class AuthorOrder:
    """The other books of the writers of a reader's books, as an order of their own.

    A work's score is the number of the reader's books by its writer (`engine.rules.writer_codes`),
    and among one writer's books the more liked first (`tie`, under 1). The engine asks for one
    reader's works (`scores`), the evaluation for a batch of shelves (`batch`): the same scores.

    Args:
        codes: int32 [n], each work's writer (-1: none); likes: int [n], training likes (None: by id).
    """

    def __init__(self, codes: np.ndarray, likes: np.ndarray | None = None):
        self.codes = np.asarray(codes, np.int64)
        n = len(self.codes)
        likes = np.zeros(n) if likes is None else np.log1p(np.asarray(likes, np.float64))
        self.tie = likes / (1.0 + likes.max(initial=0.0))
        known = np.flatnonzero(self.codes >= 0)
        self.works = known[np.argsort(self.codes[known], kind="stable")]  # by writer
        n_writers = int(self.codes.max(initial=-1)) + 1
        self.indptr = np.zeros(n_writers + 1, np.int64)
        np.cumsum(np.bincount(self.codes[known], minlength=n_writers), out=self.indptr[1:])
        self._matrix = None

    @classmethod
    def of(cls, writers: np.ndarray | None, likes: np.ndarray | None, colike, scoring: dict) -> "AuthorOrder | None":
        """A folder's author order: with writers known, in the fused path (co-like weights), weighed
        by its scoring; else None."""
        return cls(writers, likes) if writers is not None and colike is not None and scoring["author_weight"] else None

    def scores(self, used) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores) of every book by the writers of works `used` (those works included)."""
        codes = self.codes[np.asarray(used, np.int64)] if len(used) else np.zeros(0, np.int64)
        writers, count = np.unique(codes[codes >= 0], return_counts=True)
        if not len(writers):
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        sizes = self.indptr[writers + 1] - self.indptr[writers]
        at = np.repeat(self.indptr[writers] - np.cumsum(sizes) + sizes, sizes) + np.arange(int(sizes.sum()))
        ids = self.works[at]
        return ids, (np.repeat(count.astype(np.float64), sizes) + self.tie[ids]).astype(np.float32)

    def batch(self, shelves) -> np.ndarray:
        """`[b, n]` scores for shelves (a scipy CSR matrix, readers x works, 0/1), -inf for works by
        none of a shelf's writers."""
        from scipy.sparse import csr_matrix

        if self._matrix is None:
            known = self.codes >= 0
            n_writers = len(self.indptr) - 1
            self._matrix = csr_matrix((np.ones(int(known.sum()), np.float32), (np.flatnonzero(known), self.codes[known])),
                                      shape=(len(self.codes), n_writers))
        shelves = shelves.tocsr(copy=True)
        shelves.data[:] = 1
        per_writer = shelves @ self._matrix  # books of each writer on each shelf
        counts = (per_writer @ self._matrix.T).toarray()
        return np.where(counts > 0, counts + self.tie, -np.inf).astype(np.float32)  # float32, as the engine's


def fuse(colike_ranks: np.ndarray, dense_ranks: np.ndarray, fusion_weight: float, fusion_k: float,
         author_ranks: np.ndarray | None = None, author_weight: float = 0.0) -> np.ndarray:
    """Reciprocal-rank fusion of the rank arrays (inf = not ranked); -inf where no order ranks a work."""
    fused = (1 - fusion_weight) / (fusion_k + colike_ranks) + fusion_weight / (fusion_k + dense_ranks)
    ranked = np.isfinite(colike_ranks) | np.isfinite(dense_ranks)
    if author_ranks is not None and author_weight:
        fused = fused + author_weight / (fusion_k + author_ranks)
        ranked |= np.isfinite(author_ranks)
    return np.where(ranked, fused, -np.inf)


def reshape(fused: np.ndarray, ids: np.ndarray, scoring: dict, likes: np.ndarray | None,
            fit: np.ndarray | None, support: np.ndarray | None = None) -> np.ndarray:
    """The fused scores of candidates `ids` with the folder's genre, specificity and popularity
    terms (see the module docstring); `fit` (shaped like `ids`, NaN unknown), `support` (co-readers,
    shaped like `ids`) and `likes` (per work) as available."""
    gamma, alpha = float(scoring.get("genre_weight", 0.0)), float(scoring.get("popularity", 0.0))
    beta, evidence = float(scoring.get("specificity", 0.0)), float(scoring.get("genre_evidence", 0.0))
    out = np.asarray(fused, np.float64)
    if gamma and fit is not None:
        fit = np.where(np.isnan(fit), UNKNOWN_FIT, fit)
        if evidence and support is not None:
            gamma = gamma * evidence / (evidence + np.asarray(support, np.float64))
        out = out * ((GENRE_FLOOR + fit) / (GENRE_FLOOR + 1.0)) ** gamma
    if beta and support is not None and likes is not None:
        share = np.clip(np.asarray(support, np.float64) / np.maximum(likes[ids], 1), 0.0, 1.0)
        out = out * ((SHARE_FLOOR + share) / (SHARE_FLOOR + 1.0)) ** beta
    if alpha and likes is not None:
        out = out * (1.0 + likes[ids]) ** -alpha
    return np.where(np.isfinite(fused), out, -np.inf)


def uses_support(scoring: dict) -> bool:
    """Whether a folder's scoring reads its candidates' co-readers (the specificity term, or a genre
    term that co-readers outweigh)."""
    return bool(scoring.get("specificity") or (scoring.get("genre_weight") and scoring.get("genre_evidence")))


def fuse_lists(colike: tuple[np.ndarray, np.ndarray], dense: tuple[np.ndarray, np.ndarray], scoring: dict,
               n_works: int, author: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`fuse` for rows of ranked candidate lists (`best_of`'s output, one per order).

    Returns:
        (ids, fused) `[b, c]`: each row's candidates of any order and their fused scores
        (padding: `-inf`), in no particular order.
    """
    settings = {**DEFAULT_FUSION, **TERMS_OFF, **(scoring or {})}
    weight, k = float(settings["fusion_weight"]), float(settings["fusion_k"])
    orders = [(colike, 1 - weight), (dense, weight)]
    if author is not None and settings["author_weight"]:
        orders.append((author, float(settings["author_weight"])))
    parts = []
    for (ids, values), share in orders:
        rank = np.arange(1, ids.shape[1] + 1, dtype=np.float64)
        parts.append((ids, np.where(np.isfinite(values), share / (k + rank), np.nan)))
    ids = np.concatenate([p[0] for p in parts], axis=1)
    gain = np.concatenate([p[1] for p in parts], axis=1)
    rows = np.broadcast_to(np.arange(len(ids))[:, None], ids.shape)
    keep = ~np.isnan(gain)
    key = rows[keep] * n_works + ids[keep]
    unique, inverse = np.unique(key, return_inverse=True)
    total = np.bincount(inverse, weights=gain[keep], minlength=len(unique))
    row_of, id_of = unique // n_works, unique % n_works
    counts = np.bincount(row_of, minlength=len(ids))
    width = max(1, int(counts.max(initial=0)))
    out_ids = np.zeros((len(ids), width), np.int64)
    out = np.full((len(ids), width), -np.inf)
    position = np.arange(len(unique)) - np.repeat(np.cumsum(counts) - counts, counts)
    out_ids[row_of, position] = id_of
    out[row_of, position] = total
    return out_ids, out


class FolderScorer:
    """Scores whole shelves against every work the way the engine orders them (for `rarereads eval`).

    Args:
        query, target: float32 [n, d] (the model-folder contract; rows of untrained works ignored).
        trained: bool [n], works with a vector.
        colike: Co-like weights as a scipy CSR matrix [n, n] (rows: source works), or None.
        scoring: The fusion settings (`fusion_weight`, `fusion_k`, `author_weight`, ...).
        writers: int [n], `engine.rules.writer_codes` of the works, for the author order.
    """

    def __init__(self, query: np.ndarray, target: np.ndarray, trained: np.ndarray, colike=None,
                 scoring: dict | None = None, likes: np.ndarray | None = None, profiles=None, fans=None,
                 writers: np.ndarray | None = None):
        self.trained = np.asarray(trained, dtype=bool)
        self.n = len(self.trained)
        self.query = np.where(self.trained[:, None], np.asarray(query, np.float32), 0).astype(np.float32)
        self.target_t = np.ascontiguousarray(np.where(self.trained[:, None], np.asarray(target, np.float32), 0).T)
        self.colike = colike
        self.scoring = {**DEFAULT_FUSION, **TERMS_OFF, **(scoring or {})}
        self.likes = None if likes is None else np.asarray(likes)
        self.profiles = profiles  # engine.profiles.Profiles, for the genre term
        self.fans = fans  # scipy CSR [n, readers], the training readers of each work, for the specificity term
        self.authors = AuthorOrder.of(writers, self.likes, colike, self.scoring)
        self._parts = (None, None)
        self._every = (None, None)

    @classmethod
    def from_folder(cls, folder) -> "FolderScorer":
        """For a loaded `engine.modelfolder.ModelFolder`."""
        from .profiles import Profiles
        from .rules import writer_codes

        colike = folder.colike.to_scipy(len(folder.works)) if folder.colike is not None else None
        profiles = Profiles(folder.profile) if folder.profile is not None else None
        fans = folder.fans.to_scipy(int(np.max(folder.fans.columns.array, initial=-1)) + 1) if folder.fans is not None else None
        return cls(folder.query, folder.target, folder.trained, colike, folder.scoring, folder.likes, profiles, fans,
                   writer_codes(folder.works.author))

    def dense(self, shelves) -> np.ndarray:
        """`[b, n]` dense scores of shelves (a scipy CSR matrix, readers x works), `-inf` for untrained works."""
        from scipy.sparse import diags

        known = shelves @ diags(self.trained.astype(np.float32))
        counts = np.asarray(known.sum(axis=1)).ravel()
        means = diags((1.0 / np.maximum(counts, 1)).astype(np.float32)) @ known
        scores = np.asarray((means @ self.query) @ self.target_t, dtype=np.float32)
        scores[:, ~self.trained] = -np.inf
        return scores

    def colike_scores(self, shelves) -> np.ndarray:
        """`[b, n]` co-like scores, `-inf` for works no shelf book is co-liked with."""
        product = (shelves @ self.colike).tocsr()
        scores = np.full(product.shape, -np.inf, dtype=np.float32)
        rows = np.repeat(np.arange(product.shape[0]), np.diff(product.indptr))
        scores[rows, product.indices] = product.data
        return scores

    def _support(self, shelves) -> np.ndarray:
        """`[b, n]` co-readers of every work for each shelf: training readers who liked it and a
        book of the shelf (computed once a batch, for every rarity)."""
        key, every = self._every
        if key is not shelves:
            co_readers = (shelves @ self.fans).tocsr()
            co_readers.data[:] = 1
            every = (co_readers @ self.fans.T).toarray().astype(np.float32, copy=False)
            self._every = (shelves, every)
        return every

    def __call__(self, readers, shelves, allowed: np.ndarray | None = None):
        """Scores in the engine's order: `[b, n]` dense scores, or with co-like weights the fused
        candidates as `(ids [b, c], scores [b, c])` (the two pools' union, as the engine's).

        The shelves' own works are never candidates; `allowed` (bool [n], the works a rarity
        setting keeps) bounds each order's pool, as in the engine. The two orders of one
        batch are computed once and fused again for each `allowed`.
        """
        key, parts = self._parts
        if key is not shelves:
            seen = shelves.tocoo()
            parts = [self.dense(shelves)] + ([self.colike_scores(shelves)] if self.colike is not None else [])
            parts += [self.authors.batch(shelves)] if self.authors is not None else []
            for part in parts:
                part[seen.row, seen.col] = -np.inf
            parts = [(part, wide_best(part)) for part in parts] if self.colike is not None else parts
            self._parts = (shelves, parts)
        if self.colike is None:
            return parts[0]
        (dense, dense_wide), (colike, colike_wide) = parts[:2]
        author = allowed_best(*parts[2], allowed) if len(parts) > 2 else None
        ids, fused = fuse_lists(allowed_best(colike, colike_wide, allowed), allowed_best(dense, dense_wide, allowed),
                                self.scoring, self.n, author)
        fit = support = None
        if self.scoring["genre_weight"] and self.profiles is not None:
            mixes, adults = self.profiles.mixes(shelves)
            fit = self.profiles.fit_rows(mixes, adults, ids)
        if uses_support(self.scoring) and self.fans is not None:
            support = np.take_along_axis(self._support(shelves), ids, axis=1)
        return ids, reshape(fused, ids, self.scoring, self.likes, fit, support)


def top_ids(keys: np.ndarray, k: int) -> np.ndarray:
    """`[b, k]` indices of each row's `k` best keys, best first (equal keys: lower index first); -1 where -inf."""
    ids, values = best_of(np.asarray(keys, dtype=np.float64), k)
    return np.where(np.isfinite(values), ids, -1)


class Ranker:
    """A model folder's order for one request (the engine's path).

    Args:
        index: The folder's nearest-neighbour index over the trained works' target vectors.
        query_rows: Reads query vectors by work id (`engine.modelfolder.FileRows`).
        trained: bool [n], works with a vector.
        colike: The folder's co-like table (`engine.modelfolder.Sparse`), or None.
        scoring: The fusion settings (`fusion_weight`, `fusion_k`, `author_weight`, ...).
        allowed: Rarity name -> bool [n], the works the setting may recommend.
        max_fetch: The most index hits one request reads.
        writers: int [n], `engine.rules.writer_codes` of the works, for the author order.
    """

    def __init__(self, index, query_rows, trained: np.ndarray, colike, scoring: dict, allowed: dict[str, np.ndarray],
                 likes: np.ndarray | None = None, max_fetch: int = 16 * POOL, writers: np.ndarray | None = None):
        self.index, self.query_rows, self.trained, self.colike = index, query_rows, trained, colike
        self.likes = likes
        self.scoring = {**DEFAULT_FUSION, **TERMS_OFF, **(scoring or {})}
        self.authors = AuthorOrder.of(writers, likes, colike, self.scoring)
        self.allowed = allowed
        self.max_fetch = max_fetch
        # Trained works each rarity keeps out: the index fetch asks for that many more at once.
        self.blocked = {name: int((~mask & trained).sum()) for name, mask in allowed.items()}

    def candidates(self, used: list[int], rarity: str, banned: set[int], fit=None,
                   support=None) -> tuple[np.ndarray, np.ndarray]:
        """Candidate ids and their scores for the query works `used`, among the works `rarity` allows
        and not `banned` (the query's own works: they take no place in either order's pool).

        The dense order comes from the index (its best `POOL` allowed works: a filter that
        drops many hits fetches more); with co-like weights, the works co-liked with the
        query are a second order, the books by the query's writers a third (`AuthorOrder`, when the
        folder's scoring weighs it), the orders are fused by ranks, and the folder's genre,
        specificity and popularity terms reshape the fused scores (`fit(ids)`: the reader's
        genre fit of candidates `ids`, when the folder has profiles; `support(ids)`: their
        co-readers, when it has fans).
        """
        allowed = self.allowed[rarity]
        if banned:
            allowed = allowed.copy()
            gone = np.fromiter(banned, np.int64)
            allowed[gone[(gone >= 0) & (gone < len(allowed))]] = False
        trained = [w for w in used if self.trained[w]]
        dense_ids, dense_scores = np.zeros(0, np.int64), np.zeros(0, np.float32)
        if trained:
            vector = self.query_rows.rows(np.array(trained)).mean(axis=0)
            # Enough hits for POOL allowed ones in one fetch when the setting keeps out few
            # works (the head, the query's own); else grow by what the last fetch kept.
            fetch = min(POOL + self.blocked[rarity] + len(banned), 4 * POOL)
            while True:
                dense_ids, dense_scores = self.index.search(vector, fetch)
                keep = allowed[dense_ids]
                kept = int(keep.sum())
                if kept >= POOL or fetch >= min(self.max_fetch, len(self.index)):
                    break
                fetch = min(self.max_fetch, int(fetch * 1.5 * POOL / max(kept, POOL // 8)))
            dense_ids, dense_scores = dense_ids[keep][:POOL], dense_scores[keep][:POOL]
        if self.colike is None:
            return dense_ids, dense_scores
        columns, weights = self.colike.rows(used)
        colike_ids, inverse = np.unique(columns.astype(np.int64), return_inverse=True)
        colike_scores = np.bincount(inverse, weights=weights, minlength=len(colike_ids))
        keep = allowed[colike_ids]
        colike_ids, colike_scores = colike_ids[keep], colike_scores[keep]
        author_ids, author_scores = (self.authors.scores(used) if self.authors is not None
                                     else (np.zeros(0, np.int64), np.zeros(0)))
        keep = allowed[author_ids]
        author_ids, author_scores = author_ids[keep], author_scores[keep]
        ids = np.union1d(np.union1d(dense_ids, colike_ids), author_ids)  # sorted: ties break on ids, as in the evaluation

        def spread(at, scores):
            out = np.full(len(ids), -np.inf)
            out[np.searchsorted(ids, at)] = scores
            return out

        author_ranks = pool_ranks(spread(author_ids, author_scores), POOL) if self.authors is not None else None
        fused = fuse(pool_ranks(spread(colike_ids, colike_scores), POOL), pool_ranks(spread(dense_ids, dense_scores), POOL),
                     float(self.scoring["fusion_weight"]), float(self.scoring["fusion_k"]), author_ranks,
                     float(self.scoring["author_weight"]))
        needs_fit = self.scoring["genre_weight"] and fit is not None
        needs_support = uses_support(self.scoring) and support is not None
        return ids, reshape(fused, ids, self.scoring, self.likes, fit(ids) if needs_fit else None,
                            support(ids) if needs_support else None)
