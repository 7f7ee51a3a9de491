"""The sustained-load setup of :mod:`bench.load` at rates of your choosing, to look into one
configuration without the whole step-up/step-down run::

    BENCH_LOAD_DATA=/some/dir python -m bench.load_probe 200:20 300:60
    BENCH_LOAD_DATA=/some/dir python -m bench.load_probe --env MEMVAULT_SERVER_PROCESSES=2 300:60

Starts ``memvault serve`` on ``BENCH_LOAD_DATA`` with the given environment, seeds it when it
holds no seeded database (100 scopes x 10,000 memories, a few minutes), searches every scope
(six rounds with several processes, so that each process loads them), warms up with 900
searches at 150/s, then drives each ``RATE:SECONDS`` step on the same server and prints its
latency, errors and the server's CPU per search: in all, per process, and per thread (thread ids;
the thread whose id is its process's id runs that process's event loop).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from bench import load
from memvault.testing import LiveServer

WARMUP_SEARCHES = 900
WARMUP_RATE = 150


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load_probe")
    parser.add_argument("steps", nargs="+", metavar="RATE:SECONDS")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="the server's environment (MEMVAULT_* settings)")
    args = parser.parse_args()
    steps = [(float(rate), float(seconds))
             for rate, seconds in (step.split(":") for step in args.steps)]
    env = dict(item.split("=", 1) for item in args.env)
    data_dir = Path(os.environ.get("BENCH_LOAD_DATA", "load-data"))
    total = WARMUP_SEARCHES + sum(int(rate * seconds) for rate, seconds in steps)
    queries = load.load_queries(total, seed=int(time.time()) % 1000)
    scopes = load.FULL.scopes
    with LiveServer(data_dir, env=env) as server:
        assert server.process is not None
        pid = server.process.pid
        load.seed_once(server, data_dir, load.FULL)
        several = int(env.get("MEMVAULT_SERVER_PROCESSES", "1")) > 1
        load.touch_scopes(server, scopes, rounds=6 if several else 1)
        load.drive(server, load.search_requests(queries[:WARMUP_SEARCHES], scopes, seed=0),
                   WARMUP_RATE, expect=b'"memories"')
        cursor = WARMUP_SEARCHES
        for rate, seconds in steps:
            count = int(rate * seconds)
            requests = load.search_requests(queries[cursor:cursor + count], scopes, seed=cursor)
            cursor += count
            before = load.thread_cpu(pid)
            result = load.drive(server, requests, rate, expect=b'"memories"')
            after = load.thread_cpu(pid)
            done = max(1, result["completed"])
            spent = {key: (value - before.get(key, 0.0)) / done * 1000
                     for key, value in after.items()}
            processes: dict[int, float] = {}
            for (process, _), ms in spent.items():
                processes[process] = processes.get(process, 0.0) + ms
            print(f"{rate:.0f}/s for {seconds:.0f} s: achieved {result['achieved']:.0f}/s,"
                  f" p50 {result['p50']:.1f} p95 {result['p95']:.1f} p99 {result['p99']:.1f}"
                  f" max {result['max']:.0f} ms, errors {result['errors'] or 0},"
                  f" machine {result['machine_busy'] * 100:.0f}% busy"
                  f" ({result['steal'] * 100:.0f}% stolen by the hypervisor)", flush=True)
            print(f"  server CPU per search: {result['server_cpu_s'] / done * 1000:.2f} ms; by"
                  f" process: " + ", ".join(f"{p}: {ms:.2f}" for p, ms in processes.items()))
            busy = sorted(((ms, key) for key, ms in spent.items() if ms >= 0.05), reverse=True)
            print("  by thread (process/thread: ms): " + ", ".join(
                f"{p}/{t}{' (loop)' if p == t else ''}: {ms:.2f}" for ms, (p, t) in busy))


if __name__ == "__main__":
    main()
