"""Shared set-up for the bot tests: tiny model, real SQLite shelves, real service and runtime."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from models import make_model  # noqa: E402

from bot.ratelimit import RateLimiter  # noqa: E402
from bot.retrain import RetrainManager  # noqa: E402
from bot.runtime import BotRuntime  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from engine.recommender import Engine, EngineHolder  # noqa: E402
from engine.shelf import open_shelves  # noqa: E402

FAKE_TRAINER = Path(__file__).parent / "fake_trainer.py"
NASTY_INPUTS = ["", " ", "x" * 10_000, "📚🔥✨🐉", "<b>bold</b> &amp; <script>alert(1)</script>", "**bold** __u__ `code` [x](http://e.x)",
                "'; DROP TABLE entries; --", "\x00\x1b[31m", "dune" * 2500]


def make_runtime(tmp_path: Path, env: dict, *, trainer_mode: str = "ok", rate: tuple[int, float] = (1000, 1.0),
                 books=None, trainer_sleep: float = 0.0):
    """(runtime, shelves): model "a" serving, shelves in tmp_path, the fake trainer for retrains."""
    from bot.service import Service

    models = tmp_path / "models"
    folder = models / "20250101-000000-a"  # a bot started again on the same folders finds it there
    if not folder.exists():
        make_model(models, folder.name, "a", metric=0.30, **({"books": books} if books else {}))
    holder = EngineHolder(Engine.from_folder(folder))
    shelves = open_shelves(tmp_path / "shelves.sqlite")
    settings = load_settings(env)

    def trainer(extra_likes: Path, models_dir: Path, extra_negatives: Path | None = None) -> list[str]:
        negatives = ["--extra-negatives", str(extra_negatives)] if extra_negatives else []
        return [sys.executable, str(FAKE_TRAINER), "--models-dir", str(models_dir), "--extra-likes", str(extra_likes),
                *negatives, "--mode", trainer_mode, "--flavour", "b", "--sleep", str(trainer_sleep)]

    runtime = BotRuntime(service=Service(holder, shelves, default_rarity="rare"),
                         retrain=RetrainManager(holder, shelves, models, trainer_command=trainer, progress_interval=0),
                         settings=settings, limiter=RateLimiter(*rate))
    return runtime, shelves
