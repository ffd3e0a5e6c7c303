"""``PipelineConfig``: the replaced package's configuration object, over
:class:`functions.landmarks.config.LandmarksConfig`.

Keys are dotted paths into the JSON file (``video.target_fps``, ``mediapipe.model_complexity``,
``s3.max_workers``, ``performance.memory_limit_gb`` ...; the shape is in
:mod:`functions.landmarks.config`). Every :meth:`PipelineConfig.set` validates the whole
configuration at once, so a bad value fails where it is set, with the landmarks config's
message (model complexity 0 or 2, for instance, needs a model mediapipe 0.10.21 does not ship).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from functions.landmarks.config import (
    LandmarksConfig,
    Preset,
    _validate,
    load_config,
    preset_config,
)
from shared.errors import ConfigurationError

#: The preset an empty ``PipelineConfig()`` starts from, as ``s3-uploader`` and the landmarks
#: stage do: every frame up to 30 fps, pose and hands.
DEFAULT_PRESET = Preset.PRODUCTION

#: ``mediapipe`` keys the extractor takes as keyword arguments.
MEDIAPIPE_KEYS = (
    "model_complexity",
    "min_detection_confidence",
    "min_tracking_confidence",
    "hands",
    "smooth_landmarks",
)


class PipelineConfig:
    """A landmarks configuration read and changed by dotted keys.

    Args:
        config_file: a JSON config (as ``s3-uploader-config`` writes); missing keys take the
            defaults.
        preset: start from this preset instead (``development``, ``production``,
            ``high_accuracy``, ``fast_processing``); default ``production``.

    Raises:
        ConfigurationError: both given, unknown preset, or the file is missing or invalid.
    """

    def __init__(self, config_file: str | Path | None = None, *, preset: str | None = None):
        if config_file is not None and preset is not None:
            raise ConfigurationError("give either a config file or a preset, not both")
        cfg = (
            load_config(config_file)
            if config_file is not None
            else preset_config(preset or DEFAULT_PRESET)
        )
        self._data: dict[str, Any] = cfg.model_dump(mode="json")
        self._config = cfg

    @classmethod
    def from_preset(cls, preset: str) -> PipelineConfig:
        """The named preset's configuration.

        Raises:
            ConfigurationError: unknown preset (the message lists the known ones).
        """
        return cls(preset=preset)

    def get(self, key: str, default: Any = None) -> Any:
        """The value at a dotted ``key`` (a whole section for ``"video"``), else ``default``."""
        node: Any = self._data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return copy.deepcopy(node)

    def set(self, key: str, value: Any) -> None:
        """Set the value at a dotted ``section.name`` key and re-validate the configuration.

        Raises:
            ConfigurationError: unknown key, or the value is invalid (the configuration is then
                left unchanged).
        """
        parts = key.split(".")
        if len(parts) != 2 or not isinstance(self._data.get(parts[0]), dict):
            sections = ", ".join(self._data)
            raise ConfigurationError(
                f"unknown config key {key!r}: expected section.name with a section of {sections}"
            )
        section, name = parts
        if name not in self._data[section]:
            known = ", ".join(f"{section}.{k}" for k in self._data[section])
            raise ConfigurationError(f"unknown config key {key!r}; {section} has {known}")
        data = copy.deepcopy(self._data)
        data[section][name] = value
        self._config = _validate(data, f"PipelineConfig.set({key!r}, {value!r})")
        self._data = self._config.model_dump(mode="json")

    def to_dict(self) -> dict[str, Any]:
        """The whole configuration as the JSON file's dict."""
        return copy.deepcopy(self._data)

    def save(self, path: str | Path) -> Path:
        """Write the configuration as JSON (parents created); returns the path."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(self._data, indent=2) + "\n", encoding="utf-8")
        return p

    @property
    def landmarks_config(self) -> LandmarksConfig:
        """The validated :class:`~functions.landmarks.config.LandmarksConfig`."""
        return self._config

    def get_extractor_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :class:`~s3_uploader.MediaPipeStreamingExtractor` and
        :class:`~s3_uploader.MediaPipeS3StreamingPipeline`: the ``mediapipe`` keys plus
        ``target_fps``, ``max_frames``, ``workers``, ``queue_frames`` and
        ``memory_limit_gb``."""
        cfg = self._config
        return {
            **{k: getattr(cfg.mediapipe, k) for k in MEDIAPIPE_KEYS},
            "target_fps": cfg.video.target_fps,
            "max_frames": cfg.video.max_frames,
            "workers": cfg.processing.workers,
            "queue_frames": cfg.processing.queue_frames,
            "memory_limit_gb": cfg.performance.memory_limit_gb,
        }

    def get_uploader_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :class:`~s3_uploader.S3StreamingUploader` (and the pipeline):
        ``max_workers`` and ``chunk_size`` (bytes)."""
        return {
            "max_workers": self._config.s3.max_workers,
            "chunk_size": self._config.s3.chunk_size,
        }

    def __repr__(self) -> str:
        return f"PipelineConfig({self._data!r})"
