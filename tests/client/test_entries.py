"""The SDK's entries methods (the Databricks-style face) and scope listing, against a live
server."""

from __future__ import annotations

import pytest

from memvault import errors
from memvault.client import AsyncClient, Client, Entry


def test_entries_round_trip(client: Client) -> None:
    client.create_store("notes")
    entry = client.create_entry("notes", scope="user-123", path="/memories/preferences.md",
                                description="Communication preferences",
                                contents="Prefers email over phone calls.\nNo calls after 6pm.")
    assert isinstance(entry, Entry)
    assert (entry.path, entry.scope, entry.version) == ("/memories/preferences.md", "user-123", 1)
    client.create_entry("notes", scope="user-123", path="/memories/food/coffee.md",
                        description="Coffee order", contents="Flat white")
    assert client.get_entry("notes", scope="user-123", path="/memories/preferences.md") == entry

    hits = client.search_entries("notes", scope="user-123", query="communication preferences")
    assert hits[0].entry.path == "/memories/preferences.md" and hits[0].score > 0
    assert client.search_entries("notes", scope="someone-else", query="preferences") == []

    replaced = client.update_entry("notes", scope="user-123", path="/memories/preferences.md",
                                   str_replace=("email", "text messages"))
    assert replaced.contents.startswith("Prefers text messages") and replaced.version == 2
    inserted = client.update_entry("notes", scope="user-123", path="/memories/preferences.md",
                                   insert="Speaks Portuguese.", insert_line=0,
                                   description="How to reach them")
    assert inserted.contents.splitlines()[0] == "Speaks Portuguese."
    assert inserted.description == "How to reach them"
    rewritten = client.update_entry("notes", scope="user-123", path="/memories/food/coffee.md",
                                    replace_all="Espresso")
    assert rewritten.contents == "Espresso"

    first = client.list_entries("notes", scope="user-123", page_size=1)
    assert [e.path for e in first] == ["/memories/food/coffee.md"] and first.next_page_token
    rest = client.list_entries("notes", scope="user-123", page_token=first.next_page_token)
    assert [(e.path, e.has_contents) for e in rest] == [("/memories/preferences.md", True)]
    assert rest.next_page_token is None

    client.delete_entry("notes", scope="user-123", path="/memories/food/coffee.md")
    with pytest.raises(errors.EntryNotFound) as missing:
        client.get_entry("notes", scope="user-123", path="/memories/food/coffee.md")
    assert missing.value.status_code == 404


def test_entry_errors_are_memvaults_own(client: Client) -> None:
    client.create_store("notes")
    client.create_entry("notes", scope="u", path="/memories/a.md", contents="alpha")
    with pytest.raises(errors.EntryAlreadyExists) as taken:
        client.create_entry("notes", scope="u", path="/memories/a.md", contents="again")
    assert taken.value.status_code == 409 and isinstance(taken.value, errors.Conflict)
    # The same path in another scope is another entry.
    client.create_entry("notes", scope="v", path="/memories/a.md", contents="beta")

    with pytest.raises(errors.InvalidRequest) as invalid:
        client.create_entry("notes", scope="u", path="/notes/a.md", contents="x")
    assert invalid.value.status_code == 400
    with pytest.raises(errors.InvalidRequest):
        client.update_entry("notes", scope="u", path="/memories/a.md",
                            str_replace=("missing text", "x"))
    with pytest.raises(errors.EntryNotFound):
        client.update_entry("notes", scope="u", path="/memories/b.md", replace_all="x")
    with pytest.raises(errors.EntryNotFound):
        client.delete_entry("notes", scope="u", path="/memories/b.md")
    with pytest.raises(errors.StoreNotFound):
        client.get_entry("absent", scope="u", path="/memories/a.md")
    assert client.get_entry("notes", scope="u", path="/memories/a.md").contents == "alpha"


def test_a_full_name_addresses_the_same_store(client: Client, project: str) -> None:
    client.create_store("notes")
    client.create_entry(f"main.{project}.notes", scope="u", path="/memories/a.md",
                        contents="alpha")
    assert client.get_entry("notes", scope="u", path="/memories/a.md").contents == "alpha"


def test_scopes_and_delete_scope(client: Client) -> None:
    client.create_store("notes")
    client.create_memory("notes", scope="b-user", content="Likes tea")
    client.create_memory("notes", scope="a-user", content="Likes coffee")
    client.create_memory("notes", scope="a-user", content="Owns a bike")
    client.create_entry("notes", scope="a-user", path="/memories/a.md", contents="alpha")
    page = client.list_scopes("notes", limit=1)
    assert [(s.scope, s.memory_count) for s in page] == [("a-user", 2)] and page.has_more
    assert [s.scope for s in client.list_scopes("notes", after=page.last_id)] == ["b-user"]

    assert client.delete_scope("notes", scope="a-user") == 3  # two memories, one entry
    assert len(client.list_entries("notes", scope="a-user")) == 0
    assert [s.scope for s in client.list_scopes("notes")] == ["b-user"]


async def test_entries_async(aclient: AsyncClient) -> None:
    await aclient.create_store("notes")
    await aclient.create_entry("notes", scope="u", path="/memories/trips/lisbon.md",
                               description="Trip to Lisbon", contents="Booked for May")
    hits = await aclient.search_entries("notes", scope="u", query="travel plans", top_k=1)
    assert [hit.entry.path for hit in hits] == ["/memories/trips/lisbon.md"]
    edited = await aclient.update_entry("notes", scope="u", path="/memories/trips/lisbon.md",
                                        str_replace=("May", "June"))
    assert edited.contents == "Booked for June"
    assert [e.path for e in await aclient.list_entries("notes", scope="u")] == [
        "/memories/trips/lisbon.md"]
    with pytest.raises(errors.EntryAlreadyExists):
        await aclient.create_entry("notes", scope="u", path="/memories/trips/lisbon.md")
    await aclient.delete_entry("notes", scope="u", path="/memories/trips/lisbon.md")
    with pytest.raises(errors.EntryNotFound):
        await aclient.get_entry("notes", scope="u", path="/memories/trips/lisbon.md")
    assert [s.scope for s in await aclient.list_scopes("notes")] == []
