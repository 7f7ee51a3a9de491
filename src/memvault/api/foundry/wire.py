"""The Foundry Memory Store wire format: request bodies in, JSON objects out (contract §3-4).

Request models allow extra fields (newer SDKs add some); response objects carry memvault's own
extra fields under ``memvault``, which the SDK's dict-backed models keep and ignore.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from memvault.api.openapi import NAME, NONBLANK, SCOPE
from memvault.errors import InvalidRequest
from memvault.models import (
    Memory,
    MemoryKind,
    MemoryStore,
    Page,
    ScopeSummary,
    StoreOptions,
    UpdateJob,
    UpdateStatus,
    memory_from_dict,
    memory_to_dict,
)

MESSAGE_ROLES = {"user", "assistant", "system", "developer"}
TEXT_PART_TYPES = {"input_text", "output_text", "text"}


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow")


_CONTENT = Field(json_schema_extra={"pattern": NONBLANK, "maxLength": 10_000})


class StoreOptionsIn(_Wire):
    user_profile_enabled: bool = True
    chat_summary_enabled: bool = True
    procedural_memory_enabled: bool = True
    user_profile_details: str | None = None
    default_ttl_seconds: int = 0

    def to_options(self) -> StoreOptions:
        return StoreOptions(
            user_profile_enabled=self.user_profile_enabled,
            chat_summary_enabled=self.chat_summary_enabled,
            procedural_memory_enabled=self.procedural_memory_enabled,
            user_profile_details=self.user_profile_details,
            default_ttl_seconds=self.default_ttl_seconds,
        )


class DefinitionIn(_Wire):
    kind: Literal["default"] = "default"
    chat_model: str | None = None
    embedding_model: str | None = None
    options: StoreOptionsIn | None = None


class CreateStoreIn(_Wire):
    name: str = Field(json_schema_extra=NAME["json_schema_extra"])
    definition: DefinitionIn | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None


class UpdateStoreIn(_Wire):
    description: str | None = None
    metadata: dict[str, Any] | None = None


class SearchOptionsIn(_Wire):
    max_memories: int | None = None


_SCOPE = Field(json_schema_extra=SCOPE["json_schema_extra"])


class SearchIn(_Wire):
    scope: str = _SCOPE
    items: list[dict[str, Any]] | str | None = None
    previous_search_id: str | None = None
    options: SearchOptionsIn | None = None


class UpdateIn(_Wire):
    scope: str = _SCOPE
    items: list[dict[str, Any]] | str | None = None
    previous_update_id: str | None = None
    update_delay: int | None = None


class DeleteScopeIn(_Wire):
    scope: str = _SCOPE


class CreateMemoryIn(_Wire):
    scope: str = _SCOPE
    content: str = _CONTENT
    kind: str = Field("user_profile", json_schema_extra={"enum": [k.value for k in MemoryKind]})


class UpdateMemoryIn(_Wire):
    content: str = _CONTENT


class ListMemoriesIn(_Wire):
    scope: str | None = Field(None, json_schema_extra=SCOPE["json_schema_extra"])


class ListQuery(BaseModel):
    limit: int | None = Field(None, json_schema_extra={"minimum": 1, "maximum": 100})
    order: Literal["asc", "desc"] = "desc"
    after: str | None = None
    before: str | None = None


# -- messages --------------------------------------------------------------------------------


def message_texts(items: list[dict[str, Any]] | str | None) -> list[tuple[str, str]]:
    """(role, text) of every Responses message item; other item types are ignored.

    A plain string is one user message. Content is a string or a list of
    ``input_text``/``output_text`` parts. Raises ``InvalidRequest`` for a malformed message.
    """
    if items is None:
        return []
    if isinstance(items, str):
        return [("user", items)] if items.strip() else []
    texts = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidRequest(f"'items[{index}]' must be an object", param=f"items[{index}]")
        if item.get("type", "message") != "message":
            continue
        role = item.get("role")
        if role not in MESSAGE_ROLES:
            raise InvalidRequest(
                f"'items[{index}].role' must be one of user, assistant, system, developer",
                param=f"items[{index}].role",
            )
        text = _content_text(item.get("content"), index)
        if text.strip():
            texts.append((role, text))
    return texts


def _content_text(content: object, index: int) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and part.get("type") in TEXT_PART_TYPES:
                text = part.get("text")
                if not isinstance(text, str):
                    raise InvalidRequest(
                        f"'items[{index}].content' text parts need a string 'text'",
                        param=f"items[{index}].content",
                    )
                parts.append(text)
        return "\n".join(parts)
    raise InvalidRequest(
        f"'items[{index}].content' must be a string or a list of content parts",
        param=f"items[{index}].content",
    )


# -- responses -------------------------------------------------------------------------------


def store_json(store: MemoryStore) -> dict[str, Any]:
    options = store.options
    return {
        "object": "memory_store",
        "id": store.id,
        "name": store.name,
        "created_at": store.created_at,
        "updated_at": store.updated_at,
        "description": store.description,
        "metadata": store.metadata,
        "definition": {
            "kind": "default",
            "chat_model": store.chat_model,
            "embedding_model": store.requested_embedding_model,
            "options": {
                "user_profile_enabled": options.user_profile_enabled,
                "chat_summary_enabled": options.chat_summary_enabled,
                "procedural_memory_enabled": options.procedural_memory_enabled,
                "user_profile_details": options.user_profile_details,
                "default_ttl_seconds": options.default_ttl_seconds,
            },
        },
        "memvault": {
            "embedding_model": store.embedding_model,
            "embedding_dimension": store.embedding_dimension,
            "notices": list(store.notices),
        },
    }


def memory_json(memory: Memory) -> dict[str, Any]:
    """``MemoryItem``, with version and provenance under ``memvault``."""
    snapshot = memory_to_dict(memory)
    return {
        "memory_id": memory.id,
        "updated_at": memory.updated_at,
        "scope": memory.scope,
        "content": memory.content,
        "kind": memory.kind.value,
        "memvault": {key: snapshot[key] for key in _MEMORY_EXTRAS},
    }


_MEMORY_EXTRAS = (
    "created_at", "version", "status", "expires_at", "created_by", "updated_by", "source"
)


def scope_json(summary: ScopeSummary) -> dict[str, Any]:
    """memvault's own ``memory_store.scope``: a scope and how many memories it holds."""
    return {
        "object": "memory_store.scope",
        "scope": summary.scope,
        "memory_count": summary.memory_count,
        "quarantined_count": summary.quarantined_count,
        "updated_at": summary.updated_at,
    }


