"""Known-answer tests for the trainer on tiny shelves with planted taste clusters.

Three clusters of works, each with popular works (liked by many of the cluster's readers) and
rare ones (three readers each). A working model puts every work's cluster-mates, rare ones
included, above every other cluster's works by the served score.
"""
from __future__ import annotations

import csv
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rarereads import cli  # noqa: E402
from engine.dataset import Dataset, Works  # noqa: E402
from engine.errors import ModelFolderError  # noqa: E402
from engine.modelfolder import latest_model_folder, load_model_folder, read_manifest  # noqa: E402
from engine.recommender import Engine  # noqa: E402
from engine.ranking import FolderScorer  # noqa: E402
from train.config import TrainConfig  # noqa: E402
from train.data import prepare_data, read_extra_likes  # noqa: E402
from train.registry import MODELS  # noqa: E402
from train.sampler import NegativeSampler, ReaderLikes, sample_skipgram  # noqa: E402
from train.train import checkpoint_config, train  # noqa: E402

CLUSTERS, POPULAR, RARE, READERS = 3, 6, 6, 40
PER_CLUSTER = POPULAR + RARE


def planted_dataset(seed: int = 0) -> Dataset:
    """Readers like 4 popular works of their cluster; each rare work has 3 readers among the
    cluster's 8 deep readers, so rare works share readers with each other as niche books do.

    Dislikes (rating 2) of other clusters' works test that only likes are learned from.
    """
    rng = np.random.default_rng(seed)
    titles, authors = [], []
    for c in range(CLUSTERS):
        titles += [f"Cluster {c} popular {i}" for i in range(POPULAR)] + [f"Cluster {c} rare {i}" for i in range(RARE)]
        authors += [f"Author {c}{i}" for i in range(PER_CLUSTER)]
    works = Works(titles, authors, np.zeros(len(titles), np.int32), [""] * len(titles), [""] * len(titles))
    rows = []
    for c in range(CLUSTERS):
        base, readers = c * PER_CLUSTER, range(c * READERS, (c + 1) * READERS)
        for r in readers:
            rows += [(r, base + w, 8.0) for w in rng.choice(POPULAR, 4, replace=False)]
            other = (c + 1 + rng.integers(CLUSTERS - 1)) % CLUSTERS
            rows.append((r, other * PER_CLUSTER + int(rng.integers(PER_CLUSTER)), 2.0))
        for i in range(RARE):
            rows += [(int(r), base + POPULAR + i, 9.0) for r in rng.choice(list(readers)[:8], 3, replace=False)]
    rows = sorted(dict(((u, w), x) for u, w, x in rows).items())
    user = np.array([u for (u, _), _ in rows], np.int32)
    work = np.array([w for (_, w), _ in rows], np.int32)
    rating = np.array([x for _, x in rows], np.float32)
    return Dataset(works, user, work, rating, 10, "synthetic", CLUSTERS * READERS)


def cluster_of(title: str) -> int:
    return int(title.split()[1])


def small_config(**changes) -> TrainConfig:
    """Small settings for the sampled models (skipgram by default); `elsa_config` for ELSA."""
    config = TrainConfig(model="skipgram", dim=16, batch_size=64, epochs=30, negative_pool=32, lr=0.01, val_readers=6,
                         log_every=10, checkpoint_every=10_000, device="cpu", threads=1)
    return replace(config, **changes)


def elsa_config(**changes) -> TrainConfig:
    config = TrainConfig(model="elsa", dim=16, batch_size=32, epochs=100, lr=0.05, val_readers=6, device="cpu",
                         threads=1, colike_min_likes=2)
    return replace(config, **changes)


CONFIGS = {"elsa": elsa_config, "skipgram": small_config, "mf": lambda **c: small_config(**{"model": "mf", **c})}


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return planted_dataset()


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory) -> dict:
    """One model folder per registered model, shared by the tests that only read them."""
    root = tmp_path_factory.mktemp("models")
    assert set(CONFIGS) == set(MODELS)  # a new model gets its known-answer tests here
    return {kind: train(CONFIGS[kind](), dataset, root / kind, progress=False) for kind in MODELS}


