"""The authorization matrix: every endpoint of every face, called by every kind of caller, against
a live server whose keys are principals in its database. One row per endpoint; its columns are
the status each caller gets. A request that is refused changes nothing (each write row has a
snapshot, taken by an admin before and after, that must be equal).

The callers (``CALLERS``) and what they hold on the store ``main.matrix.shared`` (``SHARED``):

* no key, wrong key: not authenticated (401)
* admin: every privilege on everything
* owner: created the store (after an admin granted it CREATE_MEMORY_STORE on ``main.matrix``)
* READ, WRITE: granted READ_MEMORY_STORE, WRITE_MEMORY_STORE on the store
* no grant: authenticated, holds nothing
* own scope, other scope: one key restricted to scope ``user-1``, granted READ and WRITE on the
  store; the first column names ``user-1`` in its requests (and reaches what lives there), the
  second names ``user-2``. Requests that name no scope are the same request in both columns.

Everything else names ``user-1``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from memvault.api.auth import new_key
from memvault.api.errors import flattened_routes
from memvault.settings import Settings
from tests.support.openai_server import ScriptedOpenAIServer, chat_completion
from tests.support.principals import create_principals
from tests.support.server import LiveServer

pytestmark = pytest.mark.slow

PROJECT = "matrix"
SCHEMA = f"main.{PROJECT}"
SHARED = "shared"
OWN, OTHER = "user-1", "user-2"

F = f"/api/projects/{PROJECT}"
OAI = f"{F}/openai/v1"
UC = "/api/2.1/unity-catalog"

CALLERS = ("no key", "wrong key", "admin", "owner", "READ", "WRITE", "no grant", "own scope",
           "other scope")
PRINCIPALS = {"admin": "admin@example.com", "owner": "owner@example.com", "READ": "reader",
              "WRITE": "writer", "no grant": "stranger", "own scope": "user-1-client"}

# What each kind of operation lets through, in the order of CALLERS:
#                  no key  wrong  admin  owner  READ  WRITE  no grant  own scope  other scope
READ_SCOPE       = "401    401    200    200    200   403    403       200        403"
WRITE_SCOPE      = "401    401    200    200    403   200    403       200        403"
READ_WRITE_SCOPE = "401    401    200    200    403   403    403       200        403"
READ_STORE       = "401    401    200    200    200   403    403       200        200"
READ_ALL_SCOPES  = "401    401    200    200    200   403    403       403        403"
MANAGE           = "401    401    200    200    403   403    403       403        403"
CREATE           = MANAGE  # CREATE_MEMORY_STORE on the schema: admins and the owner hold it
ADMIN            = "401    401    200    403    403   403    403       403        403"
ANYONE           = "401    401    200    200    200   200    200       200        200"

DEFINITION = {"kind": "prompt", "model": "gpt-4.1", "tools": [
    {"type": "memory_search_preview", "memory_store_name": SHARED, "scope": "{{$userId}}",
     "update_delay": 3600}]}
MESSAGE = [{"type": "message", "role": "user", "content": "I like green tea"}]


def bound_to(store_full_name: str) -> dict[str, Any]:
    return {"memory_store": {"name": store_full_name},
            "scope": {"kind": "user", "value": "{scope}"}}


Snapshot = Callable[["World", dict[str, str]], Any]


def admin_view(path: str, pick: Callable[[Any], Any] = lambda body: body) -> Snapshot:
    """A snapshot: the status and (part of) the body of an admin's GET of ``path``."""
    def take(world: World, ctx: dict[str, str]) -> Any:
        response = world.call("admin", "GET", fill(path, ctx))
        return response.status_code, pick(response.json()) if response.status_code == 200 else None
    return take


def data_ids(body: Any) -> list[str]:
    return [item.get("id") or item.get("memory_id") for item in body["data"]]


def llm_calls(world: World, ctx: dict[str, str]) -> int:
    return len(world.llm.requests_to("chat.completions"))


