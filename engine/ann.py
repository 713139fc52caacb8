"""The nearest-neighbour index: the one seam between the recommender and hnswlib.

An index answers "the n works whose target vectors have the largest inner product with
this query vector". `HnswIndex` is the implementation (hnswlib, space `ip`); another
library can stand in by implementing the same five things (build, save, load, search,
breadth) without the recommender changing. hnswlib is imported late, so importing this
module costs nothing.

`load` checks the file before hnswlib reads it: hnswlib trusts its input, and an index
that does not fit its vectors (other dimension or count, cut short) crashes the process
instead of raising. The header fields read here are those of hnswlib's
`HierarchicalNSW::saveIndex` (format stable since hnswlib 0.5).
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from .errors import ModelFolderError

# Graph degree and build breadth. On the shipped ELSA vectors (93,878 x 128, 2 cores): M=24 and
# ef_construction=100 build in 17 s with recall@10 0.996 at breadth 600, against 41 s and 0.999
# for M=32 / 200 (BENCHMARKS.md); the build is most of a first `make chat` after training.
HNSW_M = 24
HNSW_EF_CONSTRUCTION = 100
# hnswlib's header: offsetLevel0 (size_t), max_elements, cur_element_count, size_data_per_element,
# label_offset, offsetData (size_t each), maxlevel (int), enterpoint_node (uint), maxM, maxM0, M (size_t each),
# mult (double), ef_construction (size_t); then the level-0 data, then one link-list size (uint) per element.
_HEADER = struct.Struct("<QQQQQQiIQQQdQ")


class HnswIndex:
    """Inner-product search over one vector per work (ids 0..n-1) with hnswlib.

    Args:
        index: An `hnswlib.Index` in space `ip`.
    """

    def __init__(self, index):
        self._index = index
        self.dim = int(index.dim)
        self._breadth = 0

    def __len__(self) -> int:
        return int(self._index.get_current_count())

    @classmethod
    def build(cls, vectors: np.ndarray, ids: np.ndarray | None = None, m: int = HNSW_M,
              ef_construction: int = HNSW_EF_CONSTRUCTION, threads: int = -1) -> "HnswIndex":
        """Index `vectors` (rows), labelled `ids` (default 0..n-1)."""
        import hnswlib

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        ids = np.arange(len(vectors)) if ids is None else np.asarray(ids)
        index = hnswlib.Index(space="ip", dim=int(vectors.shape[1]))
        index.init_index(max_elements=max(1, len(vectors)), M=m, ef_construction=ef_construction, random_seed=0)
        if len(vectors):
            index.add_items(vectors, ids, num_threads=threads)
        return cls(index)

    def save(self, path: str | Path) -> None:
        self._index.save_index(str(path))

    @classmethod
    def load(cls, path: str | Path, dim: int, count: int | None = None, breadth: int = 128,
             labels: np.ndarray | None = None, where: str | None = None) -> "HnswIndex":
        """Load an index saved by `save`, after checking it holds `count` vectors of `dim` floats
        (labelled `labels`, when given) and that its graph is whole.

        Raises:
            ModelFolderError: the file is not such an index (other dimension, count or labels,
                cut short, links to elements it lacks or to levels they are not on, or not an
                hnswlib file at all); `where` names it in the message (default: `path`).
        """
        import hnswlib

        path = Path(path)
        count = len(labels) if labels is not None else int(count or 0)
        check_index_file(path, dim, count, labels=labels, where=where)
        index = hnswlib.Index(space="ip", dim=int(dim))
        index.load_index(str(path), max_elements=max(1, int(count)))
        loaded = cls(index)
        loaded.set_breadth(breadth)
        return loaded

    def set_breadth(self, breadth: int) -> None:
        """Search breadth (hnswlib's ef): recall against speed. Set once, before serving:
        hnswlib's set_ef is not safe while other threads search."""
        self._breadth = int(breadth)
        self._index.set_ef(self._breadth)

    @property
    def breadth(self) -> int:
        return self._breadth

    def search(self, vector: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, inner products) of the `n` best works for one query vector, best first."""
        n = min(int(n), len(self))
        if n <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if n > self._breadth:
            self.set_breadth(n)  # a rare deep fetch: hnswlib needs ef >= n
        labels, distances = self._index.knn_query(np.asarray(vector, np.float32).reshape(1, -1), k=n)
        return labels[0].astype(np.int64), (1 - distances[0]).astype(np.float32)  # "ip" distance = 1 - ip

    def search_batch(self, vectors: np.ndarray, n: int, threads: int = -1) -> np.ndarray:
        """ids `[len(vectors), n]` of the `n` best works for each query vector (benchmarks; threads in parallel)."""
        n = min(int(n), len(self))
        if n > self._breadth:
            self.set_breadth(n)
        labels, _ = self._index.knn_query(np.ascontiguousarray(vectors, dtype=np.float32), k=n, num_threads=threads)
        return labels.astype(np.int64)

    def vectors(self, ids) -> np.ndarray:
        """The indexed vectors of `ids` (the index's own copy: no vector file is read)."""
        return np.asarray(self._index.get_items(list(map(int, ids)), return_type="numpy"), dtype=np.float32)


def check_index_file(path: Path, dim: int, count: int, labels: np.ndarray | None = None,
                     where: str | None = None, chunk: int = 1 << 16) -> None:
    """Raise ModelFolderError unless `path` is a sound hnswlib index of `count` vectors of `dim` floats.

    hnswlib reads what the file says without checking it, and a search follows the graph
    from the entry point down through the upper levels; a graph that points anywhere else
    reads outside what was loaded (a segfault, or "cand error"). So this checks, before
    hnswlib sees the file: the header against the model's shape; every level-0 link points
    at an element; the labels are the model's (when given); the upper-level link lists fill
    the rest of the file exactly; the entry point sits on the top level; and every upper-level
    link points at an element that is on that level too. Reads the file once, in chunks.
    """
    where = where or str(path)
    size = path.stat().st_size if path.exists() else -1
    if size < _HEADER.size:
        raise ModelFolderError(f"{where}: not an HNSW index (too short)")
    with open(path, "rb") as handle:
        (offset_level0, max_elements, current, per_element, label_offset, offset_data, max_level,
         enter, max_m, max_m0, m, _mult, _ef) = _HEADER.unpack(handle.read(_HEADER.size))
        links0 = 4 + 4 * max_m0  # level-0 link list: a count, then maxM0 ids
        if not (0 < m <= 10_000 and max_m0 == 2 * m and max_m == m and offset_level0 == 0
                and offset_data == links0 and label_offset == offset_data + 4 * int(dim)
                and per_element == label_offset + 8 and (0 <= max_level < 64 or (max_level == -1 and not current))):
            raise ModelFolderError(f"{where}: the HNSW index is not for {dim}-dimensional vectors (or is damaged)")
        if current != count or max_elements < current or (current and enter >= current):
            raise ModelFolderError(f"{where}: the HNSW index holds {current} vectors, the model has {count}")
        if size < _HEADER.size + current * per_element + 4 * current:
            raise ModelFolderError(f"{where}: the HNSW index is cut short ({size} bytes)")
        found_labels = np.empty(current, np.uint64)
        for start in range(0, current, chunk):
            rows = min(chunk, current - start)
            block = np.frombuffer(handle.read(rows * per_element), dtype=np.uint8).reshape(rows, per_element)
            links = block[:, :links0].copy().view(np.uint32)  # [count, id, id, ...] per element
            degree = links[:, 0] & 0xFFFF  # hnswlib keeps the count in the low 16 bits
            if (degree > max_m0).any() or (links[:, 1:] >= current)[np.arange(max_m0)[None, :] < degree[:, None]].any():
                raise ModelFolderError(f"{where}: the HNSW index links to elements it does not hold (damaged)")
            found_labels[start:start + rows] = block[:, label_offset:label_offset + 8].copy().view(np.uint64)[:, 0]
        tail = np.frombuffer(handle.read(), dtype=np.uint32) if (size - _HEADER.size - current * per_element) % 4 == 0 else None
    if labels is not None and not np.array_equal(np.sort(found_labels), np.sort(np.asarray(labels, np.uint64))):
        raise ModelFolderError(f"{where}: the HNSW index is labelled with other works than the model's (damaged)")
    upper = _upper_levels(tail, current, 4 + 4 * max_m) if tail is not None else None
    if upper is None:
        raise ModelFolderError(f"{where}: the HNSW index's upper levels do not fit the file (damaged)")
    levels, rows, row_level = upper
    if current and (levels.max() > max_level or levels[enter] != max_level):
        raise ModelFolderError(f"{where}: the HNSW index's entry point is not on its top level (damaged)")
    degree = rows[:, 0] & 0xFFFF
    linked = np.arange(max_m)[None, :] < degree[:, None]
    targets = rows[:, 1:]
    if (degree > max_m).any() or (targets >= current)[linked].any():
        raise ModelFolderError(f"{where}: the HNSW index's upper levels link to elements it does not hold (damaged)")
    if (levels[targets[linked]] < np.broadcast_to(row_level[:, None], targets.shape)[linked]).any():
        raise ModelFolderError(f"{where}: the HNSW index's upper levels link to elements not on them (damaged)")


def _upper_levels(tail: np.ndarray, count: int, per_level: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Parse the upper-level link lists that follow level 0: each element's byte size (a
    multiple of `per_level`), then that many bytes. Returns (level of each element, every
    upper-level list as a row [count, ids...], the level of each row), or None when `tail`
    is not exactly `count` such lists. Most elements have none (size 0), so only the others
    are walked one by one."""
    nonzero = np.flatnonzero(tail)
    levels = np.zeros(count, np.int64)
    starts, owners = [], []
    position, elements = 0, 0
    while elements < count:
        following = np.searchsorted(nonzero, position)
        next_list = int(nonzero[following]) if following < len(nonzero) else len(tail)
        zeros = min(next_list - position, count - elements)  # elements without upper levels
        elements += zeros
        position += zeros
        if elements == count:
            break
        if position >= len(tail):
            return None
        length = int(tail[position])
        if length % per_level or position + 1 + length // 4 > len(tail):
            return None
        levels[elements] = length // per_level
        starts.append(position + 1)
        owners.append(elements)
        position += 1 + length // 4
        elements += 1
    if position != len(tail):
        return None
    words = per_level // 4
    level_of = levels[owners] if owners else np.zeros(0, np.int64)
    row_level = np.concatenate([np.arange(1, n + 1) for n in level_of]) if owners else np.zeros(0, np.int64)
    first = np.repeat(np.asarray(starts, np.int64), level_of) + (row_level - 1) * words
    rows = tail[first[:, None] + np.arange(words)[None, :]] if len(first) else np.zeros((0, words), np.uint32)
    return levels, rows, row_level