# skipgram ranks all 11 cluster-mates first. mf's export averages reader vectors, i.e. takes a
# geometric mean of readers' odds, which sinks works only a few of those readers liked; its
# nearest five are still cluster-mates, for rare works too. ELSA's embedding alone is too noisy
# on 36 works for a known answer; served with its co-like weights, it is checked in the next test.
@pytest.mark.parametrize("kind,depth", [("skipgram", PER_CLUSTER - 1), ("mf", 5)])
def test_cluster_mates_outrank_other_clusters_rare_works_included(trained, kind, depth):
    folder = load_model_folder(trained[kind])
    titles = folder.works.title
    assert len(titles) == CLUSTERS * PER_CLUSTER  # every work has a like to learn from
    scores = folder.query @ folder.target.T  # the dense score(c | liked {w}) per the contract
    clusters = np.array([cluster_of(t) for t in titles])
    for w in range(len(titles)):
        order = [c for c in np.argsort(-scores[w], kind="stable") if c != w]
        top = clusters[order[:depth]]
        assert (top == clusters[w]).all(), f"{kind}: neighbours of {titles[w]!r}: {[titles[c] for c in order[:depth]]}"


def test_elsa_served_order_finds_rare_cluster_mates(trained):
    """The default model as served (embedding fused with co-like weights): a reader of one rare
    work is shown its cluster's rare works before any other cluster's work."""
    folder = load_model_folder(trained["elsa"])
    assert folder.colike is not None and folder.scoring["fusion_weight"] == elsa_config().fusion_weight
    engine = Engine(folder, diversify=False)  # "Cluster 0 ..." titles would count as one series
    titles = list(folder.works.title)
    for w in [i for i, t in enumerate(titles) if "rare" in t]:
        picks = engine.recommend([w], k=5, rarity="any").picks
        assert [cluster_of(p.work.title) for p in picks] == [cluster_of(titles[w])] * 5, titles[w]
        # In the long tail (`deep`), the rare cluster-mates that share a reader with it come first.
        mates = {c for c, t in enumerate(titles) if c != w and "rare" in t and cluster_of(t) == cluster_of(titles[w])
                 and np.intersect1d(engine.fans(c), engine.fans(w)).size}
        rare = [p.work.id for p in engine.recommend([w], k=len(mates), rarity="deep").picks]
        assert mates and set(rare) == mates, (titles[w], [titles[c] for c in rare])
    # The evaluation's scorer orders every work the same way.
    from scipy.sparse import csr_matrix

    scorer = FolderScorer.from_folder(folder)
    shelf = csr_matrix(([1.0], ([0], [POPULAR])), shape=(1, len(titles)))
    ids, scores = scorer(np.array([0]), shelf)  # fused: each row's candidates and their scores
    order = ids[0][np.argsort(-scores[0], kind="stable")][:8]
    assert [p.work.id for p in engine.recommend([POPULAR], k=8, rarity="any").picks] == order.tolist()


@pytest.mark.parametrize("kind", ["skipgram", "mf"])
def test_scores_keep_popularity(trained, kind):
    """The contract score includes popularity: within a cluster, popular works outscore rare ones."""
    folder = load_model_folder(trained[kind])
    titles = folder.works.title
    scores = folder.query @ folder.target.T
    for w in range(len(titles)):
        mates = [c for c in range(len(titles)) if cluster_of(titles[c]) == cluster_of(titles[w]) and c != w]
        popular = [scores[w, c] for c in mates if "popular" in titles[c]]
        rare = [scores[w, c] for c in mates if "rare" in titles[c]]
        assert np.mean(popular) > np.mean(rare)


