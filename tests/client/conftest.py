"""One live ``memvault serve`` (with an API key) for the SDK tests; each test has its own
project, so tests share the server without seeing each other's stores."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import pytest

from memvault.client import AsyncClient, Client
from tests.support.server import LiveServer

API_KEY = "client-test-key"


@pytest.fixture(scope="session")
def client_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("client-server") / "data"
    with LiveServer(data, env={"MEMVAULT_API_KEYS": API_KEY}) as server:
        yield server


@pytest.fixture
def project(request: pytest.FixtureRequest) -> str:
    return "t-" + re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name).strip("-")[:100]


@pytest.fixture
def client(client_server: LiveServer, project: str) -> Iterator[Client]:
    with Client(client_server.url, project=project, api_key=API_KEY) as memvault:
        yield memvault


@pytest.fixture
async def aclient(client_server: LiveServer, project: str) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(client_server.url, project=project, api_key=API_KEY) as memvault:
        yield memvault
