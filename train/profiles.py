"""Every work's genre profile: the team's labels, carried to the other works and measured.

    python -m train.profiles [DATASET]     # write DATASET/profile.tsv.gz; print the held-out accuracy

The labels (`data/labels/genres.tsv`, rule and figures in docs/PROFILES.md) name the genre,
an optional second genre and the audience of about 11,000 Book-Crossing works. They are
carried to every other work by what is known about it, each a distribution over the genres
of `engine.profiles.GENRES`:

- `author`: the genres of the author's labelled books;
- `publisher`: those of the publisher's labelled books, and a curated table of imprints
  (Harlequin romance, Tor science fiction, Andrews McMeel cartoons, Lonely Planet travel);
- `series`: those of the labelled books in the same series or line ("Harlequin Presents",
  "Star Trek", "Cliffs Notes", "Penguin Classics");
- `title`: naive Bayes over title and series words ("Cookbook", "Murder", "Dragon");
- `forms`: title forms that name a kind outright ("for Dummies", "Board Book", "Recipes");
- `readers`: the genres of the labelled books its readers liked.

Sources are smoothed towards the labels' overall genre mix and combined as a product of
experts, `softmax(b + sum_s w_s log p_s)`, the exponents fitted on the labelled works (each
work's own label left out of its sources). The same is done for the audience. Accuracy is
measured on the labels marked `test` (1,000 works across popularity), which take no part in
the sources or the fit. Labelled works keep their labels; the rest get the carried profile.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine import profiles as P
from engine.dataset import Dataset, Works
from engine.kinds import AID, CHILDREN, work_kind
from engine.normalize import fold, isbn13, normalize_author, work_key

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LABELS = PROJECT_ROOT / "data" / "labels" / "genres.tsv"
PROFILE_FILE = "profile.tsv.gz"
PROFILE_META = "profile.json"
SECOND_GENRE = 0.3  # the share of a label's second genre in its work's profile
SMOOTHING = {"author": 1.0, "publisher": 3.0, "series": 2.0, "readers": 2.0}  # prior weight of each keyed source
NB_SMOOTHING = 0.5  # add-beta of the title words' naive Bayes
TAIL_LIKES = 4  # the labels' tail sample: works with 1 to 4 likes
SOURCES = ("author", "publisher", "series", "title", "forms", "readers")

# Imprints whose books are mostly of one genre (counted as `IMPRINT_WEIGHT` labelled books).
IMPRINTS: tuple[tuple[str, str], ...] = (
    (r"harlequin|silhouette|mills (and|&) boon|zebra|avon romance|loveswept|kensington|arabesque|candlelight|"
     r"leisure books|jove|dorchester|mira\b|topaz|signet regency|fawcett regency", "romance"),
    (r"\btor\b|baen|daw\b|del rey|ace\b|roc\b|spectra|bantam spectra|eos\b", "scifi"),
    (r"andrews mcmeel|andrews (and|&) mcmeel|fantagraphics|dc comics|marvel|viz\b|tokyopop|dark horse|image comics|"
     r"cartoon books|titan books|humanoides|le lombard|dargaud|casterman|carlsen comics|kitchen sink", "comics"),
    (r"lonely planet|fodor|frommer|rough guides?|let'?s go|rick steves|moon (publications|handbooks)|insight guides|"
     r"michelin|baedeker|berlitz|lets go", "travelguide"),
    (r"scholastic|golden books|little golden|random house (books for young readers|children)|puffin|picture puffins|"
     r"aladdin|yearling|harpertrophy|harper trophy|dk (publishing|children)|candlewick", "picture"),
    (r"cliffs? ?notes|sparknotes|york notes|coles notes|monarch notes|barron|research (and|&) education|kaplan|princeton review|o'?reilly|"
     r"idg books|for dummies|sams\b|que\b|microsoft press|wrox|peachpit|osborne", "reference"),
    (r"tyndale|zondervan|bethany house|thomas nelson|multnomah|crossway|word publishing|waterbrook|"
     r"revell|broadman|steeple hill", "christian"),
    (r"harvard business|mcgraw.hill|jossey.bass|wiley|amacom|berrett.koehler", "business"),
    (r"worldwide library|st\.? martin'?s minotaur|berkley prime crime|mysterious press|poisoned pen", "mystery"),
    (r"penguin classics|oxford world|world'?s classics|dover thrift|bantam classics?|signet classics?|"
     r"modern library|wordsworth|everyman|vintage (international|contemporaries)|norton", "literary"),
)
IMPRINT_WEIGHT = 3.0

# Title forms that say outright what kind of book it is.
FORMS: tuple[tuple[str, str], ...] = (
    (r"\bcook ?books?\b|\brecipes?\b|\bcooking\b|\bcuisine\b|\bbaking\b|\bcooks?\b|\bkitchen\b|\bgrill(ing)?\b|\bsoups?\b",
     "cookbook"),
    (r"\bfor dummies\b|\bidiot'?s guide\b|\bdictionary\b|\bencyclop|\bthesaurus\b|\bstudy guide\b|\bcliff'?s? ?notes\b|"
     r"\bsparknotes\b|\bworkbook\b|\btextbook\b|\bhandbook\b|\btest prep\b|\bpractice tests?\b|\bgrammar\b|"
     r"\bin 21 days\b|\bprogramming\b|\bjava(script)?\b|\bhtml\b|\bwindows (9|xp|nt|2000)|\bexcel\b|\bsql\b|\blinux\b|"
     r"\bunix\b|\bc\+\+|\bperl\b|\bmicrosoft\b", "reference"),
    (r"\bboard books?\b|\bpicture books?\b|\bcolou?ring books?\b|\bsticker books?\b|\bpop-?up\b|\blift[- ]the[- ]flap\b|"
     r"\bmy first\b|\babc\b|\bcounting book\b|\bbedtime\b|\bnursery rhymes?\b", "picture"),
    (r"\btravel guide\b|\bguide to (the )?(cities|best|[a-z]+ (and|&) [a-z]+)\b|\bphrase ?book\b|\bstreet ?map\b|"
     r"\bon \$?\d+ a day\b|\bbudget guide\b|\bpocket guide\b", "travelguide"),
    (r"\bknit|\bcrochet|\bquilt|\bgarden|\bcross.?stitch|\bwoodworking\b|\bcrafts?\b|\bcrossword|\bpuzzles?\b|"
     r"\bsudoku\b|\bgolf\b|\bfishing\b|\bphotograph(y|ing)\b|\bdog (training|owner)|\bcat care\b|\bhorses?\b", "hobby"),
    (r"\bmanagement\b|\bleadership\b|\binvest(ing|or|ment)\b|\bmarketing\b|\bsales\b|\bentrepreneur|\bresume\b|"
     r"\bcareer\b|\bbusiness\b|\bnegotiat|\bwall street\b|\bstocks?\b|\bmoney\b", "business"),
    (r"\bdiet\b|\bweight loss\b|\bself.?help\b|\bparenting\b|\bpregnan|\bmenopause\b|\bhealing\b|\bfitness\b|"
     r"\bhow to (be|get|make|stop|live|find)\b|\brelationships?\b|\bsuccess\b|\bhabits\b", "selfhelp"),
    (r"\bcartoons?\b|\bcomics?\b|\bmanga\b|\bgraphic novel\b|\bcalvin and hobbes\b|\bgarfield\b|\bdilbert\b|"
     r"\bfar side\b|\bpeanuts\b|\bdoonesbury\b|\bfoxtrot\b|\bzits\b", "comics"),
    (r"\bpoems\b|\bpoetry\b|\bverse\b|\bsonnets\b|\ba play\b|\bplays\b", "poetry"),
    (r"\bbible\b|\bprayers?\b|\bgod\b|\bjesus\b|\bchrist(ian|ianity)?\b|\bspiritual|\bsoul\b|\bmeditation|\bbuddh|"
     r"\bzen\b|\btao\b|\bangels?\b", "religion"),
)
FORM_SHARE = 0.8  # a title form's confidence in its genre
_FORMS = [(re.compile(pattern, re.IGNORECASE), P.INDEX[genre]) for pattern, genre in FORMS]
_IMPRINTS = [(re.compile(pattern, re.IGNORECASE), P.INDEX[genre]) for pattern, genre in IMPRINTS]
_PUBLISHER_NOISE = re.compile(r"\b(inc|co|ltd|llc|corp|company|publishers?|publishing|publications|books?|press|"
                              r"group|paperbacks?|trade|mass market|usa|us|uk|intl|international)\b")


# ------------------------------------------------------------------------------------ labels

@dataclass
class Labels:
    """Labels matched to a catalogue's works (parallel arrays)."""

    work: np.ndarray  # int64 work id
    genre: np.ndarray  # int64 index into GENRES
    genre2: np.ndarray  # int64, -1 without a second genre
    audience: np.ndarray  # int64 index into AUDIENCES
    test: np.ndarray  # bool: kept out of fitting (measured on)
    sample: np.ndarray  # str: "top" (the 10,000 most liked) or "tail" (a random sample of works with 1-4 likes)

    def __len__(self) -> int:
        return len(self.work)

    def subset(self, keep: np.ndarray) -> "Labels":
        return Labels(*(getattr(self, f)[keep] for f in ("work", "genre", "genre2", "audience", "test", "sample")))

    def targets(self, n_works: int) -> np.ndarray:
        """float64 [n_works, N_GENRES]: each labelled work's genre distribution (rows of zeros elsewhere)."""
        t = np.zeros((n_works, P.N_GENRES))
        second = self.genre2 >= 0
        t[self.work, self.genre] = np.where(second, 1 - SECOND_GENRE, 1.0)
        t[self.work[second], self.genre2[second]] += SECOND_GENRE
        return t


