"""One ranking: the engine, the evaluation and the trainer's validation order works alike.

A folder with every part of the order (an embedding, co-like weights, the author order, fusion,
the genre and popularity terms) is asked the same shelves through each caller:

- `Engine.recommend` with every list rule off (the index path, `engine.ranking.Ranker`);
- `engine.ranking.FolderScorer` (what `rarereads eval` scores) through `rarity.adjust`;
- `train.train.validate` (the trainer's figure), whose rank of a held-out work must be the
  rank the scorer gives it.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from engine import profiles as P
from engine import rarity
from engine.dataset import Works
from engine.modelfolder import write_model_folder
from engine.ranking import AuthorOrder, FolderScorer, top_ids
from engine.recommender import Engine
from engine.rules import writer_codes

N, DIM = 80, 6


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    rng = np.random.default_rng(3)
    query = rng.normal(size=(N, DIM)).astype(np.float32)
    target = rng.normal(size=(N, DIM)).astype(np.float32)
    likes = rng.integers(1, 60, size=N)
    rows = np.repeat(np.arange(N), 12)
    cols = rng.integers(0, N, size=len(rows))
    keep = rows != cols
    colike = csr_matrix((rng.random(keep.sum()).astype(np.float32), (rows[keep], cols[keep])), shape=(N, N))
    colike.sum_duplicates()
    genres = np.zeros((N, P.N_GENRES))
    genres[np.arange(N), rng.choice([P.INDEX[g] for g in ("scifi", "fantasy", "romance", "cookbook")], N)] = 1
    audience = np.zeros((N, 3))
    audience[:, P.ADULT] = 1
    fans_per = [np.sort(rng.choice(500, size=int(n), replace=False)) for n in likes]
    fans = (np.concatenate([[0], np.cumsum([len(f) for f in fans_per])]), np.concatenate(fans_per).astype(np.int32))
    # Writers of several books each (the author order), one pen name among them, and books by nobody.
    authors = [f"Author {i % 13}" for i in range(N)]
    authors[40], authors[41], authors[42] = "Richard Bachman", "Stephen King", "Anonymous"
    works = Works([f"Book {i}" for i in range(N)], authors, np.zeros(N, np.int32), [""] * N, [""] * N)
    return write_model_folder(
        tmp_path_factory.mktemp("m") / "model", works=works, likes=likes, query=query, target=target,
        colike=(colike.indptr, colike.indices, colike.data), fans=fans, profile=P.encode(genres, audience),
        scoring={"fusion_weight": 0.4, "fusion_k": 20, "genre_weight": 2.0, "genre_evidence": 2.0, "popularity": 0.5,
                 "specificity": 1.0, "author_weight": 0.3},
        config={}, metrics={}, data_fingerprint="parity")


SHELVES = [[0], [5, 17], [3, 9, 30, 41], [70, 71, 72], [42]]


def test_the_engine_and_the_evaluation_list_the_same_works(folder):
    engine = Engine.from_folder(folder, rules=())  # every list rule off: the model's own order
    scorer = FolderScorer.from_folder(engine.folder)
    rows = [i for i, s in enumerate(SHELVES) for _ in s]
    shelves = csr_matrix((np.ones(len(rows), np.float32), (rows, [w for s in SHELVES for w in s])), shape=(len(SHELVES), N))
    for name in ("any", "balanced"):
        allowed = rarity.allowed(engine.likes, name)
        ids, scores = scorer(np.arange(len(SHELVES)), shelves, allowed)
        keys = rarity.adjust(scores, engine.likes, name, candidates=ids)
        best = top_ids(keys, 10)
        plain = np.where(best >= 0, np.take_along_axis(ids, np.maximum(best, 0), axis=1), -1)
        for row, shelf in enumerate(SHELVES):
            served = [p.work.id for p in engine.recommend(shelf, k=10, rarity=name).picks]
            assert served == [int(i) for i in plain[row] if i >= 0], (name, shelf)


def test_the_genre_and_popularity_terms_change_the_order(folder):
    """The terms are really applied: without them the scorer orders the candidates otherwise."""
    engine = Engine.from_folder(folder, rules=())
    with_terms = FolderScorer.from_folder(engine.folder)
    without = FolderScorer(engine.folder.query, engine.folder.target, engine.folder.trained, with_terms.colike,
                           {"fusion_weight": 0.4, "fusion_k": 20}, writers=writer_codes(engine.folder.works.author))
    assert without.scoring["genre_weight"] == 0 == without.scoring["popularity"] == without.scoring["specificity"]  # absent: off
    assert without.scoring["author_weight"] == 0 and without.authors is None
    assert without.scoring["genre_evidence"] == 0
    shelves = csr_matrix((np.ones(1, np.float32), ([0], [0])), shape=(1, N))
    (a_ids, a), (b_ids, b) = with_terms(np.arange(1), shelves), without(np.arange(1), shelves)
    order = lambda ids, s: ids[0][np.argsort(-s[0], kind="stable")][np.isfinite(np.sort(-s[0]))].tolist()  # noqa: E731
    assert order(a_ids, a) != order(b_ids, b)
    assert sorted(order(a_ids, a)) == sorted(order(b_ids, b))  # the same candidates, another order


def test_co_readers_outweigh_the_genre_term_when_it_asks_for_evidence():
    """A book of another genre that many co-readers loved keeps its place with `genre_evidence`; on
    thin evidence it still yields to a book of the reader's genre (known answers)."""
    from engine.ranking import GENRE_FLOOR, reshape

    fused = np.array([[1.0, 0.8, 0.7]])  # the fused order: the other-genre book first
    ids = np.array([[0, 1, 2]])
    fit = np.array([[0.0, 1.0, 1.0]])
    thin, strong = np.array([[1, 1, 1]]), np.array([[40, 1, 1]])
    prior = {"genre_weight": 2.0}
    assert reshape(fused, ids, prior, None, fit, strong)[0].argmax() == 1  # no evidence term: genre decides
    evidence = {**prior, "genre_evidence": 2.0}
    assert reshape(fused, ids, evidence, None, fit, thin)[0].argmax() == 1  # one co-reader: the genre still decides
    kept = reshape(fused, ids, evidence, None, fit, strong)[0]
    assert kept.argmax() == 0  # forty co-readers: it keeps its place
    assert kept[0] == pytest.approx(1.0 * (GENRE_FLOOR / (GENRE_FLOOR + 1)) ** (2.0 * 2 / 42))


