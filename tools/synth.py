"""Synthetic catalogues at any size, shaped like real likes, with planted taste clusters.

`python -m tools.synth --works 2829853 --readers 3000000 --likes 100000000 --out DIR`
writes an `engine.dataset.Dataset` folder (`works.tsv.gz`, `ratings.npz`, `dataset.json`)
that the trainer reads unchanged, plus `clusters.npy` (int16 taste cluster of each work)
and `synth.json` (the settings and the realised statistics).

How it is made (every step vectorised numpy; see docs/SCALE.md for the fitted numbers):

1. Likes per work and likes per reader follow curves fitted to Book-Crossing likes
   (`fit_curve`): a Zipf–Mandelbrot law over the rank quantile q = rank / n with a
   tail cut-off, `c(q) = C (q + beta)^-alpha (1 - q)^delta`. The shape (alpha, beta,
   delta) is kept and C is set so that the counts sum to the target number of likes.
2. Works fall into taste clusters of uneven size. Each reader has a few favourite
   clusters (more for heavy readers); most of a reader's likes go to them, the rest
   (`noise`) to any cluster.
3. A configuration model pairs reader "stubs" (one per like a reader will give) with
   work "stubs" (one per like a work will get) inside each cluster, so both curves
   are met exactly; surplus stubs pair across clusters. Repeated (reader, work) pairs
   are re-paired a few times, then dropped.
4. Titles and authors come from word lists, with deliberate near-duplicates
   ("The Glass Harbor" / "The Glass Harbour" / "Glass Harbor"), series
   ("Glass Harbor: Book 2") and reused titles, so that matching is hard.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from engine.dataset import FORMAT_VERSION, Dataset, Works

# --- fitted curves ------------------------------------------------------------------------


@dataclass(frozen=True)
class Curve:
    """Rank-quantile curve `c(q) = C (q + beta)^-alpha (1 - q)^delta` (C set by the total)."""

    alpha: float  # power-law slope of the body
    beta: float  # head flattening, as a fraction of the ranks
    delta: float  # tail cut-off towards the least liked

    def shape(self, n: int) -> np.ndarray:
        """Relative expected counts of ranks 0..n-1 (float64, largest first, sums to 1)."""
        q = (np.arange(n, dtype=np.float64) + 0.5) / n
        log_c = -self.alpha * np.log(q + self.beta) + self.delta * np.log1p(-q)
        c = np.exp(log_c - log_c.max())
        return c / c.sum()

    def counts(self, n: int, total: int, cap: int | None = None) -> np.ndarray:
        """Integer counts of ranks 0..n-1, each in [1, cap], summing exactly to `total`.

        Scales the shape by the factor that meets the total after the floor of 1 and the
        cap (bisection), then hands out the rounding remainder by largest fraction.
        """
        cap = int(cap or total)
        if not n <= total <= n * cap:
            raise ValueError(f"cannot give {n:,} ranks between 1 and {cap:,} each for a total of {total:,}")
        shape = self.shape(n)
        lo, hi = 0.0, math.log(float(total) / shape.min() + 1.0)  # bisect the log of the factor
        for _ in range(200):
            mid = (lo + hi) / 2
            if np.clip(shape * math.exp(mid), 1, cap).sum() > total:
                hi = mid
            else:
                lo = mid
        exact = np.clip(shape * math.exp(lo), 1, cap)
        counts = np.floor(exact).astype(np.int64)
        short = int(total - counts.sum())
        if short > 0:
            room = counts < cap
            frac = np.where(room, exact - counts, -1.0)
            counts[np.argsort(-frac, kind="stable")[:short]] += 1
        return counts


# Fitted to Book-Crossing likes (data/bookcrossing, rating >= 7: 289,289 likes of 104,361
# works by 56,969 readers) with `python -m tools.synth --fit data/bookcrossing`.
POPULARITY = Curve(alpha=0.7267, beta=3.402e-4, delta=1.342)  # likes per work
ACTIVITY = Curve(alpha=0.6365, beta=1.755e-5, delta=3.3412)  # likes per reader


def fit_curve(counts: np.ndarray, min_beta: float | None = None) -> Curve:
    """Fit `Curve` to observed positive counts (any order) by least squares in log space.

    The fit compares log counts at 600 log-spaced ranks; an observed count k stands for
    anything in [k - 0.5, k + 0.5) (a 1 for anything below 1.5), so the flat tail of ones
    does not bend the curve. `beta` is kept at or above one rank of the fitted data
    (`min_beta`), so that the head does not extrapolate to absurd counts at larger n.
    """
    from scipy import optimize

    c = np.sort(np.asarray(counts, dtype=np.float64))[::-1]
    c = c[c > 0]
    n = len(c)
    min_beta = 1.0 / n if min_beta is None else min_beta
    idx = np.unique(np.geomspace(1, n, 600).astype(np.int64)) - 1
    q = (idx + 0.5) / n
    lo = np.where(c[idx] > 1, np.log(np.maximum(c[idx] - 0.5, 1e-9)), -np.inf)
    hi = np.log(c[idx] + 0.5)

    def loss(p: np.ndarray) -> float:
        alpha, log_beta, delta, log_c = p
        model = log_c - alpha * np.log(q + min_beta + np.exp(log_beta)) + delta * np.log1p(-q)
        miss = np.maximum(0.0, model - hi) + np.minimum(0.0, model - lo)
        return float((miss ** 2).sum())

    starts = [(a, b, d, 0.0) for a in (0.7, 1.0) for b in (-10.0, -7.0) for d in (0.0, 1.0)]
    best = min((optimize.minimize(loss, s, method="Nelder-Mead",
                                  options={"maxiter": 20000, "xatol": 1e-7, "fatol": 1e-10}) for s in starts),
               key=lambda r: r.fun)
    alpha, log_beta, delta, _ = best.x
    return Curve(round(float(alpha), 4), float(f"{min_beta + math.exp(log_beta):.4g}"), round(float(delta), 4))


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of a count vector (0 = even, towards 1 = concentrated)."""
    s = np.sort(np.asarray(counts, dtype=np.float64))
    n = len(s)
    if n == 0 or s.sum() == 0:
        return 0.0
    return float((2 * np.arange(1, n + 1) - n - 1) @ s / (n * s.sum()))