def read_labels(path: Path = LABELS) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def labels_digest(path: Path = LABELS) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def match_labels(rows: list[dict], works: Works) -> Labels:
    """The labelled rows found in `works`: by any ISBN of a work's editions, else by title and author."""
    by_isbn: dict[str, int] = {}
    for i, joined in enumerate(works.isbns):
        for isbn in joined.split("|") if joined else ():
            by_isbn.setdefault(isbn13(isbn), i)
    by_key = {}
    wanted = {work_key(r["title"], r["author"]) for r in rows}
    for i, (title, author) in enumerate(zip(works.title, works.author)):
        key = work_key(title, author)
        if key in wanted:
            by_key.setdefault(key, i)
    found: dict[int, dict] = {}
    for row in rows:
        work = by_isbn.get(isbn13(row["isbn"]))
        if work is None:
            work = by_key.get(work_key(row["title"], row["author"]))
        if work is not None and work not in found:
            found[work] = row
    ids = np.array(sorted(found), np.int64)
    rows = [found[i] for i in ids.tolist()]
    return Labels(ids, np.array([P.INDEX[r["genre"]] for r in rows], np.int64),
                  np.array([P.INDEX[r["genre2"]] if r["genre2"] else -1 for r in rows], np.int64),
                  np.array([P.AUDIENCES.index(r["audience"]) for r in rows], np.int64),
                  np.array([r["split"] == "test" for r in rows], bool), np.array([r["sample"] for r in rows]))


