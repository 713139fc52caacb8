"""Model folders: the only hand-off from the trainer to the engine, read and written only here.

A model folder holds:

- `vectors.npz`: `query` and `target` (float32 [n, d]: a work's vector on the reader side
  and on the candidate side) and `trained` (bool [n]: works the model learned a vector
  for). Its dense score of work c for a reader who liked works L is
  `mean(query[L]) @ target[c]` (over the works of L that have a vector);
- `index.bin`: the nearest-neighbour index (`engine.ann`) over the trained works' `target`;
- `works.tsv.gz`: the catalogue (title, author, year, cover_url, isbns, ..., likes, language,
  kind: see `engine.language` and `engine.kinds`): every
  work with a like in the data, also those the model learned nothing about (they can be
  found and shelved; the engine says when it cannot use one);
- optionally `colike_indptr.npy`, `colike_works.npy`, `colike_weights.npy`: sparse co-like
  weights, CSR by source work: the co-like score of c is the sum of `W[l, c]` over l in L.
  When present the engine fuses the two orders (`engine.ranking`, `Manifest.scoring`);
- optionally `fans_indptr.npy` + `fans_readers.npy`: the training readers of each work (CSR),
  for co-reader counts ("loved by 4 readers who loved Dune") and support floors;
- `profile.npy` (optional): uint8 [n, 8], each work's genre profile (`engine.profiles`);
- `matcher.npz` (optional): the title matcher's index (`engine.matcher.TitleMatcher.save`),
  so the engine loads it in a second instead of building it (minutes at 2.8M works);
- `manifest.json`: an `engine.manifest.Manifest`: format version, data fingerprint, config,
  metrics (with `primary`, the figure a retrain is judged on), scoring, creation time and
  the size and SHA-256 of every file above;
- optionally `loss.png`, `map.png`; and, written after the fact by `rarereads eval
  --model`, `eval.md` and `eval.json` (not in the manifest, which stays as training wrote it).

Folders are written to a temporary sibling and renamed into place only when complete.
Which folder serves is the retrain gate's record (kept in the shelf store):
`served_folder(models_dir, accepted)` reads it, the one rule every command follows.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import zipfile

import numpy as np

from .ann import HnswIndex
from .dataset import Works
from .errors import GateRecordUnreadable, ModelFolderError, shown_path
from .kinds import kind_codes
from .language import language_codes
from .manifest import FileEntry, Manifest
from .matcher import TitleMatcher
from .profiles import WIDTH as PROFILE_WIDTH

log = logging.getLogger(__name__)

LEGACY_RECORD = "gate.json"  # where the gate's verdicts were kept before the shelf store held them
REQUIRED_FILES = ("vectors.npz", "index.bin", "works.tsv.gz")
COLIKE_FILES = ("colike_indptr.npy", "colike_works.npy", "colike_weights.npy")
FANS_FILES = ("fans_indptr.npy", "fans_readers.npy")
IN_MEMORY_BYTES = 64 << 20  # a CSR table's columns and values up to this size are read into memory at load


@dataclass
class Sparse:
    """A CSR table over works, rows read on demand (`FileRows`): co-like weights or fans."""

    indptr: np.ndarray  # int64 [n + 1], in memory
    columns: "FileRows"  # int32 [nnz]: target works (co-like) or readers (fans)
    values: "FileRows | None" = None  # float32 [nnz] (co-like weights; None for fans)

    def row(self, i: int) -> np.ndarray:
        return self.columns.span(int(self.indptr[i]), int(self.indptr[i + 1]))

    def row_values(self, i: int) -> np.ndarray:
        return self.values.span(int(self.indptr[i]), int(self.indptr[i + 1]))

    def rows(self, ids) -> tuple[np.ndarray, np.ndarray | None]:
        """Columns (and values) of rows `ids`, concatenated."""
        ids = np.asarray(ids, np.int64).reshape(-1)
        starts, stops = self.indptr[ids], self.indptr[ids + 1]
        return self.columns.spans(starts, stops), (self.values.spans(starts, stops) if self.values is not None else None)

    def to_scipy(self, n_columns: int):
        """The whole table as a scipy CSR matrix (the evaluation scores every reader at once)."""
        from scipy.sparse import csr_matrix

        values = np.asarray(self.values.array, np.float32) if self.values is not None else \
            np.ones(len(self.columns.array), np.float32)
        return csr_matrix((values, np.asarray(self.columns.array), self.indptr), shape=(len(self.indptr) - 1, n_columns))


@dataclass
class ModelFolder:
    """Everything the engine serves from, loaded and checked against its manifest."""

    path: Path
    manifest: Manifest
    works: Works
    likes: np.ndarray  # int64 [n] training likes per work
    query: np.ndarray  # float32 [n, d] (memory-mapped)
    target: np.ndarray  # float32 [n, d] (memory-mapped)
    trained: np.ndarray  # bool [n]: works with a vector (in the index)
    index: HnswIndex = field(repr=False)
    language: np.ndarray = field(default=None, repr=False)  # uint8 [n], `engine.language.CODE` (0 = unknown)
    kind: np.ndarray = field(default=None, repr=False)  # uint8 [n], index into `engine.kinds.KINDS`
    matcher: TitleMatcher | None = field(default=None, repr=False)  # from matcher.npz, when present
    colike: Sparse | None = field(default=None, repr=False)
    fans: Sparse | None = field(default=None, repr=False)
    profile: np.ndarray | None = field(default=None, repr=False)  # uint8 [n, engine.profiles.WIDTH], when present

    @property
    def dim(self) -> int:
        return int(self.target.shape[1])

    @property
    def scoring(self) -> dict:
        """How the dense and co-like orders are fused (`engine.ranking.fuse`); empty without co-likes."""
        return dict(self.manifest.scoring) if self.colike is not None else {}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _csr_arrays(indptr: np.ndarray, columns: np.ndarray, n_rows: int, what: str) -> None:
    if len(indptr) != n_rows + 1 or indptr[0] != 0 or indptr[-1] != len(columns) or (np.diff(indptr) < 0).any():
        raise ValueError(f"{what}: not a CSR table over {n_rows} works")


def write_model_folder(out_dir: str | Path, *, works: Works, likes: np.ndarray, query: np.ndarray,
                       target: np.ndarray, config: dict, metrics: dict, data_fingerprint: str,
                       trained: np.ndarray | None = None,
                       colike: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None, scoring: dict | None = None,
                       fans: tuple[np.ndarray, np.ndarray] | None = None,
                       extra_files: dict[str, Path] | None = None, index: HnswIndex | None = None,
                       matcher: TitleMatcher | bool = True, profile: np.ndarray | None = None) -> Path:
    """Write a complete model folder atomically (temporary folder, then rename) and return its path.

    Args:
        works, likes: The catalogue and its training likes per work.
        query, target: float32 [n, d] (see the module docstring); rows of untrained works are ignored.
        trained: bool [n], works with a vector; default all.
        colike: Co-like weights as CSR arrays (indptr [n + 1], target works, weights).
        scoring: How to fuse the co-like and dense orders (`fusion_weight`, `fusion_k`).
        fans: Training readers of each work as CSR arrays (indptr [n + 1], reader ids).
        metrics: The trainer's figures; `metrics["primary"]` names the one a retrain is judged on.
        extra_files: More files to copy in (plots), listed in the manifest like the others.
        index: A built index over the trained works' `target`; built here when None.
        matcher: The title matcher to store as `matcher.npz`: True builds it from `works`
            and `likes` (what the engine would build on every load otherwise), False
            stores none, or pass one already built.
        profile: uint8 [n, engine.profiles.WIDTH], each work's genre profile (none: the engine
            knows no genres and keeps only the title rules of `engine.kinds`).
    """
    out_dir = Path(out_dir)
    n = len(works)
    trained = np.ones(n, dtype=bool) if trained is None else np.asarray(trained, dtype=bool)
    if not (len(likes) == len(query) == len(target) == len(trained) == n):
        raise ValueError("works, likes, vectors and the trained mask must have one row per work")
    for name, table in (("colike", colike), ("fans", fans)):
        if table is not None:
            _csr_arrays(np.asarray(table[0]), np.asarray(table[1]), n, name)
    if profile is not None and np.shape(profile) != (n, PROFILE_WIDTH):
        raise ValueError(f"profile must be uint8 [{n}, {PROFILE_WIDTH}], not {np.shape(profile)}")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        target = np.ascontiguousarray(target, dtype=np.float32)
        np.savez(tmp / "vectors.npz", query=np.asarray(query, np.float32), target=target, trained=trained)
        ids = np.flatnonzero(trained)
        (index or HnswIndex.build(target[ids], ids)).save(tmp / "index.bin")
        publishers = getattr(works, "publisher", None)
        works.write_tsv(tmp / "works.tsv.gz", extra={
            "likes": np.asarray(likes), "language": language_codes(works.isbns),
            "kind": kind_codes(works.title, works.author, publishers)})
        if colike is not None:
            for name, array, dtype in zip(COLIKE_FILES, colike, (np.int64, np.int32, np.float32)):
                np.save(tmp / name, np.asarray(array, dtype))
        if fans is not None:
            for name, array, dtype in zip(FANS_FILES, fans, (np.int64, np.int32)):
                np.save(tmp / name, np.asarray(array, dtype))
        if profile is not None:
            np.save(tmp / "profile.npy", np.asarray(profile, np.uint8))
        if matcher is True:
            matcher = TitleMatcher(works.title, works.author, likes)
        if matcher:
            matcher.save(tmp / "matcher.npz")
        for name, src in (extra_files or {}).items():
            shutil.copyfile(src, tmp / name)
        manifest = Manifest(data_fingerprint=data_fingerprint, n_works=n, n_trained=int(trained.sum()),
                            dim=int(target.shape[1]), config=dict(config), metrics=dict(metrics),
                            scoring=dict(scoring or {}) if colike is not None else {},
                            files={p.name: FileEntry(p.stat().st_size, _sha256(p)) for p in sorted(tmp.iterdir())})
        (tmp / "manifest.json").write_text(json.dumps(manifest.to_json(), indent=2, default=str) + "\n")
        if out_dir.exists():
            raise FileExistsError(f"{out_dir} already exists")
        os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def read_manifest(path: str | Path) -> Manifest:
    """The folder's manifest; raises ModelFolderError (one line) for anything that is not a format-2 folder."""
    path = Path(path)
    manifest_path = path / "manifest.json"
    if not path.is_dir():
        raise ModelFolderError(f"{shown_path(path)} is not a model folder (no such directory); "
                               "train one with `rarereads train`")
    if not manifest_path.exists():
        raise ModelFolderError(f"{shown_path(path)} has no manifest.json: it is not a finished model folder")
    try:
        data = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelFolderError(f"{shown_path(manifest_path)} is not readable JSON: {exc}") from None
    return Manifest.from_json(data, shown_path(path))


