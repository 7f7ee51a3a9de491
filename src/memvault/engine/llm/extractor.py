"""The LLM extractor: one chat completion turns an update's messages into candidates.

What the model returns is checked, not trusted:

* a source index outside the conversation is dropped; a profile, procedural or forget candidate
  whose indexes name only assistant, system or developer messages is dropped (and non-user
  indexes are dropped from the others), so what the assistant said never becomes a fact about
  the user; a candidate with no usable index is kept without provenance;
* kinds the store disabled are dropped, and so are empty contents;
* every candidate goes through :func:`~memvault.engine.extraction.sensitive.filter_candidates`,
  whatever the prompt said: secrets always, and the categories the store's
  ``user_profile_details`` excludes (as the offline extractor does: a store that wants ages,
  incomes or addresses kept out says so in its details);
* the topic is the shared classifier's (:func:`~memvault.engine.extraction.topics.topic_of`)
  when it knows the text, so that consolidation compares like with like; the model's key
  otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace


from memvault.engine.extraction.base import Candidate, ChatMessage, Extraction
from memvault.engine.extraction.english import capitalise
from memvault.engine.extraction.sensitive import filter_candidates
from memvault.engine.extraction.topics import topic_of
from memvault.engine.llm.chat import ChatModelUser
from memvault.engine.llm.prompts import EXTRACTION_SYSTEM, enabled_kinds, extraction_request
from memvault.engine.llm.schemas import ExtractedMemory, ExtractionReply
from memvault.errors import ExtractionFailed
from memvault.models import MemoryKind, StoreOptions

SCHEMA_NAME = "memvault_extraction"
MAX_TOPIC_CHARS = 40

_USER_SUBJECT = re.compile(r"^(?:the\s+)?user\s+(?=[a-z])", re.IGNORECASE)


class LLMExtractor(ChatModelUser):
    """Extracts candidate memories with an OpenAI-compatible chat model (one call per update).

    Args:
        client: an ``AsyncOpenAI`` or ``AsyncAzureOpenAI`` client; share it with
            :class:`~memvault.engine.llm.consolidator.LLMConsolidator`.
        model: the model (Azure: the deployment) used when ``extract`` is given none.
        timeout: seconds allowed per HTTP attempt.
        max_retries: retries of an attempt that met a 429, a 5xx, a timeout or a dropped
            connection (the openai client's exponential backoff, honouring ``Retry-After``).

    Example::

        extractor, _ = llm_extractor_and_consolidator(Settings())
        extraction = await extractor.extract(
            [ChatMessage("user", "I prefer dark roast coffee")], StoreOptions(), model="gpt-4.1"
        )
        extraction.candidates[0].content  # "Prefers dark roast coffee"
    """

    async def extract(
        self,
        messages: Sequence[ChatMessage],
        options: StoreOptions,
        *,
        model: str | None = None,
    ) -> Extraction:
        """Propose memories from ``messages`` (the ``Extractor`` protocol).

        No call is made when no kind is enabled or no user message has text.

        Raises:
            ExtractionFailed: the chat model failed, refused, or replied with invalid output
                twice.
        """
        kinds = enabled_kinds(options)
        if not kinds or not any(m.role == "user" and m.text.strip() for m in messages):
            return Extraction()
        chosen = model or self.model
        if not chosen:
            raise ExtractionFailed("no chat model was named for the LLM extractor",
                                   retryable=False)
        reply, usage = await self.chat.ask(
            chosen,
            system=EXTRACTION_SYSTEM,
            user=extraction_request(messages, options),
            reply_type=ExtractionReply,
            name=SCHEMA_NAME,
        )
        candidates = [
            candidate
            for memory in reply.memories
            if (candidate := _candidate(memory, messages, set(kinds))) is not None
        ]
        kept = filter_candidates(candidates, options)
        return Extraction(tuple(_in_message_order(_merge_duplicates(kept))), usage)


def _candidate(
    memory: ExtractedMemory, messages: Sequence[ChatMessage], kinds: set[MemoryKind]
) -> Candidate | None:
    kind = MemoryKind(memory.kind)
    if kind not in kinds:
        return None
    content = clean_content(memory.content)
    if not content:
        return None
    indexes = tuple(dict.fromkeys(i for i in memory.source_indexes if 0 <= i < len(messages)))
    if indexes and (kind is not MemoryKind.CHAT_SUMMARY or memory.action == "forget"):
        indexes = tuple(i for i in indexes if messages[i].role == "user")
        if not indexes:
            return None  # the model says it drew this from assistant or system text
    topic = topic_of(content, kind) or clean_topic(memory.topic)
    return Candidate(kind, content, memory.action, topic, indexes)


def clean_content(text: str) -> str:
    """One line, no quotes around it, no "The user" subject, no final full stop.

    Example::

        clean_content(' "The user prefers window seats." ')  # "Prefers window seats"
    """
    text = " ".join(text.split()).strip().strip("\"'\u201c\u201d").strip()
    text = _USER_SUBJECT.sub("", text)
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1].rstrip()
    return capitalise(text) if text else ""


def clean_topic(topic: str) -> str | None:
    key = re.sub(r"[^a-z0-9]+", "_", topic.lower()).strip("_")[:MAX_TOPIC_CHARS]
    return key or None


def _merge_duplicates(candidates: list[Candidate]) -> list[Candidate]:
    merged: dict[tuple[MemoryKind, str, str], Candidate] = {}
    for candidate in candidates:
        key = (candidate.kind, candidate.action, candidate.content.lower())
        previous = merged.get(key)
        if previous is None:
            merged[key] = candidate
        else:
            indexes = tuple(dict.fromkeys(previous.source_indexes + candidate.source_indexes))
            merged[key] = replace(previous, source_indexes=indexes)
    return list(merged.values())


def _in_message_order(candidates: list[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=lambda c: min(c.source_indexes, default=0))