# ----------------------------------------------------------------------------------- sources

def _keys(values) -> np.ndarray:
    """int64 id per value ("" -> -1)."""
    ids: dict[str, int] = {}
    return np.array([ids.setdefault(v, len(ids)) if v else -1 for v in values], np.int64)


def keyed_source(keys: np.ndarray, fit: np.ndarray, targets: np.ndarray, prior: np.ndarray, alpha: float,
                 extra: np.ndarray | None = None) -> np.ndarray:
    """[n, G]: the genre mix of the fitting works sharing each work's key, smoothed towards `prior`.

    A fitting work's own label is left out of its own source. `extra` [n_keys, G] adds
    pseudo-counts per key (the imprint table).
    """
    n_keys = int(keys.max(initial=-1)) + 1
    counts = np.zeros((n_keys + 1, targets.shape[1]))  # the last row: works without a key
    has = fit & (keys >= 0)
    np.add.at(counts, keys[has], targets[has])
    if extra is not None:
        counts[:n_keys] += extra
    row = np.where(keys >= 0, keys, n_keys)
    mine = counts[row] - np.where(has[:, None], targets, 0)
    mine[keys < 0] = 0
    return (mine + alpha * prior) / (mine.sum(axis=1, keepdims=True) + alpha)


def _words(texts) -> tuple[np.ndarray, np.ndarray, int]:
    """(work, word id) pairs of each text's distinct folded words."""
    vocab: dict[str, int] = {}
    docs, words = [], []
    for i, text in enumerate(texts):
        for w in set(fold(text).split()):
            if len(w) > 1:
                docs.append(i)
                words.append(vocab.setdefault(w, len(vocab)))
    return np.array(docs, np.int64), np.array(words, np.int64), len(vocab)