def head_share(counts: np.ndarray, fraction: float = 0.01) -> float:
    """Share of all likes held by the top `fraction` of items (at least one item)."""
    s = np.sort(np.asarray(counts, dtype=np.float64))[::-1]
    return float(s[: max(1, int(len(s) * fraction))].sum() / max(1.0, s.sum()))


def curve_stats(counts: np.ndarray) -> dict:
    """Summary of a count vector as written to synth.json and docs/SCALE.md."""
    c = np.asarray(counts)
    c = c[c > 0]
    return {"n": int(len(c)), "mean": round(float(c.mean()), 3), "median": float(np.median(c)),
            "share_of_ones": round(float((c == 1).mean()), 4), "top1pct_share": round(head_share(c, 0.01), 4),
            "top10pct_share": round(head_share(c, 0.10), 4), "gini": round(gini(c), 4),
            "p99": float(np.quantile(c, 0.99)), "max": int(c.max())}


# --- word lists -----------------------------------------------------------------------------

ADJECTIVES = (
    "Glass Silver Golden Hidden Silent Broken Burning Crimson Distant Endless Fallen Forgotten Frozen "
    "Gentle Hollow Iron Last Lonely Lost Midnight Northern Painted Quiet Restless Scarlet Secret Shattered "
    "Sleeping Southern Stolen Strange Summer Sunken Tender Wandering Wild Winter Wooden Bitter Bright Cold "
    "Dark Deep Drowned Eastern Empty Faded First Fragile Green Grey Heavy High Invisible Last Little Long "
    "Narrow Nameless Old Pale Paper Perfect Quiet Red Rising Salt Second Shadow Small Stone Velvet White "
    "Wicked Yellow Amber Ashen Black Blue Brass Copper Crooked Curious Dancing Dreaming Dying Emerald "
    "Falling Fierce Final Glittering Haunted Hungry Idle Ivory Jade Laughing Lucky Marble Merciful Moonlit "
    "Obsidian Orchard Patient Proud Radiant Ragged Rusted Sacred Savage Shining Singing Starless Sudden "
    "Thirteenth Twilight Unspoken Vanishing Violet Waking Weeping Whispering Winged Wounded"
).split()
NOUNS = (
    "Harbor Garden House River Mountain Forest Island Kingdom Library Lighthouse Map Mirror Orchard Palace "
    "Road Sea Shore Sky Song Star Storm Tower Valley Window Winter Witness Wolf Year Bridge Castle City "
    "Clock Crown Daughter Door Dream Empire Fire Flower Fox Gate Heart Horse Hour Hunter Key Lake Letter "
    "Light Machine Moon Night Ocean Painter Promise Queen Rain Raven Rose Secret Shadow Ship Silence Sister "
    "Stranger Summer Sword Thief Thread Tide Train Tree Voice Wall Water Wind Wing Widow Alchemist Angel "
    "Archive Atlas Bell Blade Book Cartographer Cathedral Circle Coast Colony Compass Country Cradle Dancer "
    "Desert Dragon Echo Field Fortune Frontier Ghost Giant Glacier Harvest Hive Inheritance Journey Keeper "
    "Labyrinth Lantern Legacy Magician Manuscript Marsh Meadow Memory Merchant Orphan Pilgrim Prince Prophet "
    "Quarry Reckoning Refuge Requiem Riddle Ruin Sailor Scholar Season Sentinel Serpent Shepherd Soldier "
    "Spire Spring Station Swan Tailor Tempest Theory Threshold Traveler Valley Vineyard Voyage Warden "
    "Weaver Well Wilderness Color Honor Theater Center Neighbor Armor Favor Jewel Gray Labor Valor Odor"
).split()
PLACES = (
    "Avalon Babylon Cairo Dublin Eden Florence Geneva Havana Istanbul Jericho Kyoto Lisbon Marrakesh "
    "Naples Odessa Prague Quebec Rome Samarkand Tangier Utrecht Venice Warsaw Xanadu Yorkshire Zanzibar "
    "Alder Creek Blackmoor Briar Hill Cold Harbor Dunmore Elmstead Fairhaven Glenwood Hallow Bay Ironwood "
    "Kingsbridge Larkspur Millbrook Northwood Oakridge Pinecrest Ravenscroft Silverlake Thornfield Westmarch "
    "Willow Bend Ashford Bellhaven Cloudmere Deepwater Evergreen Foxhollow Greystone Hawthorne Highgate"
).replace("Alder Creek", "Alder_Creek").replace("Briar Hill", "Briar_Hill").replace("Cold Harbor", "Cold_Harbor") \
    .replace("Hallow Bay", "Hallow_Bay").replace("Willow Bend", "Willow_Bend").split()
