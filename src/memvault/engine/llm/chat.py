"""One structured chat-completions exchange: ask for a JSON shape, get a validated reply.

:class:`StructuredChat` sends a system and a user message with a strict ``json_schema``
``response_format`` and validates the reply with pydantic. A server that ignores the schema may
still answer usefully: a JSON object inside prose or a code fence is accepted, after any
``<think>…</think>`` block. An invalid reply earns one more call with a correcting message;
a second invalid reply raises :class:`~memvault.errors.ExtractionFailed`.

Transport failures are the openai client's to retry: 429, 5xx, timeouts and dropped
connections get up to ``max_retries`` retries with exponential backoff (0.5 s doubling, at most
8 s, or the server's ``Retry-After``). What still fails becomes ``ExtractionFailed`` with a
message that says what happened, and ``details["retryable"]`` telling an outage from a
request the service refused.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Sequence
from typing import Any, TypeVar

import openai
from pydantic import BaseModel, ValidationError

from memvault.engine.extraction.base import Usage
from memvault.engine.llm.schemas import response_format
from memvault.errors import ExtractionFailed
from memvault.observability.metrics import observe_llm_call

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MAX_RETRIES = 3
MAX_ECHOED_CHARS = 4_000
"""Longest invalid reply sent back to the model with the correcting message."""

R = TypeVar("R", bound=BaseModel)

log = logging.getLogger(__name__)

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)

CORRECTION = (
    "Your reply could not be used: {problem}\n"
    "Reply again with only the JSON object, no prose and no code fence, matching the schema:"
    " every field present, nothing else."
)


class InvalidReply(ValueError):
    """The model's text is not a JSON object of the expected shape."""


class StructuredChat:
    """Structured chat completions over an ``AsyncOpenAI`` or ``AsyncAzureOpenAI`` client.

    Args:
        client: the SDK client (from
            :func:`~memvault.providers.openai_client.make_async_openai_client`); its timeout
            and retries are replaced by the two below.
        timeout: seconds allowed per HTTP attempt.
        max_retries: retries of a failed attempt (429, 5xx, timeouts, dropped connections).

    Example::

        chat = StructuredChat(AsyncOpenAI(base_url="http://localhost:11434/v1", api_key="x"))
        reply, usage = await chat.ask(
            "llama3.1", system="…", user="…", reply_type=ExtractionReply, name="memories"
        )
    """

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.timeout = timeout
        self.max_retries = max_retries
        self._owner = client
        self._client = client.with_options(timeout=timeout, max_retries=max_retries)

    async def aclose(self) -> None:
        """Close the HTTP connections (shared with the client this was built from)."""
        await self._owner.close()

    async def ask(
        self,
        model: str,
        *,
        system: str,
        user: str,
        reply_type: type[R],
        name: str,
    ) -> tuple[R, Usage]:
        """Ask ``model`` and return its reply as ``reply_type``, with the tokens spent.

        Raises:
            ExtractionFailed: the service failed after the retries, refused the request or
                the answer, or replied with invalid output twice.
        """
        messages: list[dict[str, str]] = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]
        fmt = response_format(reply_type, name)
        usage = Usage()
        for attempt in (1, 2):
            completion = await self._complete(model, messages, fmt)
            usage += usage_of(completion)
            text, cut_off = self._text_of(model, completion)
            try:
                return parse_reply(text, reply_type), usage
            except InvalidReply as exc:
                problem = str(exc)
                if cut_off:
                    problem += " (the reply was cut off at the token limit)"
                if attempt == 2:
                    raise ExtractionFailed(
                        f"chat model {model!r} returned invalid output twice: {problem}",
                        retryable=False,
                    ) from None
                log.warning("chat model %r returned invalid output (%s); asking again",
                            model, problem)
                messages = [
                    *messages,
                    {"role": "assistant", "content": text[:MAX_ECHOED_CHARS]},
                    {"role": "user", "content": CORRECTION.format(problem=problem)},
                ]
        raise AssertionError("unreachable")

    async def _complete(
        self, model: str, messages: Sequence[dict[str, str]], fmt: dict[str, Any]
    ) -> Any:
        operation = fmt.get("json_schema", {}).get("name", "chat").removeprefix("memvault_")
        started = time.perf_counter()
        try:
            completion = await self._client.chat.completions.create(
                model=model,
                messages=list(messages),  # type: ignore[arg-type]
                response_format=fmt,  # type: ignore[arg-type]
            )
        except openai.OpenAIError as exc:
            observe_llm_call(model, operation, seconds=time.perf_counter() - started, ok=False)
            raise ExtractionFailed(
                describe_failure(exc, model, self.timeout, self.max_retries),
                retryable=is_outage(exc),
            ) from exc
        usage = usage_of(completion)
        observe_llm_call(
            model, operation, seconds=time.perf_counter() - started, ok=True,
            input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
        )  # fmt: skip
        return completion

    @staticmethod
    def _text_of(model: str, completion: Any) -> tuple[str, bool]:
        choices = getattr(completion, "choices", None) or []
        if not choices:
            return "", False
        message = choices[0].message
        refusal = getattr(message, "refusal", None)
        if refusal:
            raise ExtractionFailed(
                f"chat model {model!r} refused: {_short(refusal)}", retryable=False
            )
        return message.content or "", choices[0].finish_reason == "length"