def title_source(docs: np.ndarray, words: np.ndarray, n_words: int, n: int, fit: np.ndarray, targets: np.ndarray,
                 prior: np.ndarray) -> np.ndarray:
    """[n, G]: naive Bayes posterior of each work's genre from its words (its own label left out)."""
    g = targets.shape[1]
    from_fit = fit[docs]
    counts = np.zeros((n_words, g))
    np.add.at(counts, words[from_fit], targets[docs[from_fit]])
    words_per_doc = np.bincount(docs, minlength=n).astype(np.float64)
    totals = (targets[fit] * words_per_doc[fit, None]).sum(axis=0)
    own = np.where(from_fit[:, None], targets[docs], 0.0)  # a fitting work's own counts, left out
    own_total = np.where(fit[:, None], targets * words_per_doc[:, None], 0.0)
    log_word = np.log(counts[words] - own + NB_SMOOTHING)  # [pairs, G]
    loglik = np.zeros((n, g))
    np.add.at(loglik, docs, log_word)
    loglik -= words_per_doc[:, None] * np.log(totals[None, :] - own_total + NB_SMOOTHING * n_words)
    loglik += np.log(prior)
    loglik -= loglik.max(axis=1, keepdims=True)
    p = np.exp(loglik)
    return p / p.sum(axis=1, keepdims=True)


def forms_source(works: Works, prior: np.ndarray) -> np.ndarray:
    """[n, G]: title forms ("for Dummies", "Board Book", "Recipes") and the study-aid and
    children's-book patterns of `engine.kinds`; the prior where none speaks."""
    out = np.tile(prior, (len(works), 1))
    aid, picture = P.INDEX["reference"], P.INDEX["picture"]
    for i, (title, author, publisher) in enumerate(zip(works.title, works.author, works.publisher)):
        genre = next((g for pattern, g in _FORMS if pattern.search(title)), None)
        if genre is None:
            kind = work_kind(title, author, publisher)
            genre = aid if kind == AID else picture if kind == CHILDREN else None
        if genre is not None:
            out[i] = (1 - FORM_SHARE) * prior
            out[i, genre] += FORM_SHARE
    return out


def imprint_counts(publisher_keys: np.ndarray, publishers, n_genres: int) -> np.ndarray:
    """[n_keys, G] pseudo-counts of the curated imprint table, per publisher key."""
    n_keys = int(publisher_keys.max(initial=-1)) + 1
    extra = np.zeros((n_keys, n_genres))
    seen = set()
    for key, publisher in zip(publisher_keys.tolist(), publishers):
        if key < 0 or key in seen:
            continue
        seen.add(key)
        for pattern, genre in _IMPRINTS:
            if pattern.search(publisher):
                extra[key, genre] += IMPRINT_WEIGHT
                break
    return extra


def readers_source(user: np.ndarray, work: np.ndarray, n: int, fit: np.ndarray, targets: np.ndarray,
                   prior: np.ndarray, alpha: float) -> np.ndarray:
    """[n, G]: the mean genre mix of each work's readers' other labelled likes, smoothed towards `prior`."""
    labelled = fit[work]
    n_readers = int(user.max(initial=-1)) + 1
    reader_sum = np.zeros((n_readers, targets.shape[1]))
    np.add.at(reader_sum, user[labelled], targets[work[labelled]])
    reader_n = np.bincount(user[labelled], minlength=n_readers).astype(np.float64)
    # Each (reader, work) like: the reader's mix without this work.
    rest = reader_sum[user] - np.where(labelled[:, None], targets[work], 0)
    rest_n = reader_n[user] - labelled
    useful = rest_n > 0
    mix = rest[useful] / rest_n[useful, None]
    total = np.zeros((n, targets.shape[1]))
    np.add.at(total, work[useful], mix)
    count = np.bincount(work[useful], minlength=n).astype(np.float64)
    return (total + alpha * prior) / (count[:, None] + alpha)