@dataclass(frozen=True)
class Endpoint:
    """One row: ``path``, ``body`` and ``headers`` may hold ``{placeholders}`` of the case's
    context (``World.context``); ``fresh`` names what each case gets new (so that a write one
    caller may make cannot spoil the next case); ``snapshot`` is what a refused write leaves
    unchanged."""

    name: str
    method: str
    path: str
    expect: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    fresh: tuple[str, ...] = ()
    snapshot: Snapshot | None = None

    @property
    def face(self) -> str:
        if self.path.startswith(UC):
            return "databricks"
        return "openai" if "/openai/" in self.path else "foundry"

    def __str__(self) -> str:
        return self.name


ENDPOINTS = [
    # -- Foundry memory stores -------------------------------------------------------------
    Endpoint("foundry create store", "POST", f"{F}/memory_stores", CREATE, {"name": "{new}"},
             snapshot=admin_view(f"{F}/memory_stores/{{new}}")),
    Endpoint("foundry list stores", "GET", f"{F}/memory_stores", ANYONE),
    Endpoint("foundry get store", "GET", f"{F}/memory_stores/{{store}}", READ_STORE),
    Endpoint("foundry update store", "POST", f"{F}/memory_stores/{{store}}", MANAGE,
             {"description": "changed by {caller}"}, fresh=("store",),
             snapshot=admin_view(f"{F}/memory_stores/{{store}}")),
    Endpoint("foundry delete store", "DELETE", f"{F}/memory_stores/{{store}}", MANAGE,
             fresh=("store",), snapshot=admin_view(f"{F}/memory_stores/{{store}}")),
    Endpoint("foundry list scopes", "GET", f"{F}/memory_stores/{{store}}/scopes",
             READ_ALL_SCOPES),
    Endpoint("foundry search", "POST", f"{F}/memory_stores/{{store}}:search_memories",
             READ_SCOPE, {"scope": "{scope}", "items": MESSAGE}),
    Endpoint("foundry update memories", "POST", f"{F}/memory_stores/{{store}}:update_memories",
             WRITE_SCOPE.replace("200", "202"),
             {"scope": "{scope}", "items": MESSAGE, "update_delay": 3600}),
    Endpoint("foundry get update", "GET", f"{F}/memory_stores/{{store}}/updates/{{update}}",
             READ_SCOPE),
    Endpoint("foundry delete scope", "POST", f"{F}/memory_stores/{{store}}:delete_scope",
             WRITE_SCOPE, {"scope": "{scope}"}, fresh=("store",),
             snapshot=admin_view(f"{F}/memory_stores/{{store}}/items:list?scope={{scope}}",
                                 data_ids)),
    Endpoint("foundry list memories (POST)", "POST", f"{F}/memory_stores/{{store}}/items:list",
             READ_SCOPE, {"scope": "{scope}"}),
    Endpoint("foundry list memories (GET)", "GET",
             f"{F}/memory_stores/{{store}}/items:list?scope={{scope}}", READ_SCOPE),
    Endpoint("foundry create memory", "POST", f"{F}/memory_stores/{{store}}/items", WRITE_SCOPE,
             {"scope": "{scope}", "content": "Drinks {new}"},
             snapshot=admin_view(f"{F}/memory_stores/{{store}}/items:list?scope={{scope}}",
                                 data_ids)),
    Endpoint("foundry get memory", "GET", f"{F}/memory_stores/{{store}}/items/{{memory}}",
             READ_SCOPE),
    Endpoint("foundry memory history", "GET",
             f"{F}/memory_stores/{{store}}/items/{{memory}}/history", READ_SCOPE),
    Endpoint("foundry update memory", "POST", f"{F}/memory_stores/{{store}}/items/{{memory}}",
             WRITE_SCOPE, {"content": "Drinks {new} now"}, fresh=("memory",),
             snapshot=admin_view(f"{F}/memory_stores/{{store}}/items/{{memory}}")),
    Endpoint("foundry delete memory", "DELETE", f"{F}/memory_stores/{{store}}/items/{{memory}}",
             WRITE_SCOPE, fresh=("memory",),
             snapshot=admin_view(f"{F}/memory_stores/{{store}}/items/{{memory}}")),
    # -- Databricks memory stores and entries ----------------------------------------------
    Endpoint("databricks create store", "POST", f"{UC}/memory-stores", CREATE,
             {"name": "{new}", "catalog_name": "main", "schema_name": PROJECT},
             snapshot=admin_view(f"{UC}/memory-stores/{SCHEMA}.{{new}}")),
    Endpoint("databricks list stores", "GET",
             f"{UC}/memory-stores?catalog_name=main&schema_name={PROJECT}", ANYONE),
    Endpoint("databricks get store", "GET", f"{UC}/memory-stores/{{full}}", READ_STORE),
    Endpoint("databricks update store", "PATCH", f"{UC}/memory-stores/{{full}}", MANAGE,
             {"comment": "changed by {caller}"}, fresh=("store",),
             snapshot=admin_view(f"{UC}/memory-stores/{{full}}")),
    Endpoint("databricks delete store", "DELETE", f"{UC}/memory-stores/{{full}}", MANAGE,
             fresh=("store",), snapshot=admin_view(f"{UC}/memory-stores/{{full}}")),
    Endpoint("databricks create entry", "POST",
             f"{UC}/memory-stores/{{full}}/entries?scope={{scope}}", WRITE_SCOPE,
             {"path": "/memories/{new}.md", "contents": "Green tea", "description": "Tea"},
             snapshot=admin_view(f"{UC}/memory-stores/{{full}}/entries:get?scope={{scope}}"
                                 "&path=/memories/{new}.md")),
    Endpoint("databricks get entry", "GET",
             f"{UC}/memory-stores/{{full}}/entries:get?scope={{scope}}&path={{entry}}",
             READ_SCOPE),
    Endpoint("databricks list entries", "GET",
             f"{UC}/memory-stores/{{full}}/entries?scope={{scope}}", READ_SCOPE),
    Endpoint("databricks update entry", "PATCH", f"{UC}/memory-stores/{{full}}/entries",
             WRITE_SCOPE,
             {"scope": "{scope}", "path": "{entry}", "replace_all": {"contents": "Coffee"}},
             fresh=("entry",),
             snapshot=admin_view(f"{UC}/memory-stores/{{full}}/entries:get?scope={{scope}}"
                                 "&path={entry}")),
    Endpoint("databricks delete entry", "DELETE",
             f"{UC}/memory-stores/{{full}}/entries?scope={{scope}}&path={{entry}}", WRITE_SCOPE,
             fresh=("entry",),
             snapshot=admin_view(f"{UC}/memory-stores/{{full}}/entries:get?scope={{scope}}"
                                 "&path={entry}")),
    Endpoint("databricks search entries", "POST",
             f"{UC}/memory-stores/{{full}}/entries:search?scope={{scope}}", READ_SCOPE,
             {"query": "tea"}),
    # -- grants ----------------------------------------------------------------------------
    Endpoint("get store grants", "GET", f"{UC}/permissions/memory_store/{{full}}", MANAGE),
    Endpoint("change store grants", "PATCH", f"{UC}/permissions/memory_store/{{full}}", MANAGE,
             {"changes": [{"principal": "stranger", "add": ["READ_MEMORY_STORE"]}]},
             fresh=("store",), snapshot=admin_view(f"{UC}/permissions/memory_store/{{full}}")),
    Endpoint("get schema grants", "GET", f"{UC}/permissions/schema/{SCHEMA}", ADMIN),
    Endpoint("change schema grants", "PATCH", f"{UC}/permissions/schema/{SCHEMA}", ADMIN,
             {"changes": [{"principal": "stranger", "add": ["USE SCHEMA"]}]},
             snapshot=admin_view(f"{UC}/permissions/schema/{SCHEMA}")),
    # -- Agents API ------------------------------------------------------------------------
    Endpoint("create agent", "POST", f"{F}/agents", CREATE,
             {"name": "{new}", "definition": DEFINITION},
             snapshot=admin_view(f"{F}/agents/{{new}}")),
    Endpoint("list agents", "GET", f"{F}/agents", ANYONE),
    Endpoint("get agent", "GET", f"{F}/agents/{{agent}}", ANYONE),
    Endpoint("create agent version", "POST", f"{F}/agents/{{agent}}/versions", CREATE,
             {"definition": DEFINITION}, fresh=("agent",),
             snapshot=admin_view(f"{F}/agents/{{agent}}/versions", lambda b: len(b["data"]))),
    Endpoint("list agent versions", "GET", f"{F}/agents/{{agent}}/versions", ANYONE),
    Endpoint("get agent version", "GET", f"{F}/agents/{{agent}}/versions/1", ANYONE),
    Endpoint("delete agent version", "DELETE", f"{F}/agents/{{agent}}/versions/1", CREATE,
             fresh=("agent",), snapshot=admin_view(f"{F}/agents/{{agent}}/versions/1")),
    Endpoint("delete agent", "DELETE", f"{F}/agents/{{agent}}", CREATE, fresh=("agent",),
             snapshot=admin_view(f"{F}/agents/{{agent}}")),
    # -- OpenAI-compatible conversations and responses -------------------------------------
    Endpoint("openai create conversation", "POST", f"{OAI}/conversations", ANYONE, {}),
    Endpoint("openai create bound conversation", "POST", f"{OAI}/conversations",
             READ_WRITE_SCOPE, bound_to(f"{SCHEMA}.{SHARED}")),
    Endpoint("openai get conversation", "GET", f"{OAI}/conversations/{{conv}}", READ_SCOPE),
    Endpoint("openai get conversation (preview path)", "GET",
             f"{F}/openai/conversations/{{conv}}?api-version=2025-05-15-preview", READ_SCOPE),
    Endpoint("openai update conversation", "POST", f"{OAI}/conversations/{{conv}}", READ_SCOPE,
             {"metadata": {"by": "{caller}"}}, fresh=("conversation",),
             snapshot=admin_view(f"{OAI}/conversations/{{conv}}")),
    Endpoint("openai delete conversation", "DELETE", f"{OAI}/conversations/{{conv}}",
             READ_SCOPE, fresh=("conversation",),
             snapshot=admin_view(f"{OAI}/conversations/{{conv}}")),
    Endpoint("openai add items", "POST", f"{OAI}/conversations/{{conv}}/items", READ_SCOPE,
             {"items": MESSAGE}, fresh=("conversation",),
             snapshot=admin_view(f"{OAI}/conversations/{{conv}}/items", data_ids)),
    Endpoint("openai list items", "GET", f"{OAI}/conversations/{{conv}}/items", READ_SCOPE),
    Endpoint("openai get item", "GET", f"{OAI}/conversations/{{conv}}/items/{{item}}",
             READ_SCOPE),
    Endpoint("openai delete item", "DELETE", f"{OAI}/conversations/{{conv}}/items/{{item}}",
             READ_SCOPE, fresh=("conversation",),
             snapshot=admin_view(f"{OAI}/conversations/{{conv}}/items", data_ids)),
    Endpoint("openai response without memory", "POST", f"{OAI}/responses", ANYONE,
             {"model": "gpt-4.1", "input": "Hello"}),
    Endpoint("openai response of an agent with memory", "POST", f"{OAI}/responses",
             READ_WRITE_SCOPE,
             {"input": "I like green tea", "agent_reference": {"name": "bot",
                                                                "type": "agent_reference"}},
             headers={"x-memory-user-id": "{scope}"}, snapshot=llm_calls),
    Endpoint("openai response in a bound conversation", "POST", f"{OAI}/responses",
             READ_WRITE_SCOPE, {"model": "gpt-4.1", "input": "Hello", "conversation": "{conv}"},
             fresh=("conversation",), snapshot=llm_calls),
    Endpoint("openai get response", "GET", f"{OAI}/responses/{{resp}}", ANYONE),
    Endpoint("openai response input items", "GET", f"{OAI}/responses/{{resp}}/input_items",
             ANYONE),
    Endpoint("openai delete response", "DELETE", f"{OAI}/responses/{{resp}}", ANYONE,
             fresh=("response",), snapshot=admin_view(f"{OAI}/responses/{{resp}}")),
    # -- Databricks conversations ----------------------------------------------------------
    Endpoint("databricks create conversation", "POST", f"{UC}/conversations",
             READ_WRITE_SCOPE, bound_to(f"{SCHEMA}.{SHARED}")),
    Endpoint("databricks get conversation", "GET", f"{UC}/conversations/{{conv}}", READ_SCOPE),
    Endpoint("databricks update conversation", "POST", f"{UC}/conversations/{{conv}}",
             READ_SCOPE, {"metadata": {"by": "{caller}"}}, fresh=("conversation",),
             snapshot=admin_view(f"{UC}/conversations/{{conv}}")),
    Endpoint("databricks delete conversation", "DELETE", f"{UC}/conversations/{{conv}}",
             READ_SCOPE, fresh=("conversation",),
             snapshot=admin_view(f"{UC}/conversations/{{conv}}")),
    Endpoint("databricks add items", "POST", f"{UC}/conversations/{{conv}}/items", READ_SCOPE,
             {"items": MESSAGE}, fresh=("conversation",),
             snapshot=admin_view(f"{UC}/conversations/{{conv}}/items", data_ids)),
    Endpoint("databricks list items", "GET", f"{UC}/conversations/{{conv}}/items", READ_SCOPE),
    Endpoint("databricks get item", "GET", f"{UC}/conversations/{{conv}}/items/{{item}}",
             READ_SCOPE),
    Endpoint("databricks delete item", "DELETE", f"{UC}/conversations/{{conv}}/items/{{item}}",
             READ_SCOPE, fresh=("conversation",),
             snapshot=admin_view(f"{UC}/conversations/{{conv}}/items", data_ids)),
    # -- admin -----------------------------------------------------------------------------
    Endpoint("audit log", "GET", "/api/admin/audit", ADMIN),
    Endpoint("metrics", "GET", "/metrics", ADMIN),
]


