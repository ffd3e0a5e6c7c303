"""Amazon Rekognition Image calls: error mapping, call counting, and the local emulation.

Every call goes through a boto3 client with adaptive retries (``REKOGNITION_RETRIES``), which
covers throttling (``ThrottlingException``, ``ProvisionedThroughputExceededException``) and 5xx
with client-side rate limiting. What still fails after that:

* throttling, 5xx or network errors -> :class:`RekognitionUnavailableError` (transient);
* missing or bad credentials, access denied -> :class:`~shared.errors.ConfigurationError`;
* an image Rekognition refuses -> :class:`RekognitionImageError` (permanent).

moto answers ``DetectLabels`` with canned labels and has no ``DetectFaces`` or
``RecognizeCelebrities``; with ``emulated=True`` (the local mode) those two answer "no faces"
in-process and the analysis is marked as emulated.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from shared.errors import ConfigurationError, PermanentError, TransientError

_THROTTLE = {
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "LimitExceededException",
}
_AUTH = {
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "InvalidClientTokenId",
}
_IMAGE = {"InvalidImageFormatException", "ImageTooLargeException", "InvalidParameterException"}
OPERATIONS = ("DetectLabels", "DetectFaces", "RecognizeCelebrities")


class RekognitionUnavailableError(TransientError):
    """Rekognition kept throttling or failing after the client's retries."""


class RekognitionImageError(PermanentError):
    """Rekognition refused an image we sent."""


def _emulated(operation: str) -> Callable[..., Any]:
    responses: dict[str, dict[str, Any]] = {
        "DetectFaces": {"FaceDetails": []},
        "RecognizeCelebrities": {"CelebrityFaces": [], "UnrecognizedFaces": []},
    }

    def answer(**_: Any) -> tuple[Any, dict[str, Any]]:
        # the shape botocore.stub.Stubber answers with: an HTTP 200 and the parsed body
        return AWSResponse(None, 200, {}, None), {
            **responses[operation],
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }

    return answer


class Rekognition:
    """The three Rekognition Image operations the pipeline uses, counted per operation.

    Args:
        client: a boto3 ``rekognition`` client.
        max_labels: ``DetectLabels`` ``MaxLabels``.
        min_confidence: ``DetectLabels`` ``MinConfidence`` (percent).
        emulated: answer ``DetectFaces``/``RecognizeCelebrities`` in-process (local mode).
    """

    def __init__(
        self,
        client: Any,
        *,
        max_labels: int = 25,
        min_confidence: float = 60.0,
        emulated: bool = False,
    ) -> None:
        self.client = client
        self.max_labels = max_labels
        self.min_confidence = min_confidence
        self.emulated = emulated
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        if emulated:
            for op in ("DetectFaces", "RecognizeCelebrities"):
                # the client is cached across jobs: one hook per operation, however many adapters
                client.meta.events.register(
                    f"before-call.rekognition.{op}",
                    _emulated(op),
                    unique_id=f"vidpipe-emulated-{op}",
                )

    def _call(self, operation: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        with self._lock:
            self.calls[operation] += 1
        try:
            return fn()
        except NoCredentialsError as exc:
            raise ConfigurationError(
                "no AWS credentials for Rekognition (aws configure, AWS_PROFILE or a role)"
            ) from exc
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in _THROTTLE or status >= 500:
                raise RekognitionUnavailableError(f"Rekognition {operation}: {code}") from exc
            if code in _AUTH:
                raise ConfigurationError(f"Rekognition {operation}: {code}: {exc}") from exc
            if code in _IMAGE:
                raise RekognitionImageError(f"Rekognition {operation}: {code}: {exc}") from exc
            raise ConfigurationError(f"Rekognition {operation}: {code}: {exc}") from exc
        except BotoCoreError as exc:
            raise RekognitionUnavailableError(f"Rekognition {operation}: {exc}") from exc

    def detect_labels(self, image: bytes) -> dict[str, Any]:
        """``DetectLabels`` on JPEG bytes."""
        return self._call(
            "DetectLabels",
            lambda: self.client.detect_labels(
                Image={"Bytes": image}, MaxLabels=self.max_labels, MinConfidence=self.min_confidence
            ),
        )

    def detect_faces(self, image: bytes) -> dict[str, Any]:
        """``DetectFaces`` with ``Attributes=["ALL"]`` (emotions, age range, gender...)."""
        return self._call(
            "DetectFaces",
            lambda: self.client.detect_faces(Image={"Bytes": image}, Attributes=["ALL"]),
        )

    def recognize_celebrities(self, image: bytes) -> dict[str, Any]:
        """``RecognizeCelebrities``."""
        return self._call(
            "RecognizeCelebrities",
            lambda: self.client.recognize_celebrities(Image={"Bytes": image}),
        )