def test_manifest_records_config_metrics_and_plots(trained, dataset):
    folder = load_model_folder(trained["skipgram"])
    manifest = folder.manifest
    assert manifest.config == {**vars(small_config(model="skipgram").validate())}
    assert metrics_primary(manifest) == manifest.metrics["val_hit@20"]
    assert manifest.data_fingerprint == dataset.fingerprint()
    metrics = manifest.metrics
    assert metrics["final_loss"] > 0 and metrics["pairs_per_second"] > 0 and metrics["device"].startswith("cpu")
    assert metrics["val_likes"] > 0 and 0 <= metrics["val_hit@20"] <= 1
    assert len(metrics["validation"]) == 30  # once per epoch
    for name in ("loss.png", "map.png"):
        assert name in manifest.files
        assert (folder.path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # likes per work are the training likes; the catalogue is every liked work, in dataset order
    assert folder.likes.sum() == metrics["data"]["train_likes"]
    assert folder.works.title == dataset.works.title


def test_tampered_folder_is_refused(trained, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(trained["mf"], copy)
    vectors = dict(np.load(copy / "vectors.npz"))
    vectors["target"] = vectors["target"] + 1.0
    np.savez(copy / "vectors.npz", **vectors)
    with pytest.raises(ModelFolderError, match="vectors.npz"):
        load_model_folder(copy)


def test_same_seed_same_vectors_other_seed_other_vectors(dataset, tmp_path):
    config = small_config(epochs=3, val_readers=0)
    first = load_model_folder(train(config, dataset, tmp_path / "a", progress=False))
    again = load_model_folder(train(config, dataset, tmp_path / "b", progress=False))
    other = load_model_folder(train(replace(config, seed=1), dataset, tmp_path / "c", progress=False))
    for name in ("query", "target", "trained"):
        assert np.array_equal(getattr(first, name), getattr(again, name))
    assert not np.allclose(first.query, other.query)


@pytest.mark.parametrize("kind", ["skipgram", "mf"])
def test_resume_continues_exactly(dataset, tmp_path, kind):
    config = small_config(model=kind, epochs=4)
    whole = load_model_folder(train(config, dataset, tmp_path / "whole", progress=False))
    half = train(replace(config, max_steps=15), dataset, tmp_path / "half", progress=False,
                 checkpoint_dir=tmp_path / "ckpt")
    assert load_model_folder(half).manifest.metrics["steps"] == 15
    checkpoint = tmp_path / "ckpt" / "step-00000015.pt"
    assert checkpoint.exists()
    resumed_config = checkpoint_config(checkpoint, {"max_steps": 0})
    resumed = load_model_folder(train(resumed_config, dataset, tmp_path / "resumed", resume=checkpoint, progress=False))
    assert resumed.manifest.metrics["steps"] == whole.manifest.metrics["steps"] > 15
    for name in ("query", "target"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(whole, name))
    with pytest.raises(ValueError, match="cannot change on resume"):
        checkpoint_config(checkpoint, {"dim": 8})


def test_log_uniform_sampler_follows_rank_law():
    counts = np.array([5, 50, 1, 20, 3])  # ranks: work 1, 3, 0, 4, 2
    sampler = NegativeSampler("log_uniform", counts, 0.75, torch.device("cpu"))
    expected_by_rank = np.log((np.arange(5) + 2) / (np.arange(5) + 1)) / np.log(6)
    np.testing.assert_allclose(sampler.probs[[1, 3, 0, 4, 2]], expected_by_rank)
    draws = sampler.sample((200_000,), torch.Generator().manual_seed(0)).numpy()
    np.testing.assert_allclose(np.bincount(draws, minlength=5) / len(draws), sampler.probs, atol=0.005)
    unigram = NegativeSampler("unigram", counts, 0.5, torch.device("cpu"))
    np.testing.assert_allclose(unigram.probs, np.sqrt(counts) / np.sqrt(counts).sum())


def test_contexts_come_from_the_same_reader_and_skip_the_target():
    indptr = np.array([0, 2, 5, 9])  # readers with 2, 3 and 4 likes
    indices = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8])
    likes = ReaderLikes.from_csr(indptr, indices, torch.device("cpu"))
    sampler = NegativeSampler("uniform", np.ones(9), 0.75, torch.device("cpu"))
    target, context, negative = sample_skipgram(likes, 5000, 3, sampler, 2, 0, torch.Generator().manual_seed(0))
    reader_of = np.repeat(np.arange(3), np.diff(indptr))
    target, context = target.numpy(), context.numpy()
    assert (reader_of[context] == reader_of[target][:, None]).all()
    assert (context != target[:, None]).all()
    assert negative.shape == (5000, 6)
    # every other like of the reader turns up as a context
    for t in range(9):
        mates = set(np.flatnonzero(reader_of == reader_of[t])) - {t}
        assert set(context[target == t].ravel()) == mates


def test_prepare_data_holds_out_likes_whose_work_stays_in_the_catalogue(dataset):
    data = prepare_data(dataset, small_config(val_readers=50))
    assert len(data.val_reader) > 30
    assert (data.like_counts[data.val_work] >= 1).all()
    for reader, work in zip(data.val_reader, data.val_work):
        assert work not in data.indices[data.indptr[reader]:data.indptr[reader + 1]]
    users, _ = dataset.likes()
    assert data.stats["train_likes"] + data.stats["val_likes"] == len(users)


