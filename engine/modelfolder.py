"""Model folders: the only hand-off from the trainer to the engine.

A model folder holds:

- `vectors.npz`: `query` (float32 [n, d]: a work's vector on the reader side),
  `target` (float32 [n, d]: a work's vector on the candidate side) and `bias`
  (float32 [n]) such that `mean(query[liked]) @ target[c] + bias[c]` scores how
  likely a reader of the liked works is to like work c (popularity included);
- `index.bin`: an hnswlib index (space `ip`) over `target`;
- `works.tsv.gz`: the catalogue (title, author, year, cover_url, isbns, likes);
- `matcher.npz` (optional): the title matcher's index (`engine.matcher.TitleMatcher.save`),
  so the engine loads it in a second instead of building it (minutes at 2.8M works);
- `manifest.json`: format version, data fingerprint, config, metrics, creation
  time and the size and SHA-256 of every file above;
- optionally `loss.png`, `map.png` and `eval.md`.

Folders are written to a temporary sibling and renamed into place only when complete.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import zipfile

import numpy as np

from .dataset import Works
from .errors import ModelFolderError
from .matcher import TitleMatcher

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
REQUIRED_FILES = ("vectors.npz", "index.bin", "works.tsv.gz")
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200


@dataclass
class ModelFolder:
    """Everything the engine serves from, loaded and checked against its manifest."""

    path: Path
    manifest: dict
    works: Works
    likes: np.ndarray  # int64 [n] training likes per work
    query: np.ndarray
    target: np.ndarray
    bias: np.ndarray
    index: object = field(repr=False)  # hnswlib.Index
    matcher: TitleMatcher | None = field(default=None, repr=False)  # from matcher.npz, when present

    @property
    def dim(self) -> int:
        return int(self.target.shape[1])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_index(target: np.ndarray, m: int = HNSW_M, ef_construction: int = HNSW_EF_CONSTRUCTION,
                threads: int = -1):
    """HNSW (inner product) over the candidate-side vectors."""
    import hnswlib

    index = hnswlib.Index(space="ip", dim=int(target.shape[1]))
    index.init_index(max_elements=max(1, len(target)), M=m, ef_construction=ef_construction, random_seed=0)
    index.add_items(np.ascontiguousarray(target, dtype=np.float32), np.arange(len(target)), num_threads=threads)
    return index


def write_model_folder(out_dir: str | Path, *, works: Works, likes: np.ndarray, query: np.ndarray,
                       target: np.ndarray, bias: np.ndarray, config: dict, metrics: dict,
                       data_fingerprint: str, extra_files: dict[str, Path] | None = None,
                       index=None, matcher: TitleMatcher | bool = True) -> Path:
    """Write a complete model folder atomically (temporary folder, then rename) and return its path.

    Args:
        index: A built HNSW index over `target`; built here when None.
        matcher: The title matcher to store as `matcher.npz`: True builds it from `works`
            and `likes` (what the engine would build on every load otherwise), False
            stores none, or pass one already built.
    """
    out_dir = Path(out_dir)
    n = len(works)
    if not (len(likes) == len(query) == len(target) == len(bias) == n):
        raise ValueError("works, likes and vectors must have one row per work")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        np.savez(tmp / "vectors.npz", query=query.astype(np.float32), target=target.astype(np.float32),
                 bias=bias.astype(np.float32))
        (index or build_index(target)).save_index(str(tmp / "index.bin"))
        works.write_tsv(tmp / "works.tsv.gz", extra={"likes": np.asarray(likes)})
        if matcher is True:
            matcher = TitleMatcher(works.title, works.author, likes)
        if matcher:
            matcher.save(tmp / "matcher.npz")
        for name, src in (extra_files or {}).items():
            shutil.copyfile(src, tmp / name)
        files = {p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)} for p in sorted(tmp.iterdir())}
        manifest = {
            "format_version": FORMAT_VERSION,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "data_fingerprint": data_fingerprint,
            "n_works": n,
            "dim": int(target.shape[1]),
            "config": config,
            "metrics": metrics,
            "files": files,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        if out_dir.exists():
            raise FileExistsError(f"{out_dir} already exists")
        os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def read_manifest(path: str | Path) -> dict:
    path = Path(path)
    manifest_path = path / "manifest.json"
    if not path.is_dir():
        raise ModelFolderError(f"{path} is not a model folder (no such directory); train one with `rarereads train`")
    if not manifest_path.exists():
        raise ModelFolderError(f"{path} has no manifest.json: it is not a finished model folder")
    try:
        manifest = json.loads(manifest_path.read_text())
    except ValueError as exc:
        raise ModelFolderError(f"{manifest_path} is not valid JSON: {exc}") from exc
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ModelFolderError(f"{path}: model format {manifest.get('format_version')!r}, this rarereads reads {FORMAT_VERSION}")
    return manifest


def verify_model_folder(path: str | Path, check_hashes: bool = True) -> dict:
    """Return the manifest if every listed file exists with its recorded size (and hash)."""
    path = Path(path)
    manifest = read_manifest(path)
    files = manifest.get("files", {})
    for name in REQUIRED_FILES:
        if name not in files:
            raise ModelFolderError(f"{path}: manifest does not list {name}")
    for name, info in files.items():
        file = path / name
        if not file.exists():
            raise ModelFolderError(f"{path}: {name} is listed in manifest.json but missing")
        if file.stat().st_size != info.get("bytes"):
            raise ModelFolderError(f"{path}: {name} has {file.stat().st_size} bytes, manifest says {info.get('bytes')}")
        if check_hashes and _sha256(file) != info.get("sha256"):
            raise ModelFolderError(f"{path}: {name} does not match its SHA-256 in manifest.json")
    return manifest


def load_model_folder(path: str | Path, check_hashes: bool = True, ef: int = 128) -> ModelFolder:
    """Load and verify a model folder; raises ModelFolderError with a clear message when it is unusable."""
    import hnswlib

    path = Path(path)
    manifest = verify_model_folder(path, check_hashes)
    vectors = _load_arrays(path / "vectors.npz")
    works, extra = Works.read_tsv(path / "works.tsv.gz", compact=True)
    query, target, bias = vectors["query"], vectors["target"], vectors["bias"]
    if not (len(works) == len(query) == len(target) == len(bias) == manifest["n_works"]):
        raise ModelFolderError(f"{path}: catalogue and vectors disagree on the number of works")
    index = hnswlib.Index(space="ip", dim=int(target.shape[1]))
    index.load_index(str(path / "index.bin"), max_elements=len(target))
    index.set_ef(ef)
    matcher = None
    if (path / "matcher.npz").exists() and "matcher.npz" in manifest.get("files", {}):
        try:
            matcher = TitleMatcher.load(path / "matcher.npz")
        except (OSError, ValueError, KeyError) as exc:
            log.warning("%s: rebuilding the title matcher, matcher.npz is unusable: %s", path, exc)
        if matcher is not None and len(matcher) != len(works):
            log.warning("%s: rebuilding the title matcher, matcher.npz is for another catalogue", path)
            matcher = None
    return ModelFolder(path, manifest, works, extra.get("likes", np.zeros(len(works), np.int64)),
                       query, target, bias, index, matcher)


def _load_arrays(path: Path) -> dict[str, np.ndarray]:
    """Arrays of an `.npz`, memory-mapped read-only where stored uncompressed (as `np.savez` writes).

    The engine reads a few hundred rows of the vectors per request: mapping them keeps
    2.8M x 64 x 2 floats (1.4 GB) out of the serving process's memory until touched.
    """
    arrays = {}
    with zipfile.ZipFile(path) as archive, open(path, "rb") as handle:
        for info in archive.infolist():
            name = info.filename.removesuffix(".npy")
            if info.compress_type != zipfile.ZIP_STORED:
                arrays[name] = np.load(archive.open(info))
                continue
            handle.seek(info.header_offset)
            local = handle.read(30)  # local file header; name and extra lengths at 26 and 28
            start = info.header_offset + 30 + int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30], "little")
            handle.seek(start)
            version = np.lib.format.read_magic(handle)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(handle)
            if dtype.hasobject or 0 in shape:
                arrays[name] = np.load(archive.open(info))
                continue
            arrays[name] = np.memmap(path, dtype=dtype, mode="r", offset=handle.tell(), shape=shape,
                                     order="F" if fortran else "C")
    return arrays


class FileRows:
    """Rows of a memory-mapped array, read with `os.pread` so that no page of the file is mapped.

    A page fault on a memory-mapped file maps the whole page-cache folio around it (hundreds
    of kB on ext4), so a server that reads one 256-byte vector per book asked about ends up
    with most of a 0.7 GB file resident. Reading the rows keeps them in the page cache,
    which the kernel can reclaim, and out of the process's resident memory. Arrays that
    are not memory-mapped (tests, older folders) are indexed directly.
    """

    def __init__(self, array: np.ndarray):
        self.array = array
        self.shape, self.dtype = array.shape, array.dtype
        filename = getattr(array, "filename", None)
        self._fd = os.open(filename, os.O_RDONLY) if isinstance(array, np.memmap) and filename else None
        self._row = int(np.prod(array.shape[1:], dtype=np.int64)) * array.dtype.itemsize
        if self._fd is not None:
            self._offset = int(array.offset)
            weakref.finalize(self, os.close, self._fd)

    def rows(self, ids) -> np.ndarray:
        """`array[ids]` for a sequence of row ids."""
        ids = np.asarray(ids, np.int64).reshape(-1)
        if self._fd is None:
            return np.asarray(self.array[ids])
        if len(ids) and (ids.min() < 0 or ids.max() >= self.shape[0]):
            raise IndexError("row out of range")
        data = b"".join(os.pread(self._fd, self._row, self._offset + i * self._row) for i in ids.tolist())
        return np.frombuffer(data, self.dtype).reshape(len(ids), *self.shape[1:]).copy()

    def span(self, start: int, stop: int) -> np.ndarray:
        """`array[start:stop]` of a 1-D array."""
        if self._fd is None or stop <= start:
            return np.asarray(self.array[start:stop])
        data = os.pread(self._fd, (stop - start) * self._row, self._offset + start * self._row)
        return np.frombuffer(data, self.dtype)


def model_folders(models_dir: str | Path) -> list[Path]:
    """Finished model folders under `models_dir`, oldest first (by name: timestamps sort)."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return []
    return sorted(p for p in models_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
                  and (p / "manifest.json").exists())


def latest_model_folder(models_dir: str | Path) -> Path | None:
    """Newest finished model folder under `models_dir` (by name: timestamps sort), or None."""
    done = model_folders(models_dir)
    return done[-1] if done else None
