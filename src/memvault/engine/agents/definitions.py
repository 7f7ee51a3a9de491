"""Agent names and definitions: what memvault accepts in ``create_version`` (contract §5.1).

memvault runs *prompt* agents: a model, instructions, and memory search tools. A definition is
kept as the client sent it (so it reads back unchanged); :func:`parse_definition` checks it and
gives the :class:`PromptAgent` the loop runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from memvault.engine import validation
from memvault.engine.service import MAX_SEARCH_LIMIT
from memvault.engine.updates import DEFAULT_UPDATE_DELAY, MAX_UPDATE_DELAY
from memvault.errors import InvalidRequest
from memvault.settings import Settings

# Alphanumeric at both ends, hyphens inside, at most 63 characters (contract §5.1).
_AGENT_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")
USER_ID = "{{$userId}}"
"""The scope placeholder that stands for the user the request is made for."""
MEMORY_TOOL_TYPES = ("memory_search_preview", "memory_search")
"""GA SDKs send ``memory_search_preview``, the preview SDK (2.0.0b1-b3) ``memory_search``."""


@dataclass(frozen=True)
class MemoryTool:
    """A memory search tool of an agent: which store, which scope, how soon to learn."""

    memory_store_name: str
    scope: str
    update_delay: int = DEFAULT_UPDATE_DELAY
    max_memories: int | None = None

    def resolve_scope(self, user_id: str) -> str:
        """The scope for a request made for ``user_id``: the literal scope, or ``user_id``
        where the tool says ``{{$userId}}``. The model never chooses it."""
        return user_id if self.scope == USER_ID else self.scope


@dataclass(frozen=True)
class PromptAgent:
    model: str
    instructions: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    memory_tools: tuple[MemoryTool, ...] = ()


def validate_agent_name(name: object, param: str = "agent_name") -> str:
    """Raises ``InvalidRequest`` unless ``name`` is 1-63 letters, digits and inner hyphens."""
    if not isinstance(name, str) or not _AGENT_NAME.match(name):
        shown = name[:80] if isinstance(name, str) else name
        raise InvalidRequest(
            f"'{param}' must be 1-63 letters, digits or hyphens, starting and ending with a"
            f" letter or digit; got {shown!r}",
            param=param,
        )
    return name


def parse_definition(
    definition: object, settings: Settings, *, param: str = "definition"
) -> tuple[dict[str, Any], PromptAgent]:
    """The definition to keep (``kind`` defaulted to ``prompt``) and the agent it describes.

    Raises ``InvalidRequest`` naming the offending field (``definition.tools[0].scope``).

    Example::

        kept, agent = parse_definition({"model": "gpt-4.1", "tools": [
            {"type": "memory_search_preview", "memory_store_name": "s", "scope": "{{$userId}}"}
        ]}, settings)
        agent.memory_tools[0].update_delay   # 300
    """
    if not isinstance(definition, dict):
        raise InvalidRequest(f"'{param}' must be an object", param=param)
    kept = dict(definition)
    kind = kept.setdefault("kind", "prompt")
    if kind != "prompt":
        raise InvalidRequest(
            f"'{param}.kind' must be 'prompt' (memvault runs prompt agents); got {kind!r}",
            param=f"{param}.kind",
        )
    model = kept.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest(f"'{param}.model' must be a non-empty string", param=f"{param}.model")
    instructions = kept.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise InvalidRequest(
            f"'{param}.instructions' must be a string", param=f"{param}.instructions"
        )
    tools = kept.get("tools") or []
    if not isinstance(tools, list):
        raise InvalidRequest(f"'{param}.tools' must be a list", param=f"{param}.tools")
    memory_tools = tuple(
        parse_memory_tool(tool, settings, param=f"{param}.tools[{index}]")
        for index, tool in enumerate(tools)
    )
    agent = PromptAgent(
        model=model.strip(),
        instructions=instructions,
        temperature=_number(kept, "temperature", 0, 2, param),
        top_p=_number(kept, "top_p", 0, 1, param),
        memory_tools=memory_tools,
    )
    return kept, agent


def parse_memory_tool(tool: object, settings: Settings, *, param: str) -> MemoryTool:
    """One ``memory_search``/``memory_search_preview`` tool. Raises ``InvalidRequest``."""
    if not isinstance(tool, dict):
        raise InvalidRequest(f"'{param}' must be an object", param=param)
    kind = tool.get("type")
    if kind not in MEMORY_TOOL_TYPES:
        raise InvalidRequest(
            f"'{param}.type' {kind!r} is not supported: memvault agents take"
            f" {' or '.join(MEMORY_TOOL_TYPES)} tools",
            param=f"{param}.type",
        )
    store_name = validation.validate_name(
        tool.get("memory_store_name"), f"{param}.memory_store_name"
    )
    scope = tool.get("scope")
    if isinstance(scope, str) and "{{" in scope and scope != USER_ID:
        raise InvalidRequest(
            f"'{param}.scope' may be a literal or exactly {USER_ID}; got {scope[:80]!r}",
            param=f"{param}.scope",
        )
    try:
        scope = validation.validate_scope(scope, settings)
    except InvalidRequest as exc:
        raise InvalidRequest(exc.message.replace("'scope'", f"'{param}.scope'"),
                             param=f"{param}.scope") from None
    delay = tool.get("update_delay")
    if delay is None:
        delay = DEFAULT_UPDATE_DELAY
    if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= MAX_UPDATE_DELAY:
        raise InvalidRequest(
            f"'{param}.update_delay' must be an integer between 0 and {MAX_UPDATE_DELAY} seconds",
            param=f"{param}.update_delay",
        )
    options = tool.get("search_options") or {}
    if not isinstance(options, dict):
        raise InvalidRequest(
            f"'{param}.search_options' must be an object", param=f"{param}.search_options"
        )
    max_memories = options.get("max_memories")
    if max_memories is not None and (
        isinstance(max_memories, bool)
        or not isinstance(max_memories, int)
        or not 1 <= max_memories <= MAX_SEARCH_LIMIT
    ):
        raise InvalidRequest(
            f"'{param}.search_options.max_memories' must be between 1 and {MAX_SEARCH_LIMIT}",
            param=f"{param}.search_options.max_memories",
        )
    return MemoryTool(store_name, scope, delay, max_memories)


def _number(
    definition: dict[str, Any], key: str, low: float, high: float, param: str
) -> float | None:
    value = definition.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidRequest(
            f"'{param}.{key}' must be a number between {low} and {high}", param=f"{param}.{key}"
        )
    return float(value)