@dataclass
class Evidence:
    """Everything the sources read about a catalogue, computed once."""

    n: int
    author: np.ndarray
    publisher: np.ndarray
    series: np.ndarray
    imprint: np.ndarray
    title_docs: np.ndarray
    title_words: np.ndarray
    n_title_words: int
    user: np.ndarray
    work: np.ndarray
    works: Works
    tail: np.ndarray  # bool [n]: works with at most TAIL_LIKES likes

    @classmethod
    def of(cls, dataset: Dataset) -> "Evidence":
        works = dataset.works
        publisher = _keys(" ".join(_PUBLISHER_NOISE.sub(" ", fold(p)).split()) for p in works.publisher)
        user, work = dataset.likes()
        docs, words, n_words = _words(f"{t} {s}" for t, s in zip(works.title, works.series))
        return cls(len(works), _keys(normalize_author(a) for a in works.author), publisher,
                   _keys(fold(s) for s in works.series), imprint_counts(publisher, works.publisher, P.N_GENRES),
                   docs, words, n_words, np.asarray(user, np.int64), np.asarray(work, np.int64), works,
                   np.bincount(work, minlength=len(works)) <= TAIL_LIKES)

    def sources(self, fit: np.ndarray, targets: np.ndarray) -> dict[str, np.ndarray]:
        """Each source's [n, G] distribution, given the fitting works' `targets`."""
        prior = targets[fit].mean(axis=0) if fit.any() else np.full(targets.shape[1], 1 / targets.shape[1])
        prior = (prior + 1e-3) / (prior + 1e-3).sum()
        genres = targets.shape[1] == P.N_GENRES
        return {
            "author": keyed_source(self.author, fit, targets, prior, SMOOTHING["author"]),
            "publisher": keyed_source(self.publisher, fit, targets, prior, SMOOTHING["publisher"],
                                      self.imprint if genres else None),
            "series": keyed_source(self.series, fit, targets, prior, SMOOTHING["series"]),
            "title": title_source(self.title_docs, self.title_words, self.n_title_words, self.n, fit, targets, prior),
            "forms": forms_source(self.works, prior) if genres else np.tile(prior, (self.n, 1)),
            "readers": readers_source(self.user, self.work, self.n, fit, targets, prior, SMOOTHING["readers"]),
        }


# ---------------------------------------------------------------------------------- combiner

@dataclass
class Combiner:
    """softmax(bias + tail * tail_bias + sum_s weight[s, g] * log p_s(g)): a product of the sources.

    Each source has a weight per genre (a title form is sure of a cookbook, less of a
    religious book), kept near the source's mean weight by an L2 penalty. Fitted on the
    labelled works, the sample of rarely liked works (`tail`: at most `TAIL_LIKES` likes,
    about a twentieth of the labels) weighing as much as the rest: most works to carry are
    rarely liked, and their genres are mixed otherwise (more practical and non-fiction).
    """

    weights: np.ndarray  # [S, G]
    bias: np.ndarray  # [G]
    tail_bias: np.ndarray  # [G]

    PENALTY = 0.01  # of a genre's weight straying from its source's mean, and of the biases

    @staticmethod
    def _stack(sources: dict[str, np.ndarray]) -> np.ndarray:
        return np.stack([np.log(np.clip(sources[s], 1e-6, 1)) for s in SOURCES])  # [S, n, G]

    @classmethod
    def fit(cls, sources: dict[str, np.ndarray], rows: np.ndarray, targets: np.ndarray, tail: np.ndarray) -> "Combiner":
        from scipy.optimize import minimize

        logs = cls._stack(sources)[:, rows]  # [S, m, G]
        y = targets[rows]
        is_tail = tail[rows].astype(np.float64)
        n_tail = max(is_tail.sum(), 1.0)
        weight = np.where(is_tail > 0, 0.5 / n_tail, 0.5 / max(len(rows) - n_tail, 1.0))
        s, g = logs.shape[0], logs.shape[2]
        lam = cls.PENALTY

        def loss(theta):
            w = theta[:s * g].reshape(s, g)
            b, c = theta[s * g:s * g + g], theta[s * g + g:]
            z = np.einsum("sg,smg->mg", w, logs) + b + is_tail[:, None] * c
            z -= z.max(axis=1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            spread = w - w.mean(axis=1, keepdims=True)
            value = -(weight[:, None] * y * logp).sum() + lam * ((spread ** 2).sum() + (b ** 2).sum() + (c ** 2).sum())
            diff = weight[:, None] * (np.exp(logp) * y.sum(axis=1, keepdims=True) - y)  # dL/dz
            grad_w = np.einsum("mg,smg->sg", diff, logs) + 2 * lam * spread
            grad = np.concatenate([grad_w.ravel(), diff.sum(axis=0) + 2 * lam * b,
                                   (diff * is_tail[:, None]).sum(axis=0) + 2 * lam * c])
            return value, grad

        theta0 = np.concatenate([np.full(s * g, 0.5), np.zeros(2 * g)])
        bounds = [(0, 5)] * (s * g) + [(None, None)] * (2 * g)
        best = minimize(loss, theta0, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 2000})
        return cls(best.x[:s * g].reshape(s, g), best.x[s * g:s * g + g], best.x[s * g + g:])

    def predict(self, sources: dict[str, np.ndarray], tail: np.ndarray) -> np.ndarray:
        z = np.einsum("sg,sng->ng", self.weights, self._stack(sources)) + self.bias + tail[:, None] * self.tail_bias
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)


