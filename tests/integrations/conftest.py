"""One live ``memvault serve`` (with an API key) for the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from memvault.client import Client
from tests.support.server import LiveServer

API_KEY = "integration-test-key"


@pytest.fixture(scope="session")
def memvault_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("integrations-server") / "data"
    with LiveServer(data, env={"MEMVAULT_API_KEYS": API_KEY}) as server:
        yield server


@pytest.fixture
def memvault(memvault_server: LiveServer) -> Iterator[Client]:
    """The SDK, to check what an integration wrote (and to seed what it reads)."""
    with Client(memvault_server.url, api_key=API_KEY) as client:
        yield client
