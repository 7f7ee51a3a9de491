"""Pointing the official ``azure-ai-projects`` SDK at a plain-http memvault (contract §2).

The SDK's default ``BearerTokenCredentialPolicy`` wants a ``TokenCredential`` and refuses
``http://`` URLs. A duck-typed credential and a per-call policy that turns the https check off
are all it takes; no azure-identity type is needed.
"""

from __future__ import annotations

import time
from typing import Any

from azure.core.credentials import AccessToken, AzureKeyCredential
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import AzureKeyCredentialPolicy, SansIOHTTPPolicy

GA_API_VERSION = "v1"


class StaticTokenCredential:
    """A ``TokenCredential`` that always hands out the same bearer token."""

    def __init__(self, token: str = "dev-token") -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3600)


class AllowHttpPolicy(SansIOHTTPPolicy):
    """Lets ``BearerTokenCredentialPolicy`` send its token over http (read by azure-core's
    ``_enforce_https``)."""

    def on_request(self, request: PipelineRequest) -> None:
        request.context["enforce_https"] = False


class RequestRecorder(SansIOHTTPPolicy):
    """Records ``(method, url)`` of every request the client sends, and stops a runaway client
    (a pager that never ends) after ``max_requests``."""

    def __init__(self, max_requests: int = 200) -> None:
        self.requests: list[tuple[str, str]] = []
        self.max_requests = max_requests

    def on_request(self, request: PipelineRequest) -> None:
        self.requests.append((request.http_request.method, request.http_request.url))
        if len(self.requests) > self.max_requests:
            raise AssertionError(f"more than {self.max_requests} requests; last: {self.requests[-3:]}")


def project_client(endpoint: str, token: str = "dev-token", *,
                   policies: tuple[SansIOHTTPPolicy, ...] = (), **kwargs: Any) -> Any:
    """An ``AIProjectClient`` for a local server: bearer token over http (Option A), no retries,
    1 s polling. Use it as a context manager so its connection pool is closed."""
    from azure.ai.projects import AIProjectClient

    options: dict[str, Any] = {"retry_total": 0, "polling_interval": 1} | kwargs
    return AIProjectClient(
        endpoint=endpoint,
        credential=StaticTokenCredential(token),
        per_call_policies=[AllowHttpPolicy(), *policies],
        **options,
    )


def api_key_client(endpoint: str, key: str, **kwargs: Any) -> Any:
    """An ``AIProjectClient`` sending ``Authorization: Bearer <key>`` through
    ``AzureKeyCredentialPolicy`` (Option B), which has no https check."""
    from azure.ai.projects import AIProjectClient

    credential = AzureKeyCredential(key)
    options: dict[str, Any] = {"retry_total": 0, "polling_interval": 1} | kwargs
    return AIProjectClient(
        endpoint=endpoint,
        credential=credential,
        authentication_policy=AzureKeyCredentialPolicy(credential, "Authorization", prefix="Bearer"),
        **options,
    )
