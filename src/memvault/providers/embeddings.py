"""The Embedder protocol: what the engine and the batcher ask of an embedding model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """A text embedding model.

    Contract every implementation keeps:

    * ``model`` names the model whose vectors ``embed`` returns (e.g. ``"all-MiniLM-L6-v2"``);
      a store records it so that vectors of different models never mix.
    * ``dimension`` is the length of every vector. It may be discovered lazily (the OpenAI
      provider probes the server once), so read it only where a call to the model is acceptable.
    * ``embed(texts)`` returns a C-contiguous ``float32`` array of shape ``(len(texts), dimension)``
      whose row ``i`` is the unit-length (L2-normalised) embedding of ``texts[i]``, so a dot
      product is a cosine similarity. An empty ``texts`` gives shape ``(0, dimension)``.
      Texts longer than the model accepts are truncated, never rejected.
    * ``embed`` is synchronous and blocking. It is safe to call from one worker thread at a time
      (``EmbeddingBatcher`` gives it exactly one); implementations may use their own threads.
    * Failures raise; an implementation never returns a partial result.

    Example::

        embedder: Embedder = MiniLMEmbedder()
        vectors = embedder.embed(["likes green tea", "works at Contoso"])
        assert vectors.shape == (2, embedder.dimension)
    """

    model: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``; returns ``(len(texts), dimension)`` float32 unit rows."""
        ...


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """``vectors`` as C-contiguous float32 with each row scaled to unit L2 norm.

    All-zero rows stay zero rather than becoming NaN.
    """
    out = np.array(vectors, dtype=np.float32, order="C", ndmin=2, copy=True)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out
