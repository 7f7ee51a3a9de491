"""Turning exceptions into responses, in the wire shape of the API face that was called.

Every face registers a renderer for its path prefix; anything else gets the Foundry shape, which
is also what the health and admin endpoints use.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.routing import Match

from memvault.errors import (
    InvalidRequest,
    MemvaultError,
    MethodNotAllowed,
    NotFound,
    Overloaded,
    RateLimited,
    Unauthorized,
)

log = logging.getLogger(__name__)

Renderer = Callable[[MemvaultError, str], dict[str, Any]]


def request_id(request: Request) -> str:
    """The request's id, as the request middleware chose it (the caller's ``x-request-id`` or
    ``x-ms-client-request-id``, else a new one); without the middleware, the caller's
    ``x-ms-client-request-id`` or a new id."""
    chosen = getattr(request.state, "request_id", None)
    return chosen or request.headers.get("x-ms-client-request-id") or uuid.uuid4().hex


def foundry_error_body(error: MemvaultError, req_id: str) -> dict[str, Any]:
    """``{"error": {code, message, param, type, details, additionalInfo}}`` (contract §3.3)."""
    return {
        "error": {
            "code": error.code,
            "message": error.message,
            "param": error.param,
            "type": error.error_type,
            "details": [],
            "additionalInfo": {"request_id": req_id},
        }
    }


def render_error(request: Request, error: MemvaultError) -> JSONResponse:
    """The error as a response in the shape of the face whose path the request is under
    (``app.state.error_renderers``: a path prefix or a compiled pattern -> renderer; a pattern
    that matches wins, else the longest prefix)."""
    req_id = request_id(request)
    path = request.url.path
    renderers: dict[str | re.Pattern[str], Renderer] = getattr(
        request.app.state, "error_renderers", {}
    )
    renderer = foundry_error_body
    patterns = [key for key in renderers if isinstance(key, re.Pattern) and key.match(path)]
    prefixes = [key for key in renderers if isinstance(key, str) and path.startswith(key)]
    if patterns:
        renderer = renderers[patterns[0]]
    elif prefixes:
        renderer = renderers[max(prefixes, key=len)]
    return JSONResponse(renderer(error, req_id), status_code=error.status_code,
                        headers=error_headers(error, req_id))


def error_headers(error: MemvaultError, req_id: str) -> dict[str, str]:
    """The headers of an error response, the same on every face: the request id, and
    ``WWW-Authenticate`` (401), ``Retry-After`` (429, 503 overloaded) or ``Allow`` (405)."""
    headers = {"x-request-id": req_id}
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(error, (RateLimited, Overloaded)):
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, MethodNotAllowed) and error.details.get("allow"):
        headers["Allow"] = error.details["allow"]
    return headers


def allowed_methods(request: Request) -> str:
    """The ``Allow`` header of a 405: the methods of the path the request names, that is of
    every route with the path template of the first route the path matches (routing names only
    that route's). Empty when no route but a catch-all matches."""
    template = None
    methods: set[str] = set()
    for route in flattened_routes(request.app.routes):
        path = getattr(route, "path", None)
        if path is None or "{path:path}" in path or (template is not None and path != template):
            continue
        match, _ = route.matches({**request.scope, "method": "\0"})
        if match is not Match.NONE:
            template = path
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


def flattened_routes(routes: list[Any]) -> Iterator[Any]:
    """``routes`` with those of included routers in their place."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from flattened_routes(inner.routes)
        else:
            yield route


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    first = exc.errors()[0] if exc.errors() else {}
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    param = ".".join(location) or None
    if first.get("type") == "json_invalid":
        return "The request body is not valid JSON", None
    if first.get("type") == "missing":
        return f"'{param}' is required", param
    message = first.get("msg", "invalid request")
    return (f"'{param}': {message}" if param else message), param


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MemvaultError)
    async def _memvault_error(request: Request, exc: MemvaultError) -> JSONResponse:
        return render_error(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(exc)
        return render_error(request, InvalidRequest(message, param=param))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        allowed = allowed_methods(request) if exc.status_code == 405 else ""
        if exc.status_code == 404 or (exc.status_code == 405 and not allowed):
            # (No route but a catch-all has the path: a 404 for any method.)
            error: MemvaultError = NotFound(f"No route for {request.method} {request.url.path}")
        elif exc.status_code == 405:
            error = MethodNotAllowed(
                f"{request.method} is not allowed on {request.url.path}", allow=allowed
            )
        else:
            error = InvalidRequest(str(exc.detail)) if exc.status_code < 500 else MemvaultError(str(exc.detail))
        return render_error(request, error)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path,
                      extra={"request_id": request_id(request)})
        return render_error(request, MemvaultError("The server had an internal error"))