PLACES = tuple(p.replace("_", " ") for p in PLACES)
FIRST_NAMES = (
    "Ada Alice Amelia Anna Arthur Beatrice Benjamin Camille Charles Clara Daniel David Edith Edward Eleanor "
    "Elena Eliza Emil Emma Ernest Esther Felix Frances George Grace Hannah Harriet Henry Ida Irene Isaac "
    "Jack James Jane Johanna John Jonas Joseph Julia June Kate Laura Leo Lillian Louis Lucy Margaret Maria "
    "Martha Matthew Maud Michael Nadia Nathan Nora Oliver Olivia Oscar Paul Pauline Peter Rachel Ruth Samuel "
    "Sarah Simon Sofia Sylvia Thomas Ursula Vera Victor Viola Walter William Yusuf Zora Amos Bruno Cora Dora "
    "Elias Flora Gideon Hazel Ines Jasper Kit Lena Milo Nell Otto Pia Quentin Rosa Silas Tess Uma Vivian "
    "Wendell Xavier Yara Zelda Agnes Basil Cecily Dmitri Elodie Farid Greta Hugo Imogen Jun Kenji Leila "
    "Mateo Noor Orla Priya Rafael Saoirse Tomas Wren Anouk Bjorn Chiara Dario Elif Fatima Goran Helga"
).split()
LAST_NAMES = (
    "Abbott Adler Ashby Baker Barlow Bell Bishop Blackwood Brennan Brooks Calder Carver Chandler Clarke "
    "Cole Cooper Crane Dalton Davies Delaney Drummond Ellis Emerson Farrow Fielding Finch Fletcher Ford "
    "Foster Garland Gray Hale Harper Hawkins Hayes Holloway Hughes Hunt Irving Jensen Keller Kendall Lambert "
    "Lane Lowell Lynch Marsh Mercer Monroe Moreau Nash Novak Oakley Osborne Parker Pearce Quinn Ramsey Reed "
    "Rhodes Rowe Sawyer Shaw Sinclair Sloane Snow Stone Sutton Thorne Tucker Vance Vaughn Walsh Ward Webb "
    "Wells Whitaker Winter Wolfe Wren Young Achebe Alvarez Andersen Bauer Becker Bianchi Castillo Chen "
    "Costa Dubois Eriksen Esposito Fischer Fontaine Garcia Haddad Hoffman Ivanova Jansen Kaur Kowalski "
    "Laurent Lindqvist Marchetti Mendes Morales Nakamura Nielsen Okafor Olsen Petrov Ricci Romano Rossi "
    "Santos Schmidt Silva Tanaka Torres Vasquez Weber Yamamoto Zimmermann Brontley Coldwell Dunmore "
    "Everhart Fairweather Greenwood Hartley Inglewood Kingsley Larkin Merriweather Northcott Pemberton "
    "Redfern Southgate Thornbury Underwood Wainwright Ashdown Blythe Cavendish Devereux Ellery Gallagher"
).split()
# American -> British spellings: a work and its near-twin differ by one of these.
SPELLINGS = {"Harbor": "Harbour", "Color": "Colour", "Honor": "Honour", "Theater": "Theatre", "Center": "Centre",
             "Neighbor": "Neighbour", "Armor": "Armour", "Favor": "Favour", "Gray": "Grey", "Labor": "Labour",
             "Valor": "Valour", "Odor": "Odour", "Traveler": "Traveller", "Jewel": "Jewell"}
