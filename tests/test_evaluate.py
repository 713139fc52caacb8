"""`rarereads eval`: the split, metrics worked out by hand, and the command's output."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rarereads.cli import main
from engine.dataset import Dataset, Works
from engine.modelfolder import verify_model_folder, write_model_folder
from engine.rarity import RARITIES
from engine.ranking import top_ids
from engine.rules import SKIP_REASONS
from evaluation import search
from evaluation.lists import evaluate_scorers
from evaluation.metrics import COLUMNS, ranking_metrics, ratio_interval, reader_metrics
from evaluation.models import OurModels, train_config
from evaluation.protocol import holdout_mask, make_split, training_dataset
from evaluation.served import served_metrics


def expected_held(n: int) -> int:
    return 0 if n < 5 else max(1, math.floor(0.2 * n + 0.5))


def test_split_holds_out_20_percent_of_readers_with_5_likes():
    counts = [1, 3, 4, 5, 6, 7, 8, 10, 12, 13, 23, 100]
    user = np.repeat(np.arange(len(counts)), counts)
    work = np.concatenate([np.arange(c) for c in counts])
    held = holdout_mask(user)
    per_reader = np.bincount(user[held], minlength=len(counts))
    assert per_reader.tolist() == [expected_held(n) for n in counts]
    assert [expected_held(n) for n in (5, 7, 8, 12, 13)] == [1, 1, 2, 2, 3]  # half up, at least one

    split = make_split(user + 1000, work + 50)  # ids are renumbered
    assert len(split.train_user) + len(split.test_user) == len(user)
    assert split.readers.tolist() == [i for i, n in enumerate(counts) if n >= 5]
    assert split.n_works == 100 and split.work_ids[0] == 50
    train = set(zip(split.train_user.tolist(), split.train_work.tolist()))
    test = set(zip(split.test_user.tolist(), split.test_work.tolist()))
    assert not train & test


def test_split_is_deterministic():
    rng = np.random.default_rng(5)
    user = np.sort(rng.integers(0, 300, 5000))
    first, second = holdout_mask(user), holdout_mask(user.copy())
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, holdout_mask(user, seed=1))


def test_metrics_by_hand():
    likes = np.array([10, 5, 3, 1, 1, 0])  # the head is work 0 alone (10 of 20 likes)
    top = np.array([[0, 2, 4],
                    [1, 0, -1]])  # reader 1's list has an empty slot
    truth_row = np.array([0, 0, 1, 1])
    truth_work = np.array([2, 3, 0, 1])
    m = ranking_metrics(top, truth_row, truth_work, likes)
    # Reader 0: one hit (rank 2) of 2 held out; reader 1: both held out found at ranks 1 and 2.
    assert m["recall"] == pytest.approx((1 / 2 + 2 / 2) / 2)
    ndcg_0 = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert m["ndcg"] == pytest.approx((ndcg_0 + 1.0) / 2)
    # Tail held out: reader 0 has works 2 and 3 (found 2), reader 1 has work 1 (found).
    assert m["tail_recall"] == pytest.approx((1 / 2 + 1 / 1) / 2)
    assert m["arp"] == pytest.approx(((10 + 3 + 1) / 3 + (5 + 10) / 2) / 2)
    assert m["tail_share"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert m["coverage"] == pytest.approx(4 / 6)


def test_reader_metrics_average_to_the_metrics_and_a_ratio_has_an_interval():
    """`reader_metrics` are each reader's values (their means are `ranking_metrics`); `ratio_interval`
    resamples readers: twice the hits is exactly 2x whatever the resample, and the interval holds
    the ratio."""
    likes = np.array([50, 1, 1, 4, 9, 16])
    top = np.array([[1, 2], [3, -1], [4, 5], [0, 5]])
    truth_row, truth_work = np.array([0, 0, 1, 2, 3]), np.array([1, 0, 4, 4, 5])
    per_reader = reader_metrics(top, truth_row, truth_work, likes)
    values, where = per_reader["recall"]
    assert values.tolist() == [0.5, 0.0, 1.0, 1.0] and where.all()
    means = ranking_metrics(top, truth_row, truth_work, likes)
    for name, (v, w) in per_reader.items():
        assert v[w].mean() == pytest.approx(means[name]), name
    rng = np.random.default_rng(1)
    hits = rng.integers(0, 3, 500).astype(float)
    every = np.ones(500, bool)
    assert ratio_interval((2 * hits, every), (hits, every), resamples=200) == pytest.approx((2.0, 2.0, 2.0))
    ratio, low, high = ratio_interval((hits + rng.random(500), every), (hits, every), resamples=200)
    assert low < ratio < high and high - low < 0.5


def test_recall_is_truncated_at_k():
    likes = np.ones(30, dtype=int)
    top = np.arange(2)[None, :]  # k = 2, 5 held out, both listed works among them
    m = ranking_metrics(top, np.zeros(5, int), np.arange(5), likes)
    assert m["recall"] == 1.0 and m["ndcg"] == pytest.approx(1.0)


def test_top_ids_orders_and_marks_missing():
    scores = np.array([[0.1, 0.9, -np.inf, 0.5], [-np.inf, -np.inf, 1.0, -np.inf]], dtype=np.float32)
    np.testing.assert_array_equal(top_ids(scores, 3), [[1, 3, 0], [2, -1, -1]])


def test_popularity_stratified_recall_counts_rare_finds_for_more():
    """Steck's weights, 1 / sqrt(likes): reader 0 holds out a book 100 readers liked and one 4 did,
    and finds only the rare one; reader 1 finds the popular one of the same two. At k = 1 each
    could reach at most their heaviest held-out like, the rare one (weight 1/2)."""
    likes = np.array([100, 4, 1, 1])
    truth_row, truth_work = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    top = np.array([[1, 2], [0, 3]])
    m = ranking_metrics(top, truth_row, truth_work, likes)
    assert m["recall"] == pytest.approx(0.5)  # one of two found by each
    assert m["pop_recall"] == pytest.approx(((1 / 2) / (1 / 2 + 1 / 10) + (1 / 10) / (1 / 2 + 1 / 10)) / 2)
    at_one = ranking_metrics(top[:, :1], truth_row, truth_work, likes)
    assert at_one["pop_recall"] == pytest.approx((1.0 + (1 / 10) / (1 / 2)) / 2)


def tiny_dataset(folder):
    """Two reading circles of 12 works each plus a few books everyone likes; 60 readers."""
    rng = np.random.default_rng(0)
    users, works = [], []
    for reader in range(60):
        circle = reader % 2
        liked = rng.choice(12, size=rng.integers(4, 9), replace=False) + 3 + 12 * circle
        liked = np.concatenate([liked, rng.choice(3, size=rng.integers(0, 3), replace=False)])
        users += [reader] * len(liked)
        works += liked.tolist()
    n = 27
    catalogue = Works([f"Book {i}" for i in range(n)], [f"Author {i}" for i in range(n)],
                      np.zeros(n, np.int32), [""] * n, [""] * n)
    rating = np.where(rng.random(len(users)) < 0.9, 8.0, 3.0).astype(np.float32)
    dataset = Dataset(catalogue, np.array(users, np.int32), np.array(works, np.int32), rating, 10, "tiny", 60)
    return dataset.save(folder)


def test_json_rows_have_exactly_the_columns(tmp_path, capsys):
    folder = tiny_dataset(tmp_path / "tiny")
    assert main(["eval", "--dataset", str(folder), "--methods", "popularity,itemknn,als", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["method"], r["rarity"]) for r in rows] == [(m, r) for m in ("popularity", "itemknn", "als")
                                                          for r in RARITIES]
    for row in rows:
        assert tuple(row) == COLUMNS
        for column in COLUMNS[2:]:
            assert row[column] is None or isinstance(row[column], float)
    any_rows = {r["method"]: r for r in rows if r["rarity"] == "any"}
    # Readers like books of their own circle: co-likes find them, popularity does not.
    assert any_rows["itemknn"]["recall"] > any_rows["popularity"]["recall"]


def test_markdown_table_and_model_folder(tmp_path, capsys):
    folder = tiny_dataset(tmp_path / "tiny")
    dataset = Dataset.load(folder)
    n, dim = len(dataset.works), 4
    rng = np.random.default_rng(0)
    model = write_model_folder(tmp_path / "model", works=dataset.works, likes=np.ones(n, int),
                               query=rng.normal(size=(n, dim)), target=rng.normal(size=(n, dim)),
                               config={"model": "skipgram", "dim": dim}, metrics={}, data_fingerprint="x")
    assert main(["eval", "--dataset", str(folder), "--methods", "popularity", "--rarities", "any,rare",
                 "--model", str(model)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "| " + " | ".join(COLUMNS) + " |"
    assert "| popularity | rare |" in out
    saved = json.loads((model / "eval.json").read_text())
    assert [(r["method"], r["rarity"]) for r in saved["rows"]] == [("popularity", "any"), ("popularity", "rare")]
    assert "| popularity | any |" in (model / "eval.md").read_text()
    verify_model_folder(model)  # the manifest still matches its files


def test_bad_arguments(tmp_path):
    folder = tiny_dataset(tmp_path / "tiny")
    with pytest.raises(SystemExit, match="unknown method"):
        main(["eval", "--dataset", str(folder), "--methods", "magic"])
    with pytest.raises(SystemExit, match="unknown rarity"):
        main(["eval", "--dataset", str(folder), "--rarities", "obscure"])
    with pytest.raises(SystemExit, match="unknown training setting"):
        train_config({"flavour": "1"})


def test_on_validation_measures_the_validation_split_not_the_test_split(tmp_path, capsys):
    """`--on validation` gives the figures of the validation split carved from the training likes
    (to choose a setting by them), computed as for the test split; it cannot be combined with --tune."""
    from evaluation.baselines import BASELINES
    from evaluation.protocol import SEED

    folder = tiny_dataset(tmp_path / "tiny")
    runs = {}
    for on in ("test", "validation"):
        assert main(["eval", "--dataset", str(folder), "--methods", "itemknn", "--rarities", "any", "--on", on,
                     "--json"]) == 0
        runs[on] = json.loads(capsys.readouterr().out)[0]
    dataset = Dataset.load(folder)
    validation = make_split(*dataset.likes(), seed=SEED).validation(SEED + 1)
    method = BASELINES["itemknn"]
    params = search.read_chosen("readme", dataset.fingerprint()).get("itemknn") or method.grid[0]
    expected = evaluate_scorers({"itemknn": method.fit(validation, params)}, validation, ["any"])["itemknn"]["any"]
    assert runs["validation"]["ndcg"] == pytest.approx(expected["ndcg"])
    assert runs["validation"]["ndcg"] != pytest.approx(runs["test"]["ndcg"])
    with pytest.raises(SystemExit, match="--tune"):
        main(["eval", "--dataset", str(folder), "--methods", "itemknn", "--on", "validation", "--tune"])


def test_train_config_converts_strings():
    config = train_config({"dim": "16", "lr": "0.05", "like_threshold": "none", "amp": "false",
                                    "sampler": "uniform"})
    assert (config.dim, config.lr, config.like_threshold, config.amp, config.sampler) == (16, 0.05, None, False, "uniform")
    assert config.val_readers == 0  # every method sees the same training likes


def test_skipgram_trains_on_the_training_split(tmp_path, capsys):
    pytest.importorskip("torch")
    folder = tiny_dataset(tmp_path / "tiny")
    assert main(["eval", "--dataset", str(folder), "--methods", "skipgram,popularity", "--rarities", "any",
                 "--model-config", "dim=8", "--model-config", "epochs=40", "--model-config", "batch_size=256",
                 "--model-config", "lr=0.05", "--json"]) == 0
    rows = {r["method"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["skipgram"]["recall"] > rows["popularity"]["recall"]


def test_missing_model_folder_is_a_clear_error(tmp_path):
    folder = tiny_dataset(tmp_path / "tiny")
    with pytest.raises(SystemExit, match="rarereads eval: .*not a model folder"):
        main(["eval", "--dataset", str(folder), "--methods", "popularity", "--model", str(tmp_path / "nope")])
    with pytest.raises(SystemExit, match="rarereads eval: .*not a rarereads dataset"):
        main(["eval", "--dataset", str(tmp_path / "nothing"), "--methods", "popularity"])


def test_served_equals_the_plain_evaluation_without_diversity(tmp_path, monkeypatch):
    """`--served` asks Engine.recommend reader by reader; with the per-author and per-series
    limits off it must measure what the plain evaluation measures, at every rarity."""
    pytest.importorskip("torch")
    from train.train import train as trainer

    dataset = Dataset.load(tiny_dataset(tmp_path / "tiny"))
    split = make_split(*dataset.likes(), seed=0)
    from train.data import prepare_data

    ours = OurModels(dataset)
    params = {"dim": 8, "epochs": 30, "colike_min_likes": 2}
    config = ours.config("elsa", params)
    data = training_dataset(split, dataset)
    folder = trainer(config, data, tmp_path / "model", checkpoint_dir=tmp_path / "checkpoints", progress=False)
    plain = evaluate_scorers({"elsa": ours.fit("elsa", split, params)}, split, RARITIES, support_shares=True)["elsa"]
    served = served_metrics(folder, split, prepare_data(data, config).catalogue_ids, RARITIES,
                            rules=[r for r in SKIP_REASONS if r != "diversity"])
    for rarity in RARITIES:
        for column in COLUMNS[2:] + ("support0_share", "support1_share"):
            assert served[rarity][column] == pytest.approx(plain[rarity][column], nan_ok=True), (rarity, column)
        assert served[rarity]["skipped_kind"] == 0 and served[rarity]["skipped_language"] == 0
    # Readers shared among processes get the lists one process gives them.
    kept = {}
    shared = served_metrics(folder, split, prepare_data(data, config).catalogue_ids, ["rare"],
                            rules=[r for r in SKIP_REASONS if r != "diversity"], workers=2, lists=kept)
    assert shared["rare"] == pytest.approx(served["rare"], nan_ok=True)
    # The lists kept are the lists measured, reader by reader.
    truth_row = np.searchsorted(split.readers, split.test_user)
    per_reader = reader_metrics(kept["rare"], truth_row, split.test_work, split.train_likes())
    values, where = per_reader["recall"]
    assert kept["rare"].shape == (len(split.readers), 20) and values[where].mean() == pytest.approx(served["rare"]["recall"])
    # Processes that cannot start (a calling script without a main guard): served in this one.
    import evaluation.served

    class Broken(evaluation.served.ProcessPoolExecutor):
        def map(self, *args, **kwargs):
            raise evaluation.served.BrokenProcessPool("cannot start")

    monkeypatch.setattr(evaluation.served, "ProcessPoolExecutor", Broken)
    alone = served_metrics(folder, split, prepare_data(data, config).catalogue_ids, ["rare"],
                           rules=[r for r in SKIP_REASONS if r != "diversity"], workers=2)
    assert alone["rare"] == pytest.approx(served["rare"], nan_ok=True)
    # What the rules did: under `rare` every pick rests on at least one co-reader.
    assert served["rare"]["support0_share"] == 0 and 0 <= served["rare"]["support1_share"] <= 1
    assert plain["any"]["recall"] > 0 and plain["rare"]["recall"] > 0


def test_a_higher_support_floor_leaves_fewer_thinly_supported_picks(tmp_path):
    """tools.floors: the floor study behind `rare`'s min_support (BENCHMARKS.md)."""
    pytest.importorskip("torch")
    from tools.floors import floors

    dataset = Dataset.load(tiny_dataset(tmp_path / "tiny"))
    rows = floors(dataset, "skipgram", (0, 1, 2))
    assert list(rows) == ["any", "rare, floor 0", "rare, floor 1", "rare, floor 2"]
    assert rows["rare, floor 1"]["support0_share"] == 0
    assert rows["rare, floor 2"]["support0_share"] == 0 == rows["rare, floor 2"]["support1_share"]


