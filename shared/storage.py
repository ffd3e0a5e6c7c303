"""S3 storage: streamed, size-limited downloads to a temp dir, parallel uploads, error mapping.

Retries happen at two depths, each for what the other cannot do:

* every S3 request is retried by botocore (adaptive mode, up to ``S3_RETRIES`` retries, with
  ``S3_CONNECT_TIMEOUT``/``S3_READ_TIMEOUT``), which covers throttling (``SlowDown``), 5xx and
  connection errors;
* a whole transfer (a download, a multipart upload) that still fails part-way with a transient
  error is re-run once after ``S3_RETRY_DELAY`` milliseconds, since botocore cannot resume a body it
  has started to stream.

What is still failing after that becomes a :class:`~shared.errors.StorageUnavailableError`
(transient: SQS redelivers the record). A missing object is a
:class:`~shared.errors.VideoMissingError` and an object over the size limit a
:class:`~shared.errors.VideoTooLargeError` (both permanent).
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import io
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from shared.errors import (
    ConfigurationError,
    StorageUnavailableError,
    VideoMissingError,
    VideoTooLargeError,
    WriteOutsideFolderError,
)

T = TypeVar("T")

_MISSING_CODES = {"404", "NoSuchKey", "NotFound"}
_CONFIG_CODES = {"NoSuchBucket", "InvalidBucketName", "AllAccessDisabled"}


@dataclass(frozen=True)
class ObjectInfo:
    """What ``HeadObject`` says about an object: size in bytes, ETag, content type, version id
    and user metadata (keys lower-case, without ``x-amz-meta-``)."""

    size: int
    etag: str
    content_type: str | None
    version_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


def translate_error(exc: Exception, what: str) -> Exception:
    """Map a botocore exception to the pipeline's error tree.

    Args:
        exc: a ``ClientError`` or ``BotoCoreError`` (anything else is returned unchanged).
        what: ``s3://bucket/key`` or an operation name, for the message.

    Returns:
        ``VideoMissingError`` for 404/NoSuchKey, ``ConfigurationError`` for a missing or
        invalid bucket, else ``StorageUnavailableError``. An ``AccessDenied`` is transient on
        purpose: S3 answers 403 for a missing key when ``s3:ListBucket`` is not granted, and a
        fixed IAM policy should let the parked messages through.
    """
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _MISSING_CODES or (status == 404 and code not in _CONFIG_CODES):
            return VideoMissingError(f"{what} does not exist")
        if code in _CONFIG_CODES:
            return ConfigurationError(f"{what}: bucket problem ({code})")
        return StorageUnavailableError(f"{what}: S3 error {code or status}: {exc}")
    if isinstance(exc, BotoCoreError):
        return StorageUnavailableError(f"{what}: {type(exc).__name__}: {exc}")
    return exc


#: Prefix of every per-video temp dir; :func:`reclaim_temp_dirs` looks only at these.
TEMP_PREFIX = "vidpipe-"
_NEW_PREFIX = ".vidpipe-new-"
#: The lock file inside a temp dir, held (``flock``) by its owner for the dir's whole life.
TEMP_LOCK = ".owner.lock"
#: A temp dir without a lock file (made by an older release, or a ``.vidpipe-new-*`` dir whose
#: owner died before renaming it) is left alone this long before it is reclaimed.
UNLOCKED_GRACE_S = 600.0


@contextlib.contextmanager
def owned_temp_dir(parent: Path) -> Iterator[Path]:
    """A fresh ``vidpipe-*`` dir under ``parent``, locked for as long as the block runs.

    The dir holds :data:`TEMP_LOCK`, open and ``flock``-ed exclusively until the block ends; the
    dir is removed on every exit path. A crash that skips the removal (the process killed by an
    out-of-memory or a time-out, the container kept warm) leaves the dir unlocked, since the
    kernel drops the lock with the process, and :func:`reclaim_temp_dirs` removes it later.
    ``flock`` locks belong to open file descriptions, so they also tell two concurrent records
    of one process apart, and a reused process id cannot fool them.
    """
    # Made under a name reclaim ignores, locked, then renamed into view: a dir that reclaim can
    # see is always locked by a live owner or by nobody.
    fresh = Path(tempfile.mkdtemp(prefix=_NEW_PREFIX, dir=parent))
    workdir = fresh
    fd = os.open(fresh / TEMP_LOCK, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        workdir = parent / (TEMP_PREFIX + fresh.name[len(_NEW_PREFIX) :])
        os.rename(fresh, workdir)
        yield workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        os.close(fd)


def reclaim_temp_dirs(parent: Path) -> list[Path]:
    """Remove the ``vidpipe-*`` temp dirs under ``parent`` that no live work owns.

    A dir is reclaimed when its lock file can be locked without waiting (its owner is gone), or
    when it has no lock file and is older than :data:`UNLOCKED_GRACE_S`. Dirs of live records,
    in this process or another, hold their lock and are skipped. Called before every download,
    so each invocation starts by giving back what crashed invocations left in a warm container.

    Returns:
        The dirs removed.
    """
    removed: list[Path] = []
    try:
        candidates = [p for p in parent.iterdir() if p.name.startswith((TEMP_PREFIX, _NEW_PREFIX))]
    except OSError:
        return removed
    for path in candidates:
        if not path.is_dir() or path.is_symlink():
            continue
        lock = path / TEMP_LOCK
        try:
            if path.name.startswith(_NEW_PREFIX):
                raise FileNotFoundError(lock)  # not yet in view: judged by age alone
            fd = os.open(lock, os.O_RDWR)
        except FileNotFoundError:
            try:
                age = time.time() - path.stat().st_mtime
            except OSError:
                continue
            if age > UNLOCKED_GRACE_S:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
            continue
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)  # live: its owner holds the lock
            continue
        try:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        finally:
            os.close(fd)
    return removed


class S3Storage:
    """S3 access for the pipeline; the only module that talks to S3.

    Args:
        s3: a boto3 S3 client (from :func:`shared.aws.client`, or moto's in tests).
        retry_delay_s: pause before re-running a transfer that failed part-way (``S3_RETRY_DELAY``).
        upload_workers: parallel uploads (``S3_UPLOAD_WORKERS``).
        tmp_dir: parent of the per-video temp dirs (``TMP_DIR``, ``/tmp`` on Lambda).
    """

    def __init__(
        self,
        s3: Any,
        *,
        retry_delay_s: float = 1.0,
        upload_workers: int = 8,
        tmp_dir: Path = Path("/tmp"),
    ) -> None:
        self.s3 = s3
        self.retry_delay_s = retry_delay_s
        self.upload_workers = upload_workers
        self.tmp_dir = Path(tmp_dir)
        #: ``(bucket, prefix)`` every write and delete must fall under; ``None``: unconfined.
        self.write_scope: tuple[str, str] | None = None

    def confined(self, bucket: str, prefix: str) -> S3Storage:
        """A view of this storage (same client) that writes and deletes only under
        ``s3://bucket/prefix``; reads are unchanged. The batch runner hands each job the view of
        its stage's output folder (docs/reliability.md).

        Args:
            bucket: the results bucket.
            prefix: the stage's folder, ``{platform}/{shortcode}/<folder>/`` (ends in ``/``).
        """
        if not prefix.endswith("/"):
            raise ValueError(f"a write scope must be a folder ending in '/', got {prefix!r}")
        view = copy.copy(self)
        view.write_scope = (bucket, prefix)
        return view

    def _check_write(self, bucket: str, key: str) -> None:
        if self.write_scope is None:
            return
        scope_bucket, prefix = self.write_scope
        parts = key.split("/")
        if bucket != scope_bucket or not key.startswith(prefix) or ".." in parts or "" in parts:
            raise WriteOutsideFolderError(
                f"refused to write s3://{bucket}/{key}: this stage writes only under "
                f"s3://{scope_bucket}/{prefix}"
            )

    @classmethod
    def from_settings(cls, settings: Any, *, profile: str | None = None) -> S3Storage:
        """Storage wired from settings: the cached client (retries, time-outs, endpoint),
        ``S3_RETRY_DELAY``, ``S3_UPLOAD_WORKERS`` and ``TMP_DIR``.

        Args:
            settings: a :class:`shared.config.Settings`.
            profile: an AWS profile name, else the default credential chain.
        """
        from shared import aws

        return cls(
            aws.client("s3", settings, profile=profile),
            retry_delay_s=settings.s3_retry_delay_s,
            upload_workers=settings.s3_upload_workers,
            tmp_dir=settings.tmp_dir,
        )

    # ---- helpers -----------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[[], T], *, rerun: bool = False) -> T:
        attempts = 2 if rerun else 1
        for attempt in range(1, attempts + 1):
            try:
                return fn()
            except (ClientError, BotoCoreError) as exc:
                err = translate_error(exc, what)
                if attempt < attempts and isinstance(err, StorageUnavailableError):
                    time.sleep(self.retry_delay_s)
                    continue
                raise err from exc
        raise AssertionError("unreachable")  # pragma: no cover

    # ---- reads -------------------------------------------------------------------------------
    def head(self, bucket: str, key: str) -> ObjectInfo:
        """``HeadObject``.

        Raises:
            VideoMissingError: no such object.
            StorageUnavailableError: throttling, 5xx, 403 or network after retries.
        """
        resp = self._call(
            f"s3://{bucket}/{key}", lambda: self.s3.head_object(Bucket=bucket, Key=key)
        )
        return ObjectInfo(
            size=int(resp["ContentLength"]),
            etag=str(resp.get("ETag", "")),
            content_type=resp.get("ContentType"),
            version_id=resp.get("VersionId"),
            metadata={str(k).lower(): str(v) for k, v in (resp.get("Metadata") or {}).items()},
        )

    def exists(self, bucket: str, key: str) -> bool:
        """Whether the object exists (404 is ``False``, other errors raise as in :meth:`head`)."""
        try:
            self.head(bucket, key)
        except VideoMissingError:
            return False
        return True

    def get_bytes(self, bucket: str, key: str) -> bytes:
        """The whole object in memory (manifests, small results)."""
        what = f"s3://{bucket}/{key}"

        def _get() -> bytes:
            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"]
            try:
                return bytes(body.read())
            finally:
                body.close()

        return self._call(what, _get, rerun=True)

    def get_json(self, bucket: str, key: str) -> Any:
        """The object parsed as JSON."""
        return json.loads(self.get_bytes(bucket, key))

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        """Every key under ``prefix``, sorted."""

        def _list() -> list[str]:
            keys: list[str] = []
            for page in self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=prefix
            ):
                keys.extend(obj["Key"] for obj in page.get("Contents", []))
            return sorted(keys)

        return self._call(f"s3://{bucket}/{prefix}", _list)

    @contextlib.contextmanager
    def download_to_temp(self, bucket: str, key: str, *, max_bytes: int) -> Iterator[Path]:
        """Stream an object to a fresh temp dir; the dir is removed on every exit path.

        The object is checked with ``HeadObject`` first; the download pins the version seen there
        (versioned buckets) and the file's size is checked again afterwards, so an object
        replaced in between cannot slip past the limit.

        Args:
            bucket: source bucket.
            key: source key (decoded).
            max_bytes: largest accepted object (``MAX_VIDEO_BYTES``).

        Yields:
            Path of the downloaded file (its name keeps the key's extension).

        Raises:
            VideoMissingError: no such object.
            VideoTooLargeError: larger than ``max_bytes``.
            ConfigurationError: the temp dir has not enough free space (raise the function's
                ephemeral storage).
            StorageUnavailableError: S3 kept failing.
        """
        info = self.head(bucket, key)
        if info.size > max_bytes:
            raise VideoTooLargeError(
                f"s3://{bucket}/{key} is {info.size} bytes, over MAX_VIDEO_BYTES={max_bytes}"
            )
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        reclaim_temp_dirs(self.tmp_dir)
        free = shutil.disk_usage(self.tmp_dir).free
        if info.size > free:
            raise ConfigurationError(
                f"{self.tmp_dir} has {free} bytes free, the video needs {info.size}"
            )
        with owned_temp_dir(self.tmp_dir) as workdir:
            suffix = Path(key).suffix.lower() or ".mp4"
            target = workdir / f"video{suffix}"
            extra = {"VersionId": info.version_id} if info.version_id else None
            self._call(
                f"s3://{bucket}/{key}",
                lambda: self.s3.download_file(
                    bucket, key, str(target), ExtraArgs=extra, Config=TransferConfig()
                ),
                rerun=True,
            )
            if target.stat().st_size > max_bytes:
                raise VideoTooLargeError(
                    f"s3://{bucket}/{key} grew past MAX_VIDEO_BYTES={max_bytes} while downloading"
                )
            yield target

    # ---- writes ------------------------------------------------------------------------------
    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        """``PutObject`` of a small object held in memory."""
        self._check_write(bucket, key)
        self._call(
            f"s3://{bucket}/{key}",
            lambda: self.s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type),
            rerun=True,
        )

    def upload_bytes(
        self,
        bucket: str,
        key: str,
        data: bytes,
        content_type: str,
        *,
        chunk_size: int = 8 * 1024 * 1024,
        max_workers: int = 10,
    ) -> None:
        """Upload an in-memory object with s3transfer, never through a local file.

        Objects of at least ``chunk_size`` bytes go up as a multipart upload of ``chunk_size``
        parts, ``max_workers`` parts at a time (s3transfer reads the parts from the buffer);
        smaller ones in one ``PutObject``. A failed transfer is re-run once, from the buffer.

        Args:
            bucket: target bucket.
            key: target key.
            data: the object's bytes.
            content_type: its ``Content-Type``.
            chunk_size: multipart threshold and part size in bytes (S3 needs at least 5 MiB).
            max_workers: parallel part uploads.

        Raises:
            StorageUnavailableError: S3 kept failing.
            ConfigurationError: the bucket does not exist.
            WriteOutsideFolderError: outside :meth:`confined`'s folder.
        """
        self._check_write(bucket, key)
        config = _transfer_config(chunk_size, max_workers)
        self._call(
            f"s3://{bucket}/{key}",
            lambda: self.s3.upload_fileobj(
                io.BytesIO(data),
                bucket,
                key,
                ExtraArgs={"ContentType": content_type},
                Config=config,
            ),
            rerun=True,
        )

    def upload_file(
        self,
        bucket: str,
        key: str,
        path: Path,
        content_type: str,
        *,
        chunk_size: int = 8 * 1024 * 1024,
        max_workers: int = 4,
    ) -> None:
        """Stream a local file to S3 with s3transfer (multipart from ``chunk_size`` bytes, in
        ``chunk_size`` parts, ``max_workers`` at a time): the file is never read into memory.
        A failed transfer is re-run once, from the file.

        Raises:
            StorageUnavailableError: S3 kept failing.
            ConfigurationError: the bucket does not exist.
            WriteOutsideFolderError: outside :meth:`confined`'s folder.
        """
        self._check_write(bucket, key)
        config = _transfer_config(chunk_size, max_workers)
        self._call(
            f"s3://{bucket}/{key}",
            lambda: self.s3.upload_file(
                str(path), bucket, key, ExtraArgs={"ContentType": content_type}, Config=config
            ),
            rerun=True,
        )

    def put_json(self, bucket: str, key: str, obj: Any) -> None:
        """Write ``obj`` as indented UTF-8 JSON."""
        data = json.dumps(obj, indent=2, ensure_ascii=False).encode("utf-8")
        self.put_bytes(bucket, key, data, "application/json")

    def delete_keys(self, bucket: str, keys: list[str]) -> None:
        """``DeleteObjects`` in chunks of 1000 (S3's limit per request)."""
        for key in keys:
            self._check_write(bucket, key)
        for i in range(0, len(keys), 1000):
            chunk = [{"Key": k} for k in keys[i : i + 1000]]
            self._call(
                f"s3://{bucket}",
                lambda chunk=chunk: self.s3.delete_objects(  # type: ignore[misc]
                    Bucket=bucket, Delete={"Objects": chunk, "Quiet": True}
                ),
            )

    def uploader(self, bucket: str) -> ParallelUploader:
        """A context manager that uploads objects in parallel (``S3_UPLOAD_WORKERS`` threads)."""
        return ParallelUploader(self, bucket, self.upload_workers)


class ParallelUploader:
    """Uploads submitted objects on a thread pool while the caller keeps working.

    Use as a context manager; :meth:`wait` returns the written keys or raises the first error.
    Leaving the block on an exception cancels what has not started.
    """

    def __init__(self, storage: S3Storage, bucket: str, workers: int) -> None:
        self._storage = storage
        self._bucket = bucket
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="s3-upload")
        self._futures: list[tuple[str, Future[None]]] = []
        self._lock = threading.Lock()
        self.bytes_uploaded = 0

    def submit(self, key: str, data: bytes, content_type: str) -> None:
        """Queue one object for upload.

        Raises:
            WriteOutsideFolderError: outside the storage's confined folder.
        """
        self._storage._check_write(self._bucket, key)
        fut = self._pool.submit(self._storage.put_bytes, self._bucket, key, data, content_type)
        with self._lock:
            self._futures.append((key, fut))
            self.bytes_uploaded += len(data)

    def wait(self) -> list[str]:
        """Wait for every upload; return the keys in submission order.

        Raises:
            StorageUnavailableError: (or another pipeline error) from the first failed upload.
        """
        keys = []
        for key, fut in self._futures:
            fut.result()
            keys.append(key)
        return keys

    def __enter__(self) -> ParallelUploader:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=exc_type is not None)


def _transfer_config(chunk_size: int, max_workers: int) -> TransferConfig:
    """s3transfer's settings for an upload: multipart from ``chunk_size`` bytes, in parts of
    ``chunk_size`` bytes, ``max_workers`` parts at a time (threads only when more than one)."""
    return TransferConfig(
        multipart_threshold=chunk_size,
        multipart_chunksize=chunk_size,
        max_concurrency=max_workers,
        use_threads=max_workers > 1,
    )