def fill(value: Any, ctx: dict[str, str]) -> Any:
    """``value`` with every ``{placeholder}`` of its strings taken from ``ctx``."""
    if isinstance(value, str):
        return value.format_map(ctx) if "{" in value and "{{$" not in value else value
    if isinstance(value, dict):
        return {key: fill(item, ctx) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, ctx) for item in value]
    return value


class World:
    """The live server, the keys of every caller, and what the rows act on."""

    def __init__(self, server: LiveServer, keys: dict[str, str | None],
                 llm: ScriptedOpenAIServer) -> None:
        self.server = server
        self.keys = keys
        self.llm = llm
        self.http = httpx.Client(base_url=server.url, timeout=60)
        self.shared: dict[str, dict[str, str]] = {}

    def call(self, caller: str, method: str, path: str, body: Any = None,
             headers: dict[str, str] | None = None) -> httpx.Response:
        headers = dict(headers or {})
        key = self.keys[caller]
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        return self.http.request(method, path, json=body, headers=headers)

    def ok(self, caller: str, method: str, path: str, body: Any = None,
           headers: dict[str, str] | None = None) -> dict[str, Any]:
        response = self.call(caller, method, path, body, headers)
        assert response.status_code == 200, f"{caller} {method} {path}: {response.text}"
        return response.json()

    # -- what rows act on ------------------------------------------------------------------

    def new_store(self, name: str) -> None:
        """A store the owner creates; an admin grants READ, WRITE and the scoped key both, and
        adds a memory and an entry in each scope."""
        self.ok("owner", "POST", f"{F}/memory_stores", {"name": name})
        changes = [{"principal": "reader", "add": ["READ_MEMORY_STORE"]},
                   {"principal": "writer", "add": ["WRITE_MEMORY_STORE"]},
                   {"principal": "user-1-client",
                    "add": ["READ_MEMORY_STORE", "WRITE_MEMORY_STORE"]}]
        self.ok("admin", "PATCH", f"{UC}/permissions/memory_store/{SCHEMA}.{name}",
                {"changes": changes})
        for scope in (OWN, OTHER):
            self.new_memory(name, scope)

    def new_memory(self, store: str, scope: str) -> str:
        body = {"scope": scope, "content": f"Likes tea {uuid.uuid4().hex[:6]}"}
        return self.ok("admin", "POST", f"{F}/memory_stores/{store}/items", body)["memory_id"]

    def new_entry(self, scope: str) -> str:
        path = f"/memories/{uuid.uuid4().hex[:10]}.md"
        self.ok("admin", "POST", f"{UC}/memory-stores/{SCHEMA}.{SHARED}/entries?scope={scope}",
                {"path": path, "contents": "Green tea", "description": "Tea"})
        return path

    def new_agent(self) -> str:
        name = f"a{uuid.uuid4().hex[:10]}"
        self.ok("owner", "POST", f"{F}/agents", {"name": name, "definition": DEFINITION})
        self.ok("owner", "POST", f"{F}/agents/{name}/versions", {"definition": DEFINITION})
        return name

    def new_conversation(self, scope: str) -> tuple[str, str]:
        body = fill(bound_to(f"{SCHEMA}.{SHARED}"), {"scope": scope}) | {"items": MESSAGE}
        conversation = self.ok("admin", "POST", f"{OAI}/conversations", body)["id"]
        items = self.ok("admin", "GET", f"{OAI}/conversations/{conversation}/items")
        return conversation, items["data"][0]["id"]

    def new_response(self) -> str:
        return self.ok("admin", "POST", f"{OAI}/responses",
                       {"model": "gpt-4.1", "input": "Hello"})["id"]

    def set_up(self) -> None:
        self.ok("admin", "PATCH", f"{UC}/permissions/schema/{SCHEMA}",
                {"changes": [{"principal": "owner@example.com", "add": ["CREATE_MEMORY_STORE"]}]})
        self.new_store(SHARED)
        self.ok("owner", "POST", f"{F}/agents", {"name": "bot", "definition": DEFINITION})
        response = self.new_response()
        for scope in (OWN, OTHER):
            conversation, item = self.new_conversation(scope)
            update = self.call("admin", "POST", f"{F}/memory_stores/{SHARED}:update_memories",
                               {"scope": scope, "items": MESSAGE, "update_delay": 3600})
            assert update.status_code == 202, update.text
            self.shared[scope] = {
                "memory": self.new_memory(SHARED, scope), "entry": self.new_entry(scope),
                "update": update.json()["update_id"], "conv": conversation, "item": item,
                "resp": response,
            }

    def context(self, caller: str, endpoint: Endpoint) -> dict[str, str]:
        """The placeholders of one case, with new things made for it as ``endpoint.fresh``
        asks."""
        scope = OTHER if caller == "other scope" else OWN
        ctx = {"caller": caller.replace(" ", "-"), "scope": scope, "store": SHARED,
               "full": f"{SCHEMA}.{SHARED}", "agent": "bot", "new": f"n{uuid.uuid4().hex[:10]}",
               **self.shared[scope]}
        if "store" in endpoint.fresh:
            ctx["store"] = f"s{uuid.uuid4().hex[:10]}"
            ctx["full"] = f"{SCHEMA}.{ctx['store']}"
            self.new_store(ctx["store"])
        if "memory" in endpoint.fresh:
            ctx["memory"] = self.new_memory(SHARED, scope)
        if "entry" in endpoint.fresh:
            ctx["entry"] = self.new_entry(scope)
        if "agent" in endpoint.fresh:
            ctx["agent"] = self.new_agent()
        if "conversation" in endpoint.fresh:
            ctx["conv"], ctx["item"] = self.new_conversation(scope)
        if "response" in endpoint.fresh:
            ctx["resp"] = self.new_response()
        return ctx


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("matrix") / "data"
    data_dir.mkdir(parents=True)
    # The matrix's principals, made in the database before the server starts.
    made = create_principals(data_dir, {
        name: (caller == "admin", OWN if caller == "own scope" else None)
        for caller, name in PRINCIPALS.items()
    })
    keys: dict[str, str | None] = {"no key": None, "wrong key": new_key(),
                                   **{caller: made[name] for caller, name in PRINCIPALS.items()}}
    keys["other scope"] = keys["own scope"]
    with ScriptedOpenAIServer() as llm:
        llm.set_default("chat.completions", lambda request: chat_completion("Noted!"))
        env = {"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "test",
               "MEMVAULT_EXTRACTOR": "offline"}
        with LiveServer(data_dir, env=env) as server:
            world = World(server, keys, llm)
            world.set_up()
            yield world
            world.http.close()


