import sys

from bench.extraction import run

print(run(quick="--quick" in sys.argv))
