"""engine.ann: the HNSW seam builds, saves, loads and searches, and refuses a file that is not
the model's index before hnswlib reads it (a damaged index must not crash the server)."""
from __future__ import annotations

import numpy as np
import pytest

from engine.ann import HnswIndex
from engine.errors import ModelFolderError


def _vectors(n=200, dim=8, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_round_trip_finds_the_exact_neighbours(tmp_path):
    vectors = _vectors()
    HnswIndex.build(vectors, threads=1).save(tmp_path / "index.bin")
    index = HnswIndex.load(tmp_path / "index.bin", dim=8, count=200, breadth=200)
    assert len(index) == 200
    exact = np.argsort(-(vectors[:20] @ vectors.T), axis=1)[:, :10]
    found = index.search_batch(vectors[:20], 10, threads=1)
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact)]) >= 0.95
    ids, scores = index.search(vectors[3], 5)
    assert ids[0] == 3 and scores[0] == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(index.vectors([7]), vectors[7:8], atol=1e-6)


def test_an_index_without_vectors_loads(tmp_path):
    """A model whose works all lack vectors (co-likes only, such as EASE served by the engine)."""
    HnswIndex.build(np.zeros((0, 1), np.float32)).save(tmp_path / "index.bin")
    index = HnswIndex.load(tmp_path / "index.bin", dim=1, count=0)
    assert len(index) == 0 and index.search(np.zeros(1, np.float32), 5)[0].size == 0


@pytest.mark.parametrize("damage, message", [
    ("dim", "not for 16-dimensional"),
    ("count", "holds 200 vectors, the model has 150"),
    ("cut", "cut short"),
    ("link", "links to elements it does not hold"),
    ("tail", "upper levels"),
    ("noise", "not for 8-dimensional|not an HNSW index"),
    ("short", "too short"),
])
def test_a_damaged_or_foreign_index_is_refused(tmp_path, damage, message):
    path = tmp_path / "index.bin"
    HnswIndex.build(_vectors(), threads=1).save(path)
    data = bytearray(path.read_bytes())
    dim, count = 8, 200
    header = 8 * 6 + 4 + 4 + 8 * 3 + 8 + 8  # hnswlib's header (see engine.ann)
    if damage == "dim":
        dim = 16
    elif damage == "count":
        count = 150
    elif damage == "cut":
        data = data[:len(data) // 2]
    elif damage == "link":
        data[header + 4:header + 8] = (10_000).to_bytes(4, "little")  # element 0's first neighbour
        data[header:header + 4] = max(1, int.from_bytes(data[header:header + 2], "little")).to_bytes(4, "little")
    elif damage == "tail":
        data += b"\x07\x00\x00\x00"
    elif damage == "noise":
        data = bytearray(np.random.default_rng(1).integers(0, 256, len(data), dtype=np.uint8).tobytes())
    elif damage == "short":
        data = data[:10]
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFolderError, match=message):
        HnswIndex.load(path, dim=dim, count=count)


def _graph(data: bytes):
    """(header fields, element levels, byte offset of each element's upper-level lists) of an index file."""
    from engine.ann import _HEADER

    fields = _HEADER.unpack(data[:_HEADER.size])
    current, per_element, max_m = fields[2], fields[3], fields[8]
    position = _HEADER.size + current * per_element
    levels, offsets = [], []
    for _ in range(current):
        size = int.from_bytes(data[position:position + 4], "little")
        levels.append(size // (4 + 4 * max_m))
        offsets.append(position + 4)
        position += 4 + size
    return fields, np.array(levels), offsets


@pytest.mark.parametrize("damage, message", [
    ("entry", "entry point is not on its top level"),  # hnswlib segfaulted: an entry point with no upper levels
    ("top", "entry point is not on its top level"),  # a top level nobody is on: the same read of nothing
    ("upper-link", "upper levels link to elements it does not hold"),  # hnswlib: RuntimeError "cand error"
    ("upper-level", "upper levels link to elements not on them"),  # a search steps onto a node lacking the level
    ("labels", "labelled with other works"),
])
def test_a_damaged_graph_is_refused_before_hnswlib_walks_it(tmp_path, damage, message):
    """Issue 16 §3: damage that keeps the file's shape but breaks the graph crashed the server."""
    path = tmp_path / "index.bin"
    HnswIndex.build(_vectors(2000), threads=1).save(path)
    data = bytearray(path.read_bytes())
    fields, levels, offsets = _graph(bytes(data))
    header_enter = 8 * 6 + 4  # enterpoint_node, after six size_t and maxlevel
    lower = int(np.flatnonzero(levels == 0)[0])
    upper = int(np.flatnonzero(levels >= 1)[0])
    labels = np.arange(2000)
    if damage == "entry":
        data[header_enter:header_enter + 4] = lower.to_bytes(4, "little")
    elif damage == "top":
        data[8 * 6:8 * 6 + 4] = (fields[6] + 1).to_bytes(4, "little")
    elif damage in ("upper-link", "upper-level"):
        first_link = offsets[upper] + 4  # level 1 of `upper`: [count, id, ...]
        data[offsets[upper]:offsets[upper] + 4] = max(1, int.from_bytes(data[offsets[upper]:offsets[upper] + 2],
                                                                        "little")).to_bytes(4, "little")
        data[first_link:first_link + 4] = (10_000 if damage == "upper-link" else lower).to_bytes(4, "little")
    else:
        labels = labels + 1
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFolderError, match=message):
        HnswIndex.load(path, dim=8, labels=labels)
    HnswIndex.build(_vectors(2000), threads=1).save(path)
    assert len(HnswIndex.load(path, dim=8, labels=np.arange(2000))) == 2000
