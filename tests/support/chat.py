"""Stand-ins for the chat model of agents.

* :class:`ScriptedGenerator`: an in-process :class:`~memvault.engine.llm.generation.Generator`
  that records the messages of every call and answers with a function of them.
* :func:`chat_completion_stream`: the server-sent-event bytes of a streamed chat completion, for
  :class:`~tests.support.openai_server.ScriptedOpenAIServer`'s ``raw`` responses.
* :func:`sse_events`: the ``(event, data)`` pairs of a server-sent-event body.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from memvault.engine.llm.generation import Generation, TokenUsage
from memvault.errors import MemvaultError

Messages = Sequence[dict[str, str]]


@dataclass
class Call:
    model: str
    messages: list[dict[str, str]]
    options: dict[str, Any]
    stream: bool

    @property
    def system(self) -> str:
        return "\n".join(m["content"] for m in self.messages if m["role"] == "system")

    @property
    def text(self) -> str:
        return "\n".join(m["content"] for m in self.messages)


@dataclass
class ScriptedGenerator:
    """Answers ``reply(messages)`` (split into ``chunks`` pieces when streamed); raises
    ``fail_after`` after that many chunks when set."""

    reply: Callable[[Messages], str] = lambda messages: "OK"
    chunks: int = 3
    fail_after: tuple[int, MemvaultError] | None = None
    calls: list[Call] = field(default_factory=list)
    closed: bool = False

    async def complete(self, model: str, messages: Messages, **options: Any) -> Generation:
        self.calls.append(Call(model, list(messages), options, stream=False))
        text = self.reply(messages)
        return Generation(text, TokenUsage(7, len(text.split()), 7 + len(text.split())))

    async def open_stream(self, model: str, messages: Messages, **options: Any) -> _Stream:
        self.calls.append(Call(model, list(messages), options, stream=True))
        return _Stream(self.reply(messages), self.chunks, self.fail_after)

    async def aclose(self) -> None:
        self.closed = True


class _Stream:
    def __init__(self, text: str, chunks: int, fail_after: tuple[int, MemvaultError] | None) -> None:
        size = max(1, -(-len(text) // chunks))
        self.pieces = [text[i:i + size] for i in range(0, len(text), size)]
        self.fail_after = fail_after
        self.usage = TokenUsage()
        self.closed = False
        self._text = text

    async def __aiter__(self) -> AsyncIterator[str]:
        for index, piece in enumerate(self.pieces):
            if self.fail_after is not None and index == self.fail_after[0]:
                raise self.fail_after[1]
            yield piece
        self.usage = TokenUsage(5, len(self.pieces), 5 + len(self.pieces))

    async def aclose(self) -> None:
        self.closed = True


def chat_completion_stream(pieces: Sequence[str], *, model: str = "gpt-4.1",
                           usage: tuple[int, int] = (12, 3)) -> bytes:
    """A streamed chat completion saying ``pieces`` one chunk each, then a usage chunk."""
    base = {"id": "chatcmpl-stream", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": model}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                    "finish_reason": None}]}]
    chunks += [{**base, "choices": [{"index": 0, "delta": {"content": piece},
                                     "finish_reason": None}]} for piece in pieces]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    prompt, completion = usage
    chunks.append({**base, "choices": [], "usage": {
        "prompt_tokens": prompt, "completion_tokens": completion,
        "total_tokens": prompt + completion}})
    body = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks) + "data: [DONE]\n\n"
    return body.encode()


def sse_events(body: str) -> list[tuple[str, dict[str, Any]]]:
    """``(event, data)`` of each event in a ``text/event-stream`` body."""
    events = []
    for block in body.strip().split("\n\n"):
        name, data = "", ""
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                data += line[len("data: "):]
        events.append((name, json.loads(data)))
    return events
