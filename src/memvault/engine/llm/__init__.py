"""Extraction and consolidation by an OpenAI-compatible chat model.

    chat.py          StructuredChat: one strict-JSON exchange, lenient parsing, one correction
    schemas.py       the reply shapes (pydantic) and their strict JSON schemas
    prompts.py       the system prompts and the rendering of each call's data
    extractor.py     LLMExtractor: messages -> candidates (one call), post-filtered
    consolidator.py  LLMConsolidator: candidates + neighbours -> decisions (at most one call)
    probe.py         probe_chat_model: does a store's chat model answer?

The client comes from :func:`memvault.providers.openai_client.make_async_openai_client`:
OpenAI, Azure OpenAI (the store's ``chat_model`` is the deployment) or any OpenAI-compatible
server behind ``OPENAI_BASE_URL`` (Ollama, vLLM, llama.cpp). An update makes at most two calls:
one to extract, and one to consolidate when some candidate has a neighbour.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from memvault.errors import ExtractionFailed
from memvault.providers.openai_client import make_async_openai_client
from memvault.settings import Settings

if TYPE_CHECKING:
    from memvault.engine.llm.chat import StructuredChat
    from memvault.engine.llm.consolidator import LLMConsolidator
    from memvault.engine.llm.extractor import LLMExtractor
    from memvault.engine.llm.probe import probe_chat_model

__all__ = [
    "LLMConsolidator",
    "LLMExtractor",
    "StructuredChat",
    "llm_extractor_and_consolidator",
    "probe_chat_model",
]

# Loaded on first use: they import the OpenAI SDK (half a second), which a server without an LLM
# (or importing memvault.engine.llm.generation for its types) never needs.
_LAZY = {"StructuredChat": "chat", "LLMConsolidator": "consolidator", "LLMExtractor": "extractor",
         "probe_chat_model": "probe"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def llm_extractor_and_consolidator(
    settings: Settings,
    *,
    timeout: float | None = None,
    max_retries: int | None = None,
) -> tuple[LLMExtractor, LLMConsolidator]:
    """An extractor and a consolidator sharing one client built from ``settings`` (``timeout``
    and ``max_retries`` default to :mod:`.chat`'s).

    Raises:
        ExtractionFailed: no OpenAI, Azure OpenAI or compatible server is configured.

    Example::

        extractor, consolidator = llm_extractor_and_consolidator(Settings())
        ...
        await extractor.aclose()  # closes the shared client
    """
    from memvault.engine.llm.chat import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S
    from memvault.engine.llm.consolidator import LLMConsolidator
    from memvault.engine.llm.extractor import LLMExtractor

    timeout = DEFAULT_TIMEOUT_S if timeout is None else timeout
    max_retries = DEFAULT_MAX_RETRIES if max_retries is None else max_retries
    client = make_async_openai_client(settings)
    if client is None:
        raise ExtractionFailed(
            "the LLM extractor needs OPENAI_API_KEY, OPENAI_BASE_URL or AZURE_OPENAI_ENDPOINT",
            retryable=False,
        )
    return (
        LLMExtractor(client, timeout=timeout, max_retries=max_retries),
        LLMConsolidator(client, timeout=timeout, max_retries=max_retries),
    )
