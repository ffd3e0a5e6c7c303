"""Cold import time of each Lambda handler, the way the image's CMD string loads it.

For every function in template.yaml, a fresh Python process imports the module named by its
``ImageConfig.Command`` and resolves the handler attribute; the time from before the import to
the handler in hand is reported (median and worst of ``--repeat`` processes), next to a bare
``python -c pass`` start for reference. Lambda's INIT phase pays this once per cold start.

Usage: ``python bench/cold_import.py [--repeat 7]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vidpipe.template import image_functions

PROBE = (
    "import importlib, time\n"
    "t = time.perf_counter()\n"
    "module, _, attr = {command!r}.rpartition('.')\n"
    "handler = getattr(importlib.import_module(module), attr)\n"
    "assert callable(handler)\n"
    "print(time.perf_counter() - t)\n"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rows = []
    for q in image_functions():
        times = [
            float(
                subprocess.run(
                    [sys.executable, "-c", PROBE.format(command=q.handler)],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            for _ in range(args.repeat)
        ]
        rows.append(
            f"| {q.handler} | {statistics.median(times) * 1000:.0f} | {max(times) * 1000:.0f} |"
        )
    print(f"{args.repeat} fresh processes each, Python {sys.version.split()[0]}\n")
    print("| handler (ImageConfig.Command) | median ms | worst ms |\n|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
