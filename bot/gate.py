"""The retrain gate: which model folders may serve, decided once and remembered.

Every verdict (accepted, rejected and why) is kept in one file, `gate.json` in the models
folder, beside the folders it judges; the retrain manager writes it and start-up reads it,
so a folder refused once (worse than the model serving, written by a failed trainer, not
loadable, or not answering) is never served later, also after a restart. Folders are read
only through `engine.modelfolder`.

A folder with no verdict (trained by hand, or left by a retrain cut short at shutdown)
meets the same gate at start-up, against the newest accepted folder.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from engine.errors import ModelFolderError
from engine.modelfolder import model_folders, read_manifest

log = logging.getLogger(__name__)

RECORD = "gate.json"
# Figures looked for in a manifest's "metrics", best first (higher is better for all of them);
# `rarereads train` writes "val_hit@20" (hit rate of held-out likes in the top 20).
METRIC_PREFERENCE = ("val_hit@20", "hit@20", "recall@20", "recall@10", "ndcg@10", "ndcg@20", "hit@10", "map@10")
_NUMBER = (int, float)


@dataclass(frozen=True)
class Verdict:
    """The gate's decision on one folder."""

    accepted: bool
    why: str
    at: str = ""


def _flatten(metrics: Any, prefix: str = "") -> dict[str, float]:
    flat: dict[str, float] = {}
    if isinstance(metrics, dict):
        for key, value in metrics.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
    elif isinstance(metrics, _NUMBER) and not isinstance(metrics, bool):
        flat[prefix.rstrip(".")] = float(metrics)
    return flat


def model_metric(manifest: dict, name: str | None = None) -> tuple[str, float] | None:
    """The figure two models are compared on: (name, value) from `manifest["metrics"]`, or None.

    Args:
        manifest: A model folder's manifest.
        name: Dotted path of the figure (e.g. "val.recall@20"); by default the manifest's own
            `metrics["primary"]` if it names one, else the first of `METRIC_PREFERENCE` found
            (validation figures before others).
    """
    metrics = manifest.get("metrics") or {}
    flat = _flatten(metrics)
    primary = metrics.get("primary") if isinstance(metrics, dict) else None
    if name is None and isinstance(primary, str):
        name = primary
    if name is not None:
        if name in flat:
            return name, flat[name]
        hits = [k for k in flat if k.endswith("." + name) or k == name]
        return (hits[0], flat[hits[0]]) if hits else None
    for wanted in METRIC_PREFERENCE:
        keys = [k for k in flat if k.split(".")[-1].lower() == wanted]
        keys.sort(key=lambda k: (not re.search(r"val|valid", k, re.I), len(k)))
        if keys:
            return keys[0], flat[keys[0]]
    return None


def check_engine(engine) -> None:
    """Raise ModelFolderError unless a loaded engine answers: its best-liked book is found and
    gets recommendations. Run on every folder before it serves."""
    if engine.n_works == 0:
        raise ModelFolderError(f"{engine.version} has an empty catalogue")
    work = engine.work(int(np.argmax(engine.likes)))
    if not engine.match_title(work.title, limit=1):
        raise ModelFolderError(f"{engine.version} cannot find its own book {work.title!r} by title")
    if not engine.recommend([work], k=3, rarity="any").picks:
        raise ModelFolderError(f"{engine.version} recommends nothing for its best-liked book {work.title!r}")


def _default_load(path: Path):
    from engine.recommender import Engine

    return Engine.from_folder(path)