def carry(evidence: Evidence, labels: Labels) -> tuple[np.ndarray, np.ndarray, dict]:
    """Genre [n, G] and audience [n, 3] probabilities of every work from `labels` (all of them fit).

    Returns the carried predictions for every work (labelled ones too: their own label left
    out), and the fitted combiners' weights per source.
    """
    n = evidence.n
    fit = np.zeros(n, bool)
    fit[labels.work] = True
    genre_targets = labels.targets(n)
    audience_targets = np.zeros((n, len(P.AUDIENCES)))
    audience_targets[labels.work, labels.audience] = 1.0
    genre_sources = evidence.sources(fit, genre_targets)
    audience_sources = evidence.sources(fit, audience_targets)
    genre_model = Combiner.fit(genre_sources, labels.work, genre_targets, evidence.tail)
    audience_model = Combiner.fit(audience_sources, labels.work, audience_targets, evidence.tail)
    genres = genre_model.predict(genre_sources, evidence.tail)
    audience = audience_model.predict(audience_sources, evidence.tail)
    # A picture book is for children, whatever else its sources say.
    audience[genres[:, P.PICTURE] > 0.5] = np.eye(len(P.AUDIENCES))[P.CHILD]
    weights = {"genre": dict(zip(SOURCES, np.round(genre_model.weights.mean(axis=1), 3).tolist())),
               "audience": dict(zip(SOURCES, np.round(audience_model.weights.mean(axis=1), 3).tolist()))}
    return genres, audience, weights


def profile(dataset: Dataset, labels: Labels | None = None) -> tuple[np.ndarray, dict]:
    """uint8 [n, engine.profiles.WIDTH] profile of every work: labelled works their label,
    the others the carried profile; and a summary (label count, source weights)."""
    started = time.perf_counter()
    labels = labels if labels is not None else match_labels(read_labels(), dataset.works)
    n = len(dataset.works)
    if not len(labels):
        return P.encode(np.zeros((n, P.N_GENRES)), np.zeros((n, len(P.AUDIENCES)))), {"labelled": 0}
    genres, audience, weights = carry(Evidence.of(dataset), labels)
    genres[labels.work] = labels.targets(n)[labels.work]
    audience[labels.work] = np.eye(len(P.AUDIENCES))[labels.audience]
    return P.encode(genres, audience), {"labelled": int(len(labels)), "weights": weights,
                                        "seconds": round(time.perf_counter() - started, 1)}


# -------------------------------------------------------------------------------- evaluation

def evaluate(dataset: Dataset, labels: Labels, sources: tuple[str, ...] | None = None) -> dict:
    """Accuracy of the carried profile on the `test` labels, fitted on the others alone."""
    fit_labels = labels.subset(~labels.test)
    test = labels.subset(labels.test)
    evidence = Evidence.of(dataset)
    genres, audience, weights = carry(evidence, fit_labels)
    predicted = np.argmax(genres[test.work], axis=1)
    right = (predicted == test.genre) | (predicted == test.genre2)
    fits = right | (P.AFFINITY[predicted, test.genre] >= P.NEIGHBOUR_FIT)
    group = np.array([g.group for g in P.GENRES])
    same_group = group[predicted] == group[test.genre]
    figures = {"test_works": int(len(test)), "genre_accuracy": float(right.mean()),
               "fits": float(fits.mean()), "group_accuracy": float(same_group.mean()),
               "audience_accuracy": float((np.argmax(audience[test.work], axis=1) == test.audience).mean()),
               "weights": weights}
    figures["by_sample"] = {s: {"works": int((test.sample == s).sum()), "genre_accuracy": float(right[test.sample == s].mean()),
                                "fits": float(fits[test.sample == s].mean())} for s in ("top", "tail")}
    figures["by_genre"] = {}
    for i, code in enumerate(P.CODES):
        truth, said = test.genre == i, predicted == i
        figures["by_genre"][code] = {"works": int(truth.sum()),
                                     "recall": float(right[truth].mean()) if truth.any() else None,
                                     "precision": float((right & said).sum() / said.sum()) if said.any() else None}
    figures["by_group"] = {name: {"works": int((group[test.genre] == name).sum()),
                                  "group_accuracy": float(same_group[group[test.genre] == name].mean())}
                           for name in dict.fromkeys(group)}
    return figures


