"""Fixtures shared by every test package: settings on a temp dir, the app, an in-process client."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from memvault.api.app import create_app
from memvault.settings import Settings

FOUNDRY = "/api/projects/default"

# Variables a developer may have set that would change what the tests see.
_ENV_TO_CLEAR = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_API_KEY",
    "OPENAI_API_VERSION",
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MEMVAULT_") or name in _ENV_TO_CLEAR:
            monkeypatch.delenv(name)


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    return Settings(data_dir=data_dir, **overrides)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://memvault.test") as c:
        yield c


async def create_store(client: httpx.AsyncClient, name: str = "store1", **definition: object) -> dict:
    body = {"name": name, "definition": {"chat_model": "gpt-4.1",
                                         "embedding_model": "text-embedding-3-small", **definition}}
    response = await client.post(f"{FOUNDRY}/memory_stores", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def add_memory(client: httpx.AsyncClient, store: str, scope: str, content: str,
                     kind: str = "user_profile") -> dict:
    response = await client.post(f"{FOUNDRY}/memory_stores/{store}/items",
                                 json={"scope": scope, "content": content, "kind": kind})
    assert response.status_code == 200, response.text
    return response.json()