class ModelGate:
    """Judges model folders and remembers the verdicts in `models_dir/gate.json`.

    Args:
        models_dir: Where model folders are written.
        min_fraction: A new model's figure must reach this fraction of the serving one's.
        metric: Dotted name of the manifest figure to compare; None picks one (`model_metric`).
        load: Loads an engine from a folder (blocking).
    """

    def __init__(self, models_dir: str | Path, *, min_fraction: float = 0.9, metric: str | None = None,
                 load: Callable[[Path], Any] = _default_load):
        self.models_dir = Path(models_dir)
        self.path = self.models_dir / RECORD
        self.min_fraction = min_fraction
        self.metric = metric
        self.load = load
        self._lock = threading.Lock()

    # --- the record -------------------------------------------------------------------

    def _read(self) -> dict[str, dict]:
        try:
            record = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("%s is unreadable (%s); judging the folders again", self.path, exc)
            return {}
        return record.get("folders", {}) if isinstance(record, dict) else {}

    def verdict(self, name: str) -> Verdict | None:
        """The recorded verdict on folder `name`, or None."""
        entry = self._read().get(name)
        return Verdict(bool(entry.get("accepted")), str(entry.get("why", "")), str(entry.get("at", ""))) if entry else None

    def record(self, name: str, accepted: bool, why: str) -> None:
        """Remember a verdict (atomically: a crash leaves the old record or the new one)."""
        with self._lock:
            folders = self._read()
            folders[name] = {"accepted": accepted, "why": why,
                             "at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
            self.models_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.models_dir, prefix=".gate-", suffix=".json")
            with os.fdopen(fd, "w") as handle:
                json.dump({"folders": folders}, handle, indent=2, sort_keys=True)
            os.replace(tmp, self.path)
        log.info("model gate: %s %s (%s)", name, "accepted" if accepted else "rejected", why)

    # --- the rule ---------------------------------------------------------------------

    def compare(self, old_manifest: dict | None, new_manifest: dict, old_name: str = "", new_name: str = "") -> tuple[bool, str]:
        """Whether the new model may replace the old one, and a sentence saying why."""
        old_fig = model_metric(old_manifest or {}, self.metric)
        new_fig = model_metric(new_manifest, self.metric if old_fig is None else old_fig[0])
        if old_fig is None:
            return True, "the serving model had no figure to compare"
        if new_fig is None:
            return False, f"it has no {old_fig[0]} figure to compare with {old_name}'s"
        if new_fig[1] < self.min_fraction * old_fig[1]:
            return False, (f"it scores {new_fig[0]} = {new_fig[1]:.4f}, below {self.min_fraction:.0%} of "
                           f"{old_fig[1]:.4f} for {old_name}")
        return True, f"{new_fig[0]} = {new_fig[1]:.4f} (was {old_fig[1]:.4f} with {old_name})"

    def load_checked(self, folder: Path):
        """Load `folder` and check it answers; raises ModelFolderError (or whatever loading raised)."""
        engine = self.load(folder)
        check_engine(engine)
        return engine

    # --- start-up ---------------------------------------------------------------------

    def choose_engine(self) -> tuple[Any, list[str]]:
        """The engine to serve at start-up, and notes on folders refused on the way.

        Newest first: a rejected folder is skipped; an accepted one serves if it still loads
        and answers; a folder without a verdict newer than the newest accepted one is gated
        against it (by manifest) first. With no verdicts at all, the newest folder that loads
        and answers is accepted. Raises ModelFolderError when nothing can serve.
        """
        folders = model_folders(self.models_dir)
        verdicts = {f.name: self.verdict(f.name) for f in folders}
        accepted = [f for f in folders if verdicts[f.name] and verdicts[f.name].accepted]
        baseline = accepted[-1] if accepted else None
        notes = []
        for folder in reversed(folders):
            verdict = verdicts[folder.name]
            if verdict is not None and not verdict.accepted:
                continue
            why = "served at start-up: the first model here"
            if verdict is None and baseline is not None:
                if folder.name < baseline.name:
                    continue  # older than a model that passed: never chosen over it
                try:
                    baseline_manifest = read_manifest(baseline)
                except ModelFolderError as exc:  # the model it would replace cannot serve any more itself
                    self.record(baseline.name, False, f"no longer readable: {exc}")
                    notes.append(f"{baseline.name} refused: it is no longer readable ({exc})")
                    baseline_manifest = None
                try:
                    ok, why = self.compare(baseline_manifest, read_manifest(folder), baseline.name, folder.name)
                except ModelFolderError as exc:
                    ok, why = False, str(exc)
                if not ok:
                    self.record(folder.name, False, why)
                    notes.append(f"{folder.name} refused: {why}")
                    continue
            try:
                engine = self.load_checked(folder)
            except Exception as exc:  # noqa: BLE001 - whatever a folder does wrong, it does not serve
                self.record(folder.name, False, f"does not work: {exc}")
                notes.append(f"{folder.name} refused: it does not work ({exc})")
                continue
            if verdict is None:
                self.record(folder.name, True, why)
            return engine, notes
        raise ModelFolderError(f"no model folder in {self.models_dir} can serve" +
                               (f" ({'; '.join(notes)})" if notes else "") + "; train one with `rarereads train`")


def serving_engine(models_dir: str | Path, pinned: str | Path | None = None, gate: ModelGate | None = None):
    """The engine a bot or the chat starts with: `pinned` (the operator's choice, still checked)
    or the gate's choice in `models_dir`; returns (engine, notes). Raises ModelFolderError."""
    gate = gate or ModelGate(models_dir)
    if pinned is None:
        return gate.choose_engine()
    verdict = gate.verdict(Path(pinned).name)
    notes = [f"{Path(pinned).name} is pinned although the gate refused it: {verdict.why}"] if verdict and not verdict.accepted else []
    return gate.load_checked(Path(pinned)), notes
