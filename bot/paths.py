"""Default locations inside the project; flags (CLI) and bot.settings (bots) override them."""
from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATASET = PROJECT_ROOT / "data" / "bookcrossing"
DEFAULT_MODELS_DIR = PROJECT_ROOT / "models"
DEFAULT_DB = PROJECT_ROOT / "var" / "shelves.sqlite"