# (template, weight): titles from many small templates, mostly with large word spaces.
TEMPLATES = (
    ("The {a} {n}", 10), ("The {n} of {p}", 8), ("The {a} {n} of {p}", 14), ("{a} {n}", 4),
    ("The {n} of the {a} {n2}", 14), ("A {n} for {f}", 5), ("{f}'s {a} {n}", 8), ("The {n} and the {n2}", 8),
    ("Beyond the {a} {n}", 5), ("Letters from {p}", 1), ("The Last {n} of {p}", 5), ("Under the {a} {n}", 5),
    ("When the {n} Falls", 1), ("The {n}'s {n2}", 6), ("{n} of {a} {n2}", 6), ("The {f} {l} {n}", 4),
    ("{a} {n} in {p}", 6), ("Return to {p}", 1), ("The {n} Who Loved {f}", 3), ("A {a} {n} and Other Stories", 3),
)
SERIES_FORMS = ("{t}: Book {k}", "{t} {k}", "Return to {s}", "{t}, Book {k}", "{s}: The Sequel", "{t} (Book {k})")


def _pick(rng: np.random.Generator, words: tuple | list, size: int) -> np.ndarray:
    return np.asarray(words, dtype=object)[rng.integers(0, len(words), size)]


def _template_space(template: str) -> int:
    """How many distinct titles a template can make."""
    sizes = {"a": len(ADJECTIVES), "n": len(NOUNS), "n2": len(NOUNS), "p": len(PLACES), "f": len(FIRST_NAMES),
             "l": len(LAST_NAMES)}
    return math.prod(sizes[slot] for slot in re.findall(r"{(\w+)}", template))


