"""Fixtures for the web inspector's tests: one live ``memvault serve`` that requires an API key,
Debian's chromium driven by Playwright, and a store with memories in two scopes.

Each test works in its own project and opens the page on it (``/ui/#project=...``), so tests
share the server without seeing each other's stores.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support.server import LiveServer

API_KEY = "inspector-test-key"
VIEWPORT = {"width": 1280, "height": 800}
CHROMIUM = "chromium"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which(CHROMIUM)
    if path is None:
        pytest.fail("the inspector's tests need Debian's chromium: run `make install-test`")
    return path


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("ui-server") / "data"
    with LiveServer(data, env={"MEMVAULT_API_KEYS": API_KEY}) as server:
        yield server


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    # Per module: Playwright's sync API keeps an event loop running in this thread while it is
    # open, and pytest-asyncio cannot run the async tests of other modules until it stops.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path)
        yield browser
        browser.close()


@pytest.fixture(autouse=True, scope="session")
def _patient_expectations() -> None:
    # Two shared cores run the server, the browser and the embedding model at once.
    expect.set_options(timeout=20_000)


def project_name(request: pytest.FixtureRequest) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-.")[:80]
    return f"ui-{name}-{int(time.time() * 1000) % 10**8}"


@pytest.fixture
def project(request: pytest.FixtureRequest) -> str:
    return project_name(request)


@pytest.fixture
def api(ui_server: LiveServer, project: str) -> Iterator[httpx.Client]:
    """An HTTP client on this test's project, with the key."""
    with httpx.Client(
        base_url=f"{ui_server.url}/api/projects/{project}",
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=60,
    ) as client:
        yield client


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Any]:
    """Opens pages in fresh browser contexts (own session storage) at 1280x800; each page
    records the JavaScript dialogs and uncaught errors it meets."""
    contexts = []

    def open_page() -> Page:
        context = browser.new_context(viewport=VIEWPORT)
        contexts.append(context)
        page = context.new_page()
        page.js_dialogs = []  # type: ignore[attr-defined]
        page.js_errors = []  # type: ignore[attr-defined]
        page.on("dialog", lambda dialog: (page.js_dialogs.append(dialog.message), dialog.dismiss()))
        page.on("pageerror", lambda error: page.js_errors.append(str(error)))
        return page

    yield open_page
    for context in contexts:
        context.close()


def enter_key(page: Page, key: str = API_KEY) -> None:
    """Answers the inspector's API key prompt from the keyboard."""
    dialog = page.locator("#key-dialog")
    expect(dialog).to_be_visible()
    page.locator("#api-key").fill(key)
    page.locator("#api-key").press("Enter")


@pytest.fixture
def open_inspector(ui_server: LiveServer, project: str, new_page: Any) -> Any:
    """Opens the inspector on this test's project and gives it the key (call it once the
    test's data is in place: the page lists stores as it loads)."""

    def open_() -> Page:
        page = new_page()
        page.goto(f"{ui_server.url}/ui/#project={project}")
        enter_key(page)
        expect(page.locator("#key-dialog")).to_be_hidden()
        return page

    return open_


# -- data ------------------------------------------------------------------------------------


@dataclass
class Seeded:
    """A store with memories in two scopes, as the API reports them."""

    store: str
    memories: dict[str, list[dict]] = field(default_factory=dict)
    """scope -> its memories (newest first, as listed)."""
    changed: dict = field(default_factory=dict)
    """The memory whose text an update changed."""
    original_text: str = ""


def run_update(api: httpx.Client, store: str, scope: str, *texts: str) -> dict:
    """``update_memories`` now, and wait for it to finish (the offline extractor)."""
    items = [{"type": "message", "role": "user", "content": text} for text in texts]
    response = api.post(
        f"/memory_stores/{store}:update_memories",
        json={"scope": scope, "items": items, "update_delay": 0},
    )
    assert response.status_code == 202, response.text
    update_id = response.json()["update_id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = api.get(f"/memory_stores/{store}/updates/{update_id}").json()
        if job["status"] in ("completed", "failed"):
            assert job["status"] == "completed", job
            return job
        time.sleep(0.2)
    raise AssertionError(f"update {update_id} did not finish")


def add_memory(api: httpx.Client, store: str, scope: str, content: str, kind: str) -> dict:
    response = api.post(
        f"/memory_stores/{store}/items", json={"scope": scope, "content": content, "kind": kind}
    )
    assert response.status_code == 200, response.text
    return response.json()


def list_memories(api: httpx.Client, store: str, scope: str) -> list[dict]:
    response = api.post(f"/memory_stores/{store}/items:list", json={"scope": scope})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def create_store(api: httpx.Client, name: str, description: str | None = None) -> None:
    body: dict[str, Any] = {"name": name}
    if description is not None:
        body["description"] = description
    response = api.post("/memory_stores", json=body)
    assert response.status_code == 200, response.text


@pytest.fixture
def seeded(api: httpx.Client) -> Seeded:
    """Store ``assistant``: scope ``alice`` holds what an update drew from her messages (with
    provenance), a procedural memory and a memory whose text was later changed; scope ``bob``
    holds one memory."""
    store = "assistant"
    create_store(api, store, description="Memories of the support agent")
    run_update(api, store, "alice", "I prefer dark roast coffee in the morning.")
    add_memory(api, store, "alice", "Answer in British English", "procedural")
    changed = add_memory(api, store, "alice", "Has a cat called Miso", "user_profile")
    response = api.post(
        f"/memory_stores/{store}/items/{changed['memory_id']}",
        json={"content": "Has two cats, Miso and Tofu"},
    )
    assert response.status_code == 200, response.text
    add_memory(api, store, "bob", "Prefers green tea", "user_profile")
    seeded = Seeded(store, original_text="Has a cat called Miso")
    for scope in ("alice", "bob"):
        seeded.memories[scope] = list_memories(api, store, scope)
    seeded.changed = next(
        m for m in seeded.memories["alice"] if m["memory_id"] == changed["memory_id"]
    )
    drawn = [m for m in seeded.memories["alice"] if m["memvault"]["source"]]
    assert drawn, "the update should have drawn at least one memory from alice's message"
    return seeded
