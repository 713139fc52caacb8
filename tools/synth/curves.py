"""Rank-quantile curves of likes per work and per reader, fitted to real likes, and the
statistics that compare a synthetic catalogue with them (synth.json, docs/SCALE.md)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


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
