"""The generator: taste clusters, then likes paired so that both fitted curves hold exactly.

Steps 2 and 3 of the method in the package docstring (`tools.synth`); `curves` gives step
1's counts and `names` step 4's titles.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from engine.dataset import Dataset, Works

from .curves import ACTIVITY, POPULARITY, curve_stats
from .names import name_works


@dataclass
class SynthConfig:
    """Size and shape of a synthetic catalogue."""

    works: int = 2_829_853
    readers: int = 3_000_000
    likes: int = 100_000_000
    clusters: int = 0  # taste clusters; 0 = about 2/3 sqrt(works)
    noise: float = 0.1  # share of a reader's likes drawn from any cluster
    max_favourites: int = 8  # favourite clusters of heavy readers (more where one cluster is too small)
    series_share: float = 0.06  # works that are sequels of another work (same author, cluster)
    twin_share: float = 0.02  # works whose title is a near-twin of another work's
    seed: int = 0

    def n_clusters(self) -> int:
        return self.clusters or max(4, int(math.sqrt(self.works) * 2 / 3))


@dataclass
class Synthetic:
    """A generated dataset with its planted truth."""

    dataset: Dataset
    clusters: np.ndarray  # int16 [works] taste cluster of each work
    parent: np.ndarray  # int32 [works] work this one is a sequel or twin of, -1 if none
    sequel: np.ndarray  # bool [works] a sequel of `parent` (else, with a parent, a near-twin title)
    stats: dict

    def save(self, folder: str | Path, compress: bool = True) -> Path:
        """Write the dataset folder plus clusters.npy, parents.npy and synth.json.

        parents.npy holds the parent of each sequel, `-2 - parent` for a near-twin and -1 else.
        `compress=False`: as `Dataset.save` (at 100M likes saving is otherwise the slowest step).
        """
        folder = self.dataset.save(folder, compress=compress)
        np.save(folder / "clusters.npy", self.clusters)
        np.save(folder / "parents.npy", np.where(self.sequel, self.parent, -2 - self.parent))
        (folder / "synth.json").write_text(json.dumps(self.stats, indent=2) + "\n")
        return folder


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """`np.unique` of a large 1-D integer array, by sorting (numpy 2's hash-based unique is ~10x slower)."""
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


def _pack_sort(group: np.ndarray, payload: np.ndarray, rng: np.random.Generator, n_groups: int,
               n_payload: int) -> np.ndarray:
    """`payload` ordered by group, shuffled within each group (one int64 sort of packed keys)."""
    g_bits = max(1, int(n_groups - 1).bit_length())
    p_bits = max(1, int(n_payload - 1).bit_length())
    r_bits = 63 - g_bits - p_bits
    if r_bits < 8:
        raise ValueError("too many groups or items to pack into 63 bits")
    keys = group.astype(np.int64) << (r_bits + p_bits)
    keys |= rng.integers(0, 1 << r_bits, size=len(group), dtype=np.int64) << p_bits
    keys |= payload
    keys.sort()
    keys &= (1 << p_bits) - 1
    return keys.astype(np.int32)


def _swap_repeats(user: np.ndarray, work: np.ndarray, rng: np.random.Generator, n_works: int,
                  rounds: int = 12, chunk: int = 1 << 20) -> int:
    """Swap works between pairs of one cluster until no reader has a work twice; returns swaps.

    Swapping the works of two pairs keeps every reader's and every work's count, and the
    cluster, so both curves stay exact. Large groups go in chunks of `chunk` pairs; repeats
    left after `rounds` (or across chunks) are handled by the caller.
    """
    swaps = 0
    for lo in range(0, len(user), chunk):
        u, w = user[lo:lo + chunk], work[lo:lo + chunk]
        bits = max(1, int(len(u) - 1).bit_length())
        for _ in range(rounds):
            # One sort of (pair, position) keys finds repeats ~8x faster than an argsort.
            keys = ((u.astype(np.int64) * n_works + w) << bits) | np.arange(len(u), dtype=np.int64)
            keys.sort()
            pair = keys >> bits
            repeat = keys[1:][pair[1:] == pair[:-1]] & ((1 << bits) - 1)
            if not len(repeat):
                break
            partner = rng.integers(0, len(w), len(repeat))
            # Each position in at most one swap, or a work would be copied over another.
            free = np.ones(len(w), dtype=bool)
            free[repeat] = False
            ok = free[partner]
            repeat, partner = repeat[ok], partner[ok]
            partner, first = np.unique(partner, return_index=True)
            repeat = repeat[first]
            w[repeat], w[partner] = w[partner], w[repeat].copy()
            swaps += len(repeat)
    return swaps


def _reader_stub_clusters(rng: np.random.Generator, activity: np.ndarray, mass: np.ndarray, noise: float,
                          cfg: SynthConfig, chunk: int = 1 << 24) -> tuple[np.ndarray, np.ndarray]:
    """Reader of each like-to-give and the cluster it goes to (`len(mass)` = anywhere).

    Returns int32 readers (grouped by reader) and int16 clusters.
    """
    n_readers, k = len(activity), len(mass)
    # Heavy readers spread over more clusters: 1 at one like, 2 at ~16, 3 at ~48 ..., and
    # never more than 2% of an average cluster's likes in one cluster (else repeats).
    n_fav = np.minimum(cfg.max_favourites, 1 + np.floor(np.log2(1 + activity / 16)))
    n_fav = np.minimum(k, np.maximum(n_fav, np.ceil(activity / (0.02 * mass.sum() / k)))).astype(np.int64)
    cum = np.cumsum(mass / mass.sum())
    fav = np.searchsorted(cum, rng.random((n_readers, int(n_fav.max()))), side="right").clip(0, k - 1)
    fav = fav.astype(np.int16)
    reader = np.repeat(np.arange(n_readers, dtype=np.int32), activity)
    cluster = np.empty(len(reader), dtype=np.int16)
    for start in range(0, len(reader), chunk):
        r = reader[start:start + chunk]
        u = rng.random(len(r), dtype=np.float32)
        slot = (n_fav[r] * u * u).astype(np.int64)  # the first favourite gets the most
        c = fav[r, slot]
        noisy = rng.random(len(r), dtype=np.float32) < noise
        c[noisy] = k
        cluster[start:start + chunk] = c
    return reader, cluster


def generate(cfg: SynthConfig, log=print) -> Synthetic:
    """Generate a synthetic catalogue (see the module docstring for the method)."""
    start = time.perf_counter()
    rng = np.random.default_rng(cfg.seed)
    n_w, n_r, n_l, k = cfg.works, cfg.readers, cfg.likes, cfg.n_clusters()
    if n_l < max(n_w, n_r):
        raise ValueError("need at least one like per work and per reader")

    # Curves: counts by rank, then ranks dealt to random ids.
    popularity = POPULARITY.counts(n_w, n_l, cap=max(1, n_r // 4))[rng.permutation(n_w)]
    activity = ACTIVITY.counts(n_r, n_l, cap=max(1, n_w // 10))[rng.permutation(n_r)]

    # Clusters of uneven size; sequels and twins join their parent's cluster.
    sizes = rng.lognormal(0.0, 0.5, k)
    cluster = rng.choice(k, size=n_w, p=sizes / sizes.sum()).astype(np.int16)
    parent = np.full(n_w, -1, dtype=np.int32)
    role = rng.random(n_w)
    is_series = role < cfg.series_share
    is_twin = (role >= cfg.series_share) & (role < cfg.series_share + cfg.twin_share)
    linked = np.flatnonzero(is_series | is_twin)
    parent[linked] = rng.integers(0, n_w, len(linked))
    parent[parent == np.arange(n_w)] = -1
    parent[parent >= 0] = np.where(parent[parent[parent >= 0]] >= 0, -1, parent[parent >= 0])  # one level only
    has_parent = parent >= 0
    cluster[has_parent & is_series] = cluster[parent[has_parent & is_series]]
    log(f"curves and clusters: {time.perf_counter() - start:.1f} s")

    # Stubs: one per like on each side. Reader stubs go to a favourite cluster, or to the
    # pool `k` ("anywhere") as noise. A work cannot take more of its cluster's likes than a
    # quarter of the cluster's readers can give it (else it would be liked twice by them):
    # the rest of a bestseller's likes go to the pool too, as bestsellers cross genres.
    # Two passes: the first counts each cluster's readers, which caps the works; the second
    # chooses favourite clusters by what they can take after the caps.
    reader_stub, reader_group = _reader_stub_clusters(rng, activity, np.bincount(cluster, popularity, k), cfg.noise, cfg)
    seen = _sorted_unique(reader_group.astype(np.int64) * n_r + reader_stub)
    fans = np.bincount(seen // n_r, minlength=k + 1)[:k]
    del seen, reader_stub, reader_group
    local = np.minimum(popularity, np.maximum(1, fans[cluster] // 4))
    noise = max(cfg.noise, 1 - local.sum() / n_l)
    reader_stub, reader_group = _reader_stub_clusters(rng, activity, np.bincount(cluster, local, k), noise, cfg)
    readers = _pack_sort(reader_group, reader_stub, rng, k + 1, n_r)
    demand = np.bincount(reader_group, minlength=k + 1)
    del reader_stub, reader_group
    work_stub = np.repeat(np.arange(n_w, dtype=np.int32), popularity)
    first_stub = np.repeat(np.cumsum(popularity) - popularity, popularity)
    is_local = np.arange(n_l, dtype=np.int64) - first_stub < local[work_stub]
    del first_stub
    work_group = np.where(is_local, cluster[work_stub], k).astype(np.int16)
    works = _pack_sort(work_group, work_stub, rng, k + 1, n_w)
    supply = np.bincount(work_group, minlength=k + 1)
    del work_stub, work_group, is_local
    log(f"stubs sorted: {time.perf_counter() - start:.1f} s")

    # Pair inside each group; the surplus of either side pairs at random across groups.
    both = np.minimum(demand, supply)
    rank_r = np.arange(n_l, dtype=np.int64) - np.repeat(np.cumsum(demand) - demand, demand)
    in_r = rank_r < np.repeat(both, demand)
    del rank_r
    rank_w = np.arange(n_l, dtype=np.int64) - np.repeat(np.cumsum(supply) - supply, supply)
    in_w = rank_w < np.repeat(both, supply)
    del rank_w
    in_cluster = int(both[:k].sum())
    user = np.concatenate([readers[in_r], readers[~in_r]])
    leftover_w = works[~in_w]
    rng.shuffle(leftover_w)
    work = np.concatenate([works[in_w], leftover_w])
    del readers, works, in_r, in_w, leftover_w
    n_swapped = 0
    bounds = np.r_[0, np.cumsum(both), n_l]
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        n_swapped += _swap_repeats(user[lo:hi], work[lo:hi], rng, n_w)
    log(f"paired in clusters: {time.perf_counter() - start:.1f} s ({n_swapped:,} repeats swapped)")

    keys = user.astype(np.int64) * n_w + work
    del user, work
    keys.sort()
    repeat = np.flatnonzero(keys[1:] == keys[:-1]) + 1
    n_repaired = len(repeat)
    spare_u, spare_w = keys[repeat] // n_w, keys[repeat] % n_w
    keys = np.delete(keys, repeat)
    for _ in range(6):  # what swapping could not fix pairs again, anywhere
        if not len(spare_u):
            break
        rng.shuffle(spare_w)
        new = spare_u * n_w + spare_w
        order = np.argsort(new, kind="stable")
        new, spare_u, spare_w = new[order], spare_u[order], spare_w[order]
        pos = np.searchsorted(keys, new)
        clash = keys[np.minimum(pos, len(keys) - 1)] == new
        clash[1:] |= new[1:] == new[:-1]
        keys = np.insert(keys, pos[~clash], new[~clash])
        spare_u, spare_w = spare_u[clash], spare_w[clash]
    n_repaired -= len(spare_u)
    log(f"deduplicated: {time.perf_counter() - start:.1f} s ({n_repaired:,} repeats paired again, "
        f"{len(spare_u):,} dropped)")

    user = (keys // n_w).astype(np.int32)
    work = (keys - user.astype(np.int64) * n_w).astype(np.int32)
    del keys
    rating = np.where(rng.random(len(user), dtype=np.float32) < 0.55, 5.0, 4.0).astype(np.float32)

    titles, authors = name_works(rng, parent, has_parent & is_series, has_parent & is_twin)
    year = np.clip(np.rint(2024 - rng.gamma(1.6, 18.0, n_w)), 1800, 2024).astype(np.int32)
    catalogue = Works(titles, authors, year, [""] * n_w, [""] * n_w)  # no publishers or series
    log(f"titles and authors: {time.perf_counter() - start:.1f} s")

    realised_pop = np.bincount(work, minlength=n_w)
    realised_act = np.bincount(user, minlength=n_r)
    stats = {
        "config": asdict(cfg) | {"clusters": k},
        "curves": {"popularity": asdict(POPULARITY), "activity": asdict(ACTIVITY)},
        "likes": int(len(user)),
        "paired_in_cluster_share": round(in_cluster / n_l, 4),
        "reader_noise": round(float(noise), 4),
        "repeats_swapped": int(n_swapped),
        "repeats_paired_again": int(n_repaired),
        "repeats_dropped": int(len(spare_u)),
        "popularity_target": curve_stats(popularity),
        "popularity": curve_stats(realised_pop),
        "activity_target": curve_stats(activity),
        "activity": curve_stats(realised_act),
        "seconds": round(time.perf_counter() - start, 1),
    }
    meta = {"synthetic": True, "clusters": k, "seed": cfg.seed}
    dataset = Dataset(catalogue, user, work, rating, 5, f"synthetic (seed {cfg.seed})", n_r, meta)
    return Synthetic(dataset, cluster, parent, has_parent & is_series, stats)
