"""Building the OpenAI SDK client from settings: OpenAI, Azure OpenAI, or any compatible server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from memvault.settings import Settings

if TYPE_CHECKING:  # the SDK takes half a second to import: only when a client is made
    from openai import AsyncAzureOpenAI, AsyncOpenAI, AzureOpenAI, OpenAI

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_RETRIES = 3


def _client_args(settings: Settings) -> tuple[bool, dict[str, Any]] | None:
    """(is_azure, constructor kwargs), or None when no service is configured.

    Azure OpenAI wins when ``AZURE_OPENAI_ENDPOINT`` is set. A base URL without a key (a local
    Ollama or vLLM server) gets a placeholder key, since the SDK insists on one.
    """
    common = {"timeout": DEFAULT_TIMEOUT_S, "max_retries": DEFAULT_MAX_RETRIES}
    if settings.azure_openai_endpoint:
        return True, {
            "azure_endpoint": settings.azure_openai_endpoint,
            "api_key": settings.azure_openai_api_key,
            "api_version": settings.openai_api_version,
            **common,
        }
    if settings.openai_api_key or settings.openai_base_url:
        return False, {
            "api_key": settings.openai_api_key or "not-needed",
            "base_url": settings.openai_base_url,
            **common,
        }
    return None


def make_openai_client(settings: Settings) -> OpenAI | AzureOpenAI | None:
    """The synchronous client for the configured LLM/embedding service, or None."""
    args = _client_args(settings)
    if args is None:
        return None
    is_azure, kwargs = args
    from openai import AzureOpenAI, OpenAI

    return AzureOpenAI(**kwargs) if is_azure else OpenAI(**kwargs)


def make_async_openai_client(settings: Settings) -> AsyncOpenAI | AsyncAzureOpenAI | None:
    """The asynchronous client for the configured LLM service, or None."""
    args = _client_args(settings)
    if args is None:
        return None
    is_azure, kwargs = args
    from openai import AsyncAzureOpenAI, AsyncOpenAI

    return AsyncAzureOpenAI(**kwargs) if is_azure else AsyncOpenAI(**kwargs)
