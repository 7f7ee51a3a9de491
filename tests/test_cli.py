"""The ``memvault`` command, run as a user runs it: a real process, real arguments, real variables."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from memvault.settings import Settings, env_name
from tests.support.server import LiveServer, free_port

MEMVAULT = Path(sys.executable).with_name("memvault")


def command() -> list[str]:
    """The installed console script, else the module (an uninstalled checkout)."""
    return [str(MEMVAULT)] if MEMVAULT.exists() else [sys.executable, "-m", "memvault.cli"]


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("MEMVAULT_", "OPENAI_", "AZURE_OPENAI_"))}
    return env | {"MEMVAULT_DATA_DIR": str(tmp_path / "data"), "MEMVAULT_PORT": str(free_port()),
                  **extra}


def run(args: list[str], env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([*command(), *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("how", ["option", "variable", "bare command"])
def test_serving_beyond_loopback_without_api_keys_is_refused(tmp_path: Path, how: str) -> None:
    if how == "option":
        args, env = ["serve", "--host", "0.0.0.0"], clean_env(tmp_path)
    elif how == "variable":
        args, env = ["serve"], clean_env(tmp_path, MEMVAULT_HOST="0.0.0.0")
    else:
        args, env = [], clean_env(tmp_path, MEMVAULT_HOST="0.0.0.0")
    done = run(args, env, timeout=20)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    message = " ".join(done.stderr.split())
    assert "refusing to serve on 0.0.0.0 with no API keys" in message, done.stderr
    assert "MEMVAULT_API_KEYS" in message
    assert not (tmp_path / "data").exists(), "nothing is created when refusing"


@pytest.mark.slow
def test_serving_beyond_loopback_is_allowed_with_api_keys(tmp_path: Path) -> None:
    server = LiveServer(tmp_path / "data", env={"MEMVAULT_API_KEYS": "k"}, args=("--host", "0.0.0.0"))
    with server:
        assert "0.0.0.0" in server.log()
        foundry = f"{server.project_endpoint}/memory_stores"
        assert httpx.get(foundry, timeout=10).status_code == 401
        authorized = httpx.get(foundry, headers={"Authorization": "Bearer k"}, timeout=10)
        assert authorized.status_code == 200, authorized.text
        process = server.process
    # uvicorn shuts down cleanly, then re-raises the SIGTERM it caught.
    assert process is not None and process.returncode in (0, -signal.SIGTERM), server.log()[-3000:]


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"], ["-h"]])
def test_help_lists_every_memvault_variable(tmp_path: Path, args: list[str]) -> None:
    done = run(args, clean_env(tmp_path))
    assert done.returncode == 0, done.stderr
    help_text = done.stdout
    for name in Settings.model_fields:
        assert env_name(name) in help_text, f"{env_name(name)} is missing from {' '.join(args)}"
    assert "MEMVAULT_API_KEYS" in help_text and "MEMVAULT_DATA_DIR" in help_text
    if args[0] == "serve":
        for option in ("--host", "--port", "--data-dir", "--log-level"):
            assert option in help_text


def test_version(tmp_path: Path) -> None:
    from memvault import __version__

    done = run(["--version"], clean_env(tmp_path))
    assert done.returncode == 0
    assert __version__ in done.stdout
