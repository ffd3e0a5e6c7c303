"""Image helpers for the previews: fitting, labelling, GIF/JPEG/PNG encoding with Pillow, and a
matplotlib set up for Lambda.

Nothing here decodes video; inputs are images already in memory (``PIL.Image`` or ``(H, W, 3)``
uint8 arrays).
"""

from __future__ import annotations

import io
import math
import os
import tempfile
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: Background and text colours of label strips (RGB).
LABEL_BG = (24, 24, 24)
LABEL_FG = (240, 240, 240)

_MPL_LOCK = threading.Lock()


def timecode(seconds: float) -> str:
    """``HH:MM:SS.mmm`` for a time in seconds (rounded to the millisecond).

    Raises:
        ValueError: ``seconds`` is negative or not finite.
    """
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a timecode needs a finite time >= 0 s, got {seconds!r}")
    ms = round(seconds * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


@lru_cache(maxsize=8)
def font(size: int = 14) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at ``size`` pixels (FreeType's Aileron; no system font needed)."""
    return ImageFont.load_default(size=size)


def to_image(img: Image.Image | np.ndarray) -> Image.Image:
    """An RGB ``PIL.Image`` from an image or an ``(H, W, 3)`` uint8 RGB array."""
    if isinstance(img, Image.Image):
        return img if img.mode == "RGB" else img.convert("RGB")
    return Image.fromarray(np.ascontiguousarray(img, dtype=np.uint8), "RGB")


def fit_width(img: Image.Image, max_width: int) -> Image.Image:
    """``img`` scaled down (aspect kept, Lanczos) to at most ``max_width`` pixels wide."""
    if img.width <= max_width:
        return img
    height = max(1, round(img.height * max_width / img.width))
    return img.resize((max_width, height), Image.Resampling.LANCZOS)


def open_jpeg(data: bytes, max_width: int) -> Image.Image:
    """Decode JPEG bytes straight to at most ``max_width`` pixels wide (Pillow's DCT-domain
    ``draft`` scaling, then Lanczos for the rest), RGB.

    Raises:
        PIL.UnidentifiedImageError: not an image.
    """
    img = Image.open(io.BytesIO(data))
    if img.width > max_width:
        img.draft("RGB", (max_width, max(1, img.height * max_width // img.width)))
    return fit_width(img.convert("RGB"), max_width)


def label_strip(width: int, lines: Sequence[str], *, size: int = 14) -> Image.Image:
    """A dark strip ``width`` pixels wide with ``lines`` of text, one per row (cut to fit)."""
    f = font(size)
    pad, row = 4, size + 4
    strip = Image.new("RGB", (width, pad * 2 + row * max(1, len(lines))), LABEL_BG)
    draw = ImageDraw.Draw(strip)
    for i, line in enumerate(lines):
        text = line
        while text and draw.textlength(text, font=f) > width - 2 * pad:
            text = text[:-2] + "…"
        draw.text((pad, pad + i * row), text, fill=LABEL_FG, font=f)
    return strip


def grid(tiles: Sequence[Image.Image], columns: int, *, gap: int = 4) -> Image.Image:
    """Tiles in rows of ``columns`` (each cell as large as the largest tile), on a dark
    background.

    Raises:
        ValueError: no tiles, or ``columns < 1``.
    """
    if not tiles or columns < 1:
        raise ValueError("a grid needs at least one tile and one column")
    cols = min(columns, len(tiles))
    rows = math.ceil(len(tiles) / cols)
    cw, ch = max(t.width for t in tiles), max(t.height for t in tiles)
    sheet = Image.new(
        "RGB", (cols * cw + (cols + 1) * gap, rows * ch + (rows + 1) * gap), (12, 12, 12)
    )
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        sheet.paste(tile, (gap + c * (cw + gap), gap + r * (ch + gap)))
    return sheet


def gif_bytes(frames: Sequence[Image.Image | np.ndarray], frame_ms: int) -> bytes:
    """An animated GIF (looping) of ``frames``, ``frame_ms`` milliseconds each.

    Every frame is quantised to its own adaptive 256-colour palette (Pillow's fast octree, with
    Floyd-Steinberg dithering: about 2 ms for a 480x270 frame, where median cut takes 0.5 s) and
    Pillow's ``optimize`` drops unused palette entries. Frames of different sizes
    are pasted top-left on a canvas as large as the first. Pillow merges a frame identical to the
    one before it into that frame (adding the durations).

    Raises:
        ValueError: no frames, or ``frame_ms`` under 20 (browsers clamp faster GIFs).
    """
    if not frames:
        raise ValueError("a GIF needs at least one frame")
    if frame_ms < 20:
        raise ValueError(f"GIF frame time must be at least 20 ms, got {frame_ms}")
    images = [to_image(f) for f in frames]
    size = images[0].size
    paletted = []
    for img in images:
        if img.size != size:
            canvas = Image.new("RGB", size)
            canvas.paste(img, (0, 0))
            img = canvas
        paletted.append(img.quantize(colors=256, method=Image.Quantize.FASTOCTREE))
    buf = io.BytesIO()
    paletted[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=paletted[1:],
        duration=frame_ms,
        loop=0,
        optimize=True,
        disposal=1,
    )
    return buf.getvalue()


def jpeg_bytes(img: Image.Image, *, quality: int = 85, comment: str | None = None) -> bytes:
    """Baseline JPEG bytes of ``img``; ``comment`` goes into the JPEG's COM segment (Pillow reads
    it back as ``Image.open(...).info["comment"]``)."""
    buf = io.BytesIO()
    kwargs: dict[str, Any] = {"quality": quality}
    if comment is not None:
        kwargs["comment"] = comment.encode("utf-8")
    to_image(img).save(buf, format="JPEG", **kwargs)
    return buf.getvalue()


def use_matplotlib() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend, with ``MPLCONFIGDIR`` pointed
    at a writable directory when unset (Lambda's file system is read-only outside ``/tmp``).

    Returns:
        The ``matplotlib.pyplot`` module.
    """
    with _MPL_LOCK:
        if "MPLCONFIGDIR" not in os.environ:
            path = os.path.join(tempfile.gettempdir(), "matplotlib")
            os.makedirs(path, exist_ok=True)
            os.environ["MPLCONFIGDIR"] = path
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt

        return plt


def png_bytes(fig: Any, *, dpi: int = 100) -> bytes:
    """A matplotlib figure as PNG bytes, without the software/date metadata (so the same figure
    gives the same bytes), and close the figure."""
    plt = use_matplotlib()
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    finally:
        plt.close(fig)
    return buf.getvalue()
