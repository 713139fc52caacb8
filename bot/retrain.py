"""Admin retraining with a hot swap: train in a child process, compare, swap or keep.

The trainer runs as `python -m rarereads train --extra-likes <csv>` in a separate
process, so torch never loads into the bot and a crash there cannot take the bot
down. When it finishes, the new model folder's evaluation figure (from its
manifest) is compared with the serving model's; the new engine replaces the old
one through `EngineHolder.swap` only if it reaches `min_fraction` of the old
figure. Requests read `holder.current` once, so each is answered by one model.
"""
from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import logging
import os
import re
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

from rarereads.paths import PROJECT_ROOT

log = logging.getLogger(__name__)

Progress = Callable[[str], Awaitable[None]]

# Figures looked for in a manifest's "metrics", best first (higher is better for all of them);
# `rarereads train` writes "val_hit@20" (hit rate of held-out likes in the top 20).
METRIC_PREFERENCE = ("val_hit@20", "hit@20", "recall@20", "recall@10", "ndcg@10", "ndcg@20", "hit@10", "map@10")
_NUMBER = (int, float)


class RetrainBusy(RuntimeError):
    """A retrain is already running."""


@dataclass
class RetrainResult:
    """How a retrain ended; `message` is written for the admin who asked."""

    swapped: bool
    message: str
    old_version: str = ""
    new_version: str = ""
    old_metric: float | None = None
    new_metric: float | None = None
    metric_name: str = ""
    seconds: float = 0.0


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


def write_extra_likes(likes, path: Path, lookup: Callable[[str], Any] | None = None) -> int:
    """Write shelf likes as the trainer's CSV (`reader,title,author,work_key,rating`); returns rows written.

    Args:
        likes: `ShelfStore.all_likes()` rows: (reader, work key, rating).
        path: The CSV to write.
        lookup: Work key -> `Work` (the serving engine's `work_by_key`): the trainer matches
            rows by title and author, which shelves do not store. Unknown keys are skipped.
    """
    rows = 0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["reader", "title", "author", "work_key", "rating"])
        for reader, key, *rest in likes:
            work = lookup(key) if lookup is not None else None
            if work is None:
                continue
            rating = rest[0] if rest else None
            writer.writerow([reader, work.title, work.author, key, "" if rating is None else rating])
            rows += 1
    return rows


def default_trainer_command(extra_likes: Path, models_dir: Path) -> list[str]:
    """The real trainer: this Python, `-m rarereads train --models-dir DIR --extra-likes CSV`."""
    return [sys.executable, "-m", "rarereads", "train", "--models-dir", str(models_dir), "--extra-likes", str(extra_likes)]


def _default_load_engine(path: Path):
    from engine.recommender import Engine

    return Engine.from_folder(path)


def _model_folders(models_dir: Path) -> set[Path]:
    if not models_dir.is_dir():
        return set()
    return {p for p in models_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
            and (p / "manifest.json").exists()}


