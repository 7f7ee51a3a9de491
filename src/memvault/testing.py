"""A real memvault server in a subprocess on a free 127.0.0.1 port: for integration tests (yours
and ours), the benchmarks and the demo. It runs ``memvault serve`` exactly as a user would.

Example::

    from memvault.testing import LiveServer

    with LiveServer(tmp_path / "data") as server:
        httpx.post(f"{server.project_endpoint}/memory_stores", json={"name": "s"})
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """``with LiveServer(data_dir) as server: ...``; ``server.url``, ``restart()``, ``kill()``."""

    def __init__(self, data_dir: Path, *, env: dict[str, str] | None = None,
                 port: int | None = None, args: tuple[str, ...] = (),
                 inherit_model_settings: bool = False,
                 log_path: Path | None = None) -> None:
        """``env`` is added to the environment; the caller's ``MEMVAULT_*`` variables are not
        passed on, nor its OpenAI/Azure OpenAI ones unless ``inherit_model_settings``."""
        self.data_dir = Path(data_dir)
        self.inherit_model_settings = inherit_model_settings
        self.port = port or free_port()
        self.extra_env = env or {}
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = log_path or self.data_dir.parent / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def project_endpoint(self) -> str:
        return f"{self.url}/api/projects/default"

    def start(self, timeout: float = 60.0) -> LiveServer:
        model_settings = ("OPENAI_", "AZURE_OPENAI_", "MEMVAULT_EXTRACTOR")
        env = {
            key: value for key, value in os.environ.items()
            if (self.inherit_model_settings and key.startswith(model_settings))
            or not key.startswith(("MEMVAULT_", *model_settings))
        }
        env |= {"MEMVAULT_DATA_DIR": str(self.data_dir), "MEMVAULT_PORT": str(self.port),
                "MEMVAULT_HOST": "127.0.0.1", **self.extra_env}
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.process = subprocess.Popen(
            [sys.executable, "-m", "memvault.cli", "serve", *self.args],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"memvault exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"memvault did not become healthy in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers run, as in a crash."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> LiveServer:
        self.stop()
        return self.start()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
