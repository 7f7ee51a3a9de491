"""`memvault doctor`, run as a user runs it, on a good setup and on broken ones."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.openai_server import ScriptedOpenAIServer, chat_completion
from tests.support.postgres import EmbeddedPostgres, postgres_server  # noqa: F401 (fixture)
from tests.support.redis import local_redis
from tests.support.server import free_port
from tests.test_cli import clean_env, run


def doctor(env: dict[str, str]) -> tuple[int, str, dict[str, str]]:
    """Exit code, the whole output, and each check's status by name."""
    done = run(["doctor"], env, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    statuses = {}
    for line in done.stdout.splitlines():
        match = re.match(r"^│ (OK|WARN|FAIL) +│ ([^│]+?) +│", line)
        if match:
            statuses[match.group(2)] = match.group(1)
    return done.returncode, done.stdout, statuses


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    return clean_env(tmp_path, COLUMNS="250", **extra)


def test_a_good_setup_passes(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    assert run(["migrate"], env).returncode == 0
    code, output, statuses = doctor(env)
    assert code == 0, output
    assert statuses == {
        "data directory": "OK", "disk space": "OK", "database": "OK", "embedding model": "OK",
        "LLM": "OK",
    }, output
    assert "migrated to" in output and "384 dimensions, unit length" in output
    assert "0 FAIL" in output
    assert "MEMVAULT_DATA_DIR" in output and str(tmp_path / "data") in output


def test_a_database_not_yet_created_is_a_warning_and_nothing_is_created(tmp_path: Path) -> None:
    code, output, statuses = doctor(env_for(tmp_path))
    assert code == 0, output
    assert statuses["database"] == "WARN"
    assert "memvault migrate" in output
    assert not (tmp_path / "data").exists()


def test_an_unreachable_llm_and_an_unwritable_data_dir_fail_with_advice(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    closed = f"http://127.0.0.1:{free_port()}/v1"
    env = env_for(tmp_path, MEMVAULT_DATA_DIR=str(blocker / "data"), OPENAI_BASE_URL=closed,
                  OPENAI_API_KEY="sk-very-secret-value")
    code, output, statuses = doctor(env)
    assert code == 1, output
    assert statuses["data directory"] == "FAIL"
    assert statuses["LLM"] == "FAIL"
    flat = " ".join(output.replace("│", " ").split())
    assert f"{blocker} is not a directory" in flat
    assert "point MEMVAULT_DATA_DIR elsewhere" in flat
    assert closed in flat and "cannot connect" in flat
    assert "fix OPENAI_BASE_URL" in flat
    assert "sk-very-secret-value" not in output
    assert "(set, redacted)" in output


def test_invalid_settings_fail_naming_the_variable(tmp_path: Path) -> None:
    code, output, statuses = doctor(env_for(tmp_path, MEMVAULT_EXTRACTOR="magic"))
    assert code == 1
    assert statuses == {"settings": "FAIL"}
    assert "MEMVAULT_EXTRACTOR" in output


def test_a_reachable_llm_and_the_stores_chat_models_are_probed(tmp_path: Path) -> None:
    with ScriptedOpenAIServer() as llm:
        env = env_for(tmp_path, OPENAI_BASE_URL=llm.base_url, OPENAI_API_KEY="sk-test",
                      MEMVAULT_EXTRACTOR="offline")
        # A store that names a chat model, made with the importer (no server needed).
        dump = tmp_path / "store.jsonl"
        dump.write_text(
            '{"format": "memvault-export", "version": 1, "store": {"project": "default",'
            ' "name": "s", "chat_model": "gpt-4.1", "requested_embedding_model": "local"}}\n'
        )
        assert run(["import", str(dump)], env, timeout=120).returncode == 0
        llm.enqueue("chat.completions", body=chat_completion("OK", model="gpt-4.1"))
        code, output, statuses = doctor(env)
        assert code == 0, output
        assert statuses["LLM"] == "OK" and statuses["chat model: gpt-4.1"] == "OK", output
        chat = llm.requests_to("chat.completions")
        assert chat and chat[-1].json["model"] == "gpt-4.1"

        llm.enqueue("chat.completions", status=404, body={"error": {"message": "no such model"}})
        code, output, statuses = doctor(env)
        # With offline extraction the chat model serves agents only: a warning.
        assert code == 0 and statuses["chat model: gpt-4.1"] == "WARN", output
        assert "was not found" in output


def test_postgresql_is_checked_without_a_data_directory(
    tmp_path: Path, postgres_server: EmbeddedPostgres
) -> None:
    with postgres_server.database() as url:
        code, output, statuses = doctor(env_for(tmp_path, MEMVAULT_DATABASE_URL=url))
        assert code == 0, output
        assert statuses["data directory"] == "OK" and "not used" in output
        assert statuses["database"] == "OK" and "PostgreSQL" in output and "pgvector" in output
    with postgres_server.database(migrated=False) as url:
        code, output, statuses = doctor(env_for(tmp_path, MEMVAULT_DATABASE_URL=url))
        assert code == 0 and statuses["database"] == "WARN", output
        assert "pending" in output and "memvault migrate" in output
    unreachable = f"postgresql://memvault:secret@127.0.0.1:{free_port()}/memvault"
    code, output, statuses = doctor(env_for(tmp_path, MEMVAULT_DATABASE_URL=unreachable))
    assert code == 1 and statuses["database"] == "FAIL", output
    assert "secret" not in output and "check MEMVAULT_DATABASE_URL" in " ".join(
        output.replace("│", " ").split())


def test_the_redis_of_shared_rate_limits_is_pinged(tmp_path: Path) -> None:
    limited = {"MEMVAULT_RATE_LIMIT_PER_SCOPE": "10/second"}
    url = local_redis().replace("redis://", "redis://:hunter2@")  # a password, to be hidden
    code, output, statuses = doctor(env_for(tmp_path, MEMVAULT_RATE_LIMIT_REDIS_URL=url.replace(
        ":hunter2@", ""), **limited))
    assert code == 0 and statuses["rate-limit Redis"] == "OK", output
    closed = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    code, output, statuses = doctor(env_for(tmp_path, MEMVAULT_RATE_LIMIT_REDIS_URL=closed,
                                            **limited))
    assert code == 0 and statuses["rate-limit Redis"] == "WARN", output
    assert "counts rate limits on its own" in output and "hunter2" not in output
