"""Default locations, relative to the project (overridable by flags or settings)."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATASET = PROJECT_ROOT / "data" / "bookcrossing"
DEFAULT_MODELS_DIR = Path(os.environ.get("RAREREADS_MODELS_DIR", PROJECT_ROOT / "models"))
DEFAULT_DB = Path(os.environ.get("RAREREADS_DB", PROJECT_ROOT / "var" / "shelves.sqlite"))