def test_extra_likes_are_matched_by_work_key(dataset, tmp_path):
    path = tmp_path / "extra.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["reader", "title", "author"])
        writer.writerow(["telegram:1", "CLUSTER 0 rare 1 (Paperback)", "author 07"])
        writer.writerow(["telegram:1", "Cluster 0 rare 2", "Author 08"])
        writer.writerow(["telegram:2", "A Book Nobody Has", "Someone"])
    users, works, stats = read_extra_likes(path, dataset)
    assert stats == {"rows": 3, "matched": 2, "unknown_works": 1, "readers": 1}
    assert list(works) == [POPULAR + 1, POPULAR + 2]
    assert (users == dataset.n_users).all()  # a new reader, after the dataset's


def test_rarereads_train_end_to_end(dataset, tmp_path, capsys):
    dataset.save(tmp_path / "data")
    extra = tmp_path / "extra.csv"
    extra.write_text("reader,title,author\ndiscord:7,Cluster 1 rare 0,Author 16\ndiscord:7,Cluster 1 popular 0,Author 10\n")
    models = tmp_path / "models"
    code = cli.main(["train", "--data", str(tmp_path / "data"), "--models-dir", str(models), "--epochs", "2",
                     "--dim", "8", "--batch-size", "32", "--model", "mf", "--sampler", "unigram", "--no-amp",
                     "--extra-likes", str(extra), "--device", "cpu", "--no-progress"])
    assert code == 0
    folder = latest_model_folder(models)
    assert folder is not None and folder.name.endswith("-mf")
    loaded = load_model_folder(folder)
    assert loaded.dim == 8 + 1  # the bias is folded into the vectors
    config = loaded.manifest.config
    assert (config["model"], config["sampler"], config["epochs"], config["amp"]) == ("mf", "unigram", 2.0, False)
    assert loaded.manifest.metrics["extra_likes"]["matched"] == 2
    assert f"model folder: {folder}" in capsys.readouterr().out
    checkpoints = list((models / "checkpoints" / folder.name).glob("step-*.pt"))
    assert len(checkpoints) == 1
    # resume from the checkpoint for one more epoch, into a new folder
    code = cli.main(["train", "--data", str(tmp_path / "data"), "--models-dir", str(models), "--resume",
                     str(checkpoints[0]), "--epochs", "3", "--extra-likes", str(extra), "--no-progress"])
    assert code == 0
    resumed = read_manifest(latest_model_folder(models))
    assert resumed.metrics["resumed_from"] == str(checkpoints[0]) and resumed.config["epochs"] == 3.0


def metrics_primary(manifest) -> float:
    """The figure a retrain is judged on: the one `metrics.primary` names."""
    assert manifest.primary.name == manifest.metrics["primary"]
    return manifest.primary.value


def test_bad_settings_are_refused():
    with pytest.raises(SystemExit):
        cli.main(["train", "--sampler", "zipf"])
    with pytest.raises(ValueError, match="model must be one of elsa, skipgram, mf"):
        TrainConfig(model="magic").validate()
    with pytest.raises(ValueError, match="negative_pool"):
        TrainConfig(negative_pool=-1).validate()


def test_train_command_does_not_import_torch():
    code = "import sys, train.cli; from rarereads.cli import build_parser; build_parser('train'); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "False"


def test_two_ranks_average_gradients_and_rank_zero_exports(dataset, tmp_path):
    """torchrun with 2 CPU ranks (gloo): the sparse-gradient all-gather path of multi-GPU training."""
    dataset.save(tmp_path / "data")
    root = Path(__file__).resolve().parent.parent
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
               "-m", "rarereads", "train", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "model"),
               "--model", "skipgram", "--max-steps", "6", "--dim", "8", "--batch-size", "32", "--device", "cpu", "--threads", "1",
               "--no-progress"]
    subprocess.run(command, cwd=root, check=True, capture_output=True, timeout=120)
    metrics = load_model_folder(tmp_path / "model").manifest.metrics
    assert metrics["world_size"] == 2 and metrics["steps"] == 6
    assert metrics["pairs_per_second"] > 0


