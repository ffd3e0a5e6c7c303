"""Drop-in for the ``s3-uploader`` package (MediaPipe landmark sequences streamed to S3), built
on vidpipe's landmarks stage. What works and how is in ``docs/compat/s3-uploader.md``.

Differences a user notices: results are vidpipe's ``landmarks.npz`` and ``landmarks.json``
(never a pickle), keys are ``{s3_prefix}/{video stem}/landmarks.npz``, and only the pose model
mediapipe 0.10.21 bundles (``model_complexity=1``) can be used.
"""

from s3_uploader.config import PipelineConfig
from s3_uploader.core import (
    MediaPipeS3StreamingPipeline,
    MediaPipeStreamingExtractor,
    S3StreamingUploader,
)

__all__ = [
    "MediaPipeS3StreamingPipeline",
    "MediaPipeStreamingExtractor",
    "PipelineConfig",
    "S3StreamingUploader",
]
