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
    def load(cls, path: str | Path, dim: int, count: int, breadth: int = 128) -> "HnswIndex":
        """Load an index saved by `save`, after checking it holds `count` vectors of `dim` floats.

        Raises:
            ModelFolderError: the file is not such an index (other dimension or count, cut
                short, or not an hnswlib file at all).
        """
        import hnswlib

        path = Path(path)
        check_index_file(path, dim, count)
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


def check_index_file(path: Path, dim: int, count: int, chunk: int = 1 << 16) -> None:
    """Raise ModelFolderError unless `path` is a sound hnswlib index of `count` vectors of `dim` floats.

    Checks the header against the model's shape, that every level-0 link points at an
    element, and that the upper-level link lists fill the rest of the file exactly.
    Reads the file once, in chunks (the manifest's hash check reads it whole anyway).
    """
    size = path.stat().st_size if path.exists() else -1
    if size < _HEADER.size:
        raise ModelFolderError(f"{path}: not an HNSW index (too short)")
    with open(path, "rb") as handle:
        (offset_level0, max_elements, current, per_element, label_offset, offset_data, max_level,
         enter, max_m, max_m0, m, _mult, _ef) = _HEADER.unpack(handle.read(_HEADER.size))
        links0 = 4 + 4 * max_m0  # level-0 link list: a count, then maxM0 ids
        if not (0 < m <= 10_000 and max_m0 == 2 * m and max_m == m and offset_level0 == 0
                and offset_data == links0 and label_offset == offset_data + 4 * int(dim)
                and per_element == label_offset + 8 and (0 <= max_level < 64 or (max_level == -1 and not current))):
            raise ModelFolderError(f"{path}: the HNSW index is not for {dim}-dimensional vectors (or is damaged)")
        if current != count or max_elements < current or (current and enter >= current):
            raise ModelFolderError(f"{path}: the HNSW index holds {current} vectors, the model has {count}")
        if size < _HEADER.size + current * per_element + 4 * current:
            raise ModelFolderError(f"{path}: the HNSW index is cut short ({size} bytes)")
        for start in range(0, current, chunk):
            rows = min(chunk, current - start)
            block = np.frombuffer(handle.read(rows * per_element), dtype=np.uint8).reshape(rows, per_element)
            links = block[:, :links0].copy().view(np.uint32)  # [count, id, id, ...] per element
            degree = links[:, 0] & 0xFFFF  # hnswlib keeps the count in the low 16 bits
            if (degree > max_m0).any() or (links[:, 1:] >= current)[np.arange(max_m0)[None, :] < degree[:, None]].any():
                raise ModelFolderError(f"{path}: the HNSW index links to elements it does not hold (damaged)")
        tail = np.frombuffer(handle.read(), dtype=np.uint32) if (size - _HEADER.size - current * per_element) % 4 == 0 else None
    if tail is None or not _upper_levels_fit(tail, current, 4 + 4 * max_m):
        raise ModelFolderError(f"{path}: the HNSW index's upper levels do not fit the file (damaged)")


def _upper_levels_fit(tail: np.ndarray, count: int, per_level: int) -> bool:
    """Whether `tail` is exactly `count` link lists, each a byte size (a multiple of
    `per_level`) and that many bytes. Most elements have none (size 0), so only the
    others are walked one by one."""
    nonzero = np.flatnonzero(tail)
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
            return False
        length = int(tail[position])
        if length % per_level:
            return False
        position += 1 + length // 4
        elements += 1
    return position == len(tail)
