import sys

from bench.quality import run

print(run(quick="--quick" in sys.argv))
