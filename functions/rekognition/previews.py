"""rekognition's picture: ``rekognition/storyboard.jpg``, each analysed frame with its top
labels, its face boxes with the strongest emotion and its celebrities (docs/previews.md).

The frames are the ones decoded for the Rekognition calls (the ``on_frames`` hook of
:func:`~functions.rekognition.analysis.analyze_video`), each scaled down at once to the tile
width; the boxes and texts come from the ``analysis.json`` document.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw

from functions.rekognition.settings import RekognitionSettings
from shared.config import Settings
from shared.previews.images import font, grid, jpeg_bytes, label_strip, timecode

#: Box colours (RGB): faces, celebrities.
FACE_RGB = (255, 210, 0)
CELEBRITY_RGB = (0, 220, 255)
#: Frames per storyboard row, and labels listed per frame.
COLUMNS = 4
TOP_LABELS = 3


def storyboard_tile_px(settings: Settings, stage: RekognitionSettings) -> int | None:
    """The tile width (``REKOGNITION_STORYBOARD_TILE_PX``); ``None`` when ``PREVIEWS`` or
    ``REKOGNITION_PREVIEWS`` is off."""
    return stage.storyboard_tile_px if settings.previews and stage.previews else None


class FrameKeeper:
    """The ``on_frames`` hook: keeps the frames as RGB ``PIL`` images at most ``tile_px``
    wide."""

    def __init__(self, tile_px: int) -> None:
        self.tile_px = tile_px
        self.frames: dict[int, Image.Image] = {}

    def __call__(self, decoded: dict[int, np.ndarray]) -> None:
        for index, bgr in decoded.items():
            h, w = bgr.shape[:2]
            if w > self.tile_px:
                bgr = cv2.resize(
                    bgr,
                    (self.tile_px, max(1, round(h * self.tile_px / w))),
                    interpolation=cv2.INTER_AREA,
                )
            self.frames[index] = Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def _box(img: Image.Image, box: dict[str, Any]) -> tuple[int, int, int, int]:
    left, top = box.get("Left", 0.0) * img.width, box.get("Top", 0.0) * img.height
    return (
        round(left),
        round(top),
        round(left + box.get("Width", 0.0) * img.width),
        round(top + box.get("Height", 0.0) * img.height),
    )


def _tag(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, color: tuple[int, ...]) -> None:
    f = font(11)
    x, y = xy
    y = max(0, y - 14)
    draw.rectangle((x, y, x + draw.textlength(text, font=f) + 4, y + 13), fill=(0, 0, 0))
    draw.text((x + 2, y), text, fill=color, font=f)


def frame_tile(img: Image.Image, frame: dict[str, Any]) -> Image.Image:
    """One analysed frame: faces boxed with their strongest emotion, celebrities boxed with
    their names, over a strip with the scene, timecode, top labels and celebrity names."""
    pic = img.copy()
    draw = ImageDraw.Draw(pic)
    for face in frame.get("faces", []):
        x0, y0, x1, y1 = _box(pic, face.get("bounding_box") or {})
        draw.rectangle((x0, y0, x1, y1), outline=FACE_RGB, width=2)
        emotions = face.get("emotions") or []
        if emotions:
            e = emotions[0]
            _tag(draw, (x0, y0), f"{e['type'].lower()} {e['confidence']:.0f}%", FACE_RGB)
    for celeb in frame.get("celebrities", []):
        x0, y0, x1, y1 = _box(pic, celeb.get("bounding_box") or {})
        draw.rectangle((x0, y0, x1, y1), outline=CELEBRITY_RGB, width=2)
        _tag(draw, (x0, y1 + 14), str(celeb.get("name", "")), CELEBRITY_RGB)
    labels = ", ".join(
        f"{lab['name']} {lab['confidence']:.0f}%" for lab in frame.get("labels", [])[:TOP_LABELS]
    )
    lines = [
        f"scene {frame.get('scene')}  {timecode(float(frame.get('time_s', 0.0)))}  "
        f"frame {frame.get('frame')}",
        labels or "no labels",
    ]
    celebs = [str(c.get("name", "")) for c in frame.get("celebrities", [])]
    if celebs:
        lines.append("celebrities: " + ", ".join(celebs))
    strip = label_strip(pic.width, lines, size=12)
    tile = Image.new("RGB", (pic.width, pic.height + strip.height), (0, 0, 0))
    tile.paste(pic, (0, 0))
    tile.paste(strip, (0, pic.height))
    return tile


def storyboard_jpeg(analysis: dict[str, Any], frames: dict[int, Image.Image]) -> bytes | None:
    """``storyboard.jpg``: a grid of :func:`frame_tile` for each analysed frame in
    ``analysis["frames"]`` whose picture is in ``frames``; ``None`` when there is none."""
    tiles = [
        frame_tile(frames[f["frame"]], f)
        for f in analysis.get("frames", [])
        if f["frame"] in frames
    ]
    if not tiles:
        return None
    return jpeg_bytes(grid(tiles, COLUMNS), quality=85)
