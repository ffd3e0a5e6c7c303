"""frame-extract: cuts and one key frame per scene (docs/stages/frame-extract.md).

Importing the package imports PySceneDetect without its PyAV backend when nothing in the process
has imported PyAV yet: ``scenedetect/__init__`` imports every backend it can, and PyAV alone
cost about 0.3 s and 16 MB of every cold start (``python -X importtime``), for a backend this
stage never uses (it decodes with ``VideoStreamCv2``). PyAV stays importable afterwards; only
``scenedetect.VideoStreamAv`` is then absent from this process.
"""

from __future__ import annotations

import sys


def _import_scenedetect_without_pyav() -> None:
    if "scenedetect" in sys.modules or "av" in sys.modules:
        return
    sys.modules["av"] = None  # type: ignore[assignment]  # makes `import av` raise ImportError
    try:
        import scenedetect  # noqa: F401
    finally:
        del sys.modules["av"]


_import_scenedetect_without_pyav()