def verify_model_folder(path: str | Path, check_hashes: bool = True) -> Manifest:
    """Return the manifest if every listed file exists with its recorded size (and hash)."""
    path = Path(path)
    manifest = read_manifest(path)
    files = manifest.files
    where = shown_path(path)
    for name in REQUIRED_FILES:
        if name not in files:
            raise ModelFolderError(f"{where}: manifest does not list {name}")
    for name, info in files.items():
        file = path / name
        if not file.exists():
            raise ModelFolderError(f"{where}: {name} is listed in manifest.json but missing")
        if file.stat().st_size != info.bytes:
            raise ModelFolderError(f"{where}: {name} has {file.stat().st_size} bytes, manifest says {info.bytes}")
        if check_hashes and _sha256(file) != info.sha256:
            raise ModelFolderError(f"{where}: {name} does not match its SHA-256 in manifest.json")
    return manifest


def load_model_folder(path: str | Path, check_hashes: bool = True, breadth: int = 128) -> ModelFolder:
    """Load and verify a model folder; raises ModelFolderError with a clear message when it is unusable."""
    path = Path(path)
    manifest = verify_model_folder(path, check_hashes)
    where = shown_path(path)
    try:
        vectors = _load_arrays(path / "vectors.npz")
        query, target = vectors["query"], vectors["target"]
        trained = np.asarray(vectors.get("trained", np.ones(len(target), bool)), dtype=bool)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise ModelFolderError(f"{where}: vectors.npz is unreadable: {exc}") from exc
    try:
        works, extra = Works.read_tsv(path / "works.tsv.gz", compact=True)
    except (OSError, EOFError, ValueError, KeyError, UnicodeDecodeError) as exc:  # gzip, CSV and number errors
        raise ModelFolderError(f"{where}: works.tsv.gz is unreadable: {exc}") from exc
    if not (len(works) == len(query) == len(target) == len(trained) == manifest.n_works):
        raise ModelFolderError(f"{where}: catalogue and vectors disagree on the number of works")
    if query.ndim != 2 or target.shape != query.shape or target.shape[1] != manifest.dim:
        raise ModelFolderError(f"{where}: vectors.npz does not hold {manifest.dim}-dimensional vectors")
    index = HnswIndex.load(path / "index.bin", dim=target.shape[1], labels=np.flatnonzero(trained), breadth=breadth,
                           where=where)
    matcher = None
    if (path / "matcher.npz").exists() and "matcher.npz" in manifest.files:
        try:
            matcher = TitleMatcher.load(path / "matcher.npz")
        except (OSError, ValueError, KeyError) as exc:
            log.warning("%s: rebuilding the title matcher, matcher.npz is unusable: %s", where, exc)
        if matcher is not None and len(matcher) != len(works):
            log.warning("%s: rebuilding the title matcher, matcher.npz is for another catalogue", where)
            matcher = None
    n = len(works)
    language = extra["language"].astype(np.uint8) if "language" in extra else language_codes(works.isbns)
    kind = extra["kind"].astype(np.uint8) if "kind" in extra else np.zeros(n, np.uint8)
    profile = None
    if "profile.npy" in manifest.files:
        try:
            profile = np.load(path / "profile.npy")
        except (OSError, ValueError) as exc:
            raise ModelFolderError(f"{where}: profile.npy is unreadable: {exc}") from exc
        if profile.shape != (n, PROFILE_WIDTH) or profile.dtype != np.uint8:
            raise ModelFolderError(f"{where}: profile.npy is not uint8 [{n}, {PROFILE_WIDTH}]")
    return ModelFolder(path, manifest, works, extra.get("likes", np.zeros(n, np.int64)),
                       query, target, trained, index, language, kind, matcher,
                       colike=_load_sparse(path, COLIKE_FILES, manifest, len(works)),
                       fans=_load_sparse(path, FANS_FILES, manifest, len(works)), profile=profile)


