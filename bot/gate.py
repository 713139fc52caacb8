"""The retrain gate: which model folders may serve, decided once and kept in the shelf store.

Every verdict (accepted, rejected and why) is a row of the shelf store's `verdicts` table,
so every bot process, on one machine or several, sees the same record: a folder refused
once (worse than the model serving, written by a failed trainer, not loadable, or not
answering) is never served later, by any process, also after a restart. Which folder
serves is `engine.modelfolder.served_folder` of that record, the one rule every command
follows; the commands that only look (`recommend`, `import`) read it and write nothing.

A folder with no verdict (trained by hand, or left by a retrain cut short) meets the same
gate at start-up, against the folder serving. A record that cannot be read means nothing
new is accepted: start-up says so in one line, a running bot keeps its model.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from engine.errors import GateRecordUnreadable, ModelFolderError, shown_path
from engine.manifest import Manifest
from engine.modelfolder import LEGACY_RECORD, legacy_verdicts, model_folders, read_manifest, served_folder
from engine.shelf import Verdict

log = logging.getLogger(__name__)


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


def load_checked(load: Callable[[Path], Any], folder: Path):
    """`load(folder)`, checked by `check_engine`; whatever goes wrong is a ModelFolderError in one line."""
    try:
        engine = load(folder)
        check_engine(engine)
    except ModelFolderError:
        raise
    except Exception as exc:  # noqa: BLE001 - a folder that breaks the loader is refused like any other
        raise ModelFolderError(f"{shown_path(folder.name)} does not load ({type(exc).__name__}: {exc})") from exc
    return engine


def accepted_of(verdicts: dict[str, Verdict]) -> dict[str, bool]:
    return {name: verdict.accepted for name, verdict in verdicts.items()}


class ModelGate:
    """Judges model folders and keeps the verdicts in the shelf store.

    Args:
        models_dir: Where model folders are written (a path every bot process reads).
        store: The shelf store (`engine.shelf.ShelfStore`) that keeps the verdicts.
        min_fraction: A new model's primary figure must reach this fraction of the serving one's.
        load: Loads an engine from a folder (blocking).
    """

    def __init__(self, models_dir: str | Path, store, *, min_fraction: float = 0.9,
                 load: Callable[[Path], Any] = _default_load):
        self.models_dir = Path(models_dir)
        self.store = store
        self.min_fraction = min_fraction
        self.load = load

    # --- the record -------------------------------------------------------------------

    def verdicts(self) -> dict[str, Verdict]:
        """Every verdict; raises GateRecordUnreadable when the store cannot give them."""
        try:
            return self.store.verdicts()
        except Exception as exc:  # noqa: BLE001 - whatever the database says, the record is unreadable
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise GateRecordUnreadable(f"the retrain gate's record in {self.store.location} is unreadable "
                                       f"({first}): nothing new is accepted") from None

    def verdict(self, name: str) -> Verdict | None:
        """The recorded verdict on folder `name`, or None."""
        return self.verdicts().get(name)

    def record(self, name: str, accepted: bool, why: str) -> None:
        """Keep a verdict (one statement: the store holds the old verdict or the new one)."""
        self.store.record_verdict(name, accepted, why)
        log.info("model gate: %s %s (%s)", name, "accepted" if accepted else "rejected", why)

    def served(self) -> Path | None:
        """The folder the record says serves (`engine.modelfolder.served_folder`)."""
        return served_folder(self.models_dir, accepted_of(self.verdicts()))

    def adopt_legacy_record(self) -> None:
        """Move the verdicts of an earlier rarereads' `gate.json` into the store (once, while the
        store holds none), then set the file aside. Raises GateRecordUnreadable if it is unreadable."""
        if self.verdicts():
            return
        legacy = legacy_verdicts(self.models_dir)
        for name, (accepted, why) in legacy.items():
            self.store.record_verdict(name, accepted, f"{why} (from {LEGACY_RECORD})")
        if legacy:
            try:
                os.replace(self.models_dir / LEGACY_RECORD, self.models_dir / f"{LEGACY_RECORD}.moved")
            except FileNotFoundError:  # another process moved it first
                pass
            log.info("model gate: %d verdicts moved from %s into the shelf store", len(legacy), LEGACY_RECORD)

    # --- the rule ---------------------------------------------------------------------

    def compare(self, old: Manifest | None, new: Manifest, old_name: str = "", new_name: str = "") -> tuple[bool, str]:
        """Whether the new model may replace the old one, and a sentence saying why: the new
        model's figure named by the old one's `metrics["primary"]` against the old one's."""
        old_fig = old.primary if old is not None else None
        if old_fig is None:
            return True, "the serving model had no figure to compare"
        new_value = new.figure(old_fig.name)
        if new_value is None:
            return False, f"it has no {old_fig.name} figure to compare with {old_name}'s"
        if new_value < self.min_fraction * old_fig.value:
            return False, (f"it scores {old_fig.name} = {new_value:.4f}, below {self.min_fraction:.0%} of "
                           f"{old_fig.value:.4f} for {old_name}")
        return True, f"{old_fig.name} = {new_value:.4f} (was {old_fig.value:.4f} with {old_name})"

    def load_checked(self, folder: Path):
        """Load `folder` and check it answers; raises ModelFolderError."""
        return load_checked(self.load, folder)

    # --- start-up ---------------------------------------------------------------------

    def choose_engine(self) -> tuple[Any, list[str]]:
        """The engine to serve at start-up, and notes on folders refused on the way.

        Folders without a verdict that are newer than the one serving are gated against it
        first (newest first); then the serving folder must still load and answer, or it is
        refused and the next one tried. With no verdicts at all, the newest folder that
        loads and answers is accepted. Raises ModelFolderError (GateRecordUnreadable when
        the record cannot be read) when nothing can serve.
        """
        self.adopt_legacy_record()
        notes: list[str] = []
        while True:
            accepted = accepted_of(self.verdicts())
            serving = served_folder(self.models_dir, accepted)
            if serving is None:
                raise ModelFolderError(f"no model folder in {shown_path(self.models_dir)} can serve"
                                       + (f" ({'; '.join(notes)})" if notes else "") + "; train one with `rarereads train`")
            newer = [f for f in model_folders(self.models_dir) if f.name > serving.name and f.name not in accepted]
            for folder in reversed(newer):
                engine = self._admit(folder, serving, notes)
                if engine is not None:
                    return engine, notes
            try:
                engine = self.load_checked(serving)
            except Exception as exc:  # noqa: BLE001 - whatever a folder does wrong, it does not serve
                self.record(serving.name, False, f"does not work: {exc}")
                notes.append(f"{serving.name} refused: it does not work ({exc})")
                continue
            if serving.name not in accepted:
                self.record(serving.name, True, "served at start-up: the first model here")
            return engine, notes

    def _admit(self, folder: Path, serving: Path, notes: list[str]):
        """Gate an unjudged `folder` against `serving`: its engine if it passes, else None (recorded)."""
        try:
            baseline = read_manifest(serving)
        except ModelFolderError as exc:  # the model it would replace cannot serve any more itself
            self.record(serving.name, False, f"no longer readable: {exc}")
            notes.append(f"{serving.name} refused: it is no longer readable ({exc})")
            baseline = None
        try:
            ok, why = self.compare(baseline, read_manifest(folder), serving.name, folder.name)
        except ModelFolderError as exc:
            ok, why = False, str(exc)
        if ok:
            try:
                engine = self.load_checked(folder)
            except Exception as exc:  # noqa: BLE001 - whatever a folder does wrong, it does not serve
                ok, why = False, f"does not work: {exc}"
        self.record(folder.name, ok, why)
        if not ok:
            notes.append(f"{folder.name} refused: {why}")
            return None
        return engine


def serving_engine(gate: ModelGate, pinned: str | Path | None = None):
    """The engine a bot or the chat starts with: `pinned` (the operator's choice, still checked)
    or the gate's choice; returns (engine, notes). Raises ModelFolderError."""
    if pinned is None:
        return gate.choose_engine()
    verdict = gate.verdicts().get(Path(pinned).name)
    notes = [f"{Path(pinned).name} is pinned although the gate refused it: {verdict.why}"] if verdict and not verdict.accepted else []
    return gate.load_checked(Path(pinned)), notes


def served_engine(models_dir: str | Path, verdicts: dict[str, Verdict], pinned: str | Path | None = None,
                  load: Callable[[Path], Any] = _default_load):
    """The engine of the folder that serves (or `pinned`), for commands that only look: the gate's
    record is read, never written. Raises ModelFolderError."""
    folder = Path(pinned) if pinned is not None else served_folder(models_dir, accepted_of(verdicts))
    if folder is None:
        raise ModelFolderError(f"no model folder in {shown_path(models_dir)} can serve; train one with `rarereads train`")
    return load_checked(load, folder)
