"""What the chat model is asked to return, as pydantic models and as strict JSON schemas.

The models validate a reply leniently (unknown keys are ignored; a missing ``topic`` or
``source_indexes`` takes a default) because local servers that ignore ``response_format`` are
only *asked* for the shape. The schema sent to the server is strict, as OpenAI's structured
outputs require: every object lists all its properties as required and forbids others, a
nullable field is ``anyOf`` with ``null``, and nothing is referenced through ``$defs``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ExtractedMemory(_Reply):
    kind: Literal["user_profile", "chat_summary", "procedural"] = Field(
        description="user_profile, chat_summary or procedural"
    )
    action: Literal["remember", "forget"] = Field(
        "remember", description="remember a fact, or forget one the user asked to forget"
    )
    content: str = Field(description="one concise third-person fact, with no subject")
    topic: str = Field("", description="a short lower-case key: coffee, home, employer, format")
    source_indexes: list[int] = Field(
        default_factory=list, description="numbers of the messages the memory comes from"
    )


class ExtractionReply(_Reply):
    memories: list[ExtractedMemory]


class ConsolidationChoice(_Reply):
    candidate: int = Field(description="the candidate's number")
    op: Literal["create", "update", "delete", "noop"]
    target: int | None = Field(
        None, description="number of the existing memory to update, delete or refresh; or null"
    )
    content: str | None = Field(
        None, description="the text to create, or the memory's full new text; null otherwise"
    )


class ConsolidationReply(_Reply):
    decisions: list[ConsolidationChoice]


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema in the form OpenAI strict mode accepts.

    ``$defs`` are inlined; every object gets ``additionalProperties: false`` and all its
    properties as ``required``; ``default`` and ``title`` keywords are dropped.

    Example::

        strict_schema(ExtractionReply)["required"]  # ["memories"]
    """
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            merged = {**definitions[name], **{k: v for k, v in node.items() if k != "$ref"}}
            return walk(merged)
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("default", "title"):
                continue
            if key == "properties":
                out[key] = {name: walk(sub) for name, sub in value.items()}
            else:
                out[key] = walk(value)
        if out.get("type") == "object":
            out["additionalProperties"] = False
            out["required"] = list(out.get("properties", {}))
        return out

    return walk(schema)


def response_format(model: type[BaseModel], name: str) -> dict[str, Any]:
    """The ``response_format`` argument asking for ``model``'s shape under ``name``."""
    return {
        "type": "json_schema",
        "json_schema": {"name": name, "strict": True, "schema": strict_schema(model)},
    }
