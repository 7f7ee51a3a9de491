"""The local model matches sentence-transformers, batches without changing results, and keeps
the Embedder contract. Golden vectors: ``data/reference_embeddings.json`` (see
``make_reference_embeddings.py``)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import onnx
import pytest

from memvault.providers.embeddings import Embedder
from memvault.providers.local_minilm import (
    MiniLMEmbedder,
    build_graph,
    default_model_dir,
    load_weights,
)

REFERENCE = json.loads(
    (Path(__file__).parent / "data" / "reference_embeddings.json").read_text(encoding="utf-8")
)
TEXTS = [item["text"] for item in REFERENCE["items"]]
VECTORS = np.array([item["vector"] for item in REFERENCE["items"]], dtype=np.float32)


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    model = MiniLMEmbedder(threads=2)
    model.load()
    return model


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_reference_covers_the_hard_cases(embedder: MiniLMEmbedder) -> None:
    lengths = [len(ids) for ids in embedder.tokenize(TEXTS)]
    assert len(TEXTS) >= 40
    assert max(lengths) == embedder.max_seq_length == REFERENCE["max_seq_length"] == 256
    assert sum(length == 256 for length in lengths) >= 3  # truncated texts
    assert "" in TEXTS and any(text.isspace() for text in TEXTS)
    assert any(not text.isascii() for text in TEXTS)


@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_matches_sentence_transformers(embedder: MiniLMEmbedder, batch_size: int) -> None:
    ours = np.concatenate(
        [embedder.embed(TEXTS[i : i + batch_size]) for i in range(0, len(TEXTS), batch_size)]
    )
    similarity = cosine(ours, VECTORS)
    worst = int(similarity.argmin())
    assert similarity.min() >= 0.999, f"{TEXTS[worst][:60]!r}: cosine {similarity[worst]:.6f}"


def test_batch_and_single_give_the_same_vectors(embedder: MiniLMEmbedder) -> None:
    together = embedder.embed(TEXTS)
    alone = np.concatenate([embedder.embed([text]) for text in TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_order_is_kept_when_lengths_are_sorted_inside(embedder: MiniLMEmbedder) -> None:
    texts = ["a much longer sentence about gardening and tomatoes", "hi", "medium length text"]
    forward = embedder.embed(texts)
    backward = embedder.embed(texts[::-1])
    np.testing.assert_allclose(forward, backward[::-1], atol=1e-5)


def test_output_contract(embedder: MiniLMEmbedder) -> None:
    vectors = embedder.embed(["one", "two", "three"])
    assert isinstance(embedder, Embedder)
    assert embedder.model == "all-MiniLM-L6-v2"
    assert embedder.dimension == 384
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32 and vectors.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)


def test_rejects_a_bare_string(embedder: MiniLMEmbedder) -> None:
    with pytest.raises(TypeError):
        embedder.embed("not a list")
    with pytest.raises(TypeError):
        embedder.embed(["fine", 3])  # type: ignore[list-item]


def test_loads_lazily() -> None:
    model = MiniLMEmbedder(threads=1, batch_size=2)
    assert model._session is None
    assert model.embed(["lazy", "load", "works"]).shape == (3, 384)
    assert model._session is not None


@pytest.fixture(scope="module")
def int8_embedder() -> MiniLMEmbedder:
    model = MiniLMEmbedder(threads=1, precision="int8")
    model.load()
    return model


def test_int8_stays_close_to_the_reference(int8_embedder: MiniLMEmbedder) -> None:
    ours = int8_embedder.embed(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    similarity = cosine(ours, VECTORS)
    assert similarity.mean() >= 0.985 and similarity.min() >= 0.95
    # Quantized, so not equal, but each text's nearest reference is its own (or one equal to
    # it: "" and "   " embed alike).
    nearest = (ours @ VECTORS.T).argmax(axis=1)
    for i, found in enumerate(nearest):
        assert cosine(VECTORS[found][None], VECTORS[i][None])[0] > 0.9999, TEXTS[i][:60]


def test_int8_loads_without_a_warning_on_the_root_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        MiniLMEmbedder(threads=1, precision="int8").load()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_unknown_precision_is_refused() -> None:
    with pytest.raises(ValueError, match="precision"):
        MiniLMEmbedder(precision="int4")


def test_int8_quantizes_every_weight_matrix() -> None:
    """Each of the six layers' six projections runs as an int8 product (activations
    quantized per call); no float32 weight matrix is left."""
    graph = build_graph(load_weights(default_model_dir()), precision="int8").graph
    constants = {tensor.name: tensor for tensor in graph.initializer}
    integer = [node for node in graph.node if node.op_type == "MatMulInteger"]
    assert len(integer) == 36
    assert all(constants[node.input[1]].data_type == onnx.TensorProto.INT8 for node in integer)
    assert not [node for node in graph.node
                if node.op_type == "MatMul" and node.input[1] in constants]