# ---------------------------------------------------------------------------- dataset table

def write_profile(folder: Path, dataset: Dataset, table: np.ndarray, summary: dict) -> Path:
    """`profile.tsv.gz` (one row per work: genres with probabilities, audience) and `profile.json`."""
    import gzip

    with gzip.open(folder / PROFILE_FILE, "wt", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["genre", "p", "genre2", "p2", "genre3", "p3", "audience", "audience_p"])
        for row in table.tolist():
            out = []
            for k in range(3):
                out += [P.CODES[row[2 * k]], row[2 * k + 1]] if row[2 * k] != P.NONE else ["", 0]
            out += [P.AUDIENCES[row[6]], row[7]] if row[6] != P.NONE else ["", 0]
            writer.writerow(out)
    meta = {"dataset": dataset.fingerprint(), "labels": labels_digest(), **summary}
    (folder / PROFILE_META).write_text(json.dumps(meta, indent=2) + "\n")
    return folder / PROFILE_FILE


def read_profile(folder: Path, dataset: Dataset) -> np.ndarray | None:
    """The profile table written for this very dataset (and these labels), or None."""
    import gzip

    try:
        meta = json.loads((folder / PROFILE_META).read_text())
        if meta.get("dataset") != dataset.fingerprint() or meta.get("labels") != labels_digest():
            return None
        with gzip.open(folder / PROFILE_FILE, "rt", encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle, delimiter="\t"))[1:]
    except (OSError, ValueError):
        return None
    if len(rows) != len(dataset.works):
        return None
    table = np.full((len(rows), P.WIDTH), P.NONE, np.uint8)
    for i, row in enumerate(rows):
        for k in range(3):
            if row[2 * k]:
                table[i, 2 * k], table[i, 2 * k + 1] = P.INDEX[row[2 * k]], int(row[2 * k + 1])
        if row[6]:
            table[i, 6], table[i, 7] = P.AUDIENCES.index(row[6]), int(row[7])
    return table


def dataset_profile(dataset: Dataset, folder: Path | None = None) -> np.ndarray:
    """The dataset's profile table: the one `prepare` wrote beside it when current, else carried now."""
    if folder is not None:
        table = read_profile(Path(folder), dataset)
        if table is not None:
            return table
    table, summary = profile(dataset)
    log.info("genre profiles carried from %d labelled works in %.1f s", summary["labelled"], summary.get("seconds", 0))
    return table


def main(argv: list[str] | None = None) -> int:
    from rarereads.paths import DEFAULT_DATASET

    parser = argparse.ArgumentParser(prog="python -m train.profiles", description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", nargs="?", type=Path, default=DEFAULT_DATASET, help="dataset folder")
    parser.add_argument("--no-write", action="store_true", help="measure only")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    dataset = Dataset.load(args.dataset)
    labels = match_labels(read_labels(), dataset.works)
    figures = evaluate(dataset, labels)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"labels matched: {len(labels):,} ({int(labels.test.sum())} kept out for the test)")
        print(f"held-out genre accuracy {figures['genre_accuracy']:.3f}, fits (same or neighbouring genre) "
              f"{figures['fits']:.3f}, group {figures['group_accuracy']:.3f}, audience {figures['audience_accuracy']:.3f}")
        for sample, f in figures["by_sample"].items():
            print(f"  {sample}: {f['works']} works, genre accuracy {f['genre_accuracy']:.3f}, fits {f['fits']:.3f}")
        print("  by group: " + ", ".join(f"{g} {f['group_accuracy']:.2f} ({f['works']})" for g, f in figures["by_group"].items()))
        print("  source weights: " + json.dumps(figures["weights"]["genre"]))
    if not args.no_write:
        table, summary = profile(dataset, labels)
        write_profile(args.dataset, dataset, table, {**summary, "test": {k: figures[k] for k in (
            "test_works", "genre_accuracy", "fits", "group_accuracy", "audience_accuracy")}})
        print(f"wrote {args.dataset / PROFILE_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
