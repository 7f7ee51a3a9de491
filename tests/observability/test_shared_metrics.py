"""Metrics shared by the processes of one server (``PROMETHEUS_MULTIPROC_DIR``): each process is a
real interpreter writing to the shared directory, as ``memvault serve --processes N`` runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

RECORD = """
from memvault.observability.metrics import HTTP_REQUESTS, SEARCHES_IN_FLIGHT
HTTP_REQUESTS.labels("POST", "/r", "200").inc({count})
SEARCHES_IN_FLIGHT.inc({in_flight})
"""

SCRAPE = RECORD + """
import json
from memvault.observability.metrics import scrape_source
print(json.dumps({s.name: s.value for m in scrape_source().collect() for s in m.samples
                  if s.name in ("memvault_http_requests_total", "memvault_searches_in_flight")}))
"""


def run(code: str, directory: Path, *, count: int, in_flight: int) -> str:
    code = code.replace("{count}", str(count)).replace("{in_flight}", str(in_flight))
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_gone_process_keeps_its_counts_but_leaves_the_gauges(tmp_path: Path) -> None:
    run(RECORD, tmp_path, count=5, in_flight=3)  # exits: its searches were cut short
    seen = json.loads(run(SCRAPE, tmp_path, count=2, in_flight=1))
    assert seen == {"memvault_http_requests_total": 7.0, "memvault_searches_in_flight": 1.0}
