"""Rarity settings: known thresholds and ordering properties the engine and eval rely on."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from engine import rarity
from engine.rarity import DEEP_MAX_LIKES, RARITIES, adjust, allowed, get_rarity, head_mask, head_threshold


@pytest.fixture
def catalogue():
    rng = np.random.default_rng(1)
    likes = np.concatenate([rng.integers(50, 400, 20), rng.integers(0, 30, 480)])
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


def test_any_is_the_identity(catalogue):
    scores, likes = catalogue
    adjusted = adjust(scores, likes, "any")
    np.testing.assert_array_equal(adjusted, scores)
    assert adjusted is not scores  # a copy: callers may write into it
    for row in range(len(scores)):
        np.testing.assert_array_equal(ranking(adjusted[row]), ranking(scores[row]))


def test_rare_never_lists_head_works_and_orders_by_adjusted_score(catalogue):
    scores, likes = catalogue
    head = head_mask(likes)
    adjusted = adjust(scores, likes, "rare")
    assert np.isneginf(adjusted[:, head]).all()
    assert np.isfinite(adjusted[:, ~head]).all()
    penalty = RARITIES["rare"].penalty
    expected = scores[:, ~head] - penalty * np.log1p(likes[~head])
    np.testing.assert_allclose(adjusted[:, ~head], expected, atol=1e-5)
    # Even a head work with the best raw score ranks below every tail work.
    boosted = scores.copy()
    boosted[:, np.flatnonzero(head)[0]] = 100.0
    top = ranking(adjust(boosted, likes, "rare")[0])[: (~head).sum()]
    assert not head[top].any()


def test_penalty_prefers_the_less_liked_of_equal_scores():
    likes = np.array([1000, 50, 3, 0, 0, 0, 0, 0, 0, 0])
    scores = np.zeros(len(likes), dtype=np.float32)
    balanced = adjust(scores, likes, "balanced")
    assert balanced[0] < balanced[1] < balanced[2] < balanced[3]


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
    """The engine adjusts only its index hits; the order must match eval's over all works."""
    scores, likes = catalogue
    candidates = np.random.default_rng(2).choice(len(likes), size=120, replace=False)
    for name in RARITIES:
        whole = adjust(scores, likes, name)[:, candidates]
        part = adjust(scores[:, candidates], likes, name, candidates=candidates)
        np.testing.assert_array_equal(whole, part)


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
