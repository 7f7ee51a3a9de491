"""Microsoft Agent Framework (``agent-framework-core`` >= 1.23) providers backed by memvault.

* :class:`MemvaultContextProvider`: long-term memory. Before a run it adds what memvault
  remembers about the scope (the static profile on a session's first turn, the memories relevant
  to the input on every turn) to the instructions; after a run it submits the turn to
  ``update_memories``.
* :class:`MemvaultHistoryProvider`: chat history kept in memvault, as memory entries under
  ``/memories/chat-history/<session>/`` of a scope.
* :class:`RedisHistoryProvider`: chat history in Redis, one list per session, with
  ``max_messages`` and an optional TTL (needs ``redis``).

The stock ``FoundryMemoryProvider`` of ``agent-framework-foundry`` also works against memvault
unchanged (point its ``AIProjectClient`` at ``http://HOST:PORT/api/projects/default``).

Example::

    from agent_framework import Agent
    from memvault.client import AsyncClient
    from memvault.integrations.agent_framework import (
        MemvaultContextProvider, MemvaultHistoryProvider)

    memvault = AsyncClient("http://127.0.0.1:8080", api_key="key1")
    agent = Agent(client=chat_client, instructions="You are a helpful assistant.",
                  context_providers=[
                      MemvaultHistoryProvider(store="assistant", scope="user_1/chat",
                                              client=memvault, max_messages=50),
                      MemvaultContextProvider(store="assistant", scope="user_1", client=memvault),
                  ])
    session = agent.create_session()
    print(await agent.run("I'm allergic to peanuts.", session=session))
    saved = session.to_dict()            # JSON; AgentSession.from_dict(saved) continues it
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:
    import agent_framework  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(f"memvault's Agent Framework providers need agent-framework-core ({exc}):"
                      " pip install 'memvault[agent-framework]'") from exc

from memvault.integrations.agent_framework.connection import Scope
from memvault.integrations.agent_framework.context import MemvaultContextProvider
from memvault.integrations.agent_framework.history import MemvaultHistoryProvider

if TYPE_CHECKING:
    from memvault.integrations.agent_framework.redis_history import RedisHistoryProvider

__all__ = [
    "MemvaultContextProvider",
    "MemvaultHistoryProvider",
    "RedisHistoryProvider",
    "Scope",
]


def __getattr__(name: str) -> Any:
    # Imported on first use, so the memvault providers work without redis installed.
    if name == "RedisHistoryProvider":
        from memvault.integrations.agent_framework.redis_history import RedisHistoryProvider

        return RedisHistoryProvider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
