"""What the sync and async clients share about HTTP: headers, reading answers, errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from memvault import __version__
from memvault.client.calls import Call
from memvault.client.errors import error_from_body
from memvault.errors import MemvaultError, ServiceUnavailable

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRY_AFTER = 1.0


def client_options(base_url: str, api_key: str | None, timeout: float | httpx.Timeout | None,
                   headers: Mapping[str, str] | None) -> dict[str, Any]:
    """Keyword arguments for ``httpx.Client``/``httpx.AsyncClient``."""
    sent = {"User-Agent": f"memvault-python/{__version__}", "Accept": "application/json"}
    if api_key:
        sent["Authorization"] = f"Bearer {api_key}"
    sent.update(headers or {})
    return {"base_url": base_url.rstrip("/"), "headers": sent, "timeout": timeout}


def unreachable(base_url: str, exc: httpx.TransportError) -> MemvaultError:
    if isinstance(exc, httpx.TimeoutException):
        return ServiceUnavailable(f"memvault at {base_url} did not answer in time ({exc!r})")
    return ServiceUnavailable(f"could not reach memvault at {base_url}: {exc}")


def read(call: Call, response: httpx.Response) -> Any:
    """The call's typed result, or the mapped exception for an error status."""
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = None
    if response.status_code >= 400:
        raise error_from_body(
            response.status_code, body, not_found=call.not_found, conflict=call.conflict,
            request_id=response.headers.get("x-request-id"),
        )
    if body is None and response.content:
        raise MemvaultError(f"memvault answered {call.method} {call.path} with a body that is"
                            " not JSON")
    return call.read(body if body is not None else {})


def retry_after(response: httpx.Response) -> float:
    """Seconds the server asks a poller to wait (``Retry-After``), within 0.05-60 s."""
    try:
        seconds = float(response.headers.get("retry-after", DEFAULT_RETRY_AFTER))
    except ValueError:
        seconds = DEFAULT_RETRY_AFTER
    return min(max(seconds, 0.05), 60.0)
