"""One turn of a real Agent Framework ``Agent`` whose context provider is the stock
``FoundryMemoryProvider`` (``agent-framework-foundry``, unchanged), against memvault.

``agent-framework-foundry`` pins ``azure-ai-projects<2.8`` and memvault's tests use 2.10, so this
runs in a virtual environment of its own (see ``test_agent_framework_foundry.py``). It loads the
session from ``--session`` when the file exists, runs ``--message``, saves the session back
(``session.to_dict()``) and prints JSON: the reply, the memvault requests the provider made and
the warnings it logged (it logs failures instead of raising them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

from agent_framework import Agent, AgentSession
from agent_framework_foundry import FoundryMemoryProvider
from agent_framework_openai import OpenAIChatCompletionClient
from azure.ai.projects.aio import AIProjectClient
from azure.core.credentials import AccessToken
from azure.core.pipeline.policies import SansIOHTTPPolicy
from openai import AsyncOpenAI


class StaticTokenCredential:
    """An async ``TokenCredential`` handing out memvault's API key as the bearer token."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3600)

    async def close(self) -> None:
        pass


class AllowHttpAndRecord(SansIOHTTPPolicy):
    """Lets the bearer token go over http (contract §2) and records each request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def on_request(self, request: Any) -> None:
        request.context["enforce_https"] = False
        http = request.http_request
        body = http.body
        self.requests.append({"method": http.method, "url": http.url,
                              "json": json.loads(body) if body else None})


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


async def main(args: argparse.Namespace) -> dict[str, Any]:
    warnings = Collect()
    logging.getLogger("agent_framework_foundry").addHandler(warnings)
    session_file = Path(args.session)
    session = (AgentSession.from_dict(json.loads(session_file.read_text()))
               if session_file.exists() else AgentSession())
    recorder = AllowHttpAndRecord()
    openai = AsyncOpenAI(base_url=args.chat_url, api_key="test", max_retries=0)
    credential: Any = StaticTokenCredential(args.token)
    async with AIProjectClient(endpoint=args.endpoint, credential=credential,
                               per_call_policies=[recorder], retry_total=0) as project:
        memory = FoundryMemoryProvider(project_client=project, memory_store_name=args.store,
                                       scope=args.scope, update_delay=0)
        agent = Agent(client=OpenAIChatCompletionClient(model="gpt-4o-mini", async_client=openai),
                      instructions="Be brief.", context_providers=[memory])
        reply = await agent.run(args.message, session=session)
    await openai.close()
    session_file.write_text(json.dumps(session.to_dict()))
    return {"reply": reply.text, "requests": recorder.requests, "warnings": warnings.messages}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    for name in ("--endpoint", "--token", "--store", "--scope", "--chat-url", "--message",
                 "--session"):
        parser.add_argument(name, required=True)
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
