"""The stage registry: every pipeline stage declared once.

Each :class:`StageSpec` names a stage's Lambda handler (the ``ImageConfig.Command`` in
``template.yaml``), the folder it writes under ``{platform}/{shortcode}/`` in the results bucket,
its settings class and the stages whose outputs it reads. The command line, the local mode, the
template checks and the image's build-time import check all read this table; adding a stage is a
folder in ``functions/``, one entry here and one block in ``template.yaml``
(docs/adding-a-stage.md).

Handlers and settings classes are named by import path, not imported: ``shared`` is the runtime
layer and imports nothing from ``functions`` (docs/architecture.md, enforced by
``tests/unit/test_layers.py``). :meth:`StageSpec.load_handler` and
:meth:`StageSpec.settings_class` import them on demand.

Run ``python -m shared.stages`` to import every handler and settings class (the Dockerfile does,
so a broken entrypoint fails the build rather than the first event).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Stage(StrEnum):
    """The pipeline's stages, one per Lambda function; the value is the public stage name."""

    FRAME_EXTRACT = "frame-extract"
    LANDMARKS = "landmarks"
    PHYSICS = "physics"
    REKOGNITION = "rekognition"
    TRAILER = "trailer"


@dataclass(frozen=True)
class StageSpec:
    """One stage's declaration.

    Attributes:
        stage: the stage name (also the key under a message's ``options``).
        handler: the handler's import path, ``module.attribute`` (``ImageConfig.Command``).
        folder: the output folder under ``{platform}/{shortcode}/`` in the results bucket.
        settings: the stage's settings class as ``module:Class`` (a pydantic-settings class).
        function: the function's logical id in ``template.yaml``.
        depends_on: stages this one runs after when they are in the plan too (it reads their
            outputs when they exist).
        requires: stages this one cannot run without: planning it plans them too.
        paid: whether the stage calls a paid API (Rekognition, Gemini); such stages run only
            when a plan names them (docs/plans.md).
    """

    stage: Stage
    handler: str
    folder: str
    settings: str
    function: str
    depends_on: tuple[Stage, ...] = ()
    requires: tuple[Stage, ...] = ()
    paid: bool = False

    def load_handler(self) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        """Import and return the Lambda handler.

        Raises:
            ImportError, AttributeError: the handler path is wrong.
        """
        module, _, attr = self.handler.rpartition(".")
        handler: Callable[[dict[str, Any], Any], dict[str, Any]] = getattr(
            importlib.import_module(module), attr
        )
        return handler

    def settings_class(self) -> type[Any]:
        """Import and return the stage's settings class.

        Raises:
            ImportError, AttributeError: the settings path is wrong.
        """
        module, _, attr = self.settings.partition(":")
        cls: type[Any] = getattr(importlib.import_module(module), attr)
        return cls


STAGES: dict[Stage, StageSpec] = {
    spec.stage: spec
    for spec in (
        StageSpec(
            stage=Stage.FRAME_EXTRACT,
            handler="functions.frame_extract.handler.lambda_handler",
            folder="frames",
            settings="functions.frame_extract.settings:FrameExtractSettings",
            function="FrameExtractFunction",
        ),
        StageSpec(
            stage=Stage.LANDMARKS,
            handler="functions.landmarks.handler.lambda_handler",
            folder="landmarks",
            settings="functions.landmarks.settings:LandmarksSettings",
            function="LandmarksFunction",
        ),
        StageSpec(
            stage=Stage.PHYSICS,
            handler="functions.physics.handler.lambda_handler",
            folder="physics",
            settings="functions.physics.settings:PhysicsSettings",
            function="PhysicsFunction",
            paid=True,
        ),
        StageSpec(
            stage=Stage.REKOGNITION,
            handler="functions.rekognition.handler.lambda_handler",
            folder="rekognition",
            settings="functions.rekognition.settings:RekognitionSettings",
            function="RekognitionFunction",
            depends_on=(Stage.FRAME_EXTRACT,),
            paid=True,
        ),
        StageSpec(
            stage=Stage.TRAILER,
            handler="functions.trailer.handler.lambda_handler",
            folder="trailer",
            settings="functions.trailer.settings:TrailerSettings",
            function="TrailerFunction",
            depends_on=(Stage.FRAME_EXTRACT, Stage.REKOGNITION),
            requires=(Stage.FRAME_EXTRACT, Stage.REKOGNITION),
            # it plans rekognition, and may call Amazon Translate (target_language)
            paid=True,
        ),
    )
}


#: The pipeline's entry function: S3 events arrive at its queue; it records each upload's plan
#: and sends the first stages their messages (docs/plans.md). Not a stage: it has no status row.
ENTRY_HANDLER = "functions.pipeline.handler.lambda_handler"
ENTRY_FUNCTION = "PipelineFunction"
ENTRY_NAME = "pipeline"

#: The HTTP API's function (docs/api.md): behind API Gateway, not a queue; no status row either.
API_HANDLER = "functions.api.handler.lambda_handler"
API_FUNCTION = "ApiFunction"
API_SETTINGS = "functions.api.settings:ApiSettings"

#: The entrypoints that are not stages, in the order the build check imports them.
OTHER_HANDLERS = (ENTRY_HANDLER, API_HANDLER)


def spec(stage: Stage | str) -> StageSpec:
    """The declaration of ``stage`` (a :class:`Stage` or its name).

    Raises:
        ValueError: no such stage; the message lists the known ones.
    """
    try:
        return STAGES[Stage(stage)]
    except ValueError:
        raise ValueError(f"unknown stage {str(stage)!r}; choose from {', '.join(STAGES)}") from None


def stage_of_handler(handler: str) -> Stage:
    """The stage whose handler path is ``handler``.

    Raises:
        ValueError: no registered stage has that handler.
    """
    for s in STAGES.values():
        if s.handler == handler:
            return s.stage
    raise ValueError(f"no stage is registered for handler {handler!r}")


def check_imports() -> list[str]:
    """Import every stage's handler and settings class, and the entry's and the API's handlers;
    return the handler paths.

    Raises:
        ImportError, AttributeError: a path in the registry is wrong.
    """
    for s in STAGES.values():
        if not callable(s.load_handler()):
            raise TypeError(f"{s.handler} is not callable")
        s.settings_class()
    for handler in OTHER_HANDLERS:
        module, _, attr = handler.rpartition(".")
        if not callable(getattr(importlib.import_module(module), attr)):
            raise TypeError(f"{handler} is not callable")
    module, _, attr = API_SETTINGS.partition(":")
    getattr(importlib.import_module(module), attr)
    return [*OTHER_HANDLERS, *(s.handler for s in STAGES.values())]


if __name__ == "__main__":  # pragma: no cover - the Dockerfile's build check
    for path in check_imports():
        print("ok", path)
