"""PySceneDetect, imported without its PyAV backend when nothing in the process has imported PyAV.

``scenedetect/__init__`` imports every backend it can; PyAV alone cost about 0.3 s and 16 MB of
every cold start (``python -X importtime``), for a backend this stage never uses (it decodes with
``VideoStreamCv2``). PyAV stays importable afterwards; only ``scenedetect.VideoStreamAv`` is then
absent from this process. Import PySceneDetect's names from here, before anything else imports it.
"""

from __future__ import annotations

import sys

if "scenedetect" not in sys.modules and "av" not in sys.modules:
    sys.modules["av"] = None  # type: ignore[assignment]  # `import av` raises ImportError
    try:
        import scenedetect  # noqa: F401
    finally:
        del sys.modules["av"]

from scenedetect import AdaptiveDetector, ContentDetector, FrameTimecode, SceneManager
from scenedetect.backends.opencv import VideoStreamCv2
from scenedetect.common import Interpolation
from scenedetect.detector import SceneDetector
from scenedetect.scene_manager import compute_downscale_factor

__all__ = [
    "AdaptiveDetector",
    "ContentDetector",
    "FrameTimecode",
    "Interpolation",
    "SceneDetector",
    "SceneManager",
    "VideoStreamCv2",
    "compute_downscale_factor",
]