def test_served_like_counts_include_readers_with_one_like(dataset):
    """Skip-gram cannot learn from a lone like, but the served popularity still counts it."""
    extra_reader = int(dataset.user.max()) + 1
    lonely = Dataset(dataset.works, np.append(dataset.user, extra_reader).astype(np.int32),
                     np.append(dataset.work, 0).astype(np.int32), np.append(dataset.rating, 10).astype(np.float32),
                     10, "synthetic", extra_reader + 1)
    before = prepare_data(dataset, small_config(val_readers=0))
    after = prepare_data(lonely, small_config(val_readers=0))
    row = int(np.searchsorted(after.work_ids, 0))
    assert np.array_equal(after.like_counts, before.like_counts)  # training is unchanged
    assert after.catalogue_likes[row] == before.catalogue_likes[row] + 1


def test_exported_folder_has_fans_for_reasons(trained):
    folder = trained["skipgram"]
    indptr = np.load(folder / "fans_indptr.npy")
    readers = np.load(folder / "fans_readers.npy")
    model = load_model_folder(folder)
    assert len(indptr) == len(model.works) + 1 and indptr[-1] == len(readers)
    assert np.all(np.diff(indptr) <= model.likes)  # fans are training readers, a subset of all likes
    for w in range(len(model.works)):
        fans = readers[indptr[w]:indptr[w + 1]]
        assert np.all(np.diff(fans) > 0)  # sorted and unique, as the engine's intersections expect


def test_elsa_loss_equals_the_dense_reconstruction_error():
    """ELSA's loss, computed from d-sized quantities only, equals the dense formula over all works."""
    from train.elsa import ELSA

    rng = np.random.default_rng(0)
    n, dim, readers = 30, 5, 4
    model = ELSA(n, dim, seed=1)
    liked = [rng.choice(n, size=k, replace=False) for k in (2, 3, 5, 7)]
    marked = [np.setdiff1d(rng.choice(n, size=2, replace=False), liked[r]) for r in range(readers)]
    row = torch.tensor(np.concatenate([[r] * len(l) for r, l in enumerate(liked)]))
    col = torch.tensor(np.concatenate(liked))
    neg_row = torch.tensor(np.concatenate([[r] * len(m) for r, m in enumerate(marked)]), dtype=torch.int64)
    neg_col = torch.tensor(np.concatenate(marked), dtype=torch.int64)
    a = model.vectors().detach().double().numpy()
    for with_marks in (False, True):
        expected = 0.0
        for r in range(readers):
            x = np.zeros(n)
            x[liked[r]] = 1
            t = x.copy()
            if with_marks:
                t[marked[r]] = -1
            x_hat = x @ a @ a.T - x
            expected += np.sum((t / np.linalg.norm(t) - x_hat / np.linalg.norm(x_hat)) ** 2)
        with torch.no_grad():
            got = model(row, col, readers, neg_row if with_marks else None, neg_col if with_marks else None)
        assert got.item() == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("wide_keys", [False, True])
def test_colike_weights_are_each_works_ridge_regression_on_its_most_co_liked_works(monkeypatch, wide_keys):
    """Known answer: b_j = (G[S, S] + lambda I)^-1 G[S, j] over the m works most co-liked with j,
    solved a few works at a time, with 32-bit pair keys and with 64-bit ones (many works)."""
    import train.colike
    from train.colike import fit_colike

    monkeypatch.setattr(train.colike, "SOLVE_ENTRIES", 5 * 4 * 4)  # five works' systems a batch: three batches
    if wide_keys:
        monkeypatch.setattr(train.colike, "KEY32_WORKS", 0)

    rng = np.random.default_rng(2)
    n, m, lam = 12, 4, 3.0
    shelves = [np.sort(rng.choice(n, size=rng.integers(2, 6), replace=False)) for _ in range(40)]
    indptr = np.concatenate([[0], np.cumsum([len(s) for s in shelves])])
    indices = np.concatenate(shelves).astype(np.int32)
    (w_indptr, w_cols, w_vals), figures = fit_colike(indptr, indices, n, neighbours=m, lam=lam, min_likes=1,
                                                     reader_cap=100)
    x = np.zeros((len(shelves), n))
    for r, s in enumerate(shelves):
        x[r, s] = 1
    gram = x.T @ x
    weights = np.zeros((n, n))
    for source in range(n):
        weights[source, w_cols[w_indptr[source]:w_indptr[source + 1]]] = w_vals[w_indptr[source]:w_indptr[source + 1]]
    for j in range(n):
        others = np.array([i for i in range(n) if i != j and gram[i, j] > 0])
        support = others[np.lexsort((others, -gram[others, j]))][:m]  # most co-liked first, ties by id
        b = np.linalg.solve(gram[np.ix_(support, support)] + lam * np.eye(len(support)), gram[support, j])
        np.testing.assert_allclose(weights[support, j], b, rtol=1e-4, atol=1e-5)
        assert np.count_nonzero(weights[:, j]) <= len(support) and weights[j, j] == 0
    assert figures["colike_works"] == n


