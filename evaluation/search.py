"""Choosing every method's hyperparameters on the validation split, and remembering the choices.

The search is the slow part of an evaluation (every grid point of every method is fitted
and scored), so its choices are kept in `evaluation/chosen.json`, per protocol, with every
grid point's validation objective; `rarereads eval` reuses them, and `rarereads eval --tune`
searches again and rewrites them.

The objective counts rarer finds for more: recall@k under `any` (a method must still find
what readers liked) plus popularity-stratified recall@k under the default rarity
(`evaluation.metrics`, Steck 2011: a held-out like counts 1 / sqrt(its likes)).
"""
from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

from engine import rarity as rarity_mod

from .baselines import Method
from .lists import evaluate_scorers
from .protocol import Split

log = logging.getLogger("evaluation")

CHOSEN = Path(__file__).resolve().parent / "chosen.json"


def objective(metrics: dict[str, dict[str, float]]) -> float:
    """What validation maximises: recall under `any` plus popularity-stratified recall under the default rarity."""
    def value(x):
        return 0.0 if x is None or (isinstance(x, float) and math.isnan(x)) else x

    return value(metrics["any"]["recall"]) + value(metrics[rarity_mod.DEFAULT_RARITY]["pop_recall"])


def choose(method: Method, validation: Split, k: int, batch_size: int) -> tuple[dict, list[tuple[dict, float]]]:
    """The grid point with the best validation objective, and every point's objective."""
    if len(method.grid) == 1:
        return method.grid[0], []
    tried = []
    for params in method.grid:
        t0 = time.perf_counter()
        scorer = method.fit(validation, params)
        metrics = evaluate_scorers({method.name: scorer}, validation, ["any", rarity_mod.DEFAULT_RARITY], k,
                                   batch_size)[method.name]
        tried.append((params, objective(metrics)))
        log.info("%s %s: validation objective %.4f (%.0f s)", method.name, params, tried[-1][1],
                 time.perf_counter() - t0)
    best = max(tried, key=lambda t: t[1])[0]
    return best, tried


def read_chosen(protocol: str, fingerprint: str, path: Path | None = None) -> dict[str, dict]:
    """Method -> the settings recorded for `protocol` on the dataset with this fingerprint
    ({} when none are: choices made on one dataset are not another's)."""
    recorded = _recorded(path)
    if read_search(protocol, path).get("dataset") != fingerprint:
        return {}
    return {name: entry["params"] for name, entry in recorded.get(protocol, {}).items()}


def read_search(protocol: str, path: Path | None = None) -> dict:
    """How the recorded choices for `protocol` were searched (dataset, seed, k, objective; {} when none are)."""
    return _recorded(path).get("_searches", {}).get(protocol, {})


def _recorded(path: Path | None) -> dict:
    """The file of recorded choices ({} when there is none or it cannot be read)."""
    try:
        return json.loads((path or CHOSEN).read_text())
    except (OSError, ValueError):
        return {}


def write_chosen(protocol: str, chosen: dict[str, dict], info: dict, path: Path | None = None) -> Path:
    """Record a search's choices for `protocol` (others' entries kept): `chosen` is method ->
    {"params", "validation"} as `rarereads eval --tune` found them; `info` says how."""
    path = path or CHOSEN
    recorded = _recorded(path)
    recorded.setdefault(protocol, {}).update(chosen)
    recorded.setdefault("_searches", {})[protocol] = info
    path.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")
    return path
