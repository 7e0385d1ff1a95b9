"""Run every benchmark script in this folder, one after another: ``python -m bench [NAME ...]``.

Each script prints its own markdown table; run them one at a time so they do not
compete for the two cores.
"""

import subprocess
import sys
from pathlib import Path

here = Path(__file__).parent
wanted = set(sys.argv[1:])
status = 0
for script in sorted(here.glob("bench_*.py")):
    if wanted and script.stem not in wanted and script.stem.removeprefix("bench_") not in wanted:
        continue
    print(f"\n## {script.stem}\n", flush=True)
    status |= subprocess.call([sys.executable, str(script)])
sys.exit(status)