def make_titles(rng: np.random.Generator, n: int) -> list[str]:
    """`n` titles from the templates.

    A template is drawn in proportion to its weight times (titles it can make)^0.6, so small
    templates ("Letters from {p}") give a few classic shared titles rather than tens of
    thousands: at 2.8M works 87% of titles are distinct and 24% of works share their title
    with another work (at 200k works: 2%).
    """
    templates, weights = zip(*TEMPLATES)
    weights = np.array([w * _template_space(t) ** 0.6 for t, w in TEMPLATES], dtype=np.float64)
    which = rng.choice(len(templates), size=n, p=weights / weights.sum())
    a, n1, n2 = _pick(rng, ADJECTIVES, n), _pick(rng, NOUNS, n), _pick(rng, NOUNS, n)
    p, f, l = _pick(rng, PLACES, n), _pick(rng, FIRST_NAMES, n), _pick(rng, LAST_NAMES, n)
    return [templates[t].format(a=a[i], n=n1[i], n2=n2[i], p=p[i], f=f[i], l=l[i]) for i, t in enumerate(which)]


def make_authors(rng: np.random.Generator, n: int) -> list[str]:
    """`n` distinct-ish author names: first, optional middle initial, last (some hyphenated)."""
    first, last = _pick(rng, FIRST_NAMES, n), _pick(rng, LAST_NAMES, n)
    last2 = _pick(rng, LAST_NAMES, n)
    initial = rng.integers(0, 26, n)
    form = rng.random(n)
    names = []
    for i in range(n):
        if form[i] < 0.45:
            names.append(f"{first[i]} {chr(65 + initial[i])}. {last[i]}")
        elif form[i] < 0.55:
            names.append(f"{first[i][0]}. {chr(65 + initial[i])}. {last[i]}")
        elif form[i] < 0.65:
            names.append(f"{first[i]} {last[i]}-{last2[i]}")
        else:
            names.append(f"{first[i]} {last[i]}")
    return names


def _variant(title: str, rng: np.random.Generator) -> str:
    """A near-twin title: another spelling, or "The" dropped or added."""
    words = title.split()
    swaps = [i for i, w in enumerate(words) if w.rstrip("'s") in SPELLINGS]
    if swaps and rng.random() < 0.7:
        i = swaps[int(rng.integers(len(swaps)))]
        w = words[i]
        stem = w.rstrip("'s")
        words[i] = SPELLINGS[stem] + w[len(stem):]
        return " ".join(words)
    if words[0] == "The":
        return " ".join(words[1:])
    return "The " + title


