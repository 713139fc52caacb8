"""From a fitted model to a model folder: catalogue numbering, co-like weights, fans, plots.

Models learn over their rows (the works they can learn from); a model folder lists every
work with a like (`train.data`). The export scatters the vectors into the catalogue's
numbering (works without a vector are marked untrained and left out of the index),
renumbers the co-like weights the same way, writes the readers of each work ("fans")
for reasons and support floors, and draws loss.png and map.png. Writing itself goes
through `engine.modelfolder`, the one reader and writer of model folders.
"""
from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from engine.dataset import Dataset
from engine.modelfolder import write_model_folder

from .config import TrainConfig
from .data import Fitted, TrainingData
from .profiles import dataset_profile

N_LABELLED = 20  # works named on map.png
MAP_POINTS = 20_000  # works drawn on map.png (a sample: more only smear the picture)


def plot_loss(history: dict, path: Path) -> Path:
    """Training loss per step, and validation hit-rate on a second axis when there is one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    steps, losses = zip(*history["loss"]) if history["loss"] else ((), ())
    ax.plot(steps, losses, color="tab:blue", label="training loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss per positive pair", color="tab:blue")
    if history.get("val"):
        right = ax.twinx()
        right.plot([v["step"] for v in history["val"]], [v["hit@20"] for v in history["val"]], "o-",
                   color="tab:orange", label="validation hit@20")
        right.set_ylabel("validation hit@20", color="tab:orange")
    ax.set_title("rarereads training")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_map(vectors: np.ndarray, titles: list[str], like_counts: np.ndarray, path: Path, seed: int = 0) -> Path:
    """2-D PCA of the works' vectors, the most-liked ones labelled (a sanity picture, not a metric)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labelled = np.argsort(-like_counts, kind="stable")[:N_LABELLED]
    rng = np.random.default_rng(seed)
    shown = rng.choice(len(vectors), size=min(MAP_POINTS, len(vectors)), replace=False)
    centre = vectors[shown].mean(0)
    _, _, axes = np.linalg.svd(vectors[shown] - centre, full_matrices=False)
    xy = (vectors - centre) @ axes[:2].T if len(axes) >= 2 else np.zeros((len(vectors), 2))
    fig, ax = plt.subplots(figsize=(9, 7), dpi=100)
    ax.scatter(xy[shown, 0], xy[shown, 1], s=2, color="0.75", linewidths=0)
    ax.scatter(xy[labelled, 0], xy[labelled, 1], s=14, color="tab:red")
    for i in labelled:
        title = titles[i] if len(titles[i]) <= 32 else titles[i][:31] + "…"
        ax.annotate(title, xy[i], fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_title("works' query vectors, first two principal components")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def fans(indptr: np.ndarray, indices: np.ndarray, n_works: int) -> tuple[np.ndarray, np.ndarray]:
    """Readers of each work as CSR arrays (indptr [n_works + 1], readers sorted within each work)."""
    readers = np.repeat(np.arange(len(indptr) - 1, dtype=np.int32), np.diff(indptr))
    order = np.argsort(indices, kind="stable")  # likes are grouped by reader: readers stay sorted per work
    fans_indptr = np.zeros(n_works + 1, dtype=np.int64)
    np.cumsum(np.bincount(indices, minlength=n_works), out=fans_indptr[1:])
    return fans_indptr, readers[order]


def to_catalogue(table: tuple[np.ndarray, ...], rows: np.ndarray, n_catalogue: int,
                 renumber: bool = True) -> tuple[np.ndarray, ...]:
    """A CSR table over model rows as one over catalogue rows (`rows[i]` is model row i's place).

    Args:
        renumber: Whether the table's columns are model rows too (co-like weights) or not (readers).
    """
    indptr, columns, *values = table
    sizes = np.zeros(n_catalogue, np.int64)
    sizes[rows] = np.diff(indptr)
    out = np.zeros(n_catalogue + 1, np.int64)
    np.cumsum(sizes, out=out[1:])
    # `rows` ascends (both numberings sort by dataset id), so the entries keep their order.
    return (out, (rows[columns].astype(np.int32) if renumber else columns), *values)


def export_model_folder(out_dir: Path, *, dataset: Dataset, data: TrainingData, fitted: Fitted,
                        colike: tuple[np.ndarray, np.ndarray, np.ndarray] | None, scoring: dict,
                        config: TrainConfig, metrics: dict, history: dict, profile: np.ndarray | None = None) -> Path:
    """Write the model folder (atomically, via engine.modelfolder) and return its path."""
    query, target = (np.ascontiguousarray(v, dtype=np.float32) for v in (fitted.query, fitted.target))
    if not all(np.isfinite(v).all() for v in (query, target)) or (colike is not None and not np.isfinite(colike[2]).all()):
        raise FloatingPointError("training diverged: the vectors hold NaN or infinity (try a lower --lr)")
    n = len(data.catalogue_ids)
    full_query = np.zeros((n, query.shape[1]), np.float32)
    full_target = np.zeros((n, target.shape[1]), np.float32)
    full_query[data.rows], full_target[data.rows] = query, target
    trained = np.zeros(n, dtype=bool)
    trained[data.rows] = True
    works = dataset.works.subset(data.catalogue_ids)
    with tempfile.TemporaryDirectory(prefix="rarereads-plots-") as tmp:
        plots = {"loss.png": plot_loss(history, Path(tmp) / "loss.png"),
                 "map.png": plot_map(query, [works.title[i] for i in data.rows], data.like_counts,
                                     Path(tmp) / "map.png", config.seed)}
        return write_model_folder(
            out_dir, works=works, likes=data.catalogue_likes, query=full_query, target=full_target, trained=trained,
            colike=to_catalogue(colike, data.rows, n) if colike is not None else None, scoring=scoring,
            fans=to_catalogue(fans(data.indptr, data.indices, data.n_works), data.rows, n, renumber=False),
            config=asdict(config), metrics=metrics, data_fingerprint=dataset.fingerprint(), extra_files=plots,
            profile=(profile if profile is not None else dataset_profile(dataset, dataset.folder))[data.catalogue_ids])
