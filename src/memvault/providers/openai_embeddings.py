"""Embeddings from OpenAI, Azure OpenAI, or any server speaking the OpenAI embeddings API."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from memvault.errors import InvalidRequest, MemvaultError, ModelUnavailable, ServiceUnavailable
from memvault.observability.metrics import observe_embedding
from memvault.providers.embeddings import normalize_rows

DEFAULT_API_VERSION = "2024-10-21"
_PROBE_TEXT = "memvault dimension probe"


class OpenAIEmbedder:
    """An ``Embedder`` backed by ``POST /embeddings`` of an OpenAI-compatible API.

    Args:
        model: the model name, or for Azure OpenAI the deployment name.
        client: an ``openai.OpenAI`` or ``openai.AzureOpenAI`` client to use as is. Without it,
            one is built from the keyword arguments below (and closed by ``close()``).
        dimension: the vector length, if known; otherwise the first read of ``dimension``
            embeds a probe text once to find it.
        api_key: key for OpenAI or the compatible server (default: ``OPENAI_API_KEY``; a
            placeholder when only ``base_url`` is given, as local servers need none) or, with
            ``azure_endpoint``, the Azure key (default: ``AZURE_OPENAI_API_KEY``).
        base_url: an OpenAI-compatible server, e.g. ``http://localhost:11434/v1`` (Ollama).
        azure_endpoint: an Azure OpenAI resource, e.g. ``https://contoso.openai.azure.com``.
        api_version: the Azure ``api-version`` (default ``2024-10-21``).
        timeout: seconds allowed per HTTP request.
        max_retries: retries of a failed request (429, 5xx, timeouts), with the client's backoff.
        batch_size: most texts sent in one request.

    ``embed`` returns unit-length float32 rows whatever the server sends. Empty strings, which
    OpenAI rejects, are sent as a single space. Errors are raised as memvault errors:
    ``ModelUnavailable`` (bad credentials, unknown model or deployment), ``InvalidRequest`` (the
    server refused the input, e.g. too many tokens) and ``ServiceUnavailable`` (unreachable,
    timed out, rate limited or failing after the retries).

    Example::

        embedder = OpenAIEmbedder("text-embedding-3-small", api_key="sk-...")
        vectors = embedder.embed(["likes green tea"])   # shape (1, 1536)
        embedder.close()
    """

    def __init__(
        self,
        model: str,
        *,
        client: Any = None,
        dimension: int | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        azure_endpoint: str | None = None,
        api_version: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        batch_size: int = 256,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.model = model
        self.batch_size = batch_size
        self._dimension = dimension
        self._dimension_lock = threading.Lock()
        self._owns_client = client is None
        self._client = client or _build_client(
            api_key=api_key,
            base_url=base_url,
            azure_endpoint=azure_endpoint,
            api_version=api_version,
            timeout=timeout,
            max_retries=max_retries,
        )

    @property
    def dimension(self) -> int:
        """The vector length; probes the server once if it was not given."""
        if self._dimension is None:
            with self._dimension_lock:
                if self._dimension is None:
                    self._dimension = self._request([_PROBE_TEXT]).shape[1]
        return self._dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``; returns ``(len(texts), dimension)`` float32 unit rows."""
        if isinstance(texts, str) or not all(isinstance(text, str) for text in texts):
            raise TypeError("embed() takes a sequence of strings")
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        parts = [
            self._request(texts[start : start + self.batch_size])
            for start in range(0, len(texts), self.batch_size)
        ]
        vectors = parts[0] if len(parts) == 1 else np.concatenate(parts)
        if self._dimension is None:
            self._dimension = vectors.shape[1]
        elif vectors.shape[1] != self._dimension:
            raise ServiceUnavailable(
                f"{self.model} returned {vectors.shape[1]}-dimensional vectors,"
                f" expected {self._dimension}"
            )
        return vectors

    def close(self) -> None:
        """Close the HTTP client if this embedder built it. Idempotent."""
        if self._owns_client:
            self._client.close()

    def _request(self, texts: Sequence[str]) -> np.ndarray:
        import openai

        started = time.perf_counter()
        try:
            response = self._client.embeddings.create(
                model=self.model, input=[text or " " for text in texts]
            )
        except openai.OpenAIError as exc:
            raise _translate(exc, self.model) from exc
        usage = getattr(response, "usage", None)
        observe_embedding(
            self.model, texts=len(texts), seconds=time.perf_counter() - started,
            tokens=(getattr(usage, "prompt_tokens", 0) or getattr(usage, "total_tokens", 0) or 0),
        )  # fmt: skip
        data = sorted(response.data, key=lambda item: item.index)
        if len(data) != len(texts):
            raise ServiceUnavailable(
                f"{self.model} returned {len(data)} embeddings for {len(texts)} texts"
            )
        return normalize_rows(np.array([item.embedding for item in data], dtype=np.float32))


def _build_client(
    *,
    api_key: str | None,
    base_url: str | None,
    azure_endpoint: str | None,
    api_version: str | None,
    timeout: float,
    max_retries: int,
) -> Any:
    import openai

    try:
        if azure_endpoint:
            return openai.AzureOpenAI(
                azure_endpoint=azure_endpoint,
                api_key=api_key,
                api_version=api_version or DEFAULT_API_VERSION,
                timeout=timeout,
                max_retries=max_retries,
            )
        if api_key is None and base_url and not os.environ.get("OPENAI_API_KEY"):
            api_key = "not-needed"
        return openai.OpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries
        )
    except openai.OpenAIError as exc:
        raise ModelUnavailable(f"cannot configure the embedding client: {exc}") from exc


def _translate(exc: Exception, model: str) -> MemvaultError:
    import openai

    if isinstance(exc, openai.APIStatusError):
        message = f"{model}: HTTP {exc.status_code} from the embedding server: {exc.message}"
        if exc.status_code in (401, 403, 404):
            return ModelUnavailable(message)
        if exc.status_code in (400, 413, 422):
            return InvalidRequest(message)
        return ServiceUnavailable(message)
    if isinstance(exc, openai.APITimeoutError):
        return ServiceUnavailable(f"{model}: the embedding server timed out")
    if isinstance(exc, openai.APIConnectionError):
        return ServiceUnavailable(f"{model}: cannot reach the embedding server")
    return ServiceUnavailable(f"{model}: embedding request failed: {exc}")
