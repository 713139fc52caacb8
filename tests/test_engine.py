"""Engine on tiny model folders made here with numpy (no torch): the right neighbour is obvious."""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from engine.dataset import Works
from engine.errors import AmbiguousTitle, BookNotFound, InvalidInput
from engine.ann import HnswIndex
from engine.modelfolder import write_model_folder
from engine.normalize import normalize_author
from engine.recommender import Engine, EngineHolder
from engine.rules import series_stem

# (title, author, likes, cluster, isbns)
CATALOGUE = [
    ("Dune", "Frank Herbert", 60, 0, "0441172660"),
    ("DUNE", "FRANK HERBERT", 2, 0, "0441013597"),  # the same work listed twice: same key
    ("Dune Messiah", "Frank Herbert", 30, 0, ""),
    ("Children of Dune", "Frank Herbert", 25, 0, ""),
    ("God Emperor of Dune", "Frank Herbert", 9, 0, ""),
    ("Foundation", "Isaac Asimov", 80, 0, ""),
    ("Hyperion", "Dan Simmons", 5, 0, ""),
    ("The Fall of Hyperion", "Dan Simmons", 4, 0, ""),
    ("Endymion", "Dan Simmons", 3, 0, ""),
    ("The Rise of Endymion", "Dan Simmons", 2, 0, ""),
    ("Solaris", "Stanislaw Lem", 4, 0, ""),
    ("Roadside Picnic", "Arkady Strugatsky", 1, 0, ""),
    ("The Dispossessed", "Ursula K. Le Guin", 3, 0, ""),
    ("Lord of Light", "Roger Zelazny", 2, 0, ""),
    ("Nova Swing", "M. John Harrison", 1, 0, ""),
    ("The Book of the New Sun: Shadow", "Gene Wolfe", 2, 0, ""),
    ("The Book of the New Sun: Claw", "Gene Wolfe", 1, 0, ""),
    ("Harry Potter and the Sorcerer's Stone", "J. K. Rowling", 90, 1, "059035342X"),
    ("Harry Potter and the Chamber of Secrets", "J. K. Rowling", 70, 1, ""),
    ("Harry Potter and the Prisoner of Azkaban", "J. K. Rowling", 65, 1, ""),
    ("The Hobbit", "J. R. R. Tolkien", 50, 1, ""),
    ("Lud-in-the-Mist", "Hope Mirrlees", 2, 1, ""),
    ("The Last Unicorn", "Peter S. Beagle", 4, 1, ""),
    ("Little, Big", "John Crowley", 3, 1, ""),
    ("Jonathan Strange & Mr Norrell", "Susanna Clarke", 6, 1, ""),
    ("Silence", "Shusaku Endo", 3, 2, ""),
    ("Silence", "Anne Ghost", 3, 2, ""),
    ("The Remains of the Day", "Kazuo Ishiguro", 40, 2, ""),
    ("Stoner", "John Williams", 3, 2, ""),
    ("The Leopard", "Giuseppe Tomasi di Lampedusa", 2, 2, ""),
    ("Pedro Paramo", "Juan Rulfo", 1, 2, ""),
    ("Cien años de soledad", "Gabriel Garcia Marquez", 12, 2, ""),
]


def make_model_folder(path: Path, dim: int = 8, with_likes: bool = True, seed: int = 0, matcher: bool = True) -> Path:
    """A model whose clusters are genres: a reader of one book is steered to its genre.

    With `with_likes`, the folder's fans (training readers per work) are drawn per genre, so
    co-reader counts (reasons, support floors) can be checked. Each work's popularity is a
    last vector coordinate (the contract folds a bias in), so `any` leans to popular works.
    """
    rng = np.random.default_rng(seed)
    titles, authors, likes, cluster, isbns = (list(col) for col in zip(*CATALOGUE))
    n = len(titles)
    centres = np.eye(3, dim, dtype=np.float32) * 3
    cluster = np.array(cluster)
    query = centres[cluster] + 0.3 * rng.standard_normal((n, dim)).astype(np.float32)
    target = centres[cluster] + 0.3 * rng.standard_normal((n, dim)).astype(np.float32)
    likes = np.array(likes, dtype=np.int64)
    query = np.hstack([query, np.ones((n, 1), np.float32)])
    target = np.hstack([target, (0.5 * np.log1p(likes)).astype(np.float32)[:, None]])
    works = Works(titles, authors, np.full(n, 1990, np.int32), [""] * n, isbns)
    fans = None
    if with_likes:
        # Readers 0..99 read genre 0, 100..199 genre 1, 200..299 genre 2.
        readers = [np.sort(rng.choice(100, size=min(int(likes[w]), 100), replace=False) + 100 * cluster[w])
                   for w in range(n)]
        fans = (np.concatenate([[0], np.cumsum([len(r) for r in readers])]), np.concatenate(readers))
    return write_model_folder(path, works=works, likes=likes, query=query, target=target, fans=fans,
                              config={"test": True}, metrics={}, data_fingerprint="test", matcher=matcher)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return Engine.from_folder(make_model_folder(tmp_path_factory.mktemp("m") / "model"))