def test_chosen_settings_skip_the_search(tmp_path, capsys, caplog):
    """`--chosen` gives settings to use: that method is fitted once, with them."""
    folder = tiny_dataset(tmp_path / "tiny")
    with caplog.at_level("INFO", logger="evaluation"):
        assert main(["eval", "--dataset", str(folder), "--methods", "itemknn,popularity", "--rarities", "any",
                     "--chosen", '{"itemknn": {"alpha": 0.75}}', "--json"]) == 0
    assert "itemknn: uses {'alpha': 0.75}" in caplog.text and "validation objective" not in caplog.text
    assert [r["method"] for r in json.loads(capsys.readouterr().out)] == ["itemknn", "popularity"]
    with pytest.raises(SystemExit, match="not evaluated: ease"):
        main(["eval", "--dataset", str(folder), "--methods", "popularity", "--chosen", '{"ease": {"lambda": 1}}'])
    with pytest.raises(SystemExit, match="not JSON"):
        main(["eval", "--dataset", str(folder), "--methods", "popularity", "--chosen", "{nope"])


def test_recorded_choices_are_reused_and_tune_records_new_ones(tmp_path, monkeypatch, caplog, capsys):
    """Without --tune the choices in evaluation/chosen.json are used (no search); --tune searches
    every grid on the validation split and records what it chose, with each point's objective."""
    folder = tiny_dataset(tmp_path / "tiny")
    chosen = tmp_path / "chosen.json"
    monkeypatch.setattr(search, "CHOSEN", chosen)
    with caplog.at_level("INFO", logger="evaluation"):
        assert main(["eval", "--dataset", str(folder), "--methods", "itemknn", "--rarities", "any,rare", "--tune",
                     "--json"]) == 0
    assert not chosen.exists()  # a search of some methods only records nothing (the file holds every method's)
    monkeypatch.setattr("evaluation.cli.methods", lambda: ("itemknn",))
    with caplog.at_level("INFO", logger="evaluation"):
        assert main(["eval", "--dataset", str(folder), "--methods", "itemknn", "--rarities", "any,rare", "--tune",
                     "--json"]) == 0
    assert "validation objective" in caplog.text
    recorded = json.loads(chosen.read_text())
    assert recorded["readme"]["itemknn"]["params"] in [{"alpha": 0.5}, {"alpha": 0.75}]
    assert len(recorded["readme"]["itemknn"]["validation"]) == 2  # both grid points, with their objectives
    assert "pop_recall" in recorded["_searches"]["readme"]["objective"]
    caplog.clear()
    searched = recorded["readme"]["itemknn"]["params"]
    recorded["readme"]["itemknn"]["params"] = {"alpha": 0.75}
    chosen.write_text(json.dumps(recorded))
    with caplog.at_level("INFO", logger="evaluation"):
        assert main(["eval", "--dataset", str(folder), "--methods", "itemknn", "--rarities", "any", "--json"]) == 0
    assert "validation objective" not in caplog.text and "itemknn: uses {'alpha': 0.75}" in caplog.text
    # Searching one method again replaces its choice when the others were searched the same way ...
    monkeypatch.setattr("evaluation.cli.methods", lambda: ("itemknn", "popularity"))
    recorded["readme"]["popularity"] = {"params": {}, "validation": []}
    chosen.write_text(json.dumps(recorded))
    assert main(["eval", "--dataset", str(folder), "--methods", "itemknn", "--rarities", "any,rare", "--tune",
                 "--json"]) == 0
    again = json.loads(chosen.read_text())
    assert again["readme"]["itemknn"]["params"] == searched  # the hand-set choice is replaced by the search's
    assert again["readme"]["itemknn"]["validation"] == json.loads(json.dumps(
        recorded["readme"]["itemknn"]["validation"]))  # the same search found the same objectives
    assert again["readme"]["popularity"] == recorded["readme"]["popularity"] and again["_searches"] == recorded["_searches"]
    # ... and not when they were searched with another seed
    caplog.clear()
    with caplog.at_level("INFO", logger="evaluation"):
        assert main(["eval", "--dataset", str(folder), "--methods", "itemknn", "--rarities", "any,rare", "--tune",
                     "--seed", "3", "--json"]) == 0
    assert "not recorded" in caplog.text and json.loads(chosen.read_text()) == again
    other = tmp_path / "other"  # another dataset: the recorded choices are not its own, so it searches
    Dataset(*(getattr(Dataset.load(folder), f) for f in ("works", "user", "work")),
            np.full(len(Dataset.load(folder).user), 9.0, np.float32), 10).save(other)
    caplog.clear()
    with caplog.at_level("INFO", logger="evaluation"):
        assert main(["eval", "--dataset", str(other), "--methods", "itemknn", "--rarities", "any", "--json"]) == 0
    assert "validation objective" in caplog.text
    capsys.readouterr()