SAMPLE = {"caller": "admin", "scope": OWN, "store": "s1", "full": f"{SCHEMA}.s1", "agent": "a1",
          "new": "n1", "memory": "mem_1", "entry": "/memories/e.md", "update": "upd_1",
          "conv": "conv_1", "item": "msg_1", "resp": "resp_1"}


def test_the_matrix_covers_every_route_of_every_face() -> None:
    """A route added later without a row here fails this test. (The preview OpenAI path serves
    the routes of the GA path, made by the same function; one row checks it is guarded too.)"""
    from starlette.routing import Match

    from memvault.api.app import create_app
    from memvault.api.openai.routes import GA_PREFIX, PREVIEW_PREFIX

    routes = [
        route for route in flattened_routes(create_app(Settings()).routes)
        if getattr(route, "methods", None) and route.path != "/healthz"
        and not route.path.startswith(("/docs", "/redoc", "/openapi"))
        and "{path:path}" not in route.path
        and not (route.path.startswith(PREVIEW_PREFIX) and not route.path.startswith(GA_PREFIX))
    ]  # fmt: skip
    covered = set()
    for endpoint in ENDPOINTS:
        path = fill(endpoint.path, SAMPLE).split("?")[0]
        scope = {"type": "http", "method": endpoint.method, "path": path}
        covered |= {(endpoint.method, route.path) for route in routes
                    if route.matches(scope)[0] is Match.FULL}
    missing = sorted(f"{method} {route.path}" for route in routes
                     for method in route.methods - {"HEAD"}
                     if (method, route.path) not in covered)
    assert not missing, f"endpoints without a row in the matrix: {missing}"



@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_authorization_matrix(world: World, endpoint: Endpoint, caller: str) -> None:
    expected = int(endpoint.expect.split()[CALLERS.index(caller)])
    ctx = world.context(caller, endpoint)
    before = endpoint.snapshot(world, ctx) if endpoint.snapshot else None
    response = world.call(caller, endpoint.method, fill(endpoint.path, ctx),
                          fill(endpoint.body, ctx), fill(endpoint.headers, ctx))
    assert response.status_code == expected, (
        f"{caller}: {endpoint.method} {fill(endpoint.path, ctx)} -> {response.status_code}"
        f" {response.text[:300]}")
    if expected >= 400:
        body = response.json()
        if endpoint.face == "databricks":
            assert body["error_code"] in ("UNAUTHENTICATED", "PERMISSION_DENIED"), body
        else:
            assert body["error"]["code"] in ("unauthorized", "permission_denied"), body
        if endpoint.snapshot is not None:
            assert endpoint.snapshot(world, ctx) == before, "a refused write changed something"
