"""Server-sent events of a streamed response, in the Responses API's order.

    response.created, response.in_progress
    per memory_search_call: response.output_item.added, response.output_item.done
    response.output_item.added             (the assistant message, in progress)
    response.content_part.added            (an empty output_text part)
    response.output_text.delta ...         (one per chunk of the chat model's stream)
    response.output_text.done, response.content_part.done, response.output_item.done
    response.completed                     (sent once the turn is recorded)

If the chat model fails midway, ``response.failed`` (with the error and the text so far) ends the
stream instead. Each event is ``event: <type>`` plus ``data: <json>``, the JSON carrying ``type``
and a ``sequence_number`` counting from 0.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from memvault.engine.agents import AgentService, Turn
from memvault.engine.llm.generation import TextStream
from memvault.errors import MemvaultError

log = logging.getLogger(__name__)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class _Events:
    def __init__(self) -> None:
        self._numbers = itertools.count()

    def __call__(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, "sequence_number": next(self._numbers), **fields}
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        return f"event: {kind}\ndata: {data}\n\n".encode()


async def response_events(
    agents: AgentService, turn: Turn, stream: TextStream
) -> AsyncIterator[bytes]:
    """The events of ``turn`` as its text arrives from ``stream`` (closed in the end, also when
    the client goes away)."""
    event = _Events()
    chunks: list[str] = []
    try:
        started = turn.body(status="in_progress", output=[])
        yield event("response.created", response=started)
        yield event("response.in_progress", response=started)
        for index, item in enumerate(turn.search_items):
            pending = {**item, "status": "in_progress", "results": [], "memories": []}
            yield event("response.output_item.added", output_index=index, item=pending)
            yield event("response.output_item.done", output_index=index, item=item)
        index = len(turn.search_items)
        message = turn.assistant_item("", status="in_progress")
        item_id = message["id"]
        yield event("response.output_item.added", output_index=index,
                    item={**message, "content": []})
        empty_part = message["content"][0]
        yield event("response.content_part.added", item_id=item_id, output_index=index,
                    content_index=0, part=empty_part)
        async for delta in stream:
            chunks.append(delta)
            yield event("response.output_text.delta", item_id=item_id, output_index=index,
                        content_index=0, delta=delta, logprobs=[])
        text = "".join(chunks)
        done = turn.assistant_item(text)
        yield event("response.output_text.done", item_id=item_id, output_index=index,
                    content_index=0, text=text, logprobs=[])
        yield event("response.content_part.done", item_id=item_id, output_index=index,
                    content_index=0, part=done["content"][0])
        yield event("response.output_item.done", output_index=index, item=done)
        body = await agents.finish(turn, text, stream.usage)
        yield event("response.completed", response=body)
    except MemvaultError as exc:
        yield event("response.failed", response=await agents.fail(turn, exc, "".join(chunks)))
    except Exception:
        log.exception("streamed response %s failed", turn.id)
        error = MemvaultError("The server had an internal error")
        yield event("response.failed", response=await agents.fail(turn, error, "".join(chunks)))
    finally:
        await stream.aclose()
