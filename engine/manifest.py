"""A model folder's manifest, typed: what `engine.modelfolder` writes to `manifest.json` and reads back.

Only `engine.modelfolder` turns a `Manifest` into JSON and back; everyone else reads its
fields. `config` and `metrics` stay open mappings (each trainer records its own settings
and figures); the figure a retrain is judged on is the one `metrics["primary"]` names,
read with `primary`, never guessed.
"""
from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .errors import ModelFolderError

FORMAT_VERSION = 2  # 2: bias folded into the vectors, catalogue of every liked work, co-like weights


@dataclass(frozen=True)
class FileEntry:
    """One file of the folder as the manifest lists it."""

    bytes: int
    sha256: str


@dataclass(frozen=True)
class Figure:
    """A named evaluation figure (higher is better), e.g. `val_hit@20 = 0.12`."""

    name: str
    value: float


@dataclass(frozen=True)
class Manifest:
    """`manifest.json`, field by field (format 2)."""

    data_fingerprint: str
    n_works: int
    n_trained: int
    dim: int
    config: dict = field(default_factory=dict)  # the trainer's settings
    metrics: dict = field(default_factory=dict)  # the trainer's figures; "primary" names the one a retrain is judged on
    scoring: dict = field(default_factory=dict)  # how the dense and co-like orders are fused (empty without co-likes)
    files: dict[str, FileEntry] = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    format_version: int = FORMAT_VERSION

    @property
    def primary(self) -> Figure | None:
        """The figure `metrics["primary"]` names, or None when it names none (or no number)."""
        name = self.metrics.get("primary")
        value = self.figure(name) if isinstance(name, str) else None
        return Figure(name, value) if value is not None else None

    def figure(self, name: str) -> float | None:
        """The number at dotted path `name` in `metrics` ("popularity_baseline.hit@20"), or None."""
        value: Any = self.metrics
        for part in name.split("."):
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            return None
        return float(value)

    @property
    def created(self) -> dt.datetime | None:
        """When training finished (UTC), or None if the manifest does not say."""
        try:
            return dt.datetime.strptime(self.created_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
        except (TypeError, ValueError):
            return None

    # --- JSON (engine.modelfolder's business) -------------------------------------------------

    def to_json(self) -> dict:
        return {**asdict(self), "files": {name: asdict(entry) for name, entry in self.files.items()}}

    @classmethod
    def from_json(cls, data: Any, where: str) -> "Manifest":
        """The manifest in `data` (parsed JSON); raises ModelFolderError naming `where` when it is not one."""
        if not isinstance(data, dict):
            raise ModelFolderError(f"{where}: manifest.json does not hold a manifest")
        if data.get("format_version") != FORMAT_VERSION:
            raise ModelFolderError(f"{where}: model format {data.get('format_version')!r}, this rarereads reads "
                                   f"{FORMAT_VERSION}; train a new one with `rarereads train`")
        try:
            files = {str(name): FileEntry(int(entry["bytes"]), str(entry["sha256"]))
                     for name, entry in (data.get("files") or {}).items()}
            values = {f.name: data[f.name] for f in fields(cls) if f.name in data and f.name != "files"}
            manifest = cls(**{**values, "files": files})
            for name, kind in (("n_works", int), ("n_trained", int), ("dim", int), ("config", dict),
                               ("metrics", dict), ("scoring", dict)):
                if not isinstance(getattr(manifest, name), kind) or isinstance(getattr(manifest, name), bool):
                    raise TypeError(f"{name} is not a {kind.__name__}")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelFolderError(f"{where}: manifest.json is damaged ({exc})") from None
        return manifest


_FIELDS = {f.name for f in fields(Manifest)}
