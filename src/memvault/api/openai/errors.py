"""Errors of the OpenAI-compatible face, in OpenAI's shape:
``{"error": {"message", "type", "param", "code"}}``.

The face lives under ``/api/projects/{project}/openai``, a prefix with a variable segment. The
face's routes use :class:`OpenAIRoute`, which renders what its handlers (and the app-wide
dependencies, such as the API key check) raise; each router ends with a catch-all route that turns
an unknown path or method under the face into a ``NotFound``/``MethodNotAllowed`` of that shape;
and :data:`OPENAI_PATHS` has the app's handlers render the rest (a method that no route has, such
as ``TRACE``) in this shape too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from memvault.api.errors import error_headers, request_id
from memvault.errors import (
    InvalidRequest,
    MemvaultError,
    NotFound,
)

log = logging.getLogger(__name__)

OPENAI_PATHS = re.compile(r"^/api/projects/[^/]+/openai(/|$)")
"""The face's paths: what routing refuses under them (a method no route has, such as ``TRACE``)
is rendered in this shape by the app's handlers too (``app.state.error_renderers``)."""


def openai_error_body(error: MemvaultError, req_id: str) -> dict[str, Any]:
    """OpenAI's error body (``req_id`` goes in a header, not the body)."""
    return {
        "error": {
            "message": error.message,
            "type": error.error_type,
            "param": error.param,
            "code": error.code,
        }
    }


def render_openai_error(request: Request, error: MemvaultError) -> JSONResponse:
    req_id = request_id(request)
    return JSONResponse(
        openai_error_body(error, req_id), status_code=error.status_code,
        headers=error_headers(error, req_id),
    )


def validation_error(exc: RequestValidationError) -> InvalidRequest:
    """The first problem pydantic found, as an ``InvalidRequest`` naming the parameter."""
    first = exc.errors()[0] if exc.errors() else {}
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    param = ".".join(location) or None
    if first.get("type") == "json_invalid":
        return InvalidRequest("The request body is not valid JSON")
    if first.get("type") == "missing":
        return InvalidRequest(f"Missing required parameter: '{param}'", param=param)
    message = first.get("msg", "invalid request")
    return InvalidRequest(f"Invalid value for '{param}': {message}" if param else message,
                          param=param)


class OpenAIRoute(APIRoute):
    """An ``APIRoute`` whose errors come out in OpenAI's shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except MemvaultError as exc:
                return render_openai_error(request, exc)
            except RequestValidationError as exc:
                return render_openai_error(request, validation_error(exc))
            except StarletteHTTPException as exc:
                error = (NotFound(str(exc.detail)) if exc.status_code == 404
                         else InvalidRequest(str(exc.detail)))
                return render_openai_error(request, error)
            except Exception:
                log.exception("unhandled error on %s %s", request.method, request.url.path)
                error = MemvaultError("The server had an internal error")
                return render_openai_error(request, error)

        return handle
