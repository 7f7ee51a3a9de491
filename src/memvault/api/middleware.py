"""The request middleware: a request id on every response and log record, one access log line
and the HTTP metrics per request.

It is pure ASGI (no ``BaseHTTPMiddleware``, which would run each request through an extra task
and memory streams): its cost on a request is a few dictionary lookups, two metric updates and,
with the access log on, one log record.
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memvault.observability.logs import REQUEST_ID
from memvault.observability.metrics import HTTP_DURATION, HTTP_REQUESTS

access_log = logging.getLogger("memvault.access")

REQUEST_ID_HEADER = b"x-request-id"
# Headers a caller may name its request by, in order of preference (the Azure SDKs send the
# second). Anything that could break a log line or a header is replaced by a new id.
_INCOMING = (b"x-request-id", b"x-ms-client-request-id")
_VALID_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}\Z")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


def route_template(scope: Scope, root_path: str = "") -> str:
    """The path template of the route that handled the request (with the paths of the mounts
    above it), or ``unmatched``. ``root_path`` is the scope's before routing: a mount that
    handled the request (routers set no route for mounts) shows as the path it added."""
    route = scope.get("route")
    root = scope.get("root_path", "") or ""
    if route is None or isinstance(route, Mount):
        return root if root != root_path else UNMATCHED
    path_format = getattr(route, "path_format", None)
    if not isinstance(path_format, str):
        return UNMATCHED
    return root.rstrip("/") + path_format


def incoming_request_id(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The caller's id for this request, when it sent a usable one."""
    found: dict[bytes, bytes] = {}
    for name, value in headers:
        lowered = name.lower()
        if lowered in _INCOMING and lowered not in found:
            found[lowered] = value
    for name in _INCOMING:
        value = found.get(name)
        if value is not None:
            text = value.decode("latin-1").strip()
            if _VALID_ID.match(text):
                return text
    return None


class RequestObserver:
    """Wraps the app: ``scope["state"]["request_id"]`` (so ``request.state.request_id``) and
    :data:`~memvault.observability.logs.REQUEST_ID` hold the request's id while it is served;
    the response carries it as ``x-request-id``; the request is counted and timed by route
    template and logged once to ``memvault.access`` (when ``log_requests``)."""

    def __init__(self, app: ASGIApp, *, log_requests: bool = True) -> None:
        self.app = app
        self.log_requests = log_requests
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._timers: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        root_path = scope.get("root_path", "")
        request_id = incoming_request_id(scope["headers"]) or os.urandom(16).hex()
        scope.setdefault("state", {})["request_id"] = request_id
        header = (REQUEST_ID_HEADER, request_id.encode("latin-1"))
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                if not any(name.lower() == REQUEST_ID_HEADER for name, _ in headers):
                    headers.append(header)
                    message = {**message, "headers": headers}
            await send(message)

        token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            self._record(scope, status, elapsed, root_path)
            REQUEST_ID.reset(token)

    def _record(self, scope: Scope, status: int, elapsed: float, root_path: str) -> None:
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        route = route_template(scope, root_path)
        counter = self._counters.get((method, route, status))
        if counter is None:
            counter = HTTP_REQUESTS.labels(method, route, str(status))
            self._counters[(method, route, status)] = counter
        timer = self._timers.get((method, route))
        if timer is None:
            timer = self._timers[(method, route)] = HTTP_DURATION.labels(method, route)
        counter.inc()
        timer.observe(elapsed)
        if self.log_requests and access_log.isEnabledFor(logging.INFO):
            path = scope.get("path", "")
            access_log.info(
                "%s %s %d %.1f ms", scope["method"], path, status, elapsed * 1000,
                extra={
                    "method": scope["method"], "route": route, "path": path, "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                },
            )  # fmt: skip
