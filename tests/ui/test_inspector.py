"""The web inspector in headless Chromium against a live server that requires an API key."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Locator, Page, expect

from memvault.testing import LiveServer
from tests.ui.conftest import API_KEY, VIEWPORT, Seeded, add_memory, create_store, enter_key

pytestmark = pytest.mark.slow

KIND_LABELS = {"user_profile": "user profile", "chat_summary": "chat summary",
               "procedural": "procedural"}


def open_scope(page: Page, store: str, scope: str) -> None:
    page.locator(f'#stores button[data-store="{store}"]').click()
    scope_button(page, scope).click()
    expect(page.locator("#memories-heading")).to_have_text(f"Memories in “{scope}”")


def scope_button(page: Page, scope: str) -> Locator:
    return page.locator("#scopes button.pick").filter(
        has=page.locator(".pick-name", has_text=scope)
    )


def memory_item(page: Page, memory: dict) -> Locator:
    return page.locator(f'#memories li[data-memory-id="{memory["memory_id"]}"]')


def scope_names(api: httpx.Client, store: str) -> list[str]:
    response = api.get(f"/memory_stores/{store}/scopes")
    assert response.status_code == 200, response.text
    return [summary["scope"] for summary in response.json()["data"]]


# -- browsing --------------------------------------------------------------------------------


def test_lists_stores_scopes_and_memories_with_kind_and_provenance(
    open_inspector: Any, api: httpx.Client, seeded: Seeded
) -> None:
    create_store(api, "second-store")
    page = open_inspector()
    expect(page.locator("#stores button.pick .pick-name")).to_have_text(
        [seeded.store, "second-store"]
    )
    expect(page.locator(f'#stores button[data-store="{seeded.store}"]')).to_contain_text(
        "Memories of the support agent"
    )

    page.locator(f'#stores button[data-store="{seeded.store}"]').click()
    expect(page.locator(f'#stores button[data-store="{seeded.store}"]')).to_have_attribute(
        "aria-current", "true"
    )
    alice = len(seeded.memories["alice"])
    expect(page.locator("#scopes button.pick")).to_have_text(
        [f"alice{alice} memories", "bob1 memory"]
    )

    scope_button(page, "alice").click()
    expect(page.locator("#memories > li")).to_have_count(alice)
    for memory in seeded.memories["alice"]:
        item = memory_item(page, memory)
        expect(item.locator(".content")).to_have_text(memory["content"])
        expect(item.locator(".kind")).to_have_text(KIND_LABELS[memory["kind"]])
        expect(item.locator(".version")).to_have_text(f"version {memory['memvault']['version']}")
        created_by = memory["memvault"]["created_by"]
        expect(item.locator(".provenance")).to_contain_text(created_by)
        sources = memory["memvault"]["source"]
        if sources:
            details = item.locator("details.sources")
            expect(details.locator("li").first).to_be_hidden()
            details.locator("summary").click()
            expect(details.locator("li")).to_have_count(len(sources))
            for shown, source in zip(details.locator("li").all(), sources, strict=True):
                expect(shown.locator(".role")).to_have_text(source["role"])
                expect(shown.locator(".source-text")).to_have_text(source["text"])
                expect(shown.locator(".source-update")).to_have_text(source["update_id"])
    drawn = next(m for m in seeded.memories["alice"] if m["memvault"]["source"])
    assert drawn["memvault"]["created_by"].startswith("upd_")
    expect(memory_item(page, drawn).locator(".provenance")).to_contain_text(
        f"by update {drawn['memvault']['created_by']}"
    )

    scope_button(page, "bob").click()
    [bob] = seeded.memories["bob"]
    expect(page.locator("#memories > li")).to_have_count(1)
    expect(memory_item(page, bob).locator(".content")).to_have_text("Prefers green tea")
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_history_shows_the_text_before_an_update(open_inspector: Any, seeded: Seeded) -> None:
    page = open_inspector()
    open_scope(page, seeded.store, "alice")
    item = memory_item(page, seeded.changed)
    expect(item.locator(".content").first).to_have_text("Has two cats, Miso and Tofu")
    history_button = item.get_by_role("button", name="History")
    expect(history_button).to_have_attribute("aria-expanded", "false")

    history_button.click()
    expect(history_button).to_have_attribute("aria-expanded", "true")
    versions = item.locator(".history .versions > li")
    expect(versions).to_have_count(2)
    expect(versions.nth(0).locator(".version-label")).to_contain_text("version 1")
    expect(versions.nth(0).locator(".content")).to_have_text(seeded.original_text)
    expect(versions.nth(1).locator(".version-label")).to_have_text("version 2 (current)")
    expect(versions.nth(1).locator(".content")).to_have_text("Has two cats, Miso and Tofu")

    history_button.click()
    expect(item.locator(".history")).to_be_hidden()

    [procedure] = [m for m in seeded.memories["alice"] if m["kind"] == "procedural"]
    other = memory_item(page, procedure)
    other.get_by_role("button", name="History").click()
    expect(other.locator(".history")).to_contain_text("No earlier versions")


def test_search_finds_relevant_memories_and_show_all_returns(
    open_inspector: Any, seeded: Seeded
) -> None:
    page = open_inspector()
    open_scope(page, seeded.store, "alice")
    page.get_by_label("Search this scope").fill("What coffee should I order for her?")
    page.get_by_label("Search this scope").press("Enter")
    results = page.locator("#memories > li")
    expect(page.locator("#memories-hint")).to_contain_text("relevant to “What coffee")
    expect(results.first.locator(".content")).to_contain_text("dark roast coffee")
    expect(results.first.locator(".score")).to_contain_text("relevance")
    # Search stays in the scope: bob's tea is never among alice's results.
    expect(page.locator("#memories")).not_to_contain_text("green tea")

    page.get_by_role("button", name="Show all").click()
    expect(results).to_have_count(len(seeded.memories["alice"]))
    expect(page.locator("#memories .score")).to_have_count(0)


# -- deleting --------------------------------------------------------------------------------


def test_deleting_a_memory_needs_confirmation(
    open_inspector: Any, api: httpx.Client, seeded: Seeded
) -> None:
    page = open_inspector()
    open_scope(page, seeded.store, "alice")
    target = seeded.changed
    item = memory_item(page, target)
    path = f"/memory_stores/{seeded.store}/items/{target['memory_id']}"
    dialog = page.locator("#confirm-dialog")

    item.get_by_role("button", name="Delete…").click()
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Has two cats, Miso and Tofu")
    page.locator("#confirm-cancel").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#status")).to_have_text("Nothing was deleted.")
    expect(item).to_be_visible()
    assert api.get(path).status_code == 200

    item.get_by_role("button", name="Delete…").click()
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")  # the keyboard's way out cancels too
    expect(dialog).to_be_hidden()
    assert api.get(path).status_code == 200

    item.get_by_role("button", name="Delete…").click()
    page.get_by_role("button", name="Delete memory").click()
    expect(page.locator("#status")).to_have_text("Memory deleted.")
    expect(item).to_have_count(0)
    remaining = len(seeded.memories["alice"]) - 1
    expect(page.locator("#memories > li")).to_have_count(remaining)
    expect(scope_button(page, "alice")).to_contain_text(f"{remaining} memor")
    assert api.get(path).status_code == 404
    assert len(api.post(f"/memory_stores/{seeded.store}/items:list",
                        json={"scope": "alice"}).json()["data"]) == remaining


def test_deleting_a_scope_needs_confirmation(
    open_inspector: Any, api: httpx.Client, seeded: Seeded
) -> None:
    page = open_inspector()
    open_scope(page, seeded.store, "alice")
    dialog = page.locator("#confirm-dialog")

    page.get_by_role("button", name="Delete scope…").click()
    expect(dialog).to_contain_text(f"All {len(seeded.memories['alice'])} memories of scope “alice”")
    page.locator("#confirm-cancel").click()
    expect(page.locator("#status")).to_have_text("Nothing was deleted.")
    assert scope_names(api, seeded.store) == ["alice", "bob"]

    page.get_by_role("button", name="Delete scope…").click()
    dialog.get_by_role("button", name="Delete scope").click()
    expect(page.locator("#status")).to_have_text(
        f"Deleted scope “alice”: {len(seeded.memories['alice'])} removed."
    )
    expect(page.locator("#scopes button.pick .pick-name")).to_have_text(["bob"])
    expect(page.locator("#memories > li")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete scope…")).to_be_hidden()
    assert scope_names(api, seeded.store) == ["bob"]
    assert len(api.post(f"/memory_stores/{seeded.store}/items:list",
                        json={"scope": "bob"}).json()["data"]) == 1


# -- user data is text -----------------------------------------------------------------------


def test_markup_in_user_data_is_shown_as_text(open_inspector: Any, api: httpx.Client) -> None:
    payload = '<img src=x onerror="document.body.dataset.pwned=\'memory\'">'
    script = "<script>document.body.dataset.pwned='script'</script> likes tea"
    scope = '<b onmouseover="alert(1)">eve</b>'
    store = "tricky"
    create_store(api, store, description='<img src=x onerror="alert(2)">')
    first = add_memory(api, store, scope, payload, "user_profile")
    add_memory(api, store, scope, script, "chat_summary")
    changed = f"{payload} and <i>more</i>"
    api.post(f"/memory_stores/{store}/items/{first['memory_id']}", json={"content": changed})

    page = open_inspector()
    expect(page.locator(f'#stores button[data-store="{store}"]')).to_contain_text(
        '<img src=x onerror="alert(2)">'
    )
    page.locator(f'#stores button[data-store="{store}"]').click()
    expect(page.locator("#scopes .pick-name")).to_have_text([scope])
    page.locator("#scopes button.pick").first.click()
    item = memory_item(page, first)
    expect(item.locator(".content")).to_have_text(changed)
    item.get_by_role("button", name="History").click()
    expect(item.locator(".versions > li").first.locator(".content")).to_have_text(payload)
    expect(page.locator("#memories")).to_contain_text(script)

    page.get_by_label("Search this scope").fill("tea")
    page.get_by_label("Search this scope").press("Enter")
    expect(page.locator("#memories-hint")).to_contain_text("relevant to “tea”")
    expect(page.locator("#memories .content", has_text="likes tea")).to_have_text(script)

    page.get_by_role("button", name="Show all").click()
    expect(page.locator("#memories > li")).to_have_count(2)
    page.get_by_role("button", name="Delete scope…").click()
    expect(page.locator("#confirm-text")).to_contain_text(scope)
    page.locator("#confirm-cancel").click()

    for element in ("img", "b", "i", "script"):
        assert page.locator(f"main {element}, dialog {element}").count() == 0, element
    assert page.evaluate("document.body.dataset.pwned") is None
    assert page.js_dialogs == []  # type: ignore[attr-defined]


# -- the API key -----------------------------------------------------------------------------


def test_asks_for_a_key_keeps_it_for_the_tab_and_forgets_it(
    ui_server: LiveServer, project: str, new_page: Any, api: httpx.Client, seeded: Seeded
) -> None:
    page: Page = new_page()
    page.goto(f"{ui_server.url}/ui/#project={project}")
    enter_key(page, "not-the-key")
    expect(page.locator("#key-error")).to_have_text("That key was not accepted. Try another one.")
    enter_key(page, API_KEY)
    expect(page.locator("#key-dialog")).to_be_hidden()
    open_scope(page, seeded.store, "bob")
    assert page.evaluate("sessionStorage.getItem('memvault.apiKey')") == API_KEY

    page.reload()  # the key and the place in the inspector survive a reload
    expect(page.locator("#memories > li")).to_have_count(1)
    expect(page.locator("#key-dialog")).to_be_hidden()

    page.get_by_role("button", name="Forget API key").click()
    assert page.evaluate("sessionStorage.getItem('memvault.apiKey')") is None
    page.locator(f'#stores button[data-store="{seeded.store}"]').click()
    expect(page.locator("#key-dialog")).to_be_visible()
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#scopes-hint")).to_have_text("This server needs an API key.")


# -- how it looks ----------------------------------------------------------------------------


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def _crop(pixels: np.ndarray, box: dict[str, float] | None) -> np.ndarray:
    """The (n, 3) pixels of an element's bounding box."""
    assert box is not None
    x, y = int(box["x"]), int(box["y"])
    region = pixels[y:y + int(box["height"]), x:x + int(box["width"])]
    return region.reshape(-1, 3)