@pytest.fixture(scope="module")
def engine_without_likes(tmp_path_factory):
    return Engine.from_folder(make_model_folder(tmp_path_factory.mktemp("m") / "model", with_likes=False))


def _titles(result):
    return [p.work.title for p in result.picks]


def test_metadata(engine):
    assert engine.n_works == len(CATALOGUE)
    assert engine.version == "model"
    assert engine.manifest.config == {"test": True}
    dune = engine.work(0)
    assert (dune.title, dune.author, dune.year, dune.likes, dune.isbns) == ("Dune", "Frank Herbert", 1990, 60, ("0441172660",))
    assert dune.key == "dune|frank herbert"
    with pytest.raises(KeyError):
        engine.work(len(CATALOGUE))


def test_lookups_by_key_and_isbn(engine):
    assert engine.work_by_key("children of dune|frank herbert").title == "Children of Dune"
    assert engine.work_by_key("no such|book") is None
    assert engine.work_by_isbn("059035342x").title == "Harry Potter and the Sorcerer's Stone"
    assert engine.work_by_isbn("0-441-01359-7").id == 1
    assert engine.work_by_isbn("9780441172665").id == 0  # the ISBN-13 of 0441172660
    assert engine.work_by_isbn("978-0-590-35342-7").title.startswith("Harry Potter")
    assert engine.work_by_key("the hobbit|jrr tolkien").title == "The Hobbit"  # a key from before articles were dropped
    assert engine.work_by_isbn("1234567890") is None
    assert engine.work_by_isbn("") is None


def test_resolve(engine):
    assert engine.resolve("dnue").title == "Dune"
    assert engine.resolve("  the HOBBIT ").title == "The Hobbit"
    assert engine.resolve("cien anos de soledad").author == "Gabriel Garcia Marquez"
    for bad in ["", "   ", "x" * 301, "!!! ???", "🙂🙂"]:
        with pytest.raises(InvalidInput):
            engine.resolve(bad)
    with pytest.raises(BookNotFound) as not_found:
        engine.resolve("Hyprion Cantos of the Moon Zebras")
    assert any(w.work.title == "Hyperion" for w in not_found.value.candidates)
    with pytest.raises(AmbiguousTitle) as ambiguous:
        engine.resolve("silence")
    assert {w.author for w in ambiguous.value.candidates} == {"Shusaku Endo", "Anne Ghost"}
    assert engine.resolve("Silence by Shusaku Endo").author == "Shusaku Endo"
    dune = engine.lookup("dune")
    assert dune.work.title == "Dune" and dune.also == () and dune.also_line == ""
    assert engine.resolve("silence - endo").author == "Shusaku Endo"


def test_a_study_guide_beside_the_book_leaves_the_book_the_answer(tmp_path):
    titles, authors = ["Hamlet", "Hamlet", "Silence"], ["William Shakespeare", "Cliffs Notes", "Shusaku Endo"]
    n = len(titles)
    vectors = np.eye(n, 4, dtype=np.float32)
    works = Works(titles, authors, np.full(n, 1990, np.int32), [""] * n, [""] * n)
    folder = write_model_folder(tmp_path / "m", works=works, likes=np.array([4, 3, 1]), query=vectors, target=vectors,
                                config={}, metrics={}, data_fingerprint="x")
    hamlet = Engine.from_folder(folder).lookup("hamlet")  # not 3/4 of the likes, but the other is a study guide
    assert hamlet.work.author == "William Shakespeare" and [w.author for w in hamlet.also] == ["Cliffs Notes"]
    assert hamlet.also_line == "also: Hamlet — Cliffs Notes (1990)"


