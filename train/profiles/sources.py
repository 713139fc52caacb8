"""What is known about each work, as a genre distribution per source (author, publisher and
imprints, series, title words, title forms, readers), each work's own label left out."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from engine import profiles as P
from engine.dataset import Dataset, Works
from engine.kinds import AID, CHILDREN, work_kind
from engine.normalize import fold, normalize_author

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
