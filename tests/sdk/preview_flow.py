"""The memory-store flow with the preview SDK (azure-ai-projects 2.0.0b3, ``client.memory_stores``).

Run by ``test_sdk_preview.py`` with the python of its own virtual environment, because 2.0.0b3
cannot be installed beside the current SDK. It asserts every step and prints one JSON summary on
its last line of stdout; any failed step exits non-zero with a traceback.

    python tests/sdk/preview_flow.py --endpoint http://127.0.0.1:PORT/api/projects/NAME \\
        --seeded-store STORE --scope SCOPE

``--seeded-store`` is an existing store whose ``--scope`` holds the user-profile memories
``PROFILE`` and nothing else (this SDK has no item-level calls to write them itself).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo, for tests.support

from azure.ai.projects import AIProjectClient  # noqa: E402
from azure.ai.projects import __version__ as sdk_version  # noqa: E402
from azure.ai.projects.models import (  # noqa: E402
    DeleteMemoryStoreResult,
    MemorySearchItem,
    MemorySearchOptions,
    MemoryStoreDefaultDefinition,
    MemoryStoreDefaultOptions,
    MemoryStoreDeleteScopeResult,
    MemoryStoreDetails,
    MemoryStoreSearchResult,
    ResponsesAssistantMessageItemParam,
    ResponsesUserMessageItemParam,
    UserProfileMemoryItem,
)
from azure.core.exceptions import (  # noqa: E402
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.core.pipeline.policies import SansIOHTTPPolicy  # noqa: E402

from tests.support.azure import AllowHttpPolicy, StaticTokenCredential  # noqa: E402

PROFILE = [
    "Prefers dark roast coffee, usually in the morning",
    "Has a golden retriever named Max",
    "Is allergic to peanuts",
]
STORES = ["preview-a", "preview-b", "preview-c"]


class Recorder(SansIOHTTPPolicy):
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []

    def on_request(self, request: Any) -> None:
        http = request.http_request
        self.requests.append((http.method, http.url, dict(http.headers)))
        if len(self.requests) > 200:  # a pager that never ends
            raise AssertionError(f"runaway client; last requests: {self.requests[-3:]}")


def definition() -> MemoryStoreDefaultDefinition:
    return MemoryStoreDefaultDefinition(
        chat_model="gpt-4.1",
        embedding_model="text-embedding-3-small",
        options=MemoryStoreDefaultOptions(user_profile_enabled=True, chat_summary_enabled=True),
    )


def expect_error(cls: type[Exception], call: Any) -> Any:
    try:
        call()
    except cls as error:
        return error
    raise AssertionError(f"expected {cls.__name__}")


def run(endpoint: str, seeded_store: str, scope: str) -> dict[str, Any]:
    recorder = Recorder()
    client = AIProjectClient(endpoint=endpoint, credential=StaticTokenCredential(),
                             per_call_policies=[AllowHttpPolicy(), recorder],
                             retry_total=0, polling_interval=1)
    summary: dict[str, Any] = {"sdk_version": sdk_version}
    with client:
        ms = client.memory_stores
        assert not hasattr(ms, "create_memory"), "2.0.0b3 has no item-level calls"

        # create / get / update
        for name in STORES:
            created = ms.create(name=name, description=f"store {name}", metadata={"n": name},
                                definition=definition())
            assert isinstance(created, MemoryStoreDetails), type(created)
            assert created.name == name and created.description == f"store {name}"
            assert isinstance(created.created_at, dt.datetime), created.created_at
            assert isinstance(created.definition, MemoryStoreDefaultDefinition)
            assert created.definition.chat_model == "gpt-4.1"
            assert created.definition.options.user_profile_enabled is True
        fetched = ms.get(STORES[0])
        assert isinstance(fetched, MemoryStoreDetails) and fetched.name == STORES[0]
        updated = ms.update(STORES[0], description="changed", metadata={"k": "v"})
        assert (updated.description, updated.metadata) == ("changed", {"k": "v"})
        assert ms.get(STORES[0]).description == "changed"
        summary["api_versions"] = sorted({
            parse_qs(urlsplit(url).query).get("api-version", [""])[0]
            for _, url, _ in recorder.requests})
        summary["foundry_features_sent"] = any(
            "foundry-features" in {k.lower() for k in headers} for _, _, headers in recorder.requests)

        # list with limit=1: one GET per store, then at most an empty page that ends the pager
        recorder.requests.clear()
        listed = [store.name for store in ms.list(limit=1)]
        summary["listed"] = listed
        summary["list_requests"] = len(recorder.requests)
        expected = sorted([*STORES, seeded_store])
        assert sorted(listed) == expected, listed
        assert len(expected) <= len(recorder.requests) <= len(expected) + 1, recorder.requests
        assert [s.name for s in ms.list(limit=2, order="asc")][-3:] == STORES

        # search: static (no items), with items, with options, chained
        static = ms.search_memories(seeded_store, scope=scope)
        assert isinstance(static, MemoryStoreSearchResult)
        assert isinstance(static.memories, list)
        assert all(isinstance(hit, MemorySearchItem) for hit in static.memories)
        assert all(isinstance(hit.memory_item, UserProfileMemoryItem) for hit in static.memories)
        assert all(isinstance(hit.memory_item.updated_at, dt.datetime) for hit in static.memories)
        static_contents = [hit.memory_item.content for hit in static.memories]
        assert sorted(static_contents) == sorted(PROFILE), static_contents

        coffee = ms.search_memories(
            seeded_store, scope=scope,
            items=[ResponsesUserMessageItemParam(content="What coffee do I like?")],
            options=MemorySearchOptions(max_memories=1))
        coffee_contents = [hit.memory_item.content for hit in coffee.memories]
        assert coffee_contents == [PROFILE[0]], coffee_contents
        assert coffee.search_id and coffee.search_id != static.search_id

        chained = ms.search_memories(
            seeded_store, scope=scope,
            items=[ResponsesUserMessageItemParam(content="I am cooking dinner tonight."),
                   ResponsesAssistantMessageItemParam(content="Any food allergies?")],
            previous_search_id=coffee.search_id,
            options=MemorySearchOptions(max_memories=2))
        chained_contents = [hit.memory_item.content for hit in chained.memories]
        assert 1 <= len(chained_contents) <= 2 and chained_contents[0] == PROFILE[2], chained_contents
        nobody = ms.search_memories(seeded_store, scope="nobody-here")
        assert nobody.memories == [], nobody.memories
        summary["search"] = {"static": static_contents, "coffee": coffee_contents,
                             "chained": chained_contents, "empty_scope_memories": nobody.memories}

        # errors
        missing = expect_error(ResourceNotFoundError, lambda: ms.get("no-such-store"))
        assert missing.status_code == 404
        duplicate = expect_error(ResourceExistsError,
                                 lambda: ms.create(name=STORES[1], definition=definition()))
        assert duplicate.status_code == 409
        bad_scope = expect_error(HttpResponseError, lambda: ms.search_memories(
            seeded_store, scope="", items=[ResponsesUserMessageItemParam(content="hi")]))
        assert type(bad_scope) is HttpResponseError and bad_scope.status_code == 400
        summary["errors"] = {
            "missing_store": [type(missing).__name__, missing.status_code],
            "duplicate_store": [type(duplicate).__name__, duplicate.status_code],
            "empty_scope": [type(bad_scope).__name__, bad_scope.status_code],
        }

        # delete_scope, delete
        scope_deleted = ms.delete_scope(seeded_store, scope=scope)
        assert isinstance(scope_deleted, MemoryStoreDeleteScopeResult)
        assert (scope_deleted.name, scope_deleted.scope, scope_deleted.deleted) == (
            seeded_store, scope, True)
        after_scope = ms.search_memories(seeded_store, scope=scope).memories
        assert after_scope == [], after_scope
        deleted = ms.delete(STORES[2])
        assert isinstance(deleted, DeleteMemoryStoreResult)
        assert (deleted.name, deleted.deleted) == (STORES[2], True)
        expect_error(ResourceNotFoundError, lambda: ms.get(STORES[2]))
        remaining = sorted(store.name for store in ms.list(limit=1))
        assert remaining == sorted([STORES[0], STORES[1], seeded_store]), remaining
        summary["after_delete"] = {"scope_memories": after_scope, "stores": remaining}
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="project endpoint of a live memvault")
    parser.add_argument("--seeded-store", required=True)
    parser.add_argument("--scope", required=True)
    args = parser.parse_args()
    print(json.dumps(run(args.endpoint, args.seeded_store, args.scope)))


if __name__ == "__main__":
    main()