def test_match_title_is_ranked(engine):
    matches = engine.match_title("dune", limit=5)
    assert matches[0].work.title == "Dune" and matches[0].work.author == "Frank Herbert"
    assert all(a.score >= b.score for a, b in zip(matches, matches[1:]))
    assert all(0 <= m.score <= 100 for m in matches)


def test_recommend_stays_in_the_genre_and_excludes_the_query(engine):
    dune = engine.resolve("Dune")
    result = engine.recommend([dune], k=8, rarity="balanced")
    ids = [p.work.id for p in result.picks]
    assert len(ids) == 8
    assert 0 not in ids and 1 not in ids  # the book itself and its other listing (same key)
    assert all(CATALOGUE[i][3] == 0 for i in ids)
    assert result.query == [dune] and result.rarity == "balanced" and result.model_version == "model"
    assert all(a.score >= b.score or True for a, b in zip(result.picks, result.picks[1:]))


def test_recommend_skips_the_querys_own_series(engine):
    stone = engine.resolve("harry potter and the sorcerer's stone")
    titles = _titles(engine.recommend([stone], k=6, rarity="any"))
    assert not any(t.startswith("Harry Potter") for t in titles)
    assert "The Hobbit" in titles


def test_diversity_per_author_and_series(engine):
    picks = engine.recommend([engine.work(6)], k=12, rarity="any").picks  # Hyperion
    authors = [normalize_author(p.work.author) for p in picks]
    assert max(authors.count(a) for a in authors) <= 2
    stems = [series_stem(p.work.title) for p in picks if series_stem(p.work.title)]
    assert len(stems) == len(set(stems))
    assert series_stem("The Book of the New Sun: Claw") == series_stem("The Book of the New Sun: Shadow")
    assert series_stem("Dune") == ""


def test_rarity_changes_the_picks(engine):
    dune = engine.work(0)
    any_ = engine.recommend([dune], k=5, rarity="any").picks
    rare = engine.recommend([dune], k=5, rarity="rare").picks
    deep = engine.recommend([dune], k=5, rarity="deep").picks
    assert "Foundation" in [p.work.title for p in any_]  # most liked of the genre
    assert "Foundation" not in [p.work.title for p in rare]
    assert all(p.work.likes <= 5 for p in deep) and deep
    assert np.mean([p.work.likes for p in rare]) < np.mean([p.work.likes for p in any_])
    with pytest.raises(InvalidInput):
        engine.recommend([dune], rarity="obscure")
    with pytest.raises(InvalidInput):
        engine.recommend([])


def test_reasons_count_real_co_likes(engine):
    dune, solaris = engine.work(0), engine.work(10)
    picks = engine.recommend([dune, solaris], k=8, rarity="balanced").picks
    assert picks
    for pick in picks:
        counts = {w.title: np.intersect1d(engine.fans(w.id), engine.fans(pick.work.id)).size for w in (dune, solaris)}
        best = max(counts, key=counts.get)
        same = [w.title for w in (dune, solaris) if w.author == pick.work.author]
        by = f"by the author of {same[0]}; " if same else ""
        if counts[best] >= 2:
            assert pick.reason == f"{by}loved by {counts[best]} readers who loved {best}"
        elif counts[best] == 1:  # one reader's taste is said to be just that
            assert pick.reason == f"{by}loved by one reader who loved {best} (a single reader's pick)"
        else:
            assert pick.reason.startswith(f"{by}no reader of {best} rated it yet")
        union = np.union1d(engine.fans(dune.id), engine.fans(solaris.id))
        assert pick.support == np.intersect1d(union, engine.fans(pick.work.id)).size


def test_reasons_without_fans(engine_without_likes):
    picks = engine_without_likes.recommend([engine_without_likes.work(0)], k=3, rarity="balanced").picks
    assert picks
    for pick in picks:
        assert pick.reason == "close to Dune in what its readers like" and pick.support == -1


def test_shelf_of_many_books(engine):
    shelf = [engine.work(i) for i in (20, 21, 22)]  # Hobbit, Lud-in-the-Mist, Last Unicorn
    picks = engine.recommend(shelf, k=2, rarity="balanced", exclude=[23, "little big|crowley john"]).picks
    ids = {p.work.id for p in picks}
    assert len(ids) == 2 and not ids & {20, 21, 22, 23}
    assert all(CATALOGUE[i][3] == 1 for i in ids)


