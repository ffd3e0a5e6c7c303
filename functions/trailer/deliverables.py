"""The trailer's side deliverables from its EDL: ``chapters.vtt`` and ``storyboard.jpg``.

* ``chapters.vtt``: WebVTT (W3C WebVTT, "cue timings"), one cue per shot over its output
  times, the text ``Shot N: label, label, label`` (the scene's main labels, most frames first);
  translated when the run asks for a ``target_language`` (:mod:`functions.trailer.translate`).
* ``storyboard.jpg``: the shots' middle frames in output order, each over a strip with the shot
  number, its output time, its source timecode, its score and main labels (Pillow).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shared.previews.images import grid, jpeg_bytes, label_strip, timecode, to_image


def cue_texts(edl: dict[str, Any]) -> list[str]:
    """The English text of each shot's cue."""
    out = []
    for shot in edl["shots"]:
        labels = ", ".join(shot["labels"]) or "no labels"
        out.append(f"Shot {shot['index'] + 1}: {labels}")
    return out


def chapters_vtt(edl: dict[str, Any], texts: list[str]) -> str:
    """The WebVTT document: one cue per shot (output times), ``texts`` in shot order.

    Raises:
        ValueError: ``texts`` does not have one entry per shot.
    """
    shots = edl["shots"]
    if len(texts) != len(shots):
        raise ValueError(f"{len(texts)} cue texts for {len(shots)} shots")
    lines = ["WEBVTT", ""]
    for shot, text in zip(shots, texts, strict=True):
        start, end = shot["output"]["in_s"], shot["output"]["out_s"]
        lines += [
            f"shot-{shot['index'] + 1}",
            f"{timecode(start)} --> {timecode(end)}",
            " ".join(text.replace("-->", "->").split()),
            "",
        ]
    return "\n".join(lines)


def storyboard_jpeg(edl: dict[str, Any], stills: list[np.ndarray], *, columns: int = 4) -> bytes:
    """The storyboard JPEG (module docstring); ``stills`` are the shots' middle frames as
    ``(H, W, 3)`` RGB arrays, in shot order.

    Raises:
        ValueError: no stills, or not one per shot.
    """
    shots = edl["shots"]
    if not stills or len(stills) != len(shots):
        raise ValueError(f"{len(stills)} stills for {len(shots)} shots")
    tiles = []
    for shot, still in zip(shots, stills, strict=True):
        img = to_image(still)
        lines = [
            f"{shot['index'] + 1}  {timecode(shot['output']['in_s'])}  "
            f"src {shot['source']['in_tc']}  score {shot['score']:.2f}",
            ", ".join(shot["labels"]) or "no labels",
        ]
        strip = label_strip(img.width, lines)
        tile = to_image(np.zeros((img.height + strip.height, img.width, 3), dtype=np.uint8))
        tile.paste(img, (0, 0))
        tile.paste(strip, (0, img.height))
        tiles.append(tile)
    comment = f"vidpipe trailer storyboard: profile {edl['profile']['id']}, {len(shots)} shots"
    return jpeg_bytes(grid(tiles, columns), comment=comment)
