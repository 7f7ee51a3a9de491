"""The machine's Redis on 127.0.0.1:6379, started when none is running (real Redis: the Agent
Framework history provider and the shared rate limits use it)."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import redis

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def local_redis() -> str:
    """The URL of the Redis on 127.0.0.1:6379, started (without persistence) when none runs."""
    probe = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=1)
    try:
        try:
            probe.ping()
        except redis.ConnectionError:
            if shutil.which("redis-server") is None:
                pytest.fail("no Redis on 127.0.0.1:6379 and no redis-server to start"
                            " (apt-get install redis-server)", pytrace=False)
            subprocess.run(["redis-server", "--daemonize", "yes", "--bind", REDIS_HOST,
                            "--port", str(REDIS_PORT), "--save", "", "--appendonly", "no"],
                           check=True, capture_output=True, timeout=30)
            deadline = time.monotonic() + 30
            while True:
                try:
                    probe.ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
    finally:
        probe.close()
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
