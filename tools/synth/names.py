"""Titles and authors of synthetic works, from word lists: hard to match on purpose.

Near-twins differ by a spelling or a leading "The" ("The Glass Harbor" / "The Glass Harbour"
/ "Glass Harbor"), sequels name their first book ("Glass Harbor: Book 2"), and small
templates give titles that several works share.
"""
from __future__ import annotations

import math
import re

import numpy as np

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


def name_works(rng: np.random.Generator, parent: np.ndarray, sequel: np.ndarray,
               twin: np.ndarray) -> tuple[list[str], list[str]]:
    """(title, author) of every work: sequels and near-twins are named after their parent.

    Args:
        parent: int32 [works], the work each one follows or echoes (-1: none).
        sequel: bool [works], a sequel of its parent (same author).
        twin: bool [works], a near-twin title of its parent's (the same author 30% of the time).
    """
    n_w = len(parent)
    titles = make_titles(rng, n_w)
    authors = make_authors(rng, max(1, n_w // 3))
    # Prolific authors: works per author is long-tailed too.
    author_weight = rng.pareto(1.5, len(authors)) + 1
    author_of = rng.choice(len(authors), size=n_w, p=author_weight / author_weight.sum())
    number = np.zeros(n_w, dtype=np.int64)
    series_children = np.flatnonzero(sequel)
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
    twins = np.flatnonzero(twin)
    same_author = rng.random(len(twins)) < 0.3
    for w, same in zip(twins, same_author):
        titles[w] = _variant(titles[parent[w]], rng)
        if same:
            author_of[w] = author_of[parent[w]]
    return titles, [authors[a] for a in author_of]
