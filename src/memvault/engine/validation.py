"""Input rules shared by every API face, so each one rejects the same things the same way."""

from __future__ import annotations

import re

from memvault.errors import InvalidRequest
from memvault.models import MemoryKind
from memvault.settings import Settings

# Store names appear in URL paths followed by ":action", so ":" and "/" are out.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")
MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
MAX_DESCRIPTION = 2_048


def validate_name(name: object, what: str = "name") -> str:
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"'{what}' must be a non-empty string", param=what)
    if not _NAME.match(name):
        raise InvalidRequest(
            f"'{what}' must be 1-128 letters, digits, '_', '-' or '.', starting with a letter or"
            f" digit; got {name[:80]!r}",
            param=what,
        )
    return name


def validate_scope(scope: object, settings: Settings) -> str:
    if not isinstance(scope, str) or not scope.strip():
        raise InvalidRequest("'scope' must be a non-empty string", param="scope")
    if len(scope) > settings.max_scope_chars:
        raise InvalidRequest(
            f"'scope' is {len(scope)} characters; the limit is {settings.max_scope_chars}",
            param="scope",
        )
    if "\x00" in scope:
        raise InvalidRequest("'scope' must not contain NUL characters", param="scope")
    return scope


def validate_content(content: object, settings: Settings) -> str:
    if not isinstance(content, str) or not content.strip():
        raise InvalidRequest("'content' must be a non-empty string", param="content")
    if len(content) > settings.max_content_chars:
        raise InvalidRequest(
            f"'content' is {len(content)} characters; the limit is {settings.max_content_chars}",
            param="content",
        )
    if "\x00" in content:
        raise InvalidRequest("'content' must not contain NUL characters", param="content")
    return content.strip()


def validate_kind(kind: object) -> MemoryKind:
    try:
        return MemoryKind(kind)
    except ValueError:
        allowed = ", ".join(k.value for k in MemoryKind)
        raise InvalidRequest(f"'kind' must be one of {allowed}; got {kind!r}", param="kind") from None


def validate_metadata(metadata: object) -> dict[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InvalidRequest("'metadata' must be an object of strings", param="metadata")
    if len(metadata) > MAX_METADATA_PAIRS:
        raise InvalidRequest(
            f"'metadata' has {len(metadata)} keys; the limit is {MAX_METADATA_PAIRS}",
            param="metadata",
        )
    for key, value in metadata.items():
        if not isinstance(value, str) or len(key) > MAX_METADATA_KEY or len(value) > MAX_METADATA_VALUE:
            raise InvalidRequest(
                f"'metadata' keys must be at most {MAX_METADATA_KEY} characters and values strings"
                f" of at most {MAX_METADATA_VALUE}",
                param="metadata",
            )
    return dict(metadata)


def validate_description(description: object) -> str | None:
    if description is None:
        return None
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise InvalidRequest(
            f"'description' must be a string of at most {MAX_DESCRIPTION} characters",
            param="description",
        )
    return description


def validate_limit(limit: int | None, *, default: int = 20, maximum: int = 100) -> int:
    if limit is None:
        return default
    if not 1 <= limit <= maximum:
        raise InvalidRequest(f"'limit' must be between 1 and {maximum}", param="limit")
    return limit
