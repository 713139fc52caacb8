"""The sources combined into every work's genre and audience profile (a product of experts)."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from engine import profiles as P
from engine.dataset import Dataset

from .labels import Labels, match_labels, read_labels
from .sources import SOURCES, Evidence


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
