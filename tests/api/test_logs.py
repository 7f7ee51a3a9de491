"""JSON logs with request ids, read from a live server's standard error."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pytest

from tests.support.server import LiveServer, free_port


def records(server: LiveServer) -> list[dict]:
    """Every line the server logged, each parsed as JSON (a line that is not fails the test)."""
    return [json.loads(line) for line in server.log().splitlines() if line.strip()]


def wait_for(server: LiveServer, found: Callable[[dict], bool]) -> list[dict]:
    deadline = time.monotonic() + 30
    while True:
        matching = [record for record in records(server) if found(record)]
        if matching:
            return matching
        assert time.monotonic() < deadline, server.log()[-3000:]
        time.sleep(0.05)


@pytest.mark.slow
def test_json_logs_carry_the_request_id_of_what_they_were_written_for(tmp_path) -> None:
    closed = f"http://127.0.0.1:{free_port()}/v1"
    env = {"MEMVAULT_LOG_FORMAT": "json", "OPENAI_BASE_URL": closed, "OPENAI_API_KEY": "sk-x",
           "MEMVAULT_EXTRACTOR": "offline"}
    with LiveServer(tmp_path / "data", env=env) as server, httpx.Client(
        base_url=server.project_endpoint, timeout=60
    ) as client:
        # The embedding model is unreachable: the server logs a warning while answering.
        created = client.post("/memory_stores", headers={"x-request-id": "create-1"}, json={
            "name": "s", "definition": {"embedding_model": "text-embedding-3-small"}})
        assert created.status_code == 200, created.text
        assert created.headers["x-request-id"] == "create-1"
        azure = client.get("/memory_stores/s", headers={"x-ms-client-request-id": "sdk-7"})
        assert azure.headers["x-request-id"] == "sdk-7"
        forged = client.get("/memory_stores", headers={"x-request-id": "a b\"}{"})
        generated = forged.headers["x-request-id"]
        assert generated != 'a b"}{' and len(generated) == 32
        missing = client.get("/memory_stores/nope", headers={"x-request-id": "missing-3"})
        assert missing.status_code == 404
        assert missing.headers.get_list("x-request-id") == ["missing-3"]
        assert missing.json()["error"]["additionalInfo"]["request_id"] == "missing-3"

        [access] = wait_for(server, lambda r: r.get("logger") == "memvault.access"
                            and r.get("request_id") == "create-1")
        assert access["method"] == "POST" and access["status"] == 200
        assert access["route"] == "/api/projects/{project}/memory_stores"
        assert access["path"] == "/api/projects/default/memory_stores"
        assert access["duration_ms"] > 0 and access["level"] == "INFO"
        assert access["time"].endswith("Z")
        warnings = [r for r in records(server) if r["level"] == "WARNING"
                    and "text-embedding-3-small" in r["message"]]
        assert warnings and all(r.get("request_id") == "create-1" for r in warnings), warnings

        for request_id, status in (("sdk-7", 200), (generated, 200), ("missing-3", 404)):
            [line] = wait_for(server, lambda r, rid=request_id: r.get("logger") ==
                              "memvault.access" and r.get("request_id") == rid)
            assert line["status"] == status
        startup = [r for r in records(server) if r.get("logger", "").startswith("uvicorn")]
        assert startup and all("request_id" not in r for r in startup)