def test_heavy_readers_count_a_sample_of_their_likes():
    from train.colike import capped_likes

    indptr = np.array([0, 50, 53])  # one reader with 50 likes, one with 3
    indices = np.concatenate([np.arange(50), [0, 1, 2]]).astype(np.int32)
    readers, works, n = capped_likes(indptr, indices, np.ones(50, bool), reader_cap=10, seed=0)
    assert n == 50 and np.bincount(readers).tolist() == [10, 3]
    assert len(set(works[readers == 0])) == 10 and set(works[readers == 1]) == {0, 1, 2}


def test_works_without_a_vector_are_in_the_catalogue_and_said_unused(dataset, tmp_path):
    """A work liked only by readers with one like has no vector, yet it can be found; recommending
    from it says so instead of failing."""
    lonely_work = len(dataset.works)
    works = Works(list(dataset.works.title) + ["Once"], list(dataset.works.author) + ["Patricia Highsmith"],
                  np.append(dataset.works.year, 0).astype(np.int32), list(dataset.works.cover_url) + [""],
                  list(dataset.works.isbns) + ["0000000000"])
    reader = int(dataset.user.max()) + 1
    lonely = Dataset(works, np.append(dataset.user, reader).astype(np.int32),
                     np.append(dataset.work, lonely_work).astype(np.int32),
                     np.append(dataset.rating, 9).astype(np.float32), 10, "synthetic", reader + 1)
    folder = load_model_folder(train(elsa_config(epochs=5, val_readers=0), lonely, tmp_path / "m", progress=False))
    once = list(folder.works.title).index("Once")
    assert not folder.trained[once] and folder.trained.sum() == len(folder.works) - 1
    assert folder.manifest.n_trained == len(folder.works) - 1
    engine = Engine(folder)
    assert engine.resolve("Once by Highsmith").id == once
    result = engine.recommend([once], k=5)
    assert result.picks == [] and [w.title for w in result.unused] == ["Once"]
    mixed = engine.recommend([once, 0], k=5, rarity="any")
    assert mixed.picks and [w.title for w in mixed.unused] == ["Once"]


def test_not_interested_marks_reach_elsa(dataset, tmp_path):
    dataset.save(tmp_path / "data")
    (tmp_path / "likes.csv").write_text("reader,title,author\ntelegram:5,Cluster 2 popular 0,Author 20\n"
                                        "telegram:5,Cluster 2 popular 1,Author 21\n")
    (tmp_path / "marks.csv").write_text("reader,title,author,work_key\ntelegram:5,Cluster 2 rare 0,Author 26,\n"
                                        "telegram:9,Nobody's book,Nobody,\n")
    models = tmp_path / "models"
    assert cli.main(["train", "--data", str(tmp_path / "data"), "--models-dir", str(models), "--epochs", "3",
                     "--dim", "8", "--threads", "1", "--device", "cpu", "--extra-likes", str(tmp_path / "likes.csv"),
                     "--extra-negatives", str(tmp_path / "marks.csv"), "--no-progress"]) == 0
    metrics = load_model_folder(latest_model_folder(models)).manifest.metrics
    assert metrics["extra_likes"]["negatives"] == {"rows": 2, "matched": 1, "unknown_works": 1, "readers": 1}
    assert metrics["data"]["negatives"] == 1  # the mark's reader has two likes: it is learned from
    # The marks are targets of -1 in the loss: the same run without them ends elsewhere.
    data = prepare_data(dataset, elsa_config(val_readers=0), *[read_extra_likes(tmp_path / n, dataset, readers)[:2]
                                                              for readers in [{}] for n in ("likes.csv", "marks.csv")])
    assert data.negative_indptr[-1] == 1 and data.stats["negatives"] == 1
