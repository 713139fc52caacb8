"""Default locations, relative to the project (constants: the settings, `rarereads.settings`, read
`RAREREADS_MODELS_DIR` and `RAREREADS_DB`, whose defaults these are)."""
from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATASET = PROJECT_ROOT / "data" / "bookcrossing"
DEFAULT_MODELS_DIR = PROJECT_ROOT / "models"
DEFAULT_DB = PROJECT_ROOT / "var" / "shelves.sqlite"
