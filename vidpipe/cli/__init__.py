"""``vidpipe``: the command line (typer), split by command group.

Commands (docs/cli.md): ``frames`` (one video to a folder), ``landmarks`` (one video to a folder,
or a folder to S3), ``config`` (write a landmarks preset as JSON), ``rekognition``, ``physics``,
``trailer`` (profile-driven trailers, and ``trailer profiles``), ``invoke`` (a handler on an
event file, like ``sam local invoke``), ``worker`` (the poller against real SQS), ``status``,
``report`` (a video's summary and report from S3), and ``local run`` (the whole
S3 -> SNS -> SQS -> Lambda path on moto).

The groups are declared in :mod:`vidpipe.cli.app`; importing this package registers every
command. Handler modules are imported only by the commands that run them, so ``--help`` stays
fast.
"""

from __future__ import annotations

import sys

from vidpipe.cli import (
    frames,
    handlers,
    landmarks,
    local,
    physics,
    rekognition,
    report,
    trailer,
)
from vidpipe.cli.app import app

__all__ = [
    "app",
    "frames",
    "handlers",
    "landmarks",
    "local",
    "main",
    "physics",
    "rekognition",
    "report",
    "trailer",
]


def main() -> None:
    """Console-script entry point (``vidpipe``)."""
    app()


def s3_uploader() -> None:
    """The seed's ``s3-uploader --video-dir DIR --s3-bucket B --s3-prefix P`` entry point:
    ``vidpipe landmarks`` with the same arguments."""
    app(args=["landmarks", *sys.argv[1:]], prog_name="s3-uploader")
