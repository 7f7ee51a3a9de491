"""What every extractor takes and gives: messages in, candidate memories out.

An extractor reads the messages of one ``update_memories`` call and proposes *candidates*:
concise third-person facts to remember (or to forget). It never sees the scope's existing
memories; deciding what a candidate does to them is the consolidator's job
(:mod:`memvault.engine.consolidation`). The built-in extractor is rule-based and offline
(:class:`~memvault.engine.extraction.offline.OfflineExtractor`); an LLM extractor makes one call
per update and reports its token usage in :class:`Usage`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from memvault.models import MemoryKind, StoreOptions

Role = Literal["user", "assistant", "system", "developer"]
Action = Literal["remember", "forget"]


@dataclass(frozen=True)
class ChatMessage:
    """One message of the conversation, text only (content parts already joined)."""

    role: Role
    text: str


@dataclass(frozen=True)
class Candidate:
    """A memory the extractor proposes.

    ``content`` is a concise third-person fact ("Prefers dark roast coffee, usually in the
    morning"). For ``action="forget"`` it describes what to forget, phrased like the memory it
    should match ("Plays tennis"). ``topic`` is a short normalised key ("coffee", "home",
    "employer") from :func:`~memvault.engine.extraction.topics.topic_of`; two facts with the
    same topic may conflict. ``source_indexes`` point into the messages the candidate came from.
    """

    kind: MemoryKind
    content: str
    action: Action = "remember"
    topic: str | None = None
    source_indexes: tuple[int, ...] = ()


@dataclass(frozen=True)
class Usage:
    """Tokens spent on one update; all zero for the offline extractor."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    embedding_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            embedding_tokens=self.embedding_tokens + other.embedding_tokens,
        )


@dataclass(frozen=True)
class Extraction:
    candidates: tuple[Candidate, ...] = ()
    usage: Usage = field(default_factory=Usage)


@runtime_checkable
class Extractor(Protocol):
    """Turns the messages of one update into candidate memories."""

    async def extract(
        self,
        messages: Sequence[ChatMessage],
        options: StoreOptions,
        *,
        model: str | None = None,
    ) -> Extraction:
        """Propose memories from ``messages``, honouring the store's ``options``.

        Args:
            messages: the update's messages in order; only user text may become user facts.
            options: the store's options: which kinds are enabled, and ``user_profile_details``
                (free-text guidance such as "Avoid … age, financials, precise location, and
                credentials").
            model: the store's chat model, for extractors that call one.

        Returns:
            The candidates, in message order, and the tokens spent.

        Example::

            extraction = await OfflineExtractor().extract(
                [ChatMessage("user", "I prefer dark roast coffee")], StoreOptions()
            )
            extraction.candidates[0].content  # "Prefers dark roast coffee"
        """
        ...
