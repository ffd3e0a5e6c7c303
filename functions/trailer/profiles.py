"""Viewer profiles: what a trailer for one kind of viewer looks for (docs/stages/trailer.md).

A :class:`Profile` is a set of weights over what rekognition reports for each analysed frame
(``rekognition/analysis.json``, :mod:`functions.rekognition.analysis`):

* ``labels``: Rekognition label names (``DetectLabels``' ``Name``, e.g. ``Car``, ``Smile``);
* ``categories``: Rekognition label categories (``DetectLabels``' ``Categories``, e.g.
  ``Vehicles and Automotive``), used for a label that has no weight of its own;
* ``emotions``: the eight ``DetectFaces`` emotion types (:data:`EMOTIONS`), per face;
* ``face_weight``: per detected face, counting at most ``max_faces`` per frame;
* ``celebrity_weight``: per recognised celebrity, unless ``celebrities`` names them.

Weights are unitless, between -10 and 10 (a negative weight pushes a scene away); each counts
with the confidence Rekognition gave, as a share of 1 (:mod:`functions.trailer.select` has the
rule). The four built-ins (:func:`builtin_profiles`) are the personalised-trailer service's
viewer profiles (``action_enthusiast``, ``family_viewer``, ``thriller_buff``,
``romance_devotee``: preferred emotions and foreground labels), written out as weights here.
Custom profiles are JSON objects of the same shape, inline in a plan's options or in a file
(:func:`load_profile_file`), validated by :func:`parse_profile` with one clear error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.errors import InvalidMessageError

#: The emotion types ``DetectFaces`` reports (Rekognition API reference, ``Emotion.Type``).
EMOTIONS = ("HAPPY", "SAD", "ANGRY", "CONFUSED", "DISGUSTED", "SURPRISED", "CALM", "FEAR")
Emotion = Literal["HAPPY", "SAD", "ANGRY", "CONFUSED", "DISGUSTED", "SURPRISED", "CALM", "FEAR"]
Weight = Annotated[float, Field(ge=-10, le=10, allow_inf_nan=False)]
Name = Annotated[str, Field(min_length=1, max_length=128)]
PROFILE_ID = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class ProfileError(InvalidMessageError):
    """A profile that is not valid, or a profile id that names no built-in (permanent)."""


class Profile(BaseModel):
    """One viewer profile (module docstring).

    Attributes:
        id: ``[a-z0-9][a-z0-9_-]{0,63}``; the deliverables' folder ``trailer/{id}/``.
        name: a human name.
        description: what the profile prefers, in a sentence.
        labels: weight per Rekognition label name.
        categories: weight per Rekognition label category (labels without their own weight).
        emotions: weight per ``DetectFaces`` emotion type, per face.
        face_weight: weight per face, at most ``max_faces`` faces per frame.
        max_faces: faces counted per frame.
        celebrity_weight: weight per recognised celebrity not named in ``celebrities``.
        celebrities: weight per celebrity name.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=PROFILE_ID)
    name: str = Field(min_length=1, max_length=128)
    description: str = Field(default="", max_length=1000)
    labels: dict[Name, Weight] = Field(default_factory=dict, max_length=500)
    categories: dict[Name, Weight] = Field(default_factory=dict, max_length=100)
    emotions: dict[Emotion, Weight] = Field(default_factory=dict)
    face_weight: Weight = 0.0
    max_faces: int = Field(default=3, ge=0, le=100)
    celebrity_weight: Weight = 0.0
    celebrities: dict[Name, Weight] = Field(default_factory=dict, max_length=500)

    def label_weight(self, name: str, categories: list[str]) -> tuple[float, str, str] | None:
        """The weight of a label: its own, else the largest (by size) of its categories'.

        Returns:
            ``(weight, kind, matched name)`` with kind ``label`` or ``category``; ``None`` when
            the profile weighs neither.
        """
        if name in self.labels:
            return self.labels[name], "label", name
        weighted = [(self.categories[c], c) for c in categories if c in self.categories]
        if not weighted:
            return None
        weight, cat = max(weighted, key=lambda wc: (abs(wc[0]), wc[0], wc[1]))
        return weight, "category", cat


