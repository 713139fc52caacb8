"""Rarity settings: known thresholds and ordering properties the engine and eval rely on."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from engine import rarity
from engine.rarity import DEEP_MAX_LIKES, POOL, RARITIES, adjust, allowed, get_rarity, head_mask, head_threshold


@pytest.fixture
def catalogue():
    rng = np.random.default_rng(1)
    likes = np.concatenate([rng.integers(50, 400, 20), rng.integers(0, 30, 680)])
    scores = rng.normal(size=(8, len(likes))).astype(np.float32)
    return scores, likes


def ranking(values: np.ndarray) -> np.ndarray:
    return np.argsort(-values, kind="stable")


def test_head_threshold_by_hand():
    # 20 likes in all; the top work alone holds 10 >= 20% of them.
    assert head_threshold(np.array([10, 5, 3, 1, 1, 0])) == 10
    # Ties at the boundary all count as head: 4 + 4 reach 20% of 40 only together with the third 4.
    likes = np.array([4, 4, 4] + [2] * 11 + [1] * 6 + [0])
    assert likes.sum() == 40 and head_threshold(likes) == 4
    assert head_mask(likes).sum() == 3
    assert head_mask(np.zeros(5, dtype=int)).sum() == 0


def test_head_holds_at_least_the_share(catalogue):
    _, likes = catalogue
    head = head_mask(likes)
    assert likes[head].sum() >= 0.2 * likes.sum()
    # ...and is the smallest set of whole like-count levels that does.
    smaller = likes > head_threshold(likes)
    assert likes[smaller].sum() < 0.2 * likes.sum()


def test_any_keeps_the_models_order(catalogue):
    scores, likes = catalogue
    keys = adjust(scores, likes, "any")
    for row in range(len(scores)):
        np.testing.assert_array_equal(ranking(keys[row])[:POOL], ranking(scores[row])[:POOL])
    # The key is -log(rank): the best work gets 0, the second -log 2, ...
    best = ranking(scores[0])
    np.testing.assert_allclose(keys[0, best[:3]], -np.log([1, 2, 3]))
    assert np.isfinite(keys).sum(axis=1).max() == min(POOL, len(likes))  # only the pool is ranked


def test_rare_never_lists_head_works_and_keeps_the_models_order_otherwise(catalogue):
    scores, likes = catalogue
    head = head_mask(likes)
    keys = adjust(scores, likes, "rare")
    assert np.isneginf(keys[:, head]).all()
    for row in range(len(scores)):
        tail = np.flatnonzero(~head)
        ranked = np.isfinite(keys[row]).sum()
        assert ranked == min(POOL, len(tail))
        np.testing.assert_array_equal(tail[ranking(keys[row, tail])][:ranked], tail[ranking(scores[row, tail])][:ranked])
    # Even a head work with the best raw score ranks below every tail work.
    boosted = scores.copy()
    boosted[:, np.flatnonzero(head)[0]] = 100.0
    boosted_keys = adjust(boosted, likes, "rare")[0]
    top = ranking(boosted_keys)[:np.isfinite(boosted_keys).sum()]
    assert len(top) and not head[top].any()


def test_balanced_penalises_popularity_on_ranks_by_hand():
    # Ranks 1..5 by score; likes 99, 10, 3, 0, 0.
    scores = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    likes = np.array([99, 10, 3, 0, 0])
    keys = adjust(scores, likes, "balanced")
    penalty = RARITIES["balanced"].penalty
    expected = -np.log(np.arange(1, 6)) - penalty * np.log1p(likes)
    np.testing.assert_allclose(keys, expected)
    # A work 100 times as liked must rank 10 times higher to stay ahead (penalty 0.5):
    # the 99-like work at rank 1 falls behind the unliked work at rank 4.
    assert keys[3] > keys[0]
    assert list(np.argsort(-keys, kind="stable")) == [3, 4, 2, 1, 0]


@pytest.mark.parametrize("name", list(RARITIES))
def test_rarity_is_scale_free(catalogue, name):
    """Adding a constant to a method's scores or multiplying them by a positive factor changes no list."""
    scores, likes = catalogue
    support = np.random.default_rng(3).integers(0, 3, scores.shape)
    reference = adjust(scores, likes, name, support=support)
    for scale, shift in [(1.0, 7.5), (0.001, 0.0), (250.0, -3.0), (3.0, 1e4)]:
        transformed = (scale * scores.astype(np.float64) + shift)
        np.testing.assert_array_equal(adjust(transformed, likes, name, support=support), reference)
        for row in range(len(scores)):
            np.testing.assert_array_equal(ranking(adjust(transformed, likes, name, support=support)[row])[:20],
                                          ranking(reference[row])[:20])


