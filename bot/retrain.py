"""Admin retraining with a hot swap: train in a child process, gate, swap or keep.

The trainer runs as `python -m rarereads train --extra-likes <csv>` in a separate process
group, so torch never loads into the bot, a crash there cannot take the bot down, and a
timeout ends it with all its children. It gets only the environment it needs (never the
bot tokens). When it finishes, the new folder meets the gate (`bot.gate.ModelGate`): its
evaluation figure against the serving model's, then a load and a check that it answers;
only then is it recorded as accepted and swapped in through `EngineHolder.swap` (other bot
processes follow the record: `bot.modelwatch`). Every verdict is recorded, so a refused
folder is never served later, also after a restart. Requests read `holder.current` once,
so each is answered by one model. One retrain runs at a time across every process on the
store: it holds the store's `retrain` lease (`bot.leases`).
"""
from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping

from engine.modelfolder import model_folders, read_manifest
from rarereads.paths import PROJECT_ROOT

from .gate import ModelGate
from .leases import RETRAIN, Lease, LeaseTaken

log = logging.getLogger(__name__)

Progress = Callable[[str], Awaitable[None]]
# What the trainer's process may see of ours: the system's basics, Python's, and the
# accelerator and thread settings; never the bot tokens or anything else (the bot's .env).
TRAINER_ENV_NAMES = {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP",
                     "PYTHONPATH", "PYTHONHASHSEED", "VIRTUAL_ENV", "OMP_NUM_THREADS", "MASTER_ADDR", "MASTER_PORT"}
TRAINER_ENV_PREFIXES = ("LC_", "CUDA_", "NVIDIA_", "HIP_", "ROCR_", "MKL_", "OPENBLAS_", "TORCH_", "PYTORCH_", "NCCL_")
KILL_GRACE_SECONDS = 5.0  # between SIGTERM and SIGKILL when a trainer runs out of time


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


def write_extra_negatives(dismissed, path: Path) -> int:
    """Write "not interested" marks as the trainer's CSV (`reader,title,author,work_key`); returns rows.

    Args:
        dismissed: `ShelfStore.all_dismissed()` rows: (reader, work key, title, author).
        path: The CSV to write.
    """
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["reader", "title", "author", "work_key"])
        rows = 0
        for reader, key, title, author in dismissed:
            writer.writerow([reader, title, author, key])
            rows += 1
    return rows



def default_trainer_command(extra_likes: Path, models_dir: Path, extra_negatives: Path | None = None) -> list[str]:
    """The real trainer: this Python, `-m rarereads train --models-dir DIR --extra-likes CSV
    [--extra-negatives CSV]`."""
    argv = [sys.executable, "-m", "rarereads", "train", "--models-dir", str(models_dir), "--extra-likes", str(extra_likes)]
    return argv + (["--extra-negatives", str(extra_negatives)] if extra_negatives is not None else [])


def trainer_environment(environ: Mapping[str, str], models_dir: Path) -> dict[str, str]:
    """The environment the trainer runs with: the names it needs from `environ`, and its models folder."""
    env = {k: v for k, v in environ.items() if k in TRAINER_ENV_NAMES or k.startswith(TRAINER_ENV_PREFIXES)}
    env.update(RAREREADS_MODELS_DIR=str(models_dir), PYTHONUNBUFFERED="1")
    return env


