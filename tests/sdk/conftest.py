"""Fixtures for the official-SDK tests: one live ``memvault serve`` per session, clients for it,
and the virtual environment that holds the preview SDK (2.0.0b3).

Each test talks to its own project (``/api/projects/<name>``), so tests share one server without
seeing each other's stores.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.azure import project_client
from tests.support.server import LiveServer

REPO = Path(__file__).resolve().parents[2]
PREVIEW_SDK_VERSION = "2.0.0b3"
PREVIEW_VENV = REPO / ".venv-sdk-b3"
VENV_STEP_TIMEOUT = 300


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with LiveServer(tmp_path_factory.mktemp("sdk-server") / "data") as server:
        yield server


def project_name(request: pytest.FixtureRequest) -> str:
    """A project name unique to the calling test (``[A-Za-z0-9_.-]``, at most 128 chars)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-.")[:100]
    return f"t-{name}-{int(time.time() * 1000) % 10**8}"


@pytest.fixture
def project_endpoint(live_server: LiveServer, request: pytest.FixtureRequest) -> str:
    return f"{live_server.url}/api/projects/{project_name(request)}"


@pytest.fixture
def project(project_endpoint: str) -> Iterator[Any]:
    """``AIProjectClient`` for this test's project (contract §2, Option A)."""
    with project_client(project_endpoint) as client:
        yield client


@pytest.fixture
def make_client() -> Iterator[Callable[..., Any]]:
    """Builds extra clients (other endpoints or credentials) and closes them afterwards."""
    clients: list[Any] = []

    def make(endpoint: str, **kwargs: Any) -> Any:
        client = project_client(endpoint, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


# -- the preview SDK's virtual environment ---------------------------------------------------


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _installed_version(python: Path) -> str | None:
    if not python.exists():
        return None
    probe = subprocess.run(
        [str(python), "-c",
         "import importlib.metadata as m, azure.ai.projects;"
         " print(m.version('azure-ai-projects'))"],
        capture_output=True, text=True, timeout=60,
    )
    return probe.stdout.strip() if probe.returncode == 0 else None


class PreviewVenvError(RuntimeError):
    """The preview SDK's virtual environment could not be built; the message says why."""


def _run_step(args: list[str], what: str) -> None:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=VENV_STEP_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise PreviewVenvError(
            f"{what} took more than {VENV_STEP_TIMEOUT}s: {' '.join(args)}") from None
    if done.returncode != 0:
        lines = (done.stdout + done.stderr).splitlines()
        output = "\n".join(line for line in lines if "is ignored: it is neither" not in line)[-4000:]
        raise PreviewVenvError(
            f"{what} failed with exit code {done.returncode}: {' '.join(args)}\n{output}")


def ensure_preview_venv(venv: Path = PREVIEW_VENV, version: str = PREVIEW_SDK_VERSION) -> Path:
    """The python of ``venv``, holding ``azure-ai-projects==version``; created on first use and
    reused while it holds that version. Raises ``PreviewVenvError`` if it cannot."""
    python = _venv_python(venv)
    lock_name = hashlib.sha256(str(venv).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"memvault-venv-{lock_name}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two pytest processes must not build it at once
        if _installed_version(python) == version:
            return python
        _run_step([sys.executable, "-m", "venv", "--clear", str(venv)],
                  f"creating the virtual environment {venv}")
        _run_step([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q",
                   f"azure-ai-projects=={version}"],
                  f"installing azure-ai-projects=={version} into {venv}")
        installed = _installed_version(python)
        if installed != version:
            raise PreviewVenvError(
                f"{venv} holds azure-ai-projects {installed!r} after installing {version}")
    return python


@pytest.fixture(scope="session")
def preview_venv() -> Path | PreviewVenvError:
    """Built once per session; a failure is kept, not raised, so that each test using it
    fails (never skips, never errors in setup) with the reason."""
    try:
        return ensure_preview_venv()
    except PreviewVenvError as error:
        return error


def require_preview_python(preview_venv: Path | PreviewVenvError) -> Path:
    """Call in the test body, so a failed build FAILS the test (a fixture would ERROR it)."""
    if isinstance(preview_venv, PreviewVenvError):
        pytest.fail(f"cannot build the preview SDK environment: {preview_venv}", pytrace=False)
    return preview_venv
