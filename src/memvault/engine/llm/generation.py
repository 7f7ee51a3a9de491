"""Free-text generation for agents: one chat-completions call per turn, whole or streamed.

:class:`ChatGenerator` wraps the client from
:func:`~memvault.providers.openai_client.make_async_openai_client` (OpenAI, Azure OpenAI, where
the model is the deployment, or any compatible server). Failures become
:class:`~memvault.errors.GenerationFailed` (an outage: 429, 5xx, timeout, network; the client
has already retried) or :class:`~memvault.errors.ModelUnavailable` (the service refused the
request: unknown model, bad credentials), with the same wording as extraction failures.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from memvault.errors import GenerationFailed, MemvaultError, ModelUnavailable
from memvault.observability.metrics import observe_llm_call

DEFAULT_TIMEOUT_S = 120.0
DEFAULT_MAX_RETRIES = 2
GENERATE = "generation"
"""The operation label of agents' answers in the LLM metrics."""

ChatMessages = Sequence[dict[str, str]]

if TYPE_CHECKING:
    import openai


@dataclass(frozen=True)
class TokenUsage:
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True)
class Generation:
    text: str
    usage: TokenUsage


class TextStream(Protocol):
    """Text deltas of one streamed answer; ``usage`` is set once the stream is exhausted."""

    usage: TokenUsage

    def __aiter__(self) -> AsyncIterator[str]: ...

    async def aclose(self) -> None: ...


class Generator(Protocol):
    """What the agent loop needs from a chat model (tests and the demo pass their own)."""

    async def complete(
        self, model: str, messages: ChatMessages, **options: Any
    ) -> Generation: ...

    async def open_stream(
        self, model: str, messages: ChatMessages, **options: Any
    ) -> TextStream: ...

    async def aclose(self) -> None: ...


class ChatGenerator:
    """Chat completions over an ``AsyncOpenAI`` or ``AsyncAzureOpenAI`` client.

    ``options`` of both calls are chat-completions parameters (``temperature``, ``top_p``,
    ``max_completion_tokens``); ``None`` values are left out.

    Example::

        generator = ChatGenerator(make_async_openai_client(settings))
        answer = await generator.complete("gpt-4.1", [{"role": "user", "content": "Hi"}])
        stream = await generator.open_stream("gpt-4.1", messages)   # raises before any text
        async for delta in stream: ...
        stream.usage
    """

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ) -> None:
        self.timeout = timeout
        self.max_retries = max_retries
        self._owner = client
        self._client = client.with_options(timeout=timeout, max_retries=max_retries)

    async def aclose(self) -> None:
        await self._owner.close()

    async def complete(self, model: str, messages: ChatMessages, **options: Any) -> Generation:
        """The whole answer. Raises ``GenerationFailed`` or ``ModelUnavailable``."""
        import openai  # loaded with the client; not at import, to keep startup short

        started = time.perf_counter()
        try:
            completion = await self._client.chat.completions.create(
                model=model, messages=list(messages), **_present(options)  # type: ignore[arg-type]
            )
        except openai.OpenAIError as exc:
            observe_llm_call(model, GENERATE, seconds=time.perf_counter() - started, ok=False)
            raise self._failure(exc, model) from exc
        choices = getattr(completion, "choices", None) or []
        text = (choices[0].message.content or "") if choices else ""
        usage = usage_of(getattr(completion, "usage", None))
        observe_llm_call(
            model, GENERATE, seconds=time.perf_counter() - started, ok=True,
            input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
        )  # fmt: skip
        return Generation(text, usage)

    async def open_stream(self, model: str, messages: ChatMessages, **options: Any) -> TextStream:
        """Start a streamed answer; returns once the service accepted the request, so a refusal
        raises here (``GenerationFailed``/``ModelUnavailable``) rather than mid-stream."""
        import openai

        started = time.perf_counter()
        try:
            stream = await self._client.chat.completions.create(
                model=model,
                messages=list(messages),  # type: ignore[arg-type]
                stream=True,
                stream_options={"include_usage": True},
                **_present(options),
            )
        except openai.OpenAIError as exc:
            observe_llm_call(model, GENERATE, seconds=time.perf_counter() - started, ok=False)
            raise self._failure(exc, model) from exc
        return _ChunkStream(stream, lambda exc: self._failure(exc, model), model, started)

    def _failure(self, exc: openai.OpenAIError, model: str) -> MemvaultError:
        from memvault.engine.llm.chat import describe_failure, is_outage

        message = describe_failure(exc, model, self.timeout, self.max_retries)
        if is_outage(exc):
            return GenerationFailed(message, retryable=True)
        return ModelUnavailable(message, param="model")


class _ChunkStream:
    """Text deltas of a chat-completions chunk stream."""

    def __init__(self, stream: Any, failure: Any, model: str, started: float) -> None:
        self._stream = stream
        self._failure = failure
        self._model = model
        self._started = started
        self.usage = TokenUsage()

    async def __aiter__(self) -> AsyncIterator[str]:
        import openai

        failed = False
        try:
            async for chunk in self._stream:
                if getattr(chunk, "usage", None) is not None:
                    self.usage = usage_of(chunk.usage)
                for choice in getattr(chunk, "choices", None) or []:
                    delta = getattr(choice.delta, "content", None) if choice.delta else None
                    if delta:
                        yield delta
        except openai.OpenAIError as exc:
            failed = True
            raise self._failure(exc) from exc
        finally:
            observe_llm_call(
                self._model, GENERATE, seconds=time.perf_counter() - self._started, ok=not failed,
                input_tokens=self.usage.input_tokens, output_tokens=self.usage.output_tokens,
            )  # fmt: skip

    async def aclose(self) -> None:
        await self._stream.close()


def usage_of(usage: Any) -> TokenUsage:
    """Token counts of a chat-completions ``usage`` object (zeros when absent)."""
    if usage is None:
        return TokenUsage()
    prompt = getattr(usage, "prompt_tokens", 0) or 0
    completion = getattr(usage, "completion_tokens", 0) or 0
    total = getattr(usage, "total_tokens", 0) or prompt + completion
    return TokenUsage(prompt, completion, total)


def _present(options: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in options.items() if value is not None}
