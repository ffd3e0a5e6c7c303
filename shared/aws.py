"""One cached factory for boto3 clients.

Clients are created lazily (first use, not import), so moto or a local endpoint is in place
first, and are cached per (service, settings) for warm Lambda invocations. Every client has
adaptive retries and explicit time-outs (docs/architecture.md).
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

from shared.config import Settings

_lock = threading.Lock()
_clients: dict[tuple[str, str | None, int, float, float, int, str | None], Any] = {}


def client(
    service: str, settings: Settings, *, retries: int | None = None, profile: str | None = None
) -> Any:
    """Return a cached boto3 client for ``service``.

    Args:
        service: boto3 service name (``"s3"``, ``"sqs"``, ``"sns"``).
        settings: supplies ``S3_RETRIES`` (retries after the first attempt, per request, in
            botocore's adaptive mode; ``retries`` overrides it, e.g. ``REKOGNITION_RETRIES``),
            ``S3_CONNECT_TIMEOUT``/``S3_READ_TIMEOUT`` (seconds), ``S3_UPLOAD_WORKERS`` (size of
            the connection pool) and ``S3_ENDPOINT_URL`` (a local endpoint, for the local mode).
        retries: overrides ``S3_RETRIES`` for this client.
        profile: an AWS profile name (the CLI's ``--aws-profile``); the default chain otherwise.
    """
    attempts = settings.s3_retries if retries is None else retries
    key = (
        service,
        settings.s3_endpoint_url,
        attempts,
        settings.s3_connect_timeout,
        settings.s3_read_timeout,
        settings.s3_upload_workers,
        profile,
    )
    with _lock:
        if key not in _clients:
            config = Config(
                retries={"mode": "adaptive", "max_attempts": attempts},
                connect_timeout=settings.s3_connect_timeout,
                read_timeout=settings.s3_read_timeout,
                max_pool_connections=max(10, settings.s3_upload_workers * 2),
            )
            _clients[key] = boto3.session.Session(profile_name=profile).client(
                service, endpoint_url=settings.s3_endpoint_url, config=config
            )
        return _clients[key]


def clear_client_cache() -> None:
    """Forget cached clients (tests, and the local mode when its endpoint changes)."""
    with _lock:
        _clients.clear()
