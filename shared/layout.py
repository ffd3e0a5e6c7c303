"""Every S3 key the pipeline reads or writes, in one place (docs/outputs.md, a contract).

Videos live in the videos bucket at ``{platform}/{shortcode}/video.<ext>``; each stage writes
under its own folder (from the stage registry, :mod:`shared.stages`) in the results bucket::

    {platform}/{shortcode}/frames/{index}.jpg         frame-extract, 0-based scene index
    {platform}/{shortcode}/frames/manifest.json       frame-extract, written last
    {platform}/{shortcode}/landmarks/landmarks.npz    landmarks arrays
    {platform}/{shortcode}/landmarks/landmarks.json   landmarks metadata
    {platform}/{shortcode}/rekognition/analysis.json  rekognition
    {platform}/{shortcode}/physics/physics.json       physics observation
    {platform}/{shortcode}/physics/events.json        physics events and statistics
    {platform}/{shortcode}/trailer/{profile}/trailer.<ext>   trailer, one folder per profile
    {platform}/{shortcode}/trailer/{profile}/edl.json        its edit decision list
    {platform}/{shortcode}/trailer/{profile}/chapters.vtt    a WebVTT cue per shot
    {platform}/{shortcode}/trailer/{profile}/storyboard.jpg  the shots' frames, labelled

and the pictures people look at (docs/previews.md; none of them when ``PREVIEWS`` is off)::

    {platform}/{shortcode}/frames/preview.gif           key frames in scene order, animated
    {platform}/{shortcode}/frames/contact_sheet.jpg     key frames with scene index and timecode
    {platform}/{shortcode}/landmarks/preview.gif        pose skeleton over the sampled frames
    {platform}/{shortcode}/landmarks/trajectories.png   wrists, ankles, hip midpoint over time
    {platform}/{shortcode}/rekognition/storyboard.jpg   analysed frames with labels and faces
    {platform}/{shortcode}/physics/court.png            zone grid, paths, passes, turnovers, shots
    {platform}/{shortcode}/physics/possession.png       possession timeline per team
    {platform}/{shortcode}/summary.txt                  the video's outcome, plain text
    {platform}/{shortcode}/report.html                  the video's report (relative links)

Identifiers must already be validated (:func:`shared.messages.validate_platform` and
``validate_shortcode``); nothing here checks them again.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.stages import Stage, spec

FRAME_MANIFEST = "manifest.json"
LANDMARKS_NPZ = "landmarks.npz"
LANDMARKS_JSON = "landmarks.json"
REKOGNITION_ANALYSIS = "analysis.json"
PHYSICS_OBSERVATION = "physics.json"
PHYSICS_EVENTS = "events.json"
PREVIEW_GIF = "preview.gif"
CONTACT_SHEET = "contact_sheet.jpg"
LANDMARKS_TRAJECTORIES = "trajectories.png"
REKOGNITION_STORYBOARD = "storyboard.jpg"
PHYSICS_COURT = "court.png"
PHYSICS_POSSESSION = "possession.png"
TRAILER_EDL = "edl.json"
TRAILER_CHAPTERS = "chapters.vtt"
TRAILER_STORYBOARD = "storyboard.jpg"
SUMMARY_TXT = "summary.txt"
REPORT_HTML = "report.html"

#: The preview files each stage writes in its folder (when previews are on).
PREVIEW_FILES: dict[Stage, tuple[str, ...]] = {
    Stage.FRAME_EXTRACT: (PREVIEW_GIF, CONTACT_SHEET),
    Stage.LANDMARKS: (PREVIEW_GIF, LANDMARKS_TRAJECTORIES),
    Stage.REKOGNITION: (REKOGNITION_STORYBOARD,),
    Stage.PHYSICS: (PHYSICS_COURT, PHYSICS_POSSESSION),
    Stage.TRAILER: (),
}


@dataclass(frozen=True)
class VideoLayout:
    """The keys of one video, ``{platform}/{shortcode}/...``."""

    platform: str
    shortcode: str

    @property
    def base(self) -> str:
        """``{platform}/{shortcode}/``."""
        return f"{self.platform}/{self.shortcode}/"

    def video(self, ext: str = "mp4") -> str:
        """The video's key in the videos bucket, ``{platform}/{shortcode}/video.<ext>``."""
        return f"{self.base}video.{ext.lstrip('.')}"

    def stage(self, stage: Stage | str) -> str:
        """A stage's output folder, ``{platform}/{shortcode}/<folder>/``."""
        return f"{self.base}{spec(stage).folder}/"

    def key(self, stage: Stage | str, name: str) -> str:
        """A file in a stage's output folder."""
        return self.stage(stage) + name

    def frame(self, index: int) -> str:
        """Key frame ``index`` (0-based scene index), ``frames/{index}.jpg``."""
        return self.key(Stage.FRAME_EXTRACT, frame_file(index))

    @property
    def frame_manifest(self) -> str:
        """``frames/manifest.json``."""
        return self.key(Stage.FRAME_EXTRACT, FRAME_MANIFEST)

    @property
    def landmarks_npz(self) -> str:
        """``landmarks/landmarks.npz``."""
        return self.key(Stage.LANDMARKS, LANDMARKS_NPZ)

    @property
    def landmarks_json(self) -> str:
        """``landmarks/landmarks.json``."""
        return self.key(Stage.LANDMARKS, LANDMARKS_JSON)

    @property
    def rekognition_analysis(self) -> str:
        """``rekognition/analysis.json``."""
        return self.key(Stage.REKOGNITION, REKOGNITION_ANALYSIS)

    @property
    def physics_observation(self) -> str:
        """``physics/physics.json``."""
        return self.key(Stage.PHYSICS, PHYSICS_OBSERVATION)

    @property
    def physics_events(self) -> str:
        """``physics/events.json``."""
        return self.key(Stage.PHYSICS, PHYSICS_EVENTS)

    @property
    def frames_preview_gif(self) -> str:
        """``frames/preview.gif``."""
        return self.key(Stage.FRAME_EXTRACT, PREVIEW_GIF)

    @property
    def contact_sheet(self) -> str:
        """``frames/contact_sheet.jpg``."""
        return self.key(Stage.FRAME_EXTRACT, CONTACT_SHEET)

    @property
    def landmarks_preview_gif(self) -> str:
        """``landmarks/preview.gif``."""
        return self.key(Stage.LANDMARKS, PREVIEW_GIF)

    @property
    def landmarks_trajectories(self) -> str:
        """``landmarks/trajectories.png``."""
        return self.key(Stage.LANDMARKS, LANDMARKS_TRAJECTORIES)

    @property
    def rekognition_storyboard(self) -> str:
        """``rekognition/storyboard.jpg``."""
        return self.key(Stage.REKOGNITION, REKOGNITION_STORYBOARD)

    @property
    def physics_court(self) -> str:
        """``physics/court.png``."""
        return self.key(Stage.PHYSICS, PHYSICS_COURT)

    @property
    def physics_possession(self) -> str:
        """``physics/possession.png``."""
        return self.key(Stage.PHYSICS, PHYSICS_POSSESSION)

    def trailer(self, profile_id: str) -> str:
        """One profile's trailer folder, ``trailer/{profile_id}/`` (the id is a validated
        profile id, :data:`functions.trailer.profiles.PROFILE_ID`)."""
        return f"{self.stage(Stage.TRAILER)}{profile_id}/"

    def trailer_file(self, profile_id: str, ext: str) -> str:
        """``trailer/{profile_id}/trailer.<ext>``."""
        return f"{self.trailer(profile_id)}trailer.{ext.lstrip('.')}"

    def trailer_edl(self, profile_id: str) -> str:
        """``trailer/{profile_id}/edl.json``."""
        return self.trailer(profile_id) + TRAILER_EDL

    def trailer_chapters(self, profile_id: str) -> str:
        """``trailer/{profile_id}/chapters.vtt``."""
        return self.trailer(profile_id) + TRAILER_CHAPTERS

    def trailer_storyboard(self, profile_id: str) -> str:
        """``trailer/{profile_id}/storyboard.jpg``."""
        return self.trailer(profile_id) + TRAILER_STORYBOARD

    def previews(self, stage: Stage | str) -> list[str]:
        """The keys of the preview files ``stage`` writes (:data:`PREVIEW_FILES`)."""
        return [self.key(stage, name) for name in PREVIEW_FILES[Stage(stage)]]

    @property
    def summary(self) -> str:
        """``summary.txt``, the video's plain-text summary (beside the stage folders)."""
        return self.base + SUMMARY_TXT

    @property
    def report(self) -> str:
        """``report.html``, the video's report (beside the stage folders)."""
        return self.base + REPORT_HTML

    def relative(self, key: str) -> str:
        """``key`` relative to :attr:`base` (the link a report at ``base`` uses).

        Raises:
            ValueError: ``key`` is not under this video's prefix.
        """
        if not key.startswith(self.base):
            raise ValueError(f"{key!r} is not under {self.base!r}")
        return key[len(self.base) :]


def frame_file(index: int) -> str:
    """A key frame's file name within ``frames/``: ``{index}.jpg``."""
    return f"{index}.jpg"


def s3_uri(bucket: str, key: str) -> str:
    """``s3://bucket/key``."""
    return f"s3://{bucket}/{key}"