def test_support_floor_drops_picks_without_co_readers(catalogue):
    scores, likes = catalogue
    support = np.zeros(scores.shape, dtype=int)
    support[:, ::3] = 1  # a third of the works have one co-reader
    rare = adjust(scores, likes, "rare", support=support)
    assert RARITIES["rare"].min_support == 1
    assert np.isneginf(rare[support < 1]).all()
    assert np.isfinite(rare[(support >= 1) & ~head_mask(likes)[None, :]]).any()
    deep = adjust(scores, likes, "deep", support=support)  # deep needs no support
    assert np.isfinite(deep[:, (likes <= DEEP_MAX_LIKES) & (support[0] < 1)]).all()
    assert np.array_equal(adjust(scores, likes, "rare"), adjust(scores, likes, "rare", support=None))  # unknown: no floor


def test_deep_keeps_only_the_long_tail(catalogue):
    scores, likes = catalogue
    adjusted = adjust(scores, likes, "deep")
    kept = np.isfinite(adjusted[0])
    np.testing.assert_array_equal(kept, likes <= DEEP_MAX_LIKES)
    np.testing.assert_array_equal(allowed(likes, "deep"), kept)


def test_settings_narrow_from_any_to_deep(catalogue):
    _, likes = catalogue
    masks = [allowed(likes, name) for name in ("any", "balanced", "rare", "deep")]
    assert masks[0].all() and masks[1].all()
    assert (masks[3] <= masks[2]).all()  # the long tail lies outside the head


def test_candidates_give_the_same_order_as_the_whole_catalogue(catalogue):
    """The engine adjusts only its index hits; holding the best works, they order as eval's whole catalogue."""
    scores, likes = catalogue
    for name in RARITIES:
        keep = allowed(likes, name)
        for row in range(len(scores)):
            # The hits: the best POOL works the setting keeps, plus some it drops, in another order.
            best = np.flatnonzero(keep)[np.argsort(-scores[row, keep], kind="stable")[:POOL]]
            dropped = np.flatnonzero(~keep)[:50]
            candidates = np.random.default_rng(row).permutation(np.concatenate([best, dropped]))
            whole = adjust(scores[row], likes, name)
            part = adjust(scores[row, candidates], likes, name, candidates=candidates)
            # Equal keys (rank 2 with no likes is rank 1 with 3 likes under balanced) break on work ids.
            order_whole = ranking(whole)[:np.isfinite(whole).sum()]
            order_part = candidates[np.lexsort((candidates, -part))][:np.isfinite(part).sum()]
            np.testing.assert_array_equal(order_part, order_whole)


def test_explicit_threshold_matches_the_computed_one(catalogue):
    scores, likes = catalogue
    np.testing.assert_array_equal(adjust(scores, likes, "rare"),
                                  adjust(scores, likes, "rare", threshold=head_threshold(likes)))


def test_names():
    assert list(RARITIES) == ["any", "balanced", "rare", "deep"]
    assert get_rarity(None).name == rarity.DEFAULT_RARITY == "rare"
    assert get_rarity(" Deep ").name == "deep"
    assert get_rarity(RARITIES["any"]) is RARITIES["any"]
    with pytest.raises(ValueError, match="unknown rarity"):
        get_rarity("obscure")
    assert all(r.description for r in RARITIES.values())


def test_rarity_needs_no_torch():
    assert "torch" not in sys.modules or rarity.__dict__.get("torch") is None
    assert not hasattr(rarity, "torch")