def _load_sparse(path: Path, names: tuple[str, ...], manifest: Manifest, n_works: int) -> Sparse | None:
    """An optional CSR table (all its files listed in the manifest), or None; a damaged one is refused."""
    listed = [name in manifest.files for name in names]
    if not any(listed):
        return None
    if not all(listed):
        raise ModelFolderError(f"{shown_path(path)}: manifest lists only some of {', '.join(names)}")
    try:
        arrays = [np.load(path / name, mmap_mode="r") for name in names]
        _csr_arrays(arrays[0], arrays[1], n_works, names[0])
        if len(arrays) > 2 and len(arrays[2]) != len(arrays[1]):
            raise ValueError(f"{names[2]} and {names[1]} differ in length")
    except (OSError, ValueError) as exc:
        raise ModelFolderError(f"{shown_path(path)}: {exc}") from exc
    # A request reads hundreds of rows (every candidate's fans): a table this small is read into
    # memory once, a larger one row by row (`FileRows`), so that it never becomes resident.
    if sum(a.nbytes for a in arrays[1:]) <= IN_MEMORY_BYTES:
        arrays = [np.array(a) for a in arrays]
    return Sparse(np.array(arrays[0]), FileRows(arrays[1]), FileRows(arrays[2]) if len(arrays) > 2 else None)


