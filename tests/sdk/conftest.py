"""Fixtures for the official-SDK tests: one live ``memvault serve`` per session, clients for it,
and the virtual environment that holds the preview SDK (2.0.0b3).

Each test talks to its own project (``/api/projects/<name>``), so tests share one server without
seeing each other's stores.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.azure import project_client
from tests.support.server import LiveServer
from tests.support.venvs import VenvError, ensure_venv

REPO = Path(__file__).resolve().parents[2]
PREVIEW_SDK_VERSION = "2.0.0b3"
PREVIEW_VENV = REPO / ".venv-sdk-b3"


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with LiveServer(tmp_path_factory.mktemp("sdk-server") / "data") as server:
        yield server


def project_name(request: pytest.FixtureRequest) -> str:
    """A project name unique to the calling test (``[A-Za-z0-9_.-]``, at most 128 chars)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-.")[:100]
    return f"t-{name}-{int(time.time() * 1000) % 10**8}"


@pytest.fixture
def project_endpoint(live_server: LiveServer, request: pytest.FixtureRequest) -> str:
    return f"{live_server.url}/api/projects/{project_name(request)}"


@pytest.fixture
def project(project_endpoint: str) -> Iterator[Any]:
    """``AIProjectClient`` for this test's project (contract §2, Option A)."""
    with project_client(project_endpoint) as client:
        yield client


@pytest.fixture
def make_client() -> Iterator[Callable[..., Any]]:
    """Builds extra clients (other endpoints or credentials) and closes them afterwards."""
    clients: list[Any] = []

    def make(endpoint: str, **kwargs: Any) -> Any:
        client = project_client(endpoint, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


# -- the preview SDK's virtual environment ---------------------------------------------------


def ensure_preview_venv(venv: Path = PREVIEW_VENV, version: str = PREVIEW_SDK_VERSION) -> Path:
    """The python of ``venv``, holding ``azure-ai-projects==version`` (see
    :mod:`tests.support.venvs`). Raises ``VenvError`` if it cannot."""
    return ensure_venv(venv, "azure-ai-projects", version, module="azure.ai.projects")


@pytest.fixture(scope="session")
def preview_venv() -> Path | VenvError:
    """Built once per session; a failure is kept, not raised, so that each test using it
    fails (never skips, never errors in setup) with the reason."""
    try:
        return ensure_preview_venv()
    except VenvError as error:
        return error


def require_preview_python(preview_venv: Path | VenvError) -> Path:
    """Call in the test body, so a failed build FAILS the test (a fixture would ERROR it)."""
    if isinstance(preview_venv, VenvError):
        pytest.fail(f"cannot build the preview SDK environment: {preview_venv}", pytrace=False)
    return preview_venv