def _dominant(pixels: np.ndarray, box: dict[str, float] | None) -> tuple[int, ...]:
    colours, counts = np.unique(_crop(pixels, box), axis=0, return_counts=True)
    return tuple(int(c) for c in colours[counts.argmax()])


def _close(colour: tuple[int, ...], expected: str, tolerance: int = 4) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, _rgb(expected), strict=True))


def test_screenshot_shows_the_styled_page(
    open_inspector: Any, seeded: Seeded, tmp_path: Path
) -> None:
    page = open_inspector()
    open_scope(page, seeded.store, "alice")
    memory_item(page, seeded.changed).get_by_role("button", name="History").click()
    expect(page.locator(".versions > li")).to_have_count(2)

    png = page.screenshot()
    (tmp_path / "inspector.png").write_bytes(png)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (VIEWPORT["width"], VIEWPORT["height"])
    pixels = np.asarray(image.convert("RGB"))

    # The style sheet is applied: the bar, the chosen store, a kind badge and a memory card
    # have their colours where the page says those elements are.
    item = memory_item(page, seeded.changed)
    boxes = {
        "#16213a": page.locator("header.bar").bounding_box(),
        "#e7eefc": page.locator(f'#stores button[data-store="{seeded.store}"]').bounding_box(),
        "#dfeafe": item.locator(".kind").bounding_box(),
        "#ffffff": item.bounding_box(),
    }
    for colour, box in boxes.items():
        assert box is not None
        # Inside the 1280x800 viewport, so in the screenshot.
        assert box["x"] >= 0 and box["y"] >= 0
        assert box["x"] + box["width"] <= VIEWPORT["width"] and box["y"] < VIEWPORT["height"]
        assert _close(_dominant(pixels, box), colour), (colour, _dominant(pixels, box))

    # The text is drawn: the memory's line holds dark glyph pixels on its white card, and the
    # page as a whole is far from blank.
    text = _crop(pixels, item.locator(".content").first.bounding_box())
    assert (text.astype(int).sum(axis=1) < 200).sum() > 100
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200