def write_eval_results(folder: str | Path, rows: list[dict], info: dict, table: str) -> None:
    """Save `rarereads eval --model` results beside the manifest: rows merged into `eval.json`
    (by method and rarity), and `eval.md` (the command and `table`). The manifest is left alone."""
    folder = Path(folder)
    path = folder / "eval.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    merged = {(r["method"], r["rarity"]): r for r in previous.get("rows", [])}
    merged.update({(r["method"], r["rarity"]): r for r in rows})
    path.write_text(json.dumps({**info, "rows": list(merged.values())}, indent=2) + "\n")
    (folder / "eval.md").write_text(f"{info.get('command', 'rarereads eval')}\n\n{table}\n")


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

    def spans(self, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
        """`array[start:stop]` for each pair, concatenated (of a 1-D array)."""
        starts, stops = np.asarray(starts, np.int64), np.asarray(stops, np.int64)
        sizes = np.maximum(stops - starts, 0)
        if self._fd is not None:
            parts = [self.span(a, b) for a, b in zip(starts.tolist(), stops.tolist())]
            return np.concatenate(parts) if parts else np.zeros(0, self.dtype)
        # In memory: one fancy index, each span's positions its start plus 0, 1, ... size - 1.
        within = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        return np.asarray(self.array[np.repeat(starts, sizes) + within])


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


def served_folder(models_dir: str | Path, accepted: Mapping[str, bool]) -> Path | None:
    """Which folder under `models_dir` serves, by the retrain gate's record: the one rule that
    `rarereads chat`, `serve`, `recommend`, `import` and `bench` all follow.

    Args:
        accepted: The gate's verdicts, folder name -> accepted (`ShelfStore.verdicts()`). While
            it holds none, those of a `gate.json` an earlier rarereads left are used.

    Returns:
        The newest accepted folder; with none accepted, the newest folder the gate has not
        judged (what a first start would try); None when there is no such folder.

    Raises:
        GateRecordUnreadable: that `gate.json` cannot be read: nothing new is accepted.
    """
    if not accepted:
        accepted = {name: ok for name, (ok, _) in legacy_verdicts(models_dir).items()}
    folders = model_folders(models_dir)
    chosen = [f for f in folders if accepted.get(f.name) is True]
    if chosen:
        return chosen[-1]
    unjudged = [f for f in folders if f.name not in accepted]
    return unjudged[-1] if unjudged else None


def read_catalogue(folder: str | Path) -> tuple[Works, dict[str, np.ndarray]]:
    """A folder's catalogue (`works.tsv.gz`) and its extra columns (likes, language, kind), without
    loading the vectors or the index."""
    folder = Path(folder)
    if not (folder / "works.tsv.gz").is_file():
        raise ModelFolderError(f"{shown_path(folder)} has no works.tsv.gz: it is not a model folder")
    return Works.read_tsv(folder / "works.tsv.gz")


def legacy_verdicts(models_dir: str | Path) -> dict[str, tuple[bool, str]]:
    """(accepted, why) by folder name from the `gate.json` in which rarereads kept the gate's
    verdicts before they moved into the shelf store; {} when there is none.

    Raises:
        GateRecordUnreadable: the file is there but unreadable. Treating that as "no verdicts"
            would serve the newest folder, even one the gate refused.
    """
    path = Path(models_dir) / LEGACY_RECORD
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        record, problem = None, exc
    else:
        problem = "it holds no verdicts"
    folders = record.get("folders") if isinstance(record, dict) else None
    if not isinstance(folders, dict) or not all(isinstance(entry, dict) for entry in folders.values()):
        raise GateRecordUnreadable(f"{shown_path(path)} (the retrain gate's record from an earlier rarereads) is "
                                   f"unreadable ({problem}): nothing new is accepted until it is repaired or moved aside")
    return {str(name): (bool(entry.get("accepted")), str(entry.get("why", ""))) for name, entry in folders.items()}