class RetrainManager:
    """Runs one retrain at a time and swaps the result in when it is good enough.

    Args:
        holder: The `EngineHolder` every request reads its engine from.
        shelves: The `ShelfStore`; all shelf likes go to the trainer as extra likes.
        models_dir: Where the trainer writes model folders.
        min_fraction: The new model's figure must reach this fraction of the current one's.
        trainer_command: Builds the child's argv from the extra-likes CSV path and `models_dir`.
        load_engine: Loads an engine from a model folder (blocking; run in a thread).
        metric: Dotted name of the manifest figure to compare; None picks one (`model_metric`).
        timeout: Seconds before the trainer is stopped; None waits as long as it takes.
        progress_interval: Least seconds between two progress reports (chat edits are rate-limited).
    """

    def __init__(self, holder, shelves, models_dir: str | Path, *, min_fraction: float = 0.9,
                 trainer_command: Callable[[Path, Path], list[str]] = default_trainer_command,
                 load_engine: Callable[[Path], Any] = _default_load_engine, metric: str | None = None,
                 timeout: float | None = None, progress_interval: float = 2.0):
        self.holder = holder
        self.shelves = shelves
        self.models_dir = Path(models_dir)
        self.min_fraction = min_fraction
        self.trainer_command = trainer_command
        self.load_engine = load_engine
        self.metric = metric
        self.timeout = timeout
        self.progress_interval = progress_interval
        self.last: RetrainResult | None = None
        self.started_at: float | None = None
        self._lock = asyncio.Lock()

    @property
    def running(self) -> bool:
        """Whether a retrain is under way."""
        return self._lock.locked()

    async def retrain(self, progress: Progress | None = None, requested_by: str = "schedule") -> RetrainResult:
        """Train, compare and maybe swap; raises `RetrainBusy` if one is already running."""
        if self._lock.locked():
            raise RetrainBusy("a retrain is already running")
        async with self._lock:
            self.started_at = time.monotonic()
            log.info("retrain started by %s", requested_by)
            report = _Reporter(progress, self.progress_interval)
            try:
                result = await self._retrain(report)
            except asyncio.CancelledError:
                log.info("retrain cancelled (shutting down); the current model keeps serving")
                raise
            except Exception as exc:  # the bot must survive whatever the trainer or loader does
                log.exception("retrain failed")
                result = RetrainResult(False, f"Retraining failed ({type(exc).__name__}: {exc}); "
                                              "the current model keeps serving.")
            result.seconds = time.monotonic() - self.started_at
            self.last = result
            self.started_at = None
            log.info("retrain finished: %s", result.message)
            return result

    async def _retrain(self, report: "_Reporter") -> RetrainResult:
        old = self.holder.current
        old_version = getattr(old, "version", "")
        workdir = Path(tempfile.mkdtemp(prefix="rarereads-retrain-"))
        try:
            csv_path = workdir / "extra_likes.csv"
            n_likes = await asyncio.to_thread(lambda: write_extra_likes(self.shelves.all_likes(), csv_path, old.work_by_key))
            await report(f"Training a new model with {n_likes} shelf like{'s' if n_likes != 1 else ''}…", force=True)
            before = _model_folders(self.models_dir)
            code, tail = await self._run_trainer(self.trainer_command(csv_path, self.models_dir), report)
        finally:
            for file in workdir.iterdir():
                file.unlink(missing_ok=True)
            workdir.rmdir()
        if code != 0:
            last = next((line for line in reversed(tail) if line.strip()), "no output")
            why = "it ran out of time" if code is None else f"it exited with status {code}: {last[:300]}"
            return RetrainResult(False, f"Training failed ({why}); the current model keeps serving.",
                                 old_version=old_version)
        new_folders = sorted(_model_folders(self.models_dir) - before)
        if not new_folders:
            return RetrainResult(False, "The trainer finished but wrote no new model folder; "
                                        "the current model keeps serving.", old_version=old_version)
        folder = new_folders[-1]
        await report(f"Training done; checking {folder.name}…", force=True)
        new = await asyncio.to_thread(self.load_engine, folder)
        return self._compare_and_swap(old, new, folder.name)

    def _compare_and_swap(self, old, new, new_version: str) -> RetrainResult:
        old_version = getattr(old, "version", "")
        old_fig = model_metric(getattr(old, "manifest", {}) or {}, self.metric)
        new_fig = model_metric(getattr(new, "manifest", {}) or {}, self.metric if old_fig is None else old_fig[0])
        result = RetrainResult(False, "", old_version, new_version, old_fig and old_fig[1], new_fig and new_fig[1],
                               (new_fig or old_fig or ("", 0))[0])
        if old_fig is not None and new_fig is None:
            result.message = (f"The new model {new_version} has no {old_fig[0]} figure to compare; "
                              f"{old_version} keeps serving.")
            return result
        if old_fig is not None and new_fig[1] < self.min_fraction * old_fig[1]:
            result.message = (f"The new model {new_version} scores {new_fig[0]} = {new_fig[1]:.4f}, below "
                              f"{self.min_fraction:.0%} of the current {old_fig[1]:.4f}; {old_version} keeps serving.")
            return result
        self.holder.swap(new)
        result.swapped = True
        if old_fig is None:
            result.message = f"Now serving {new_version} (the previous model had no figure to compare)."
        else:
            result.message = (f"Now serving {new_version}: {new_fig[0]} = {new_fig[1]:.4f} "
                              f"(was {old_fig[1]:.4f} with {old_version}).")
        return result

    async def _run_trainer(self, argv: list[str], report: "_Reporter") -> tuple[int | None, deque[str]]:
        """Run the trainer, relaying its last output line; returns (exit status or None on timeout, tail)."""
        env = {**os.environ, "RAREREADS_MODELS_DIR": str(self.models_dir), "PYTHONUNBUFFERED": "1"}
        proc = await asyncio.create_subprocess_exec(*argv, cwd=PROJECT_ROOT, env=env, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        tail: deque[str] = deque(maxlen=30)

        async def pump() -> None:
            buffer = ""
            while chunk := await proc.stdout.read(4096):
                buffer += chunk.decode("utf-8", errors="replace")
                *lines, buffer = re.split(r"[\r\n]", buffer)  # tqdm redraws with \r
                for line in filter(str.strip, lines):
                    tail.append(line.strip())
                    log.debug("trainer: %s", line.strip())
                    await report(line.strip())
            if buffer.strip():
                tail.append(buffer.strip())

        try:
            await asyncio.wait_for(asyncio.gather(pump(), proc.wait()), self.timeout)
        except asyncio.TimeoutError:
            return None, tail
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        return proc.returncode, tail

    async def run_schedule(self, schedule, notify: Callable[[RetrainResult], Awaitable[None]] | None = None,
                           now: Callable[[], dt.datetime] = dt.datetime.now) -> None:
        """Retrain unattended at every `schedule.next_run`; runs until cancelled."""
        while True:
            current = now()
            wait = (schedule.next_run(current) - current).total_seconds()
            log.info("next scheduled retrain in %.0f minutes", wait / 60)
            await asyncio.sleep(max(1.0, wait))
            try:
                result = await self.retrain(requested_by="schedule")
            except RetrainBusy:
                log.info("scheduled retrain skipped: one is already running")
                continue
            if notify is not None:
                with contextlib.suppress(Exception):
                    await notify(result)


class _Reporter:
    """Relays progress lines to a callback at most every `interval` seconds."""

    def __init__(self, progress: Progress | None, interval: float):
        self.progress = progress
        self.interval = interval
        self._last = float("-inf")
        self._last_text = ""

    async def __call__(self, text: str, force: bool = False) -> None:
        if self.progress is None or text == self._last_text:
            return
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last, self._last_text = now, text
        try:
            await self.progress(text[:500])
        except Exception:  # a failed chat edit must not stop training
            log.warning("could not report retrain progress", exc_info=True)
