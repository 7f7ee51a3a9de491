"""Agents with memory: prompt agents whose memory search tools run in every turn.

    definitions.py  agent names, prompt-agent definitions, memory search tools, ``{{$userId}}``
    items.py        Responses items in and out; their text as chat-completions messages
    memory.py       recall before the answer (static + contextual), learn after it (updates)
    turns.py        a prepared turn, the messages the model gets, the response object
    service.py      AgentService: agents, conversations, responses (what the API faces call)

No HTTP here: the API faces parse the wire, and generation goes through a
:class:`~memvault.engine.llm.generation.Generator`.
"""

from __future__ import annotations

from memvault.engine.agents.definitions import USER_ID, MemoryTool, PromptAgent
from memvault.engine.agents.service import AgentService
from memvault.engine.agents.turns import ResponseRequest, Turn

__all__ = ["USER_ID", "AgentService", "MemoryTool", "PromptAgent", "ResponseRequest", "Turn"]