def test_hnsw_recall_at_10_against_exact(tmp_path):
    rng = np.random.default_rng(1)
    n, dim = 20_000, 64
    target = rng.standard_normal((n, dim)).astype(np.float32)
    queries = rng.standard_normal((200, dim)).astype(np.float32)
    works = Works([f"Book {i}" for i in range(n)], ["A"] * n, np.zeros(n, np.int32), [""] * n, [""] * n)
    folder = write_model_folder(tmp_path / "big", works=works, likes=np.zeros(n, np.int64), query=target,
                                target=target, config={}, metrics={}, data_fingerprint="x",
                                index=HnswIndex.build(target, threads=2))
    engine = Engine.from_folder(folder, check_hashes=False)
    exact = np.argsort(-(queries @ target.T), axis=1)[:, :10]
    found = [engine.nearest(q, 10) for q in queries]
    recall = np.mean([len(set(f.tolist()) & set(e.tolist())) / 10 for (f, _), e in zip(found, exact)])
    assert recall >= 0.98, recall
    # The inner products come with the ids, as exact as numpy's (the engine scores with them).
    for q, (ids, dots) in zip(queries[:20], found[:20]):
        assert np.allclose(dots, target[ids] @ q, rtol=1e-4, atol=1e-4)


def test_engine_uses_the_folders_matcher(tmp_path, engine):
    assert "matcher.npz" in engine.manifest.files
    assert engine.matcher is engine.folder.matcher  # loaded from the folder, not rebuilt
    bare = Engine.from_folder(make_model_folder(tmp_path / "bare", matcher=False))
    assert "matcher.npz" not in bare.manifest.files and bare.folder.matcher is None
    for query in ["dnue", "silence by endo", "harry potter chamber", "cien anos"]:
        assert bare.match_title(query) == engine.match_title(query)  # built on load, same answers


def test_holder_swaps_between_requests(engine, engine_without_likes):
    holder = EngineHolder()
    with pytest.raises(RuntimeError):
        holder.current
    holder.swap(engine)
    seen = []

    def request():
        current = holder.current  # read once, as a request does
        seen.append(current.recommend([current.work(0)], k=2).model_version)

    threads = [threading.Thread(target=request) for _ in range(8)]
    for t in threads:
        t.start()
    assert holder.swap(engine_without_likes) is engine
    for t in threads:
        t.join()
    assert seen == ["model"] * 8
    assert holder.current is engine_without_likes


def test_file_rows_read_the_same_rows_without_mapping_them(tmp_path):
    from engine.modelfolder import FileRows

    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((1000, 16)).astype(np.float32)
    column = rng.integers(0, 10**6, 5000).astype(np.int32)
    np.save(tmp_path / "m.npy", matrix)
    np.save(tmp_path / "c.npy", column)
    mapped, mapped_column = np.load(tmp_path / "m.npy", mmap_mode="r"), np.load(tmp_path / "c.npy", mmap_mode="r")
    ids = [5, 999, 0, 5, 417]
    for source in (mapped, matrix):  # a memory-mapped file is read with pread, an array indexed
        rows = FileRows(source)
        assert np.array_equal(rows.rows(ids), matrix[ids]) and rows.rows(ids).dtype == np.float32
        assert rows.rows([]).shape == (0, 16)
    assert FileRows(mapped)._fd is not None and FileRows(matrix)._fd is None
    with pytest.raises(IndexError):
        FileRows(mapped).rows([1000])
    for source in (mapped_column, column):
        spans = FileRows(source)
        assert np.array_equal(spans.span(10, 4000), column[10:4000]) and len(spans.span(7, 7)) == 0
        starts, stops = np.array([10, 7, 4000, 0]), np.array([4000, 7, 5000, 3])
        assert np.array_equal(spans.spans(starts, stops), np.concatenate([column[10:4000], column[4000:5000], column[:3]]))
        assert spans.spans(starts[:0], stops[:0]).dtype == np.int32 and len(spans.spans(starts[:0], stops[:0])) == 0


def test_a_pick_by_the_writer_of_a_query_book_says_so(engine):
    """"by the author of Hyperion; ..." on Dan Simmons' other books, and on no one else's."""
    hyperion = engine.work(6)
    picks = engine.recommend([hyperion], k=10, rarity="any").picks
    own = [p for p in picks if p.work.author == "Dan Simmons"]
    assert own and all(p.reason.startswith("by the author of Hyperion; ") for p in own)
    others = [p for p in picks if p.work.author != "Dan Simmons"]
    assert others and not any("by the author of" in p.reason for p in others)
