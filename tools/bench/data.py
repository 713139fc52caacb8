"""What a run measures on: the dataset of a size (synthetic ones generated once and cached),
and the vectors (a trained model's, or planted stand-ins)."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from engine.dataset import Dataset
from rarereads.paths import DEFAULT_DATASET

log = logging.getLogger(__name__)

SIZES = {  # works, readers, likes (the 2.8M shape is Lit2Vec2's; 300k keeps its ratios)
    "tiny": (4_000, 4_300, 140_000),
    "300k": (300_000, 318_000, 10_600_000),
    "2.8m": (2_829_853, 3_000_000, 100_000_000),
}


def load_data(args: argparse.Namespace) -> tuple[Dataset, np.ndarray | None, Path]:
    """The dataset, its planted clusters (synthetic only) and its folder; makes synthetic data once."""
    if args.data:
        folder = args.data
    elif args.size == "shipped":
        folder = DEFAULT_DATASET
    else:
        folder = args.cache / f"synth-{args.size}"
        if not (folder / "dataset.json").exists():
            from ..synth.generate import SynthConfig, generate

            works, readers, likes = SIZES[args.size]
            print(f"generating the {args.size} synthetic dataset into {folder} (once) ...", file=sys.stderr)
            generate(SynthConfig(works, readers, likes), log=lambda m: print("  " + m, file=sys.stderr)).save(folder)
    clusters = np.load(folder / "clusters.npy") if (folder / "clusters.npy").exists() else None
    return Dataset.load(folder), clusters, folder


def stand_in_vectors(n: int, clusters: np.ndarray | None, dim: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(query, target) shaped like the default model's (ELSA): unit rows around taste-cluster centres.

    Used only when no trained model is at hand, so that HNSW, loading and serving can be
    measured at any size; the figures say so.
    """
    rng = np.random.default_rng(seed)
    if clusters is None:
        clusters = rng.integers(0, max(4, int(np.sqrt(n) * 2 / 3)), n)
    k = int(clusters.max()) + 1
    centre = rng.standard_normal((k, dim), dtype=np.float32)
    centre /= np.linalg.norm(centre, axis=1, keepdims=True)
    target = np.empty((n, dim), np.float32)
    for lo in range(0, n, 1 << 20):
        hi = min(n, lo + (1 << 20))
        noise = rng.standard_normal((hi - lo, dim), dtype=np.float32) * np.float32(0.7 / np.sqrt(dim))
        rows = centre[clusters[lo:hi]] + noise
        target[lo:hi] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return target, target


def find_model(args: argparse.Namespace, dataset: Dataset) -> Path | None:
    """`--model`, else the folder that serves (the retrain gate's record, as chat and serve read
    it: `engine.modelfolder.served_folder`) if it was trained on exactly this dataset; None
    measures planted stand-in vectors."""
    if args.model:
        return args.model
    from engine.errors import RarereadsError
    from engine.modelfolder import read_manifest, served_folder
    from engine.shelf import read_verdicts
    from rarereads.settings import PathSettings, SettingsError, read_settings

    try:
        paths = read_settings(PathSettings)  # RAREREADS_MODELS_DIR and RAREREADS_DB, as every command reads them
        folder = served_folder(paths.models_dir, {n: v.accepted for n, v in read_verdicts(paths.db).items()})
        if folder is not None and read_manifest(folder).data_fingerprint == dataset.fingerprint():
            return folder
    except (RarereadsError, SettingsError) as exc:
        log.warning("measuring stand-in vectors: %s", exc)
    return None