# --- generator ------------------------------------------------------------------------------


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
        `compress=False` writes the same format several times faster (ratings.npz stored,
        works.tsv.gz at gzip level 1): at 100M likes saving is otherwise the slowest step.
        """
        folder = Path(folder)
        if compress:
            self.dataset.save(folder)
        else:
            _save_uncompressed(self.dataset, folder)
        np.save(folder / "clusters.npy", self.clusters)
        np.save(folder / "parents.npy", np.where(self.sequel, self.parent, -2 - self.parent))
        (folder / "synth.json").write_text(json.dumps(self.stats, indent=2) + "\n")
        return folder


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """`np.unique` of a large 1-D integer array, by sorting (numpy 2's hash-based unique is ~10x slower)."""
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


def _save_uncompressed(dataset: Dataset, folder: Path) -> None:
    """`Dataset.save`'s format, stored rather than deflated (Dataset.load reads both)."""
    import csv
    import gzip

    folder.mkdir(parents=True, exist_ok=True)
    w = dataset.works  # the rows Works.write_tsv writes, at gzip level 1 (5x faster than 9)
    with gzip.open(folder / "works.tsv.gz", "wt", encoding="utf-8", newline="", compresslevel=1) as handle:
        writer = csv.writer(handle, delimiter="\t", quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        writer.writerow(["title", "author", "year", "cover_url", "isbns"])
        writer.writerows(zip(w.title, w.author, w.year.tolist(), w.cover_url, w.isbns))
    np.savez(folder / "ratings.npz", user=dataset.user, work=dataset.work, rating=dataset.rating)
    meta = {**dataset.meta, "format_version": FORMAT_VERSION, "source": dataset.source,
            "rating_scale": dataset.rating_scale, "n_users": int(dataset.n_users), "n_works": len(dataset.works),
            "n_ratings": int(len(dataset.user)), "fingerprint": dataset.fingerprint()}
    (folder / "dataset.json").write_text(json.dumps(meta, indent=2) + "\n")


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

    titles = make_titles(rng, n_w)
    authors = make_authors(rng, max(1, n_w // 3))
    # Prolific authors: works per author is long-tailed too.
    author_weight = rng.pareto(1.5, len(authors)) + 1
    author_of = rng.choice(len(authors), size=n_w, p=author_weight / author_weight.sum())
    number = np.zeros(n_w, dtype=np.int64)
    series_children = np.flatnonzero(has_parent & is_series)
    # k-th sequel of a parent is "Book k+1".
    order = np.argsort(parent[series_children], kind="stable")
    sc = series_children[order]
    first = np.r_[True, parent[sc][1:] != parent[sc][:-1]]
    run_start = np.maximum.accumulate(np.where(first, np.arange(len(sc)), 0))
    number[sc] = np.arange(len(sc)) - run_start + 2
    forms = rng.integers(0, len(SERIES_FORMS), n_w)
    for w in sc:
        p = parent[w]
        base = titles[p]
        short = base[4:] if base.startswith("The ") else base
        titles[w] = SERIES_FORMS[forms[w]].format(t=base, s=short, k=number[w])
        author_of[w] = author_of[p]
    twins = np.flatnonzero(has_parent & is_twin)
    same_author = rng.random(len(twins)) < 0.3
    for w, same in zip(twins, same_author):
        titles[w] = _variant(titles[parent[w]], rng)
        if same:
            author_of[w] = author_of[parent[w]]
    year = np.clip(np.rint(2024 - rng.gamma(1.6, 18.0, n_w)), 1800, 2024).astype(np.int32)
    catalogue = Works(titles, [authors[a] for a in author_of], year, [""] * n_w, [""] * n_w)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.synth", description=__doc__.splitlines()[0])
    parser.add_argument("--works", type=int, default=SynthConfig.works, help="number of works")
    parser.add_argument("--readers", type=int, default=SynthConfig.readers, help="number of readers")
    parser.add_argument("--likes", type=int, default=SynthConfig.likes, help="number of likes")
    parser.add_argument("--clusters", type=int, default=0, help="taste clusters (default: 2/3 sqrt(works))")
    parser.add_argument("--noise", type=float, default=SynthConfig.noise, help="share of likes outside a reader's clusters")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--out", type=Path, help="dataset folder to write")
    parser.add_argument("--fast-save", action="store_true", help="store ratings.npz uncompressed (same format, much faster)")
    parser.add_argument("--fit", type=Path, metavar="DATASET", help="only fit the curves to a dataset's likes and print them")
    args = parser.parse_args(argv)
    if args.fit:
        user, work = Dataset.load(args.fit).likes()
        for name, ids in (("popularity", work), ("activity", user)):
            counts = np.bincount(ids)
            curve = fit_curve(counts)
            print(f"{name}: {curve}\n  data: {curve_stats(counts)}\n  fit:  {curve_stats(curve.counts(int((counts > 0).sum()), int(counts.sum())))}")
        return 0
    if args.out is None:
        parser.error("--out is required (or --fit)")
    cfg = SynthConfig(args.works, args.readers, args.likes, args.clusters, args.noise, seed=args.seed)
    synth = generate(cfg)
    start = time.perf_counter()
    synth.save(args.out, compress=not args.fast_save)
    print(f"saved {args.out} in {time.perf_counter() - start:.1f} s")
    print(json.dumps({k: synth.stats[k] for k in ("likes", "paired_in_cluster_share", "popularity", "activity", "seconds")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
