"""Default locations, relative to the project.

`RAREREADS_MODELS_DIR` and `RAREREADS_DB` (documented in .env.example) move them for the
command-line tools as they do for the bots; flags override both.
"""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATASET = PROJECT_ROOT / "data" / "bookcrossing"
DEFAULT_MODELS_DIR = Path(os.environ.get("RAREREADS_MODELS_DIR") or PROJECT_ROOT / "models")
# A SQLite file, or a postgresql:// URL (kept a string: a Path would fold its "//").
DEFAULT_DB: str | Path = os.environ.get("RAREREADS_DB") or PROJECT_ROOT / "var" / "shelves.sqlite"
