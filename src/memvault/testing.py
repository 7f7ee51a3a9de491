"""A real memvault server (``memvault serve``) or worker (``memvault worker``) in a process of its
own: for integration tests (yours and ours), the benchmarks and the demo. Each runs the CLI command
exactly as a user would, with the environment you give it.

``preload=True`` forks the process from a forkserver that has already imported memvault (as
``gunicorn --preload`` does): the command, its settings and its startup are the same, it only
skips about a second of imports. Tests that start many processes (kill -9 cycles) use it.

Example::

    from memvault.testing import LiveServer, LiveWorker

    with LiveServer(tmp_path / "data") as server:
        httpx.post(f"{server.project_endpoint}/memory_stores", json={"name": "s"})

    standby = LiveServer(tmp_path / "data").launch()   # starting in the background
    ...
    standby.wait_ready()
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Protocol, Self

__all__ = ["LiveServer", "LiveWorker", "cpu_seconds", "free_port"]

# Imported once by the forkserver, before any child is forked. onnxruntime is left out: it starts
# threads on import, and threads do not survive a fork (OpenBLAS, under numpy, restarts its own).
PRELOAD = ["memvault.cli", "memvault.api.app", "memvault.jobs.runner",
           "memvault.observability.logs", "memvault.storage.sqlite", "memvault.storage.postgres",
           "memvault.storage.sqlite_governance", "memvault.storage.sqlite_agents",
           "memvault.providers.local_minilm", "onnx", "uvicorn"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """CPU seconds (user and system) process ``pid``, or one of its threads, has used so far,
    from ``/proc`` (Linux). Raises ``OSError`` when it has ended."""
    stat = f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat"
    fields = Path(stat).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Process(Protocol):
    pid: int

    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...
    def send_signal(self, sig: int) -> None: ...
    def kill(self) -> None: ...


class _Forked:
    """A child of the forkserver with the methods of ``subprocess.Popen`` that we use."""

    def __init__(self, process: multiprocessing.process.BaseProcess) -> None:
        self._process = process
        self.pid = process.pid or 0
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and self._process.exitcode is not None:
            self.returncode = self._process.exitcode
            self._process.close()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self._process.join(timeout)
            if self.poll() is None:
                raise subprocess.TimeoutExpired("memvault", timeout or 0)
        return self.returncode  # type: ignore[return-value]

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        if self.poll() is None:
            self._process.kill()


def _run_cli(args: list[str], env: dict[str, str], log_path: str) -> None:
    """In the forked child: become ``memvault <args>`` with ``env``, logging to ``log_path``."""
    os.environ.clear()
    os.environ.update(env)
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    from memvault.cli import cli

    cli.main(args=args, prog_name="memvault")


def _forkserver() -> multiprocessing.context.ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)  # used when the forkserver starts (once)
    return context


class _LiveProcess:
    command: tuple[str, ...] = ()

    def __init__(self, data_dir: Path, *, env: dict[str, str] | None = None,
                 args: tuple[str, ...] = (), inherit_model_settings: bool = False,
                 log_path: Path | None = None, preload: bool = False) -> None:
        """``env`` is added to the environment; the caller's ``MEMVAULT_*`` variables are not
        passed on, nor its OpenAI/Azure OpenAI ones unless ``inherit_model_settings``."""
        self.data_dir = Path(data_dir)
        self.inherit_model_settings = inherit_model_settings
        self.extra_env = env or {}
        self.args = args
        self.preload = preload
        self.process: _Process | None = None
        self.log_path = log_path or self.data_dir.parent / f"{self._log_name()}.log"
        self._log_offset = 0

    def _log_name(self) -> str:
        return "process"

    def _env(self) -> dict[str, str]:
        model_settings = ("OPENAI_", "AZURE_OPENAI_", "MEMVAULT_EXTRACTOR")
        env = {
            key: value for key, value in os.environ.items()
            if (self.inherit_model_settings and key.startswith(model_settings))
            or not key.startswith(("MEMVAULT_", *model_settings))
        }
        return env | {"MEMVAULT_DATA_DIR": str(self.data_dir), **self.extra_env}

    def launch(self) -> Self:
        """Start the process and return at once (``wait_ready`` waits for it)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        args = [*self.command, *self.args]
        if self.preload:
            child = _forkserver().Process(
                target=_run_cli, args=(args, self._env(), str(self.log_path)), daemon=True)
            child.start()
            self.process = _Forked(child)
        else:
            log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
            self.process = subprocess.Popen(
                [sys.executable, "-m", "memvault.cli", *args],
                env=self._env(), stdout=log, stderr=subprocess.STDOUT,
            )
            log.close()
        return self

    def ready(self) -> bool:
        raise NotImplementedError

    def wait_ready(self, timeout: float = 60.0) -> Self:
        """Wait until the process serves; raise (with its log) if it exits or takes too long."""
        assert self.process is not None, "launch() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"memvault exited with {self.process.poll()}:\n{self.log()}")
            if self.ready():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"memvault did not become ready in {timeout}s:\n{self.log()}")

    def start(self, timeout: float = 60.0) -> Self:
        return self.launch().wait_ready(timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _new_log(self) -> str:
        """What the process logged since it was launched."""
        if not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as log:
            log.seek(self._log_offset)
            return log.read().decode(errors="replace")

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

    def restart(self) -> Self:
        self.stop()
        return self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LiveServer(_LiveProcess):
    """``with LiveServer(data_dir) as server: ...``; ``server.url``, ``restart()``, ``kill()``."""

    command = ("serve",)

    def __init__(self, data_dir: Path, *, env: dict[str, str] | None = None,
                 port: int | None = None, args: tuple[str, ...] = (),
                 inherit_model_settings: bool = False,
                 log_path: Path | None = None, preload: bool = False) -> None:
        """``env`` is added to the environment; the caller's ``MEMVAULT_*`` variables are not
        passed on, nor its OpenAI/Azure OpenAI ones unless ``inherit_model_settings``."""
        self.port = port or free_port()
        super().__init__(data_dir, env=env, args=args,
                         inherit_model_settings=inherit_model_settings, log_path=log_path,
                         preload=preload)

    def _log_name(self) -> str:
        return f"server-{self.port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def project_endpoint(self) -> str:
        return f"{self.url}/api/projects/default"

    def _env(self) -> dict[str, str]:
        return super()._env() | {"MEMVAULT_PORT": str(self.port), "MEMVAULT_HOST": "127.0.0.1",
                                 **self.extra_env}

    def ready(self) -> bool:
        # http.client, not httpx.get: that builds an SSL context per call (~20 ms of CPU), which
        # adds up while several servers start on a small machine.
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
        try:
            connection.request("GET", "/healthz")
            return connection.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()


class LiveWorker(_LiveProcess):
    """``memvault worker``: ready once it logged that it started (its model is loaded and it
    claims updates). Run the servers with ``MEMVAULT_WORKER=false`` to leave every update to it."""

    command = ("worker",)

    def __init__(self, data_dir: Path, *, env: dict[str, str] | None = None,
                 args: tuple[str, ...] = (), inherit_model_settings: bool = False,
                 log_path: Path | None = None, preload: bool = False,
                 name: str = "worker") -> None:
        self.name = name
        super().__init__(data_dir, env=env, args=args,
                         inherit_model_settings=inherit_model_settings, log_path=log_path,
                         preload=preload)

    def _log_name(self) -> str:
        return self.name

    def ready(self) -> bool:
        return any(" started" in line and "worker" in line
                   for line in self._new_log().splitlines())