def list_json(page: Page[Any], render: Any, id_of: Any) -> dict[str, Any]:
    """OpenAI list shape. The SDK pages on ``last_id`` until it is null, so an empty page must
    carry ``last_id: null`` and a non-empty one its last id (contract §3.4)."""
    data = [render(item) for item in page.items]
    return {
        "object": "list",
        "data": data,
        "first_id": id_of(page.items[0]) if page.items else None,
        "last_id": id_of(page.items[-1]) if page.items else None,
        "has_more": page.has_more,
    }


def usage_json(usage: dict[str, Any] | None = None) -> dict[str, Any]:
    """The contract's usage object from memvault's token counts (zeros when absent); anything
    else memvault counted stays under ``memvault``."""
    usage = dict(usage or {})
    counts = {key: int(usage.pop(key, 0) or 0) for key in
              ("embedding_tokens", "input_tokens", "output_tokens", "total_tokens")}
    return {
        **counts,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": 0},
        **({"memvault": usage} if usage else {}),
    }


def update_json(job: UpdateJob) -> dict[str, Any]:
    """``MemoryStoreUpdateResult`` (contract §4.3)."""
    body: dict[str, Any] = {
        "update_id": job.id,
        "status": job.status.value,
        "superseded_by": job.superseded_by,
        "error": job.error,
        "memvault": {
            "scope": job.scope,
            "created_at": job.created_at,
            "updated_at": job.updated_at,
            "run_at": job.run_at,
            "previous_update_id": job.previous_update_id,
            "attempts": job.attempts,
        },
    }
    if job.status is UpdateStatus.COMPLETED and job.result is not None:
        body["result"] = {
            "memory_operations": [
                {"kind": op["kind"], "memory_item": memory_json(memory_from_dict(op["memory"]))}
                for op in job.result.get("memory_operations", [])
            ],
            "usage": usage_json(job.result.get("usage")),
        }
    return body
