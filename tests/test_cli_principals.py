"""``memvault principals``, run as a user runs it (a real process on a real database), and the
keys it makes used against a live server."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from memvault.api.auth import key_hash
from tests.support.postgres import EmbeddedPostgres, postgres_server  # noqa: F401 (fixture)
from tests.support.server import LiveServer
from tests.test_cli import clean_env, run

KEY = re.compile(r"^mv_[A-Za-z0-9_-]{43}$")


def principals(tmp_path: Path, *args: str, **env: str):
    return run(["principals", *args], clean_env(tmp_path, **env))


def created_key(tmp_path: Path, *args: str) -> str:
    done = principals(tmp_path, "create", *args)
    assert done.returncode == 0, done.stderr
    key = done.stdout.rstrip("\n").splitlines()[-1]
    assert KEY.match(key), done.stdout
    return key


def test_create_prints_the_key_last_and_stores_only_its_hash(tmp_path: Path) -> None:
    admin = created_key(tmp_path, "ops@example.com", "--admin")
    user = created_key(tmp_path, "user-123-client", "--scope", "user-123")
    assert admin != user
    database = tmp_path / "data" / "memvault.db"
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT name, key_hash, admin, scope FROM principals ORDER BY name")
        assert rows.fetchall() == [
            ("ops@example.com", key_hash(admin), 1, None),
            ("user-123-client", key_hash(user), 0, "user-123"),
        ]
        actions = conn.execute("SELECT action, target FROM audit_log ORDER BY seq").fetchall()
    assert [action for action, _ in actions] == ["key.create", "key.create"]
    assert admin not in database.read_bytes().decode("latin-1")


def test_list_shows_principals_and_never_their_keys(tmp_path: Path) -> None:
    key = created_key(tmp_path, "alice", "--scope", "user-1")
    created_key(tmp_path, "bob", "--admin")
    done = principals(tmp_path, "list")
    assert done.returncode == 0, done.stderr
    lines = [line.split("\t") for line in done.stdout.splitlines()]
    assert lines[0] == ["NAME", "ROLE", "SCOPE", "CREATED", "REVOKED"]
    assert [line[:3] + line[4:] for line in lines[1:]] == [
        ["alice", "-", "user-1", "-"], ["bob", "admin", "-", "-"]]
    assert key not in done.stdout and key_hash(key) not in done.stdout


def test_the_commands_work_on_postgresql_too(tmp_path: Path,
                                             postgres_server: EmbeddedPostgres) -> None:
    with postgres_server.database() as url:
        key = created_key(tmp_path, "alice", "--database-url", url)
        assert principals(tmp_path, "revoke", "alice", "--database-url", url).returncode == 0
        listed = principals(tmp_path, "list", "--database-url", url)
        assert listed.stdout.splitlines()[1].startswith("alice\t-\t-\t")
        assert key not in listed.stdout
        assert not (tmp_path / "data").exists(), "nothing was written to the SQLite default"


def test_revoke_marks_the_principal_and_keeps_its_name_taken(tmp_path: Path) -> None:
    created_key(tmp_path, "alice")
    done = principals(tmp_path, "revoke", "alice")
    assert done.returncode == 0 and "revoked principal alice" in done.stdout, done.stderr
    again = principals(tmp_path, "revoke", "alice")
    assert again.returncode == 0 and "already revoked" in again.stdout
    listed = principals(tmp_path, "list").stdout.splitlines()[1].split("\t")
    assert listed[0] == "alice" and re.match(r"\d{4}-\d\d-\d\dT", listed[4])
    taken = principals(tmp_path, "create", "alice")
    assert taken.returncode != 0 and "already exists" in taken.stderr
    missing = principals(tmp_path, "revoke", "nobody")
    assert missing.returncode != 0 and "no principal named 'nobody'" in missing.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["has space"], "must be 1-128 letters"),
        (["key:abc"], "must be 1-128 letters"),
        (["anonymous"], "reserved"),
        (["alice", "--scope", ""], "'scope' must be a non-empty string"),
        (["alice", "--admin", "--scope", "user-1"], "not both"),
    ],
)
def test_bad_input_is_refused_and_creates_nothing(tmp_path: Path, args: list[str],
                                                  message: str) -> None:
    done = principals(tmp_path, "create", *args)
    assert done.returncode != 0
    assert message in " ".join(done.stderr.split()), done.stderr
    assert "Traceback" not in done.stderr
    assert "mv_" not in done.stdout
    listed = principals(tmp_path, "list")
    assert listed.stdout.splitlines() == ["NAME\tROLE\tSCOPE\tCREATED\tREVOKED"]


def test_auth_none_is_refused_beyond_loopback(tmp_path: Path) -> None:
    done = run(["serve", "--host", "0.0.0.0"], clean_env(tmp_path, MEMVAULT_AUTH="none",
                                                         MEMVAULT_API_KEYS="k"))
    assert done.returncode != 0
    message = " ".join(done.stderr.split())
    assert "refusing to serve on 0.0.0.0 with MEMVAULT_AUTH=none" in message, done.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.slow
def test_a_new_key_works_at_once_and_a_revoked_one_stops_within_seconds(tmp_path: Path) -> None:
    """Keys made and revoked by the command while a server runs on the database beyond
    loopback (``MEMVAULT_AUTH=keys``: the keys are in the database)."""
    server = LiveServer(tmp_path / "data", env={"MEMVAULT_AUTH": "keys"},
                        args=("--host", "0.0.0.0"))
    with server, httpx.Client(base_url=server.url, timeout=30) as client:
        stores = "/api/projects/default/memory_stores"
        assert client.get(stores).status_code == 401
        key = created_key(tmp_path, "ops", "--admin")
        headers = {"Authorization": f"Bearer {key}"}
        assert client.get(stores, headers=headers).status_code == 200
        assert principals(tmp_path, "revoke", "ops").returncode == 0
        revoked_at = time.monotonic()
        time.sleep(1.1)  # MEMVAULT_AUTH_CACHE_SECONDS (1 s) after the revocation
        assert client.get(stores, headers=headers).status_code == 401, (
            f"still accepted {time.monotonic() - revoked_at:.1f}s after revocation")