def parse_reply(text: str, reply_type: type[R]) -> R:
    """``text`` as ``reply_type``: a bare JSON object, or one inside prose or a code fence.

    A bare JSON array is taken as the value of ``reply_type``'s only list field (some models
    drop the wrapping object).

    Raises:
        InvalidReply: no JSON object in ``text`` validates; the message says why.

    Example::

        parse_reply('```json\\n{"memories": []}\\n```', ExtractionReply).memories  # []
    """
    text = _THINK.sub("", text).strip()
    if not text:
        raise InvalidReply("the reply was empty")
    problem = "the reply contains no JSON object"
    for value in _json_values(text):
        if isinstance(value, list):
            value = _wrap(value, reply_type)
        if not isinstance(value, dict):
            continue
        try:
            return reply_type.model_validate(value)
        except ValidationError as exc:
            problem = "the JSON does not match the schema: " + _summary(exc)
    raise InvalidReply(problem)


def _json_values(text: str) -> list[Any]:
    """Every JSON value worth trying in ``text``, most likely first."""
    decoder = json.JSONDecoder()
    found: list[Any] = []
    chunks = [text, *(m.group(1).strip() for m in _FENCE.finditer(text))]
    for chunk in chunks:
        try:
            found.append(json.loads(chunk))
            continue
        except ValueError:
            pass
        for match in re.finditer(r"[{\[]", chunk):
            try:
                value, _ = decoder.raw_decode(chunk, match.start())
            except ValueError:
                continue
            if isinstance(value, dict) or (isinstance(value, list) and value
                                           and all(isinstance(v, dict) for v in value)):
                found.append(value)
                break
    return found


def _wrap(items: list[Any], reply_type: type[BaseModel]) -> Any:
    lists = [name for name, field in reply_type.model_fields.items()
             if getattr(field.annotation, "__origin__", None) is list]
    return {lists[0]: items} if len(lists) == 1 else items


def _summary(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error["loc"]) or "reply"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def usage_of(completion: Any) -> Usage:
    """The tokens one completion reports (zeros when the server reports none)."""
    usage = getattr(completion, "usage", None)
    if usage is None:
        return Usage()
    prompt = usage.prompt_tokens or 0
    completion_tokens = usage.completion_tokens or 0
    return Usage(
        input_tokens=prompt,
        output_tokens=completion_tokens,
        total_tokens=usage.total_tokens or prompt + completion_tokens,
    )


def is_outage(exc: openai.OpenAIError) -> bool:
    """Whether ``exc`` is a failure a later attempt may not meet (429, 5xx, timeout, network)."""
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    return False


def describe_failure(exc: openai.OpenAIError, model: str, timeout: float, retries: int) -> str:
    """What went wrong calling ``model``, in a sentence fit for an update's ``error.message``."""
    attempts = f"{retries + 1} attempt{'s' if retries else ''}"
    subject = f"chat model {model!r}"
    if isinstance(exc, openai.APITimeoutError):
        return f"{subject} did not answer within {timeout:g} s ({attempts})"
    if isinstance(exc, openai.APIConnectionError):
        return f"could not connect to the chat service for {subject} ({attempts})"
    if isinstance(exc, openai.APIStatusError):
        detail = _short(_service_message(exc))
        status = exc.status_code
        if status == 429:
            return f"{subject} is rate limited (HTTP 429 after {attempts}): {detail}"
        if status >= 500:
            return (f"the chat service kept failing for {subject}"
                    f" (HTTP {status} after {attempts}): {detail}")
        if status in (401, 403):
            return (f"the chat service refused the credentials for {subject}"
                    f" (HTTP {status}): {detail}")
        if status == 404:
            return (f"{subject} was not found (HTTP 404; with Azure OpenAI the chat model is"
                    f" a deployment name): {detail}")
        return f"the chat service rejected the request to {subject} (HTTP {status}): {detail}"
    return f"calling {subject} failed: {_short(str(exc))}"


def _service_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
    return exc.message


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ChatModelUser:
    """Base of the extractor and the consolidator: a :class:`StructuredChat` over a client they
    may share, and a default model for calls that name none."""

    def __init__(
        self,
        client: Any,
        *,
        model: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ) -> None:
        self.chat = StructuredChat(client, timeout=timeout, max_retries=max_retries)
        self.model = model

    async def aclose(self) -> None:
        """Close the client's connections (closing a shared client twice is harmless)."""
        await self.chat.aclose()