def test_ease_is_served_through_the_same_rules_and_each_rules_cost_is_measured(tmp_path, monkeypatch, capsys):
    """`--served ease` answers every reader through Engine.recommend with an EASE folder;
    `--rule-costs` adds a row per rule with that rule alone turned off."""
    monkeypatch.setattr(search, "CHOSEN", tmp_path / "none.json")
    folder = tiny_dataset(tmp_path / "tiny")
    assert main(["eval", "--dataset", str(folder), "--methods", "ease", "--rarities", "rare", "--served", "ease",
                 "--served-rarities", "rare", "--rule-costs", "--chosen", '{"ease": {"lambda": 10}}', "--json"]) == 0
    rows = {r["method"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"ease", "ease (served)", *(f"ease (served, no {rule})" for rule in SKIP_REASONS)}
    served = rows["ease (served)"]
    assert served["recall"] > 0 and served["support0_share"] == 0  # under rare, every pick has a co-reader
    assert rows["ease (served, no support)"]["skipped_support"] == 0 < served["skipped_support"] + 1
    assert rows["ease (served, no diversity)"]["skipped_diversity"] == 0


def test_the_served_ease_folder_is_the_plain_rows_ease(tmp_path):
    """The served EASE folder written from the plain rows' fitted weights is the one fitting them again writes."""
    from evaluation.baselines import BASELINES, write_ease_folder

    dataset = Dataset.load(tiny_dataset(tmp_path / "tiny"))
    split = make_split(*dataset.likes(), seed=0)
    keep, weights = BASELINES["ease"].fit(split, {"lambda": 10.0}).weights
    data = training_dataset(split, dataset)
    fresh = write_ease_folder(tmp_path / "fresh", data, 10.0)
    profile = OurModels(dataset).profile_table(split)  # the plain rows' profiles, carried once
    reused = write_ease_folder(tmp_path / "reused", data, 10.0, fitted=(split.work_ids[keep], weights),
                               profile=profile)
    assert np.array_equal(fresh, reused)
    for name in ("colike_indptr.npy", "colike_works.npy", "colike_weights.npy", "profile.npy"):
        np.testing.assert_allclose(np.load(tmp_path / "fresh" / name), np.load(tmp_path / "reused" / name), rtol=1e-6)


def test_the_served_elsa_folder_is_the_plain_rows_model(tmp_path):
    """The served folder written from the plain rows' fitted parts is the one the trainer writes when it
    fits them again."""
    pytest.importorskip("torch")
    from evaluation.served import ServedFolders
    from train.train import train as trainer

    dataset = Dataset.load(tiny_dataset(tmp_path / "tiny"))
    split = make_split(*dataset.likes(), seed=0)
    ours = OurModels(dataset)
    params = {"dim": 8, "epochs": 30, "colike_min_likes": 2}
    ours.fit("elsa", split, params)
    folders = ServedFolders(split, dataset)
    try:
        reused, _ = folders.folder("elsa", params, ours)
        fresh = trainer(ours.config("elsa", params), training_dataset(split, dataset), tmp_path / "fresh",
                        checkpoint_dir=tmp_path / "checkpoints", progress=False)
        for name in ("colike_indptr.npy", "colike_works.npy", "colike_weights.npy", "profile.npy"):
            np.testing.assert_allclose(np.load(reused / name), np.load(fresh / name), rtol=1e-6)
        with np.load(reused / "vectors.npz") as a, np.load(fresh / "vectors.npz") as b:
            assert sorted(a.files) == sorted(b.files)
            for name in a.files:
                np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-6)
    finally:
        folders.close()


def test_eases_cholesky_inverse_is_the_inverse_and_refuses_a_matrix_that_is_not_positive_definite():
    from evaluation.baselines import spd_inverse

    rng = np.random.default_rng(0)
    x = rng.random((900, 301)).astype(np.float32)
    gram = x.T @ x + 5 * np.eye(301, dtype=np.float32)
    inverse = spd_inverse(gram.copy(), block=64)  # blocks that do not divide the size
    np.testing.assert_allclose(inverse @ gram, np.eye(301), atol=1e-3)
    np.testing.assert_array_equal(inverse, inverse.T)
    with pytest.raises(np.linalg.LinAlgError):
        spd_inverse(-gram)