_BUILTINS: tuple[Profile, ...] = (
    Profile(
        id="action_enthusiast",
        name="Action enthusiast",
        description="Vehicles, weapons, fire, sport and crowds; excited, angry and surprised "
        "faces. Gear and machines count a little.",
        labels={
            "Car": 3.0,
            "Vehicle": 2.0,
            "Motorcycle": 3.0,
            "Helicopter": 3.0,
            "Aircraft": 2.0,
            "Explosion": 5.0,
            "Fire": 4.0,
            "Flame": 4.0,
            "Smoke": 2.0,
            "Weapon": 4.0,
            "Gun": 4.0,
            "Running": 3.0,
            "Jumping": 3.0,
            "Fighting": 4.0,
            "Boxing": 3.0,
            "Martial Arts": 3.0,
            "Racing": 4.0,
            "Crowd": 1.5,
            "Road": 1.0,
            "City": 1.0,
        },
        categories={
            "Vehicles and Automotive": 2.0,
            "Weapons and Military": 3.0,
            "Sports": 2.0,
            "Actions": 1.5,
            "Public Safety": 1.5,
            "Tools and Machinery": 0.5,
            "Technology and Computing": 0.5,
        },
        emotions={"ANGRY": 2.0, "SURPRISED": 2.0, "FEAR": 1.0, "CALM": -0.5},
        face_weight=0.3,
        celebrity_weight=1.0,
    ),
    Profile(
        id="family_viewer",
        name="Family viewer",
        description="Children, animals, homes, parks and celebrations; happy and calm faces; "
        "weapons and fights are avoided.",
        labels={
            "Child": 3.0,
            "Kid": 3.0,
            "Baby": 3.0,
            "Family": 3.0,
            "Dog": 3.0,
            "Cat": 3.0,
            "Animal": 2.0,
            "Toy": 2.0,
            "Park": 2.0,
            "Playground": 3.0,
            "Beach": 2.0,
            "Smile": 2.0,
            "Birthday Cake": 3.0,
            "Balloon": 2.0,
            "Weapon": -5.0,
            "Gun": -5.0,
            "Blood": -5.0,
            "Fighting": -3.0,
            "Explosion": -3.0,
        },
        categories={
            "Animals and Pets": 2.0,
            "Party and Celebration": 2.0,
            "Plants and Flowers": 1.0,
            "Nature and Outdoors": 1.0,
            "Home and Indoors": 1.0,
            "Food and Beverage": 1.0,
            "Weapons and Military": -4.0,
        },
        emotions={"HAPPY": 3.0, "CALM": 1.5, "ANGRY": -1.5, "FEAR": -1.5, "DISGUSTED": -1.0},
        face_weight=0.5,
        celebrity_weight=0.5,
    ),
    Profile(
        id="thriller_buff",
        name="Thriller buff",
        description="Night, shadows, weapons, police, phones and screens; fearful, surprised and "
        "confused faces.",
        labels={
            "Night": 3.0,
            "Dark": 3.0,
            "Shadow": 2.0,
            "Alley": 3.0,
            "Weapon": 3.0,
            "Gun": 3.0,
            "Knife": 3.0,
            "Police": 3.0,
            "Mobile Phone": 2.0,
            "Phone": 1.5,
            "Computer": 1.5,
            "Monitor": 1.0,
            "Door": 1.0,
            "Window": 0.5,
            "Car": 1.0,
            "Fog": 2.0,
        },
        categories={
            "Public Safety": 2.0,
            "Weapons and Military": 2.0,
            "Technology and Computing": 1.0,
            "Text and Documents": 1.0,
        },
        emotions={"FEAR": 3.0, "SURPRISED": 2.0, "CONFUSED": 2.0, "ANGRY": 1.0, "HAPPY": -1.0},
        face_weight=0.5,
        celebrity_weight=1.0,
    ),
    Profile(
        id="romance_devotee",
        name="Romance devotee",
        description="Couples, kisses, weddings, flowers and sunsets; happy, calm and sad faces "
        "and close-ups of people.",
        labels={
            "Couple": 4.0,
            "Kiss": 5.0,
            "Hug": 4.0,
            "Dating": 4.0,
            "Wedding": 4.0,
            "Bride": 4.0,
            "Flower": 2.0,
            "Rose": 3.0,
            "Sunset": 3.0,
            "Candle": 2.0,
            "Dining Table": 1.0,
            "Smile": 2.0,
            "Face": 1.0,
            "Portrait": 1.5,
            "Weapon": -3.0,
            "Explosion": -3.0,
        },
        categories={
            "Plants and Flowers": 1.5,
            "Party and Celebration": 1.0,
            "Hospitality": 1.0,
            "Weapons and Military": -3.0,
        },
        emotions={"HAPPY": 2.5, "CALM": 2.0, "SAD": 1.5, "ANGRY": -1.5},
        face_weight=1.0,
        max_faces=2,
        celebrity_weight=1.0,
    ),
)


def builtin_profiles() -> list[Profile]:
    """The four built-in profiles, in a fixed order (``action_enthusiast``,
    ``family_viewer``, ``thriller_buff``, ``romance_devotee``). Profiles are frozen models; the
    list is a fresh copy."""
    return list(_BUILTINS)


def builtin(profile_id: str) -> Profile:
    """The built-in profile ``profile_id``.

    Raises:
        ProfileError: no built-in has that id (the message lists them).
    """
    for p in _BUILTINS:
        if p.id == profile_id:
            return p
    known = ", ".join(p.id for p in _BUILTINS)
    raise ProfileError(f"unknown profile {profile_id!r}; the built-ins are {known}")


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'profile'}: {e['msg']}" for e in exc.errors()
    )


def parse_profile(data: Any, *, where: str = "profile") -> Profile:
    """A custom profile from a decoded JSON object (or JSON text).

    Raises:
        ProfileError: not an object, unknown keys, bad weights or emotion types; the message
            starts with ``where`` and names each bad field.
    """
    try:
        if isinstance(data, str | bytes):
            return Profile.model_validate_json(data)
        if not isinstance(data, dict):
            raise ProfileError(f"{where}: a custom profile is a JSON object, got {data!r:.80}")
        return Profile.model_validate(data)
    except ValidationError as exc:
        pid = data.get("id") if isinstance(data, dict) else None
        name = f"{where} {pid!r}" if isinstance(pid, str) else where
        raise ProfileError(f"{name}: {_errors(exc)}") from None


def resolve_profile(ref: str | dict[str, Any], *, where: str = "profile") -> Profile:
    """A built-in's id or an inline custom profile, as a :class:`Profile`.

    Raises:
        ProfileError: an unknown id or an invalid profile.
    """
    if isinstance(ref, str):
        return builtin(ref)
    return parse_profile(ref, where=where)


def load_profile_file(path: Path) -> Profile:
    """A custom profile from a JSON file.

    Raises:
        ProfileError: unreadable, not JSON, or not a valid profile (the message names the file).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"profile file {path}: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProfileError(f"profile file {path}: not JSON: {exc}") from None
    return parse_profile(data, where=f"profile file {path.name}")


def describe(profile: Profile) -> dict[str, Any]:
    """The profile as a JSON-ready dict (what the EDL records and the API serves)."""
    return profile.model_dump(mode="json")
