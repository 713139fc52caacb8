"""tools.blindread: the lists a judge sees are unlabelled and shuffled, and un-blinding credits the right run."""
from __future__ import annotations

import json

import pytest

from tools import blindread


SEEDS = [f"seed {i}|author {i}" for i in range(blindread.SEEDS_DRAWN)]


def _run(path, name, support):
    seeds = {seed: {"seed": seed, "picks": [{"label": f"{name} pick {i} for {seed}", "likes": 3, "support": support,
                                              "reason": ""} for i in range(blindread.PICKS)]}
             for seed in SEEDS}
    path.write_text(json.dumps({"model": name, "rarity": "rare", "draw": 5, "seeds": seeds}))
    return path


def test_lists_hide_the_runs_and_score_unblinds_them(tmp_path):
    runs = [_run(tmp_path / f"{name}.json", name, support) for name, support in
            (("good", 4), ("middling", 1), ("poor", 0))]
    blindread.lists(runs, tmp_path / "read", seed=3)
    text = (tmp_path / "read" / "lists.md").read_text()
    assert "good.json" not in text and "List C:" in text and "order" in text
    key = json.loads((tmp_path / "read" / "key.json").read_text())
    assert len({tuple(entry["lists"].values()) for entry in key.values()}) > 1  # shuffled per seed, not one fixed order
    # The judge: "good" scores 2 everywhere and comes first; "poor" scores 0 and comes last.
    fit = {"good.json": 2, "middling.json": 1, "poor.json": 0}
    scores = {}
    for seed, entry in key.items():
        by_name = {letter: path.rsplit("/", 1)[-1] for letter, path in entry["lists"].items()}
        scores[entry["heading"]] = {letter: [fit[name]] * blindread.PICKS for letter, name in by_name.items()}
        scores[entry["heading"]]["order"] = sorted(by_name, key=lambda letter: -fit[by_name[letter]])
    (tmp_path / "scores.json").write_text(json.dumps(scores))
    report = blindread.score(tmp_path / "read" / "key.json", tmp_path / "scores.json")
    good, middling, poor = (report[str(path)] for path in runs)
    assert (good["mean_fit"], middling["mean_fit"], poor["mean_fit"]) == (2.0, 1.0, 0.0)
    assert poor["mismatch_share"] == 1.0 and good["mismatch_share"] == 0.0
    assert good["seeds_first"] == len(SEEDS) and middling["seeds_first"] == 0
    assert good["preferred_to"][str(runs[2])] == len(SEEDS) and poor["preferred_to"][str(runs[0])] == 0
    assert poor["picks_on_0_co_readers"] == len(SEEDS) * blindread.PICKS
    assert middling["picks_on_1_co_reader"] == len(SEEDS) * blindread.PICKS


def test_a_score_list_of_the_wrong_length_is_refused(tmp_path):
    runs = [_run(tmp_path / f"{name}.json", name, 1) for name in ("a", "b")]
    blindread.lists(runs, tmp_path / "read")
    key = json.loads((tmp_path / "read" / "key.json").read_text())
    scores = {seed: {"A": [1] * blindread.PICKS, "B": [1] * 3, "order": ["A", "B"]} for seed in key}
    (tmp_path / "scores.json").write_text(json.dumps(scores))
    with pytest.raises(ValueError, match="3 scores"):
        blindread.score(tmp_path / "read" / "key.json", tmp_path / "scores.json")


def test_judged_picks_are_tabulated_by_genre_class_and_co_readers():
    """Known answers: the rules' classes (own genre from fit 0.99, neighbouring from 0.5) and the
    co-reader bands, with each group's mean score and mismatch share."""
    rows = [{"fit": 1.0, "support": 1, "score": 2}, {"fit": 1.0, "support": 2, "score": 0},
            {"fit": 0.6, "support": 3, "score": 0}, {"fit": 0.6, "support": 4, "score": 1},
            {"fit": 0.6, "support": 7, "score": 2}, {"fit": 0.1, "support": 9, "score": 0},
            {"fit": float("nan"), "support": 3, "score": 1}]
    table = blindread.fit_table(rows)
    assert [(r["genre"], r["co_readers"], r["picks"], r["mean_fit"], r["mismatch_share"]) for r in table] == [
        ("own genre", "1-2", 2, 1.0, 0.5), ("neighbouring", "3-4", 2, 0.5, 0.5), ("neighbouring", "5+", 1, 2.0, 0.0),
        ("another", "5+", 1, 0.0, 1.0), ("unknown", "3-4", 1, 1.0, 0.0)]


def test_the_ease_folder_is_never_written_where_the_chat_serves_from(tmp_path):
    """`rarereads chat` serves the newest folder in the models folder: EASE written there would answer
    the reader instead of rarereads' model. The tool refuses before reading anything."""
    models = tmp_path / "models"
    models.mkdir()
    with pytest.raises(SystemExit, match="models folder"):
        blindread.ease_folder(models / "ease-folder", tmp_path / "no-dataset", 100.0, models_dir=models)
    assert not (models / "ease-folder").exists()


def test_a_mixed_draw_takes_only_seeds_of_two_genres():
    """`--mixed`: the seeds are drawn among the most-liked works whose profile has two genres of
    `OWN_SHARE` or more, never among single-genre works; the same draw gives the same seeds."""
    from types import SimpleNamespace

    import numpy as np

    from engine import profiles as P

    n = 60
    genres = np.zeros((n, P.N_GENRES))
    genres[:, P.INDEX["literary"]] = 1.0
    two = np.arange(0, n, 2)  # every second work: literary and science fiction
    genres[two, P.INDEX["literary"]], genres[two, P.INDEX["scifi"]] = 0.7, 0.3
    genres[10, [P.INDEX["literary"], P.INDEX["scifi"]]] = [0.9, 0.1]  # a trace of a second genre: single
    audience = np.tile([1.0, 0.0, 0.0], (n, 1))
    engine = SimpleNamespace(likes=np.arange(n, 0, -1), profiles=P.Profiles.from_array(P.encode(genres, audience)))
    drawn = blindread.draw_seeds(engine, 7, n=8, among=40, mixed=True)
    assert len(drawn) == 8 and all(i % 2 == 0 and i < 40 and i != 10 for i in drawn)
    assert drawn == blindread.draw_seeds(engine, 7, n=8, among=40, mixed=True)
    assert any(i % 2 for i in blindread.draw_seeds(engine, 7, n=8, among=40))
