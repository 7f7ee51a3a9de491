"""A scripted OpenAI-compatible HTTP server for tests: it stands in for the LLM and embeddings.

It listens on 127.0.0.1 on a free port, answers the OpenAI and Azure OpenAI paths of two
routes, and records every request::

    route "embeddings":        POST /v1/embeddings
                               POST /openai/deployments/{name}/embeddings?api-version=...
    route "chat.completions":  POST /v1/chat/completions
                               POST /openai/deployments/{name}/chat/completions?api-version=...

Each route has a queue of scripted responses (a JSON body, a status code, extra headers, a
delay before answering, or raw bytes such as a server-sent-event stream), used in order. When a
route's queue is empty it answers with its default responder, if it has one: embeddings have a
deterministic one (vectors derived from each input's hash, deliberately *not* unit length);
chat completions have none and answer 500 so that a missing script is loud.

Example::

    with ScriptedOpenAIServer() as server:
        server.enqueue("embeddings", status=429, headers={"retry-after-ms": "1"})
        server.enqueue("chat.completions", body=chat_completion("Paris"))
        client = openai.OpenAI(base_url=server.base_url, api_key="test")
        ...
        assert server.requests[0].json["model"] == "text-embedding-3-small"
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

ROUTES = ("embeddings", "chat.completions")

Body = dict[str, Any] | Callable[["RecordedRequest"], dict[str, Any]]


@dataclass
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    route: str | None
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    deployment: str | None = None
    """The Azure deployment named in the path, if any."""


@dataclass
class ScriptedResponse:
    """What the server answers to one request.

    ``body`` may be a dict or a function of the request returning one; ``raw`` (bytes, with
    ``content_type``) is sent verbatim instead. ``delay`` is seconds to wait before answering.
    """

    status: int = 200
    body: Body | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw: bytes | None = None
    content_type: str = "application/json"


class ScriptedOpenAIServer:
    """An OpenAI-compatible server that answers from per-route scripts.

    Args:
        embedding_dimension: length of the vectors the default embeddings responder returns.

    Use as a context manager, or call ``start()`` and ``stop()``. ``base_url`` is for
    ``openai.OpenAI``; ``azure_endpoint`` is for ``openai.AzureOpenAI``.
    """

    def __init__(self, *, embedding_dimension: int = 8) -> None:
        self.embedding_dimension = embedding_dimension
        self.requests: list[RecordedRequest] = []
        self._queues: dict[str, deque[ScriptedResponse]] = {route: deque() for route in ROUTES}
        self._defaults: dict[str, Body | None] = {
            "embeddings": self.default_embeddings,
            "chat.completions": None,
        }
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> ScriptedOpenAIServer:
        handler = type("Handler", (_Handler,), {"server_state": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False  # type: ignore[attr-defined]
        # A short poll interval: stop() waits for it, and every test stops a server.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
            name="scripted-openai", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ScriptedOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "the server is not running"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def azure_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- scripting -------------------------------------------------------------------------

    def enqueue(
        self,
        route: str,
        *,
        status: int = 200,
        body: Body | None = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> None:
        """Queue the answer to the next unanswered request of ``route``."""
        response = ScriptedResponse(status, body, headers or {}, delay, raw, content_type)
        with self._lock:
            self._queues[_check_route(route)].append(response)

    def set_default(self, route: str, body: Body | None) -> None:
        """Answer ``route`` with ``body`` whenever its queue is empty (None: answer 500)."""
        self._defaults[_check_route(route)] = body

    def requests_to(self, route: str) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self.requests if request.route == route]

    def default_embeddings(self, request: RecordedRequest) -> dict[str, Any]:
        """Deterministic vectors per input text, with norms between 1 and 5."""
        inputs = request.json["input"]
        inputs = [inputs] if isinstance(inputs, str) else inputs
        vectors = [fake_vector(text, self.embedding_dimension) for text in inputs]
        return embeddings_response(vectors, request.json.get("model", "unknown"), request)

    # -- serving (called on the server's threads) ------------------------------------------

    def _answer(self, request: RecordedRequest) -> ScriptedResponse:
        with self._lock:
            self.requests.append(request)
            queue = self._queues.get(request.route) if request.route else None
            if queue:
                return queue.popleft()
        default = self._defaults.get(request.route) if request.route else None
        if default is None:
            return ScriptedResponse(500, _error(f"no scripted response for {request.path}"))
        return ScriptedResponse(200, default)


def fake_vector(text: str, dimension: int) -> list[float]:
    """A deterministic, non-unit vector for ``text``."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    vector = rng.standard_normal(dimension)
    vector *= rng.uniform(1, 5) / np.linalg.norm(vector)
    return [float(x) for x in vector.astype(np.float32)]


def embeddings_response(
    vectors: list[list[float]], model: str, request: RecordedRequest | None = None
) -> dict[str, Any]:
    """An embeddings body, base64-encoded when the request asked for ``encoding_format=base64``
    (as the openai client does by default)."""
    as_base64 = request is not None and request.json.get("encoding_format") == "base64"
    data = []
    for index, vector in enumerate(vectors):
        embedding: Any = vector
        if as_base64:
            embedding = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = sum(len(str(v)) for v in vectors) // 100
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def chat_completion(content: str, *, model: str = "gpt-4o-mini", **message: Any) -> dict[str, Any]:
    """A non-streaming chat completion body whose one choice says ``content``.

    Extra keyword arguments go into the message (e.g. ``tool_calls=[...]``).
    """
    return {
        "id": f"chatcmpl-{hashlib.sha1(content.encode()).hexdigest()[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, **message},
                "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


def _error(message: str, code: str = "scripted_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": "server_error", "code": code}}


def _check_route(route: str) -> str:
    if route not in ROUTES:
        raise ValueError(f"unknown route {route!r}; expected one of {ROUTES}")
    return route


def _route_of(path: str) -> tuple[str | None, str | None]:
    deployment = None
    parts = path.strip("/").split("/")
    if len(parts) >= 4 and parts[:2] == ["openai", "deployments"]:
        deployment = parts[2]
    for route in ROUTES:
        if path.endswith("/" + route.replace(".", "/")):
            return route, deployment
    return None, deployment


class _Handler(BaseHTTPRequestHandler):
    server_state: ScriptedOpenAIServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        state = self.server_state
        url = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        try:
            payload = json.loads(raw_body) if raw_body else None
        except ValueError:
            payload = raw_body.decode(errors="replace")
        route, deployment = _route_of(url.path)
        request = RecordedRequest(
            method=self.command,
            path=url.path,
            route=route,
            query={key: values[-1] for key, values in parse_qs(url.query).items()},
            headers={key.lower(): value for key, value in self.headers.items()},
            json=payload,
            deployment=deployment,
        )
        response = state._answer(request)
        if response.delay and state._stopping.wait(response.delay):
            return
        if response.raw is not None:
            body = response.raw
        else:
            content = response.body(request) if callable(response.body) else response.body
            if content is None:
                content = {} if response.status < 400 else _error(f"HTTP {response.status}")
            body = json.dumps(content).encode()
        self.send_response(response.status)
        self.send_header("content-type", response.content_type)
        self.send_header("content-length", str(len(body)))
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)
