"""tools.synth: the synthetic catalogue keeps the fitted long tail and its planted clusters."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.dataset import Dataset
from engine.normalize import fold
from tools.synth import (ACTIVITY, POPULARITY, SPELLINGS, Curve, SynthConfig, curve_stats, fit_curve, generate,
                         gini, head_share)

DATA = Path(__file__).resolve().parent.parent / "data" / "bookcrossing"


@pytest.fixture(scope="module")
def synth():
    # A 1/140 slice of Lit2Vec2's shape: works, readers and likes in its ratios.
    return generate(SynthConfig(works=20_000, readers=21_200, likes=707_000, seed=3), log=lambda _: None)


def test_curve_counts_meet_total_floor_and_cap():
    counts = POPULARITY.counts(10_000, 350_000, cap=2_000)
    assert counts.sum() == 350_000
    assert counts.min() >= 1 and counts.max() <= 2_000
    assert np.all(np.diff(counts) <= 0)  # rank order: most liked first
    with pytest.raises(ValueError):
        POPULARITY.counts(10, 5)


def test_gini_and_head_share_known_answers():
    assert gini(np.ones(100)) == pytest.approx(0.0)
    assert gini(np.r_[np.zeros(99), 1.0]) == pytest.approx(0.99)
    assert head_share(np.r_[np.ones(99), 101.0], 0.01) == pytest.approx(0.505)


def test_fit_recovers_a_known_curve():
    truth = Curve(alpha=0.8, beta=2e-4, delta=1.5)
    fitted = fit_curve(truth.counts(50_000, 2_000_000))
    assert fitted.alpha == pytest.approx(truth.alpha, abs=0.05)
    assert fitted.delta == pytest.approx(truth.delta, abs=0.3)


@pytest.mark.skipif(not (DATA / "ratings.npz").exists(), reason="shipped Book-Crossing data missing")
def test_fitted_constants_reproduce_bookcrossing():
    """The constants in tools.synth are the fit to the shipped likes: same Gini and head share."""
    user, work = Dataset.load(DATA).likes()
    for ids, curve in ((work, POPULARITY), (user, ACTIVITY)):
        real = np.bincount(ids)
        real = real[real > 0]
        model = curve.counts(len(real), int(real.sum()))
        assert gini(model) == pytest.approx(gini(real), abs=0.02)
        assert head_share(model, 0.10) == pytest.approx(head_share(real, 0.10), abs=0.03)


def test_generated_likes_follow_the_target_curves(synth):
    stats = synth.stats
    assert stats["likes"] >= 0.97 * 707_000  # repeats that could not be re-paired are few
    for name in ("popularity", "activity"):
        got, want = stats[name], stats[f"{name}_target"]
        assert got["gini"] == pytest.approx(want["gini"], abs=0.03), name
        assert got["top1pct_share"] == pytest.approx(want["top1pct_share"], abs=0.04), name
        assert got["top10pct_share"] == pytest.approx(want["top10pct_share"], abs=0.03), name
    # The long tail is there: most works far below the mean, a head far above it.
    assert stats["popularity"]["median"] < stats["popularity"]["mean"] / 2
    assert stats["popularity"]["max"] > 50 * stats["popularity"]["median"]


def test_dataset_arrays_are_compact_unique_and_sorted(synth):
    d = synth.dataset
    assert d.user.dtype == np.int32 and d.work.dtype == np.int32 and d.rating.dtype == np.float32
    key = d.user.astype(np.int64) * len(d.works) + d.work
    assert np.all(np.diff(key) > 0)  # sorted by reader then work, no repeated pair
    assert len(d.likes()[0]) == len(d.user)  # every rating is a like
    assert d.work.max() < len(d.works) and d.user.max() < d.n_users
    assert synth.clusters.dtype == np.int16 and len(synth.clusters) == len(d.works)


def test_planted_clusters_are_recoverable(synth):
    """A work's most co-liked neighbour mostly shares its cluster (chance: about 1 in k)."""
    from scipy import sparse

    d, clusters = synth.dataset, synth.clusters
    k = int(clusters.max()) + 1
    x = sparse.csr_matrix((np.ones(len(d.user), np.float32), (d.user, d.work)), shape=(d.n_users, len(d.works)))
    rng = np.random.default_rng(0)
    likes = np.bincount(d.work, minlength=len(d.works))
    sample = rng.choice(np.flatnonzero(likes >= 5), size=300, replace=False)
    co = (x[:, sample].T @ x).toarray()
    co[np.arange(len(sample)), sample] = 0
    # Lift, not raw counts: the raw nearest neighbour of anything is a bestseller.
    lift = co / np.maximum(likes, 1)[None, :]
    lift[:, likes < 5] = 0
    same = clusters[lift.argmax(1)] == clusters[sample]
    assert same.mean() > 0.6 > 10 / k
    # Readers mostly like works of a few clusters.
    top_share = []
    for u in rng.choice(np.flatnonzero(np.bincount(d.user) >= 20), size=200, replace=False):
        c = np.bincount(clusters[d.work[d.user == u]], minlength=k)
        top_share.append(np.sort(c)[::-1][:3].sum() / c.sum())
    assert np.median(top_share) > 0.5


def test_titles_are_hard_to_match(synth):
    d, parent = synth.dataset, synth.parent
    titles, authors = d.works.title, d.works.author
    assert all(titles) and all(authors)
    sequels = np.flatnonzero(synth.sequel)
    assert len(sequels) > 0.02 * len(titles)
    assert all(fold(titles[parent[i]]).removeprefix("the ") in fold(titles[i]) for i in sequels)
    assert all(authors[i] == authors[parent[i]] for i in sequels)
    british = [i for i in np.flatnonzero((parent >= 0) & ~synth.sequel) if any(b in titles[i] for b in SPELLINGS.values())
               and not any(b in titles[parent[i]] for b in SPELLINGS.values())]
    assert british, "some twins differ only by spelling (Harbor / Harbour)"
    folded = [fold(t) for t in titles]
    assert len(set(folded)) > 0.8 * len(folded)  # mostly distinct, with some reused titles


def test_save_writes_a_dataset_the_trainer_reads(synth, tmp_path):
    small = generate(SynthConfig(works=500, readers=600, likes=6_000), log=lambda _: None)
    small.save(tmp_path / "d")
    loaded = Dataset.load(tmp_path / "d")
    assert len(loaded.works) == 500 and loaded.n_users == 600
    assert np.array_equal(loaded.user, small.dataset.user)
    assert loaded.works.title == small.dataset.works.title
    assert np.array_equal(np.load(tmp_path / "d" / "clusters.npy"), small.clusters)
    assert curve_stats(np.bincount(loaded.work))["n"] <= 500
