"""Run the benchmarks and write docs/benchmarks.md.

    python -m bench                 # everything (several minutes on 2 cores)
    python -m bench --quick         # smaller sizes, for a quick look
    python -m bench --only http_api --only storage

Each section reports ratios against a baseline measured in the same run, so numbers from
different machines can be compared by their ratios.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import time
from pathlib import Path

SECTIONS = ["embeddings", "storage", "http_api", "postgres", "updates", "extraction", "peers",
            "load", "quality"]
OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()}"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--only", action="append", choices=SECTIONS, help="run only these")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    chosen = args.only or SECTIONS
    parts = [
        "# Benchmarks",
        "",
        f"Run with `python -m bench{' --quick' if args.quick else ''}` on {time.strftime('%Y-%m-%d')}"
        f" ({machine()}).",
        "Every ratio compares with a baseline measured in the same process and run.",
        "",
    ]
    for name in chosen:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        section = module.run(quick=args.quick)
        print(section, flush=True)
        parts += [section.rstrip(), "", f"_({name}: {time.perf_counter() - started:.0f} s)_", ""]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if args.only and args.output.exists():
        print(f"note: --only given; {args.output} now holds only these sections")
    args.output.write_text("\n".join(parts))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
