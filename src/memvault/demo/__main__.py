"""``python -m memvault.demo``: an agent remembers a user across conversations.

The story of the how-to, against a memvault it starts on a free port with a throwaway data
directory: create a memory store and an agent with a memory search tool, teach it a preference in
one conversation, wait for memvault to learn it, then ask for "my usual coffee" in a new
conversation and see the memory reach the model. A second user gets nothing: scopes keep users
apart.

The assistant's words come from the chat endpoint memvault is configured with (``OPENAI_API_KEY``,
``OPENAI_BASE_URL``, ``AZURE_OPENAI_*``; ``--model`` names the model or Azure deployment). With
none, the demo runs the *offline echo responder* (``memvault.demo.echo``), which is not a language
model: it repeats what it was told and lists the memories in its context. Memories are extracted
offline unless ``MEMVAULT_EXTRACTOR`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import openai
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from memvault.demo.echo import EchoResponder
from memvault.testing import LiveServer
from memvault.settings import Settings

PROJECT = "demo"
STORE = "demo_memory_store"
AGENT = "coffee-assistant"
INSTRUCTIONS = (
    "You are a friendly barista assistant. When the user asks for their usual order, use what"
    " you remember about them. Keep answers to two sentences."
)
TEACH = "I prefer dark roast coffee with oat milk."
ASK = "Please order my usual coffee."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m memvault.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.environ.get("MEMVAULT_DEMO_MODEL", "gpt-4.1-mini"),
                        help="the agent's model (Azure: deployment) [env MEMVAULT_DEMO_MODEL;"
                             " default gpt-4.1-mini]")
    parser.add_argument("--echo", action="store_true",
                        help="use the offline echo responder even if a chat endpoint is set")
    parser.add_argument("--keep", action="store_true", help="keep the demo's data directory")
    args = parser.parse_args(argv)
    console = Console(highlight=False)
    use_echo = args.echo or not Settings().llm_configured
    data_dir = Path(tempfile.mkdtemp(prefix="memvault-demo-"))
    try:
        with ExitStack() as stack:
            env = {"MEMVAULT_EXTRACTOR": os.environ.get("MEMVAULT_EXTRACTOR") or "offline"}
            if use_echo:
                echo = stack.enter_context(EchoResponder())
                env |= {"OPENAI_BASE_URL": echo.base_url, "OPENAI_API_KEY": "echo",
                        "AZURE_OPENAI_ENDPOINT": "", "AZURE_OPENAI_API_KEY": ""}
            with console.status("Starting memvault (loading the local embedding model)..."):
                server = stack.enter_context(LiveServer(
                    data_dir / "data", env=env, inherit_model_settings=True,
                    log_path=data_dir / "data" / "server.log",
                ))
            Story(console, server.url, args.model, use_echo).run()
    except (openai.APIError, httpx.HTTPError, RuntimeError) as exc:
        console.print(f"[bold red]The demo stopped:[/] {exc}")
        if (data_dir / "data" / "server.log").exists():
            console.print(f"memvault's log: {data_dir / 'data' / 'server.log'}")
        return 1
    finally:
        if args.keep:
            console.print(f"[dim]Data kept in {data_dir}[/]")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


class Story:
    def __init__(self, console: Console, url: str, model: str, echo: bool) -> None:
        self.console = console
        self.model = model
        self.echo = echo
        self.endpoint = f"{url}/api/projects/{PROJECT}"
        self.http = httpx.Client(base_url=self.endpoint, timeout=60)
        self.openai = openai.OpenAI(base_url=f"{self.endpoint}/openai/v1", api_key="demo",
                                    max_retries=0, timeout=120)

    def run(self) -> None:
        c = self.console
        c.rule("[bold]memvault demo: an agent with memory")
        if self.echo:
            c.print(Panel(
                "No chat endpoint is configured, so the assistant's words come from the demo's"
                " [bold]offline echo responder[/], which is not a language model: it repeats what"
                " it was told and lists the memories memvault put in its context.\nSet"
                " OPENAI_API_KEY (plus OPENAI_BASE_URL for Ollama or vLLM, and --model) to hear a"
                " real model.",
                title="chat model", border_style="yellow"))
        else:
            c.print(f"Chat model: [bold]{self.model}[/] on the configured endpoint.")

        self.step("1. A memory store and an agent with a memory search tool")
        self.post("/memory_stores", {"name": STORE, "definition": {"chat_model": self.model}})
        tool = {"type": "memory_search_preview", "memory_store_name": STORE,
                "scope": "{{$userId}}", "update_delay": 1, "search_options": {"max_memories": 5}}
        agent = self.post(f"/agents/{AGENT}/versions", {"definition": {
            "kind": "prompt", "model": self.model, "instructions": INSTRUCTIONS, "tools": [tool]}})
        c.print(Panel(json.dumps(agent["definition"], indent=2), title=f"agent {agent['id']}",
                      border_style="cyan"))
        c.print("The scope [bold]{{$userId}}[/] is filled in from the [bold]x-memory-user-id[/]"
                " header of each request: the model never chooses whose memories it sees.")

        self.step("2. user_123 states a preference")
        first = self.say("user_123", TEACH, self.new_conversation())
        self.step("3. memvault learns from the conversation (update_delay = 1 s)")
        self.wait_for_updates(first)

        self.step("4. A new conversation: nothing from the first one is passed in")
        self.say("user_123", ASK, self.new_conversation(), stream=True)
        c.print("The memory came from the store, not from the conversation's history.")

        self.step("5. Another user asks the same")
        self.say("user_456", ASK, self.new_conversation())
        c.print("user_456 has no memories: each scope is its own.")
        c.rule("[bold green]done")

    # -- steps -----------------------------------------------------------------------------

    def step(self, title: str) -> None:
        self.console.print()
        self.console.rule(f"[bold]{title}", align="left")

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(path, json=body)
        if response.status_code != 200:
            raise RuntimeError(f"POST {path} answered {response.status_code}: {response.text}")
        return response.json()

    def new_conversation(self) -> str:
        return self.openai.conversations.create().id

    def say(self, user: str, text: str, conversation: str, *, stream: bool = False) -> Any:
        c = self.console
        c.print(f"[bold magenta]{user}[/]: {escape(text)}")
        options: dict[str, Any] = {
            "input": text, "conversation": conversation,
            "extra_body": {"agent_reference": {"name": AGENT, "type": "agent_reference"}},
            "extra_headers": {"x-memory-user-id": user},
        }
        if not stream:
            response = self.openai.responses.create(**options)
            for item in response.output:
                if item.type == "memory_search_call":
                    self.show_memories(item)
            c.print(f"[bold green]assistant[/]: {escape(response.output_text)}")
            return response
        final = None
        with self.openai.responses.create(stream=True, **options) as events:
            for event in events:
                if event.type == "response.output_item.done" and \
                        event.item.type == "memory_search_call":
                    self.show_memories(event.item)
                elif event.type == "response.output_item.added" and event.item.type == "message":
                    c.print("[bold green]assistant[/]: ", end="")
                elif event.type == "response.output_text.delta":
                    c.print(event.delta, end="", markup=False)
                elif event.type == "response.completed":
                    final = event.response
                elif event.type == "response.failed":
                    raise RuntimeError(f"the response failed: {event.response.error}")
        c.print()
        return final

    def show_memories(self, item: Any) -> None:
        results = getattr(item, "results", None) or []
        if not results:
            self.console.print("[dim]memory_search_call: no memories for this user yet[/]")
            return
        table = Table(title="memory_search_call: memories given to the model",
                      title_justify="left", border_style="cyan")
        table.add_column("kind")
        table.add_column("memory")
        table.add_column("score", justify="right")
        for result in results:
            memory = result["memory_item"]
            table.add_row(memory["kind"], escape(memory["content"]), f"{result['score']:.2f}")
        self.console.print(table)

    def wait_for_updates(self, response: Any) -> None:
        updates = (getattr(response, "memvault", None) or {}).get("memory_updates") or []
        for update in updates:
            path = f"/memory_stores/{update['memory_store_name']}/updates/{update['update_id']}"
            with self.console.status("memvault is extracting memories..."):
                deadline = time.monotonic() + 120
                while True:
                    state = self.http.get(path).json()
                    if state["status"] in ("completed", "failed", "superseded"):
                        break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the update {update['update_id']} did not finish")
                    time.sleep(0.3)
            if state["status"] != "completed":
                raise RuntimeError(f"the update ended {state['status']}: {state.get('error')}")
            table = Table(title=f"update {update['update_id']}: memory operations",
                          title_justify="left", border_style="green")
            table.add_column("operation")
            table.add_column("kind")
            table.add_column("memory")
            for operation in state["result"]["memory_operations"]:
                memory = operation["memory_item"]
                table.add_row(operation["kind"], memory["kind"], escape(memory["content"]))
            self.console.print(table)


if __name__ == "__main__":
    sys.exit(main())
