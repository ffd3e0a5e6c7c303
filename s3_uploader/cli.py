"""``s3-uploader-config --preset P [--output F]``: write a preset as a JSON config file.

The file is the landmarks config (:mod:`functions.landmarks.config`) that ``s3-uploader
--config F``, ``vidpipe landmarks --config F``, ``LANDMARKS_CONFIG`` and ``PipelineConfig(F)``
read. Without ``--output`` the JSON goes to stdout. Errors are one line on stderr and exit 2
(bad arguments) or 1 (the file cannot be written).
"""

from __future__ import annotations

import argparse
import sys

from functions.landmarks.config import Preset
from s3_uploader.config import PipelineConfig


def config_main(argv: list[str] | None = None) -> int:
    """Entry point of ``s3-uploader-config``; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="s3-uploader-config",
        description="Write a landmarks preset as a JSON config to edit and pass to "
        "s3-uploader --config (or vidpipe landmarks --config).",
    )
    parser.add_argument(
        "--preset",
        choices=[p.value for p in Preset],
        default=Preset.PRODUCTION.value,
        help="the preset to write (default: production)",
    )
    parser.add_argument("--output", "-o", help="file to write (default: stdout)")
    args = parser.parse_args(argv)
    config = PipelineConfig.from_preset(args.preset)
    if args.output is None:
        import json

        sys.stdout.write(json.dumps(config.to_dict(), indent=2) + "\n")
        return 0
    try:
        path = config.save(args.output)
    except OSError as exc:
        print(
            f"s3-uploader-config: cannot write {args.output}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    print(f"preset {args.preset} -> {path}", file=sys.stderr)
    return 0


def main() -> None:
    """Console-script wrapper: exits with :func:`config_main`'s code."""
    sys.exit(config_main())
