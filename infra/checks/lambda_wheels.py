"""Check that every runtime dependency resolves to wheels for the Lambda image's platform.

The image is ``public.ecr.aws/lambda/python:3.12`` on x86_64 (Amazon Linux 2023, glibc 2.34), where
nothing can be compiled at build time, so every package must come as a binary wheel. This runs
``pip download --only-binary=:all:`` for the dependencies in ``pyproject.toml`` against those
platform tags, and ``requirements-mediapipe.txt`` with ``--no-deps`` as the Dockerfile installs
it (no install, nothing touches the current environment) and exits non-zero, naming
the problem, when pip cannot resolve them.

Usage: ``python infra/checks/lambda_wheels.py [--python-version 3.12]``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# glibc 2.34 accepts every manylinux tag up to 2_34; pip matches these exact tags, so list them.
PLATFORMS = [
    "manylinux_2_34_x86_64",
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_24_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux_2_12_x86_64",
    "manylinux2010_x86_64",
    "manylinux_2_5_x86_64",
    "manylinux1_x86_64",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python-version", default="3.12")
    args = parser.parse_args()
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    with tempfile.TemporaryDirectory() as dest:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--only-binary=:all:",
            "--python-version",
            args.python_version,
            "--implementation",
            "cp",
            "--dest",
            dest,
        ]
        for platform in PLATFORMS:
            cmd += ["--platform", platform]
        proc = subprocess.run([*cmd, *deps], capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            # mediapipe is installed with --no-deps (requirements-mediapipe.txt explains why).
            proc = subprocess.run(
                [*cmd, "--no-deps", "-r", str(ROOT / "requirements-mediapipe.txt")],
                capture_output=True,
                text=True,
                check=False,
            )
        wheels = sorted(p.name for p in Path(dest).glob("*.whl"))
    if proc.returncode != 0:
        errors = [
            line for line in proc.stderr.splitlines() if "ERROR" in line or "No matching" in line
        ]
        print(
            "dependencies without a Lambda wheel (python "
            f"{args.python_version}, manylinux x86_64):",
            *errors,
            sep="\n  ",
            file=sys.stderr,
        )
        return 1
    print(f"{len(wheels)} wheels resolve for python {args.python_version} manylinux x86_64")
    return 0


if __name__ == "__main__":
    sys.exit(main())
