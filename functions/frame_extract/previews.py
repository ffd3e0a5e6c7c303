"""frame-extract's pictures: ``frames/preview.gif`` and ``frames/contact_sheet.jpg``
(docs/previews.md).

Both are built from the key frames' JPEG bytes already in memory (:class:`KeyFrame`); the video
is not decoded again. Each JPEG is decoded once, straight at the size needed (Pillow's DCT
scaling).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from functions.frame_extract.extract import KeyFrame
from functions.frame_extract.settings import FrameExtractSettings
from shared.config import Settings
from shared.layout import CONTACT_SHEET, PREVIEW_GIF
from shared.previews.images import (
    fit_width,
    gif_bytes,
    grid,
    jpeg_bytes,
    label_strip,
    open_jpeg,
    timecode,
)

#: Most key frames per row of the contact sheet (a square-ish grid below that).
CONTACT_SHEET_COLUMNS = 4


@dataclass(frozen=True)
class FramePreviewParams:
    """Sizes and limits (the settings ``PREVIEW_WIDTH_PX``, ``FRAMES_GIF_FRAME_MS``,
    ``FRAMES_GIF_MAX_FRAMES``, ``CONTACT_SHEET_TILE_PX``).

    Attributes:
        gif_width_px: widest GIF frame, pixels (smaller key frames are not scaled up).
        gif_frame_ms: time each key frame shows, milliseconds.
        gif_max_frames: most key frames in the GIF; beyond it evenly spaced ones are taken.
        tile_px: width of one key frame on the contact sheet, pixels.
    """

    gif_width_px: int = 480
    gif_frame_ms: int = 800
    gif_max_frames: int = 60
    tile_px: int = 320


def preview_params(settings: Settings, stage: FrameExtractSettings) -> FramePreviewParams | None:
    """The preview parameters from the settings; ``None`` when ``PREVIEWS`` or
    ``FRAMES_PREVIEWS`` is off."""
    if not (settings.previews and stage.frames_previews):
        return None
    return FramePreviewParams(
        gif_width_px=settings.preview_width_px,
        gif_frame_ms=stage.frames_gif_frame_ms,
        gif_max_frames=stage.frames_gif_max_frames,
        tile_px=stage.contact_sheet_tile_px,
    )


def contact_label(scene_index: int, time_s: float) -> str:
    """A contact-sheet label: ``scene {index}  HH:MM:SS.mmm`` (the key frame's time)."""
    return f"scene {scene_index}  {timecode(time_s)}"


def evenly(n: int, most: int) -> list[int]:
    """``min(n, most)`` indices of ``range(n)`` spread evenly, first and last included."""
    if n <= most:
        return list(range(n))
    if most == 1:
        return [0]
    return sorted({round(i * (n - 1) / (most - 1)) for i in range(most)})


def keyframe_previews(
    keyframes: Sequence[KeyFrame], params: FramePreviewParams = FramePreviewParams()
) -> dict[str, bytes]:
    """``{"preview.gif": ..., "contact_sheet.jpg": ...}`` for the key frames in scene order.

    The GIF shows the key frames (at most ``gif_max_frames``) at most ``gif_width_px`` wide,
    ``gif_frame_ms`` each, looping. The contact sheet is a grid of
    :data:`CONTACT_SHEET_COLUMNS` columns, each key frame ``tile_px`` wide over a label
    ``scene {index}  HH:MM:SS.mmm``; the labels, one per line, are also its JPEG comment.

    Raises:
        ValueError: no key frames.
        PIL.UnidentifiedImageError: a key frame's bytes are not a JPEG.
    """
    if not keyframes:
        raise ValueError("no key frames to preview")
    biggest = max(params.gif_width_px, params.tile_px)
    decoded = [open_jpeg(kf.jpeg, biggest) for kf in keyframes]
    gif_frames = [
        fit_width(decoded[i], params.gif_width_px)
        for i in evenly(len(decoded), params.gif_max_frames)
    ]
    labels = [contact_label(kf.scene_index, kf.time_s) for kf in keyframes]
    tiles = []
    for img, label in zip(decoded, labels, strict=True):
        small = fit_width(img, params.tile_px)
        strip = label_strip(small.width, [label])
        tile = Image.new("RGB", (small.width, small.height + strip.height))
        tile.paste(small, (0, 0))
        tile.paste(strip, (0, small.height))
        tiles.append(tile)
    columns = min(CONTACT_SHEET_COLUMNS, math.ceil(math.sqrt(len(tiles))))
    sheet = grid(tiles, columns)
    return {
        PREVIEW_GIF: gif_bytes(gif_frames, params.gif_frame_ms),
        CONTACT_SHEET: jpeg_bytes(sheet, quality=85, comment="\n".join(labels)),
    }
