"""``RedisHistoryProvider``: an agent's chat history in Redis, one list per session.

Needs only redis-py (``redis.asyncio``); unlike ``agent-framework-redis``'s provider of the same
name it brings no vector search library along.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar, Self

import redis.asyncio as aioredis
from agent_framework import HistoryProvider, Message

__all__ = ["RedisHistoryProvider"]

DEFAULT_KEY_PREFIX = "memvault:chat-history:"


class RedisHistoryProvider(HistoryProvider):
    """Keeps each session's messages in the Redis list ``<key_prefix><session id>`` (one JSON
    ``Message.to_dict()`` per element, oldest first) and gives the agent the newest
    ``max_messages`` of them before each run.

    Each save appends, trims the list to ``max_messages`` and (with ``ttl_seconds``) sets the
    key to expire that long after the session's last message, in one transaction. The history
    lives in Redis, keyed by the session id, so a session restored with
    ``AgentSession.from_dict()`` (in any process, with a new provider) continues it.

    Args:
        redis_client: A borrowed ``redis.asyncio.Redis``; or ``redis_url`` for one the provider
            makes and closes (``aclose``/``async with``).
        key_prefix: What every key starts with; the session id follows.
        max_messages: Keep only the newest this many messages of a session (None: all).
        ttl_seconds: Forget a session this many seconds after its last message (None: never).
        source_id, load_messages, store_inputs, store_context_messages, store_context_from,
            store_outputs: as for every Agent Framework ``HistoryProvider``.

    Example::

        history = RedisHistoryProvider(redis_url="redis://127.0.0.1:6379/0",
                                       max_messages=100, ttl_seconds=7 * 86400)
        agent = Agent(client=chat_client, context_providers=[history])
    """

    DEFAULT_SOURCE_ID: ClassVar[str] = "redis_history"

    def __init__(self, *, redis_client: aioredis.Redis | None = None,
                 redis_url: str | None = None, key_prefix: str = DEFAULT_KEY_PREFIX,
                 max_messages: int | None = None, ttl_seconds: int | None = None,
                 source_id: str = DEFAULT_SOURCE_ID, load_messages: bool = True,
                 store_inputs: bool = True, store_context_messages: bool = False,
                 store_context_from: set[str] | None = None, store_outputs: bool = True) -> None:
        super().__init__(source_id, load_messages=load_messages, store_inputs=store_inputs,
                         store_context_messages=store_context_messages,
                         store_context_from=store_context_from, store_outputs=store_outputs)
        if (redis_client is None) == (redis_url is None):
            raise ValueError("pass exactly one of redis_client= and redis_url=")
        if max_messages is not None and max_messages < 1:
            raise ValueError("max_messages must be None (keep all) or at least 1")
        if ttl_seconds is not None and ttl_seconds < 1:
            raise ValueError("ttl_seconds must be None (never expire) or at least 1")
        self.redis: aioredis.Redis = (redis_client if redis_client is not None
                                      else aioredis.from_url(redis_url))
        self._owns_client = redis_client is None
        self.key_prefix = key_prefix
        self.max_messages = max_messages
        self.ttl_seconds = ttl_seconds

    def key(self, session_id: str | None) -> str:
        """The Redis key of a session's history."""
        if not session_id:
            raise ValueError("Redis keeps history per session: run the agent with a session")
        return self.key_prefix + session_id

    async def get_messages(self, session_id: str | None, *, state: dict[str, Any] | None = None,
                           **kwargs: Any) -> list[Message]:
        """The session's newest ``max_messages`` messages, oldest first."""
        start = -self.max_messages if self.max_messages is not None else 0
        stored = await self.redis.lrange(self.key(session_id), start, -1)  # type: ignore[misc]
        return [Message.from_dict(json.loads(item)) for item in stored]

    async def save_messages(self, session_id: str | None, messages: Sequence[Message], *,
                            state: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Append ``messages``, trim to ``max_messages`` and renew the TTL, atomically."""
        if not messages:
            return
        key = self.key(session_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, *(json.dumps(m.to_dict(), ensure_ascii=False) for m in messages))
            if self.max_messages is not None:
                pipe.ltrim(key, -self.max_messages, -1)
            if self.ttl_seconds is not None:
                pipe.expire(key, self.ttl_seconds)
            await pipe.execute()

    async def clear(self, session_id: str) -> None:
        """Delete the session's history."""
        await self.redis.delete(self.key(session_id))

    async def aclose(self) -> None:
        """Close the Redis connection if this provider made it."""
        if self._owns_client:
            await self.redis.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
