"""The pipeline's error tree and its retry semantics (docs/errors.md).

Every class, with its ``retryable`` flag::

    PipelineError (retryable)
    ├── PermanentError (not retryable)
    │   ├── InvalidMessageError
    │   │   ├── InvalidIdentifierError
    │   │   └── ConfinementError
    │   ├── VideoMissingError
    │   ├── VideoTooLargeError
    │   │   └── ResolutionTooLargeError
    │   ├── VideoTooLongError
    │   ├── CorruptVideoError
    │   └── UnsupportedCodecError
    ├── TransientError (retryable)
    │   ├── StorageUnavailableError
    │   ├── StatusStoreUnavailableError
    │   └── ClaimHeldError
    ├── OutOfTimeError (retryable, not counted as an error)
    ├── WriteOutsideFolderError (retryable: a bug, parked in the DLQ)
    └── ConfigurationError (retryable)

Stages add their own subclasses beside their code (``RekognitionUnavailableError``,
``GeminiUnavailableError``, ``InvalidObservationError``, ...). Whether a failure is retried is
decided in one place, :func:`is_retryable`, from the ``retryable`` attribute, so a new class
that sets ``retryable = False`` is acknowledged like any permanent error whatever its base.

* ``PermanentError``: the input itself is wrong (malformed body, bad identifier, key outside the
  layout, video missing, not a video, corrupt or over the size limit). Recorded as ``failed``,
  the SQS message is acknowledged and never retried.
* ``TransientError``: the world was briefly unavailable (S3 throttling or 5xx, network time-outs,
  the status store down, a claim held by a live worker). The record goes into
  ``batchItemFailures``; SQS redelivers it after the visibility timeout and, after
  ``maxReceiveCount`` receives, moves it to the DLQ.
* ``OutOfTimeError``: too little Lambda time is left to start or finish the record. The claim is
  released, the record is reported in ``batchItemFailures`` and nothing is recorded as an error.

* ``ConfigurationError``: the deployment is misconfigured (bad settings, no credentials, a
  schema mismatch). Retried, so messages wait in the queue or the DLQ until an operator fixes it.

Any other exception that escapes a job is a bug and is treated like a transient error: retried,
then parked in the DLQ, never silently acknowledged.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base class of every error the pipeline raises on purpose."""

    #: Whether SQS should deliver the record again.
    retryable: bool = True

    @property
    def error_class(self) -> str:
        """The class name recorded in the status store (``extraction_errors.error_class``)."""
        return type(self).__name__


class PermanentError(PipelineError):
    """Bad input: record it, acknowledge the message, never retry."""

    retryable = False


class TransientError(PipelineError):
    """A passing failure: report the record in ``batchItemFailures`` so SQS retries it."""

    retryable = True


class OutOfTimeError(PipelineError):
    """Not enough Lambda time left: release the claim and let SQS redeliver, uncounted."""

    retryable = True


class LeaseLostError(PipelineError):
    """The job's claim is no longer current: its lease expired and another worker claimed the
    stage (a stale holder, docs/status.md#fencing). The runner stops the job and acknowledges the
    record without touching the stage: the new holder owns its outcome."""

    retryable = False


class InvalidMessageError(PermanentError):
    """The SQS body is not a job this pipeline understands (malformed JSON, unknown keys...)."""


class InvalidIdentifierError(InvalidMessageError):
    """``platform``, ``shortcode`` or an S3 key fails validation (path tricks included)."""


class ConfinementError(InvalidMessageError):
    """The message names an object outside its own video: another ``{platform}/{shortcode}/``
    prefix, a stage's output folder, or a bucket that is not a video source
    (docs/reliability.md)."""


class VideoMissingError(PermanentError):
    """The video object does not exist, or the status store says it was never downloaded."""


class VideoTooLargeError(PermanentError):
    """The video is larger than ``MAX_VIDEO_BYTES``."""


class ResolutionTooLargeError(VideoTooLargeError):
    """The video's frames are larger than ``MAX_VIDEO_PIXELS`` (refused from the container's
    metadata before any frame is decoded: decoding memory follows the frame size)."""


class VideoTooLongError(PermanentError):
    """The video is longer than a paid stage accepts (``REKOGNITION_MAX_DURATION_S``,
    ``GEMINI_MAX_DURATION_S``): refused before any paid call."""


class CorruptVideoError(PermanentError):
    """The file is not a video, cannot be opened, or decodes to (almost) nothing."""


class UnsupportedCodecError(PermanentError):
    """A valid video whose codec the image's decoder cannot decode (docs/dependencies.md)."""


class StorageUnavailableError(TransientError):
    """S3 throttled, answered 5xx, refused access or timed out after the client's own retries."""


class StatusStoreUnavailableError(TransientError):
    """The status store (Supabase or SQLite) could not be reached or answered an error."""


class ClaimHeldError(TransientError):
    """Another live worker holds the lease on this stage; retry after the visibility timeout."""


class WriteOutsideFolderError(PipelineError):
    """A stage tried to write or delete outside its own output folder in the results bucket.

    A bug, never bad input: retried like any bug and then parked in the DLQ."""


class ConfigurationError(PipelineError):
    """The deployment is misconfigured (bad settings, schema mismatch). Retried, so that
    messages wait in the queue or the DLQ until an operator fixes it, instead of being lost."""


def is_retryable(exc: BaseException) -> bool:
    """Whether SQS should deliver the record again after ``exc``: the ``retryable`` attribute of
    a :class:`PipelineError` (of its class or set on the instance); ``True`` for anything else
    (a bug is retried and then parked in the DLQ, never acknowledged)."""
    return bool(getattr(exc, "retryable", True)) if isinstance(exc, PipelineError) else True
