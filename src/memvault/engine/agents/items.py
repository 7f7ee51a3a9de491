"""Responses items: what a request may send, what a turn stores, what the chat model sees.

Input is a string (one user message) or a list of message items (``{"role", "content"}``, with
or without ``"type": "message"``), whose content is a string or a list of text parts. Items are
kept in the wire shape of the OpenAI Responses API, with memvault's ids; the chat model gets
their text as chat-completions messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from memvault.errors import InvalidRequest
from memvault.models import new_id

ROLES = ("user", "assistant", "system", "developer")
TEXT_PARTS = ("input_text", "output_text", "text")
MAX_ITEMS_PER_CALL = 20
MAX_TEXT_CHARS = 200_000

Item = dict[str, Any]


def item_id(kind: str) -> str:
    """A new id for an item of type ``kind`` (``msg_…``, ``memsearch_…``)."""
    return new_id({"message": "msg", "memory_search_call": "memsearch"}.get(kind, "item"))


def message_item(role: str, text: str, *, status: str = "completed", id: str | None = None) -> Item:
    """A message item in the Responses shape: input text for the caller's roles, output text
    (with its empty annotations) for the assistant."""
    part: dict[str, Any]
    if role == "assistant":
        part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    else:
        part = {"type": "input_text", "text": text}
    return {
        "id": id or item_id("message"),
        "type": "message",
        "role": role,
        "status": status,
        "content": [part],
    }


def normalize_input(value: object, *, param: str = "input", limit: int | None = None) -> list[Item]:
    """``value`` as message items with fresh ids. Raises ``InvalidRequest`` naming the offending
    item; at most ``limit`` items."""
    if value is None:
        return []
    if isinstance(value, str):
        _check_text(value, param)
        return [message_item("user", value)] if value.strip() else []
    if not isinstance(value, list):
        raise InvalidRequest(f"'{param}' must be a string or a list of items", param=param)
    if limit is not None and len(value) > limit:
        raise InvalidRequest(f"'{param}' may hold at most {limit} items", param=param)
    items = []
    for index, raw in enumerate(value):
        where = f"{param}[{index}]"
        if not isinstance(raw, dict):
            raise InvalidRequest(f"'{where}' must be an object", param=where)
        kind = raw.get("type", "message")
        if kind != "message":
            raise InvalidRequest(
                f"'{where}.type' {kind!r} is not supported: send message items", param=where
            )
        role = raw.get("role")
        if role not in ROLES:
            raise InvalidRequest(
                f"'{where}.role' must be one of {', '.join(ROLES)}", param=f"{where}.role"
            )
        text = _content_text(raw.get("content"), f"{where}.content")
        items.append(message_item(role, text))
    return items


def _content_text(content: object, param: str) -> str:
    if isinstance(content, str):
        _check_text(content, param)
        return content
    if not isinstance(content, list) or not content:
        raise InvalidRequest(
            f"'{param}' must be a string or a non-empty list of text parts", param=param
        )
    texts = []
    for index, part in enumerate(content):
        if not isinstance(part, dict) or part.get("type") not in TEXT_PARTS:
            shown = part.get("type") if isinstance(part, dict) else type(part).__name__
            raise InvalidRequest(
                f"'{param}[{index}]' must be a text part ({', '.join(TEXT_PARTS)}); memvault"
                f" agents take text only, got {shown!r}",
                param=f"{param}[{index}]",
            )
        text = part.get("text")
        if not isinstance(text, str):
            raise InvalidRequest(
                f"'{param}[{index}].text' must be a string", param=f"{param}[{index}].text"
            )
        texts.append(text)
    text = "\n".join(texts)
    _check_text(text, param)
    return text


def _check_text(text: str, param: str) -> None:
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidRequest(
            f"'{param}' is {len(text)} characters; the limit is {MAX_TEXT_CHARS}", param=param
        )
    if "\x00" in text:
        raise InvalidRequest(f"'{param}' must not contain NUL characters", param=param)


def item_text(item: Item) -> str:
    """The text of a message item ('' for other items)."""
    if item.get("type") != "message":
        return ""
    content = item.get("content")
    if isinstance(content, str):
        return content
    return "\n".join(
        part.get("text", "")
        for part in content or []
        if isinstance(part, dict) and part.get("type") in TEXT_PARTS
    )


def message_texts(items: Iterable[Item], roles: Sequence[str] = ROLES) -> list[tuple[str, str]]:
    """(role, text) of the message items with text whose role is in ``roles``."""
    texts = []
    for item in items:
        text = item_text(item)
        if text.strip() and item.get("role") in roles:
            texts.append((item["role"], text))
    return texts


def chat_messages(items: Iterable[Item]) -> list[dict[str, str]]:
    """The message items as chat-completions messages; ``developer`` becomes ``system`` (many
    compatible servers know no other), other item types are left out."""
    return [
        {"role": "system" if role == "developer" else role, "content": text}
        for role, text in message_texts(items)
    ]
