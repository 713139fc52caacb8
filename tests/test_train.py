"""Known-answer tests for the trainer on tiny shelves with planted taste clusters.

Three clusters of works, each with popular works (liked by many of the cluster's readers) and
rare ones (three readers each). A working model puts every work's cluster-mates, rare ones
included, above every other cluster's works by the served score.
"""
from __future__ import annotations

import csv
import json
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
from engine.modelfolder import latest_model_folder, load_model_folder  # noqa: E402
from train.config import TrainConfig  # noqa: E402
from train.sampler import NegativeSampler, ReaderLikes, sample_skipgram  # noqa: E402
from train.train import checkpoint_config, prepare_data, read_extra_likes, train  # noqa: E402

CLUSTERS, POPULAR, RARE, READERS = 3, 6, 6, 40
PER_CLUSTER = POPULAR + RARE


def planted_dataset(seed: int = 0) -> Dataset:
    """Readers like 4 popular works of their cluster; each rare work has 3 readers in its cluster.

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
            rows += [(int(r), base + POPULAR + i, 9.0) for r in rng.choice(list(readers), 3, replace=False)]
    rows = sorted(dict(((u, w), x) for u, w, x in rows).items())
    user = np.array([u for (u, _), _ in rows], np.int32)
    work = np.array([w for (_, w), _ in rows], np.int32)
    rating = np.array([x for _, x in rows], np.float32)
    return Dataset(works, user, work, rating, 10, "synthetic", CLUSTERS * READERS)


def cluster_of(title: str) -> int:
    return int(title.split()[1])


def small_config(**changes) -> TrainConfig:
    config = TrainConfig(dim=16, batch_size=64, epochs=30, negative_pool=32, lr=0.01, val_readers=6,
                         log_every=10, checkpoint_every=10_000, device="cpu", threads=1)
    return replace(config, **changes)


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return planted_dataset()


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory) -> dict:
    """One model folder per model kind, shared by the tests that only read them."""
    root = tmp_path_factory.mktemp("models")
    return {kind: train(small_config(model=kind), dataset, root / kind, progress=False) for kind in ("skipgram", "mf")}


# skipgram ranks all 11 cluster-mates first. mf's export averages reader vectors, i.e. takes a
# geometric mean of readers' odds, which sinks works only a few of those readers liked; its
# nearest five are still cluster-mates, for rare works too.
@pytest.mark.parametrize("kind,depth", [("skipgram", PER_CLUSTER - 1), ("mf", 5)])
def test_cluster_mates_outrank_other_clusters_rare_works_included(trained, kind, depth):
    folder = load_model_folder(trained[kind])
    titles = folder.works.title
    assert len(titles) == CLUSTERS * PER_CLUSTER  # every work has a like to learn from
    scores = folder.query @ folder.target.T + folder.bias  # score(c | liked {w}) per the contract
    clusters = np.array([cluster_of(t) for t in titles])
    for w in range(len(titles)):
        order = [c for c in np.argsort(-scores[w], kind="stable") if c != w]
        top = clusters[order[:depth]]
        assert (top == clusters[w]).all(), f"{kind}: neighbours of {titles[w]!r}: {[titles[c] for c in order[:depth]]}"


@pytest.mark.parametrize("kind", ["skipgram", "mf"])
def test_scores_keep_popularity(trained, kind):
    """The contract score includes popularity: within a cluster, popular works outscore rare ones."""
    folder = load_model_folder(trained[kind])
    titles = folder.works.title
    scores = folder.query @ folder.target.T + folder.bias
    for w in range(len(titles)):
        mates = [c for c in range(len(titles)) if cluster_of(titles[c]) == cluster_of(titles[w]) and c != w]
        popular = [scores[w, c] for c in mates if "popular" in titles[c]]
        rare = [scores[w, c] for c in mates if "rare" in titles[c]]
        assert np.mean(popular) > np.mean(rare)


def test_manifest_records_config_metrics_and_plots(trained, dataset):
    folder = load_model_folder(trained["skipgram"])
    manifest = folder.manifest
    assert manifest["config"] == {**vars(small_config(model="skipgram"))}
    assert manifest["data_fingerprint"] == dataset.fingerprint()
    metrics = manifest["metrics"]
    assert metrics["final_loss"] > 0 and metrics["pairs_per_second"] > 0 and metrics["device"].startswith("cpu")
    assert metrics["val_likes"] > 0 and 0 <= metrics["val_hit@20"] <= 1
    assert len(metrics["validation"]) == 30  # once per epoch
    for name in ("loss.png", "map.png"):
        assert name in manifest["files"]
        assert (folder.path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # likes per work are the training likes; the catalogue is every liked work, in dataset order
    assert folder.likes.sum() == metrics["data"]["train_likes"]
    assert folder.works.title == dataset.works.title


def test_tampered_folder_is_refused(trained, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(trained["mf"], copy)
    vectors = dict(np.load(copy / "vectors.npz"))
    vectors["bias"] = vectors["bias"] + 1.0
    np.savez(copy / "vectors.npz", **vectors)
    with pytest.raises(ModelFolderError, match="vectors.npz"):
        load_model_folder(copy)


def test_same_seed_same_vectors_other_seed_other_vectors(dataset, tmp_path):
    config = small_config(epochs=3, val_readers=0)
    first = load_model_folder(train(config, dataset, tmp_path / "a", progress=False))
    again = load_model_folder(train(config, dataset, tmp_path / "b", progress=False))
    other = load_model_folder(train(replace(config, seed=1), dataset, tmp_path / "c", progress=False))
    for name in ("query", "target", "bias"):
        assert np.array_equal(getattr(first, name), getattr(again, name))
    assert not np.allclose(first.query, other.query)


@pytest.mark.parametrize("kind", ["skipgram", "mf"])
def test_resume_continues_exactly(dataset, tmp_path, kind):
    config = small_config(model=kind, epochs=4)
    whole = load_model_folder(train(config, dataset, tmp_path / "whole", progress=False))
    half = train(replace(config, max_steps=15), dataset, tmp_path / "half", progress=False,
                 checkpoint_dir=tmp_path / "ckpt")
    assert load_model_folder(half).manifest["metrics"]["steps"] == 15
    checkpoint = tmp_path / "ckpt" / "step-00000015.pt"
    assert checkpoint.exists()
    resumed_config = checkpoint_config(checkpoint, {"max_steps": 0})
    resumed = load_model_folder(train(resumed_config, dataset, tmp_path / "resumed", resume=checkpoint, progress=False))
    assert resumed.manifest["metrics"]["steps"] == whole.manifest["metrics"]["steps"] > 15
    for name in ("query", "target", "bias"):
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
    assert (users == CLUSTERS * READERS).all()  # a new reader, after the dataset's


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
    assert loaded.dim == 8
    config = loaded.manifest["config"]
    assert (config["model"], config["sampler"], config["epochs"], config["amp"]) == ("mf", "unigram", 2.0, False)
    assert loaded.manifest["metrics"]["extra_likes"]["matched"] == 2
    assert f"model folder: {folder}" in capsys.readouterr().out
    checkpoints = list((models / "checkpoints" / folder.name).glob("step-*.pt"))
    assert len(checkpoints) == 1
    # resume from the checkpoint for one more epoch, into a new folder
    code = cli.main(["train", "--data", str(tmp_path / "data"), "--models-dir", str(models), "--resume",
                     str(checkpoints[0]), "--epochs", "3", "--extra-likes", str(extra), "--no-progress"])
    assert code == 0
    resumed = json.loads((latest_model_folder(models) / "manifest.json").read_text())
    assert resumed["metrics"]["resumed_from"] == str(checkpoints[0]) and resumed["config"]["epochs"] == 3.0


def test_bad_settings_are_refused():
    with pytest.raises(SystemExit):
        cli.main(["train", "--sampler", "zipf"])
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
               "--max-steps", "6", "--dim", "8", "--batch-size", "32", "--device", "cpu", "--threads", "1",
               "--no-progress"]
    subprocess.run(command, cwd=root, check=True, capture_output=True, timeout=120)
    metrics = load_model_folder(tmp_path / "model").manifest["metrics"]
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
