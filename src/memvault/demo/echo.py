"""The demo's offline echo responder: an OpenAI-compatible ``/v1/chat/completions`` endpoint that
is *not a language model*.

It answers every request by repeating the user's last message and listing the memories memvault
put in the system message, so the demo shows memory reaching the model without any model. It
streams when asked to. It exists for the demo only; memvault itself never uses it.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LABEL = "[offline echo responder, not a language model]"
MEMORIES_HEADING = "## Memories"


def echo_reply(messages: list[dict[str, Any]]) -> str:
    """What the responder says to ``messages``."""
    system = "\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "system")
    users = [str(m.get("content", "")) for m in messages if m.get("role") == "user"]
    memories = []
    if MEMORIES_HEADING in system:
        block = system.split(MEMORIES_HEADING, 1)[1]
        memories = [line[2:].strip() for line in block.splitlines() if line.startswith("- ")]
    said = users[-1] if users else ""
    known = "; ".join(memories) if memories else "none"
    return f"{LABEL} You said: \"{said}\". Memories in my context: {known}."


class EchoResponder:
    """``with EchoResponder() as echo: echo.base_url``."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> EchoResponder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        if not self.path.endswith("/chat/completions"):
            self._send(404, "application/json", b'{"error": {"message": "not found"}}')
            return
        text = echo_reply(request.get("messages") or [])
        model = request.get("model", "echo")
        usage = {"prompt_tokens": 0, "completion_tokens": len(text.split()),
                 "total_tokens": len(text.split())}
        base = {"id": "chatcmpl-echo", "created": int(time.time()), "model": model}
        if not request.get("stream"):
            body = {**base, "object": "chat.completion", "usage": usage, "choices": [
                {"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": text}}]}
            self._send(200, "application/json", json.dumps(body).encode())
            return
        words = text.split(" ")
        chunks = [{**base, "object": "chat.completion.chunk", "choices": [
            {"index": 0, "finish_reason": None,
             "delta": {"content": word + (" " if i < len(words) - 1 else "")}}]}
            for i, word in enumerate(words)]
        chunks.append({**base, "object": "chat.completion.chunk", "choices": [], "usage": usage})
        payload = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks)
        self._send(200, "text/event-stream", (payload + "data: [DONE]\n\n").encode())

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
