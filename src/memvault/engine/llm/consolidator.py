"""The LLM consolidator: one chat completion decides what the candidates do to the memories.

The model sees existing memories under short aliases (1, 2, 3 …), never their ids (models
garble 26-character ids), and its decisions are mapped back and checked before anyone acts on
them, so that they keep every guarantee of the
:class:`~memvault.engine.consolidation.Consolidator` protocol:

* an alias that names no memory shown, or one of another kind, is unknown: an update with it
  becomes a create, a delete with it a noop, and a noop loses its target;
* a memory already updated or deleted by an earlier decision is not touched again: a later
  update whose candidate the earlier text already covers (by content words) becomes a noop and
  the earlier decision's candidate takes over its source messages; any other later update
  becomes a create of its candidate's own text; a later delete becomes a noop;
* a forget candidate never creates (an update without usable text deletes instead); a remember
  candidate makes at most one create-or-update; an update to the memory's current text is a
  noop that refreshes it;
* a candidate the model left out is created (remember) or a noop (forget);
* model-written text carrying a secret or instructions for the agent is replaced by the
  candidate's own text, which the pipeline has already checked.

When no candidate has a neighbour there is nothing to decide: every remember is a create and
every forget a noop, with no call at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace


from memvault.engine.consolidation import Consolidation, Decision, Neighbour, content_words
from memvault.engine.extraction.base import Candidate
from memvault.engine.extraction.sensitive import secret_reason
from memvault.engine.llm.chat import ChatModelUser
from memvault.engine.llm.extractor import clean_content
from memvault.engine.llm.prompts import CONSOLIDATION_SYSTEM, consolidation_request
from memvault.engine.llm.schemas import ConsolidationChoice, ConsolidationReply
from memvault.engine.poisoning import check_poisoning
from memvault.errors import ExtractionFailed
from memvault.models import Memory

SCHEMA_NAME = "memvault_consolidation"


class LLMConsolidator(ChatModelUser):
    """Consolidates candidates with an OpenAI-compatible chat model (at most one call).

    Args:
        client: an ``AsyncOpenAI`` or ``AsyncAzureOpenAI`` client, shared with the extractor.
        model: the model (Azure: the deployment) used when ``consolidate`` is given none.
        timeout: seconds allowed per HTTP attempt.
        max_retries: retries of an attempt that met a 429, a 5xx, a timeout or a dropped
            connection.

    Example::

        _, consolidator = llm_extractor_and_consolidator(Settings())
        result = await consolidator.consolidate(
            [Candidate(MemoryKind.USER_PROFILE, "Lives in Berlin", topic="home")],
            [[Neighbour(paris_memory, 0.71)]],
            model="gpt-4.1",
        )
        result.decisions[0].op, result.decisions[0].target  # ("update", paris_memory)
    """

    async def consolidate(
        self,
        candidates: Sequence[Candidate],
        neighbours: Sequence[Sequence[Neighbour]],
        *,
        model: str | None = None,
    ) -> Consolidation:
        """Decide what each candidate does (the ``Consolidator`` protocol).

        Raises:
            ValueError: ``neighbours`` does not have one list per candidate.
            ExtractionFailed: the chat model failed, refused, or replied with invalid output
                twice.
        """
        if len(neighbours) != len(candidates):
            raise ValueError("neighbours must have one list per candidate")
        memories: dict[int, Memory] = {}
        alias_of: dict[str, int] = {}
        related: list[list[int]] = []
        for candidate, near in zip(candidates, neighbours, strict=True):
            aliases: list[int] = []
            for neighbour in near:
                memory = neighbour.memory
                if memory.kind is not candidate.kind:
                    continue
                if memory.id not in alias_of:
                    alias_of[memory.id] = len(memories) + 1
                    memories[alias_of[memory.id]] = memory
                if alias_of[memory.id] not in aliases:
                    aliases.append(alias_of[memory.id])
            related.append(aliases)
        if not memories:
            return Consolidation([_default(c) for c in candidates])
        chosen = model or self.model
        if not chosen:
            raise ExtractionFailed("no chat model was named for the LLM consolidator",
                                   retryable=False)
        reply, usage = await self.chat.ask(
            chosen,
            system=CONSOLIDATION_SYSTEM,
            user=consolidation_request(candidates, related, memories),
            reply_type=ConsolidationReply,
            name=SCHEMA_NAME,
        )
        return Consolidation(resolve(reply.decisions, candidates, memories), usage)


def _default(candidate: Candidate) -> Decision:
    if candidate.action == "forget":
        return Decision("noop", candidate)
    return Decision("create", candidate, None, candidate.content)


def resolve(
    choices: Sequence[ConsolidationChoice],
    candidates: Sequence[Candidate],
    memories: dict[int, Memory],
) -> list[Decision]:
    """Turn the model's choices into decisions that keep the protocol's guarantees.

    Args:
        choices: the model's decisions, in its order.
        candidates: the candidates it was shown, numbered from 0.
        memories: alias -> the existing memory shown under it.

    Returns:
        Decisions in candidate order; every candidate appears; no memory is updated or deleted
        twice.
    """
    placed: list[list[Decision]] = [[] for _ in candidates]
    taken: dict[str, tuple[int, int]] = {}  # memory id -> (candidate index, position in placed)

    def put(index: int, decision: Decision) -> None:
        placed[index].append(decision)
        if decision.op in ("update", "delete") and decision.target is not None:
            taken[decision.target.id] = (index, len(placed[index]) - 1)

    for choice in choices:
        index = choice.candidate
        if not 0 <= index < len(candidates):
            continue
        candidate = candidates[index]
        forget = candidate.action == "forget"
        target = memories.get(choice.target) if choice.target is not None else None
        if target is not None and target.kind is not candidate.kind:
            target = None
        op = choice.op
        content = clean_content(choice.content or "") or None
        if content is not None and content != candidate.content and _unsafe(content):
            content = None
        if op == "update" and forget and content is None:
            op = "delete"  # a partial forget without a usable text: forget all of it
        if op in ("update", "delete") and target is not None and target.id in taken:
            owner, position = taken[target.id]
            first = placed[owner][position]
            if op == "delete" or _covers(first, candidate):
                placed[owner][position] = replace(
                    first, candidate=_with_sources(first.candidate, candidate)
                )
                op, target = "noop", None
            else:
                op, target, content = "create", None, None
        if op in ("update", "delete") and target is None:
            op = "noop" if forget or op == "delete" else "create"
            content = None  # a text merged with an unknown memory: keep the candidate's own
        if op == "update" and content is not None and content == target.content:
            op = "noop"  # the memory already says it: refresh, do not rewrite
        if op == "create" and forget:
            op = "noop"
        if op in ("create", "update") and any(d.op in ("create", "update")
                                              for d in placed[index]) and not forget:
            continue  # one new text per remembered fact
        if op == "noop":
            put(index, Decision("noop", candidate, None if forget else target))
        elif op == "delete":
            put(index, Decision("delete", candidate, target))
        elif op == "update":
            put(index, Decision("update", candidate, target, content or candidate.content))
        else:
            put(index, Decision("create", candidate, None, content or candidate.content))
    decisions: list[Decision] = []
    for index, candidate in enumerate(candidates):
        mine = [d for d in placed[index] if d.op != "noop"] or placed[index][:1]
        decisions.extend(mine or [_default(candidate)])
    return [_untarget_if_taken(d, taken) for d in decisions]


def _unsafe(text: str) -> bool:
    """Model-written text carrying a secret or instructions for the agent."""
    return bool(secret_reason(text) or check_poisoning(text))


def _covers(decision: Decision, candidate: Candidate) -> bool:
    """Whether ``decision``'s text already says everything ``candidate`` says."""
    words = content_words(candidate.content)
    return bool(words) and words <= content_words(decision.content or "")


def _with_sources(base: Candidate, other: Candidate) -> Candidate:
    indexes = tuple(dict.fromkeys(base.source_indexes + other.source_indexes))
    return replace(base, source_indexes=indexes)


def _untarget_if_taken(decision: Decision, taken: dict[str, tuple[int, int]]) -> Decision:
    """A noop must not refresh a memory another decision updates or deletes."""
    if decision.op == "noop" and decision.target is not None and decision.target.id in taken:
        return replace(decision, target=None)
    return decision