class RetrainManager:
    """Runs one retrain at a time and swaps the result in when it passes the gate.

    Args:
        holder: The `EngineHolder` every request reads its engine from.
        shelves: The `ShelfStore`; all shelf likes go to the trainer as extra likes, and it
            keeps the gate's verdicts and the retrain lease.
        models_dir: Where the trainer writes model folders.
        min_fraction: The new model's figure must reach this fraction of the current one's.
        trainer_command: Builds the child's argv from the extra-likes CSV path, `models_dir`
            and the extra-negatives CSV path ("not interested" marks; None when there are none);
            None means `default_trainer_command`, looked up when a retrain starts.
        load_engine: Loads an engine from a model folder (blocking; run in a thread).
        timeout: Seconds before the trainer and its children are stopped; None waits as long as it takes.
        progress_interval: Least seconds between two progress reports (chat edits are rate-limited).
        gate: The gate (by default one over `models_dir` and `shelves` with `min_fraction`).
    """

    def __init__(self, holder, shelves, models_dir: str | Path, *, min_fraction: float = 0.9,
                 trainer_command: Callable[..., list[str]] | None = None,
                 load_engine: Callable[[Path], Any] | None = None,
                 timeout: float | None = None, progress_interval: float = 2.0, gate: ModelGate | None = None):
        self.holder = holder
        self.shelves = shelves
        self.models_dir = Path(models_dir)
        options = {"min_fraction": min_fraction, **({"load": load_engine} if load_engine else {})}
        self.gate = gate or ModelGate(self.models_dir, shelves, **options)
        self.trainer_command = trainer_command
        self.timeout = timeout
        self.progress_interval = progress_interval
        self.last: RetrainResult | None = None
        self.started_at: float | None = None
        self._lock = asyncio.Lock()

    @property
    def running(self) -> bool:
        """Whether a retrain is under way in this process."""
        return self._lock.locked()

    async def retrain(self, progress: Progress | None = None, requested_by: str = "schedule") -> RetrainResult:
        """Train, gate and maybe swap; raises `RetrainBusy` if one is already running here or
        in another process on the same shelf store."""
        if self._lock.locked():
            raise RetrainBusy("A retrain is already running.")
        async with self._lock:
            lease = Lease(self.shelves, RETRAIN)
            try:
                await asyncio.to_thread(lease.take)
            except LeaseTaken as exc:
                raise RetrainBusy(f"A retrain is already running in another rarereads process ({exc.holder}).") from None
            keeper = asyncio.get_running_loop().create_task(lease.keep())
            try:
                return await self._retrain_held(progress, requested_by)
            finally:
                keeper.cancel()
                await asyncio.gather(keeper, return_exceptions=True)
                await asyncio.to_thread(lease.release)

    async def _retrain_held(self, progress: Progress | None, requested_by: str) -> RetrainResult:
        """`retrain` while holding the lock and the lease."""
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
            likes, negatives = workdir / "extra_likes.csv", workdir / "extra_negatives.csv"
            n_likes = await asyncio.to_thread(lambda: write_extra_likes(self.shelves.all_likes(), likes, old.work_by_key))
            n_negatives = await asyncio.to_thread(lambda: write_extra_negatives(self.shelves.all_dismissed(), negatives))
            said_no = f" and {n_negatives} not interested" if n_negatives else ""
            await report(f"Training a new model with {n_likes} shelf like{'s' if n_likes != 1 else ''}{said_no}…",
                         force=True)
            before = set(model_folders(self.models_dir))
            argv = await asyncio.to_thread(self.trainer_command or default_trainer_command, likes, self.models_dir,
                                           negatives if n_negatives else None)
            code, tail = await self._run_trainer(argv, report)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        new_folders = sorted(set(model_folders(self.models_dir)) - before)
        keep = f"{old_version} keeps serving." if old_version else "the current model keeps serving."
        if code != 0:
            last = next((line for line in reversed(tail) if line.strip()), "no output")
            why = "it ran out of time" if code is None else f"it exited with status {code}: {last[:300]}"
            for folder in new_folders:  # whatever a failed trainer left is not a model
                self.gate.record(folder.name, False, f"written by a trainer that failed ({why})")
            return RetrainResult(False, f"Training failed ({why}); {keep}", old_version=old_version)
        if not new_folders:
            return RetrainResult(False, f"The trainer finished but wrote no new model folder; {keep}",
                                 old_version=old_version)
        folder = new_folders[-1]
        await report(f"Training done; checking {folder.name}…", force=True)
        old_manifest = getattr(old, "manifest", None)
        new_manifest = await asyncio.to_thread(read_manifest, folder)
        old_fig = old_manifest.primary if old_manifest is not None else None
        name = (old_fig or new_manifest.primary).name if (old_fig or new_manifest.primary) else ""
        result = RetrainResult(False, "", old_version, folder.name, old_fig and old_fig.value,
                               new_manifest.figure(name) if name else None, name)
        ok, why = self.gate.compare(old_manifest, new_manifest, old_version, folder.name)
        if not ok:
            self.gate.record(folder.name, False, why)
            result.message = f"The new model {folder.name} is refused: {why}; {keep}"
            return result
        try:
            new = await asyncio.to_thread(self.gate.load_checked, folder)
        except Exception as exc:  # noqa: BLE001 - a folder that does not load or answer never serves
            self.gate.record(folder.name, False, f"does not work: {exc}")
            result.message = f"The new model {folder.name} does not work ({exc}); {keep}"
            return result
        await asyncio.to_thread(self.gate.record, folder.name, True, why)  # first the record, which every process follows
        self.holder.swap(new)
        result.swapped = True
        result.message = f"Now serving {folder.name}: {why}."
        return result

    async def _run_trainer(self, argv: list[str], report: "_Reporter") -> tuple[int | None, deque[str]]:
        """Run the trainer in its own process group, relaying its last output line.

        Returns (exit status, or None when it ran out of time, and the output's tail). On a
        timeout or a cancellation the whole group (the trainer and any children) is ended.
        """
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=PROJECT_ROOT, env=trainer_environment(os.environ, self.models_dir),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True)
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
            log.warning("the trainer ran out of time (%s s); ending it and its children", self.timeout)
            return None, tail
        finally:
            await _end_group(proc)
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


async def _end_group(proc) -> None:
    """End the trainer's process group: SIGTERM, a grace period, then SIGKILL for whatever is left."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.shield(proc.wait()), KILL_GRACE_SECONDS)
    except asyncio.TimeoutError:
        pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # children that outlived the trainer
    await proc.wait()


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