def test_validation_ranks_the_held_out_work_where_the_scorer_does(folder):
    from train.data import Fitted, TrainingData
    from train.train import validate

    engine = Engine.from_folder(folder, rules=())
    scorer = FolderScorer.from_folder(engine.folder)
    shelf_rows = [i for i, s in enumerate(SHELVES) for _ in s]
    indices = np.array([w for s in SHELVES for w in s], np.int32)
    indptr = np.concatenate([[0], np.cumsum([len(s) for s in SHELVES])]).astype(np.int64)
    held = np.array([1, 2, 4, 73, 55])
    data = TrainingData(work_ids=np.arange(N), indptr=indptr, indices=indices, like_counts=engine.likes,
                        catalogue_ids=np.arange(N), rows=np.arange(N), catalogue_likes=engine.likes,
                        val_reader=np.arange(len(SHELVES)), val_work=held)
    fitted = Fitted(np.asarray(engine.folder.query), np.asarray(engine.folder.target), {}, {})
    colike = scorer.colike
    writers = writer_codes(engine.folder.works.author)
    figures = validate(data, fitted, (colike.indptr, colike.indices, colike.data), engine.folder.scoring,
                       engine.folder.profile, writers)
    shelves = csr_matrix((np.ones(len(indices), np.float32), (shelf_rows, indices)), shape=(len(SHELVES), N))
    # The trainer's readers are its training data's (these four shelves): the specificity term counts them.
    scorer = FolderScorer(scorer.query, scorer.target_t.T, scorer.trained, scorer.colike, scorer.scoring,
                          engine.likes, scorer.profiles, shelves.T.tocsr(), writers)
    ids, scores = scorer(np.arange(len(SHELVES)), shelves)
    ranks = []
    for row, work in enumerate(held):
        at = ids[row] == work
        score = scores[row][at].max() if at.any() else -np.inf
        ranks.append((scores[row] > score).sum() if np.isfinite(score) else np.isfinite(scores[row]).sum())
    assert figures["hit@20"] == pytest.approx(np.mean(np.array(ranks) < 20))
    assert figures["mean_rank_pct"] == pytest.approx(np.mean(np.array(ranks) / N))


