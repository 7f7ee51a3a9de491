"""Virtual environments holding one pinned distribution that cannot live in memvault's own (an SDK
version whose pins conflict with the test extra): built on first use under the repository,
reused while they hold that version.

They are built without pip of their own (``venv --without-pip``: ensurepip alone takes ~7 s) and
filled by this interpreter's pip (``pip --python``), which reads the same configuration.
"""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

STEP_TIMEOUT = 600


class VenvError(RuntimeError):
    """The environment could not be built; the message says why."""


def ensure_venv(venv: Path, distribution: str, version: str, *, module: str) -> Path:
    """The python of ``venv``, holding ``distribution==version`` (importable as ``module``).
    Raises ``VenvError`` if it cannot be built."""
    python = venv / "bin" / "python"
    lock_name = hashlib.sha256(str(venv).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"memvault-venv-{lock_name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two pytest processes must not build it at once
        if installed_version(python, distribution, module) == version:
            return python
        _run_step([sys.executable, "-m", "venv", "--clear", "--without-pip", str(venv)],
                  f"creating {venv}")
        _run_step([sys.executable, "-m", "pip", "--python", str(python), "install",
                   "--disable-pip-version-check", "-q", f"{distribution}=={version}"],
                  f"installing {distribution}=={version} into {venv}")
        installed = installed_version(python, distribution, module)
        if installed != version:
            raise VenvError(f"{venv} holds {distribution} {installed!r}, not {version}")
    return python


def installed_version(python: Path, distribution: str, module: str) -> str | None:
    """The version of ``distribution`` that ``python`` imports ``module`` from, if any."""
    if not python.exists():
        return None
    probe = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m, {module};"
                            f" print(m.version({distribution!r}))"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return probe.stdout.strip() if probe.returncode == 0 else None


def _run_step(args: list[str], what: str) -> None:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=STEP_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise VenvError(f"{what} took more than {STEP_TIMEOUT}s: {' '.join(args)}") from None
    if done.returncode != 0:
        lines = (done.stdout + done.stderr).splitlines()
        output = "\n".join(line for line in lines if "is ignored: it is neither" not in line)
        raise VenvError(
            f"{what} failed with exit code {done.returncode}: {' '.join(args)}\n{output[-4000:]}"
        )
