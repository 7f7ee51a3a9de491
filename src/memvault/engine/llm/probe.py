"""Whether a store's chat model answers: a one-token completion, for strict model checks."""

from __future__ import annotations

import openai

from memvault.engine.llm.chat import describe_failure
from memvault.providers.openai_client import make_async_openai_client
from memvault.settings import Settings

PROBE_TIMEOUT_S = 10.0
PROBE_MAX_RETRIES = 1


async def probe_chat_model(
    settings: Settings,
    model: str,
    *,
    timeout: float = PROBE_TIMEOUT_S,
    max_retries: int = PROBE_MAX_RETRIES,
) -> str | None:
    """``None`` when ``model`` (Azure: a deployment) answers a one-token completion, else why not.

    A server that rejects ``max_tokens`` (OpenAI's reasoning models) is asked again with
    ``max_completion_tokens``.

    Example::

        reason = await probe_chat_model(settings, "gpt-4.1")
        if reason is not None and settings.strict_models:
            raise ModelUnavailable(f"chat model 'gpt-4.1' is not reachable: {reason}")
    """
    client = make_async_openai_client(settings)
    if client is None:
        return "no LLM is configured (set OPENAI_API_KEY, OPENAI_BASE_URL or AZURE_OPENAI_ENDPOINT)"
    probing = client.with_options(timeout=timeout, max_retries=max_retries)
    messages = [{"role": "user", "content": "Reply with OK."}]
    try:
        try:
            await probing.chat.completions.create(
                model=model, messages=messages, max_tokens=1  # type: ignore[arg-type]
            )
        except openai.BadRequestError as exc:
            if "max_tokens" not in str(exc):
                raise
            await probing.chat.completions.create(
                model=model, messages=messages, max_completion_tokens=1  # type: ignore[arg-type]
            )
    except openai.OpenAIError as exc:
        return describe_failure(exc, model, timeout, max_retries)
    finally:
        await client.close()
    return None