def test_each_rarity_pool_read_from_one_wide_sort_is_the_pool_sorted_alone():
    from engine.ranking import allowed_best, best_of

    rng = np.random.default_rng(5)
    for tied in (False, True):
        scores = rng.integers(0, 40, size=(60, 300)) if tied else rng.normal(size=(60, 300))
        scores = scores.astype(np.float32)
        scores[rng.random(scores.shape) < 0.3] = -np.inf
        scores[:5, 10:] = -np.inf  # rows with fewer finite scores than the pool
        wide = best_of(scores, 24)
        for allowed in (None, rng.random(300) < 0.9, rng.random(300) < 0.05, np.zeros(300, bool)):
            ids, values = allowed_best(scores, wide, allowed, take=6)
            want_ids, want = best_of(scores if allowed is None else np.where(allowed, scores, -np.inf), 6)
            np.testing.assert_array_equal(values, want)
            finite = np.isfinite(want)
            if not tied:
                np.testing.assert_array_equal(ids[finite], want_ids[finite])
            rows = np.broadcast_to(np.arange(60)[:, None], ids.shape)
            np.testing.assert_array_equal(scores[rows, ids][finite], values[finite])  # equal scores may swap works
            assert allowed is None or allowed[ids[finite]].all()
            assert all(len(set(r[f])) == f.sum() for r, f in zip(ids, finite))


def test_the_author_order_ranks_the_writers_of_more_of_the_shelf_first():
    """Known answers: a writer of two shelf books before a writer of one, the more liked book first
    within a writer; a pen name is its author; "Anonymous" names nobody; one reader and a batch agree."""
    authors = ["Ann Ames", "Ann Ames", "Bo Berg", "Ann Ames", "Ann Ames", "Bo Berg", "Anonymous", "Anonymous",
               "Richard Bachman", "Stephen King", "Cy Cole"]
    codes = writer_codes(authors)
    assert codes[6] == codes[7] == -1 and codes[8] == codes[9] >= 0
    likes = np.array([9, 9, 9, 5, 50, 7, 3, 3, 4, 8, 100])
    order = AuthorOrder(codes, likes)
    ids, scores = order.scores([0, 1, 2, 6, 8])
    got = dict(zip(ids.tolist(), scores.tolist()))
    assert set(got) == {0, 1, 2, 3, 4, 5, 8, 9}  # no book of "Anonymous", none of Cy Cole
    assert got[4] > got[3] > got[9] > got[5]  # Ann Ames (2 shelf books), then King (1, as Bachman) and Berg (1) by likes
    assert got[4] < 3 and got[3] >= 2  # the likes only break ties within a writer's count
    shelves = csr_matrix((np.ones(5, np.float32), ([0] * 5, [0, 1, 2, 6, 8])), shape=(1, len(authors)))
    batch = order.batch(shelves)[0]
    assert np.isneginf(batch[[6, 7, 10]]).all()
    np.testing.assert_allclose(batch[ids], scores)
