"""Gemini watches a clip and answers a validated physics observation.

Steps (the seed's workflow, done with google-genai):

1. upload the video with the Files API and poll until it is ``ACTIVE`` (``FAILED`` is a
   permanent error; not active within ``active_timeout_s`` is transient);
2. optionally put it in a context cache (skipped, with a log line, when Gemini answers that the
   content is below the model's minimum cache size);
3. ``generate_content`` with ``video_metadata`` fps (16 by default), ``MEDIA_RESOLUTION_HIGH``
   and the :class:`~functions.physics.schema.Observation` model as ``response_schema``;
4. validate the answer (:mod:`functions.physics.validate`); if it is invalid, ask once more with
   the problems listed; still invalid is a permanent error;
5. delete the cache and the uploaded file on every path.

Errors: 408, 429, 5xx, connection failures and time-outs of whichever HTTP stack google-genai
uses (httpx2 by default, httpx, requests, aiohttp), after google-genai's own retries, are
:class:`GeminiUnavailableError` (transient); other 4xx, a safety block, a failed upload and a
still-invalid answer are permanent. Cost is estimated from the reported token usage and the
configured prices per million tokens.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from functions.physics.schema import GRID, Observation
from functions.physics.validate import Problem, validate
from shared.errors import ConfigurationError, PermanentError, TransientError
from shared.observability import logger


class GeminiUnavailableError(TransientError):
    """Gemini throttled (429), failed (5xx) or timed out after the client's retries."""


class GeminiRejectedError(PermanentError):
    """Gemini refused the request (4xx), blocked it for safety, or the upload failed."""


class InvalidObservationError(PermanentError):
    """Gemini's answer stayed invalid after one corrective retry."""


#: The prompt holds numbers only (fps, duration), never a string from a message or an S3 key: the
#: clip's name is set on the observation after Gemini answers (no user text can reach the model).
PROMPT = f"""You are a sports analyst. Watch this clip and report a physics observation as JSON
in the given schema, one sample every 1/{{fps:g}} s from t_s = 0 (t_s in seconds, increasing).
Positions are normalised to the video frame: x from 0 (left edge) to 1 (right edge), y from 0
(top edge) to 1 (bottom edge). The court is split {GRID} x {GRID} into zones 1-49 in reading
order: zone = 7 * floor(7 * y) + floor(7 * x) + 1 (zone 1 top-left, 49 bottom-right); every zone
must contain its x, y. Give each player a track_id that stays the same for the whole clip, a
team (A or B, never changing for a track) and a role (player or goalkeeper). For the ball give
its position and zone, the holder's track_id (null when nobody holds it) and in_flight (true
while it travels through the air; a held ball is never in flight). The clip is
{{duration:.3f}} s long: set duration_s = {{duration:.3f}} and sample_fps = {{fps:g}}, and leave
clip empty (it is filled in afterwards)."""


@dataclass
class GeminiResult:
    """The validated observation plus what it cost."""

    observation: Observation
    model: str
    attempts: int
    cached: bool
    usage: dict[str, int] = field(default_factory=dict)
    cost_usd: float = 0.0


@dataclass(frozen=True)
class Prices:
    """USD per million tokens: input, output, cached input."""

    input_per_mtok: float = 0.50
    output_per_mtok: float = 3.00
    cached_per_mtok: float = 0.05


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Connection failures and time-outs of every HTTP stack google-genai can send with.

    google-genai picks ``httpx2`` by default (``GOOGLE_GENAI_HTTP_CLIENT``, or the type of an
    injected ``httpx_client``, can choose ``httpx``), ``aiohttp`` for its async client when
    installed, and ``requests`` (through google-auth's ``AuthorizedSession``) for Vertex AI with
    mTLS; a credential refresh that cannot reach Google raises google-auth's
    ``TransportError``. Every one of them means "Gemini could not be reached in time", never
    "the request is wrong". Sources: ``google/genai/_api_client.py`` (``_HTTPX_TRANSIENT_EXC``,
    ``_AIOHTTP_TRANSIENT_EXC``, ``retry_args``) in google-genai 3.6.
    """
    found: list[type[BaseException]] = [httpx.TransportError, TimeoutError, ConnectionError]
    try:
        import httpx2

        found.append(httpx2.TransportError)  # ConnectError, ReadTimeout, ... all derive from it
    except ImportError:  # pragma: no cover - google-genai without its httpx2 extra
        pass
    try:
        import requests

        found += [requests.ConnectionError, requests.Timeout]
    except ImportError:  # pragma: no cover
        pass
    try:
        import aiohttp

        found += [aiohttp.ClientConnectionError, aiohttp.ServerTimeoutError]
    except ImportError:
        pass
    try:
        from google.auth import exceptions as auth_exceptions

        found.append(auth_exceptions.TransportError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(found)


_TRANSPORT_ERRORS: tuple[type[BaseException], ...] | None = None


def upload_display_name(clip: str) -> str:
    """The uploaded file's display name: a digest of the clip's name, not the name itself, so no
    string from a message reaches Gemini (it still tells uploads of one clip apart)."""
    return "vidpipe-" + hashlib.sha256(clip.encode("utf-8")).hexdigest()[:16]


def _translate(exc: Exception, what: str) -> Exception:
    """Map an exception from google-genai onto the pipeline's error tree.

    ``errors.APIError`` (and its ``ClientError``/``ServerError`` subclasses) by HTTP code: 408,
    429 and 5xx are :class:`GeminiUnavailableError` (transient), 401/403
    :class:`~shared.errors.ConfigurationError`, any other code :class:`GeminiRejectedError`.
    A connection failure or time-out of any HTTP stack (:func:`_transport_errors`) is
    transient. Anything else is returned unchanged (a bug, not a Gemini answer).
    """
    global _TRANSPORT_ERRORS
    from google.genai import errors

    if isinstance(exc, errors.APIError):
        code = exc.code or 0
        if code in (408, 429) or code >= 500:
            return GeminiUnavailableError(f"Gemini {what}: {code} {exc.message or exc}")
        if code in (401, 403):
            return ConfigurationError(f"Gemini {what}: {code}: check GEMINI_API_KEY ({exc})")
        return GeminiRejectedError(f"Gemini {what}: {code} {exc.message or exc}")
    if _TRANSPORT_ERRORS is None:
        _TRANSPORT_ERRORS = _transport_errors()
    if isinstance(exc, _TRANSPORT_ERRORS):
        return GeminiUnavailableError(
            f"Gemini {what}: cannot reach the API: {type(exc).__module__.split('.')[0]}."
            f"{type(exc).__name__}: {exc}"
        )
    return exc


class GeminiAnalyzer:
    """Runs the steps of the module docstring with one google-genai client.

    Args:
        client: ``google.genai.Client``.
        model: model name (``GEMINI_MODEL``).
        fps: sampling rate sent as ``video_metadata.fps`` (``GEMINI_FPS``).
        use_cache: try a context cache first (``GEMINI_USE_CACHE``).
        cache_ttl_s: cache lifetime in seconds.
        active_timeout_s: how long to wait for the upload to become ACTIVE.
        poll_interval_s: seconds between state checks.
        prices: for the cost estimate.
        sleep, clock: injectable for tests.
    """

    def __init__(
        self,
        client: Any,
        *,
        model: str,
        fps: float = 16.0,
        use_cache: bool = True,
        cache_ttl_s: int = 600,
        active_timeout_s: float = 300.0,
        poll_interval_s: float = 2.0,
        prices: Prices | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.model = model
        self.fps = fps
        self.use_cache = use_cache
        self.cache_ttl_s = cache_ttl_s
        self.active_timeout_s = active_timeout_s
        self.poll_interval_s = poll_interval_s
        self.prices = prices or Prices()
        self._sleep = sleep
        self._clock = clock

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as exc:
            translated = _translate(exc, what)
            if translated is exc:
                raise
            raise translated from exc

    def _wait_active(self, name: str) -> Any:
        deadline = self._clock() + self.active_timeout_s
        while True:
            f = self._call("files.get", lambda: self.client.files.get(name=name))
            state = str(getattr(f.state, "value", f.state) or "")
            if state == "ACTIVE":
                return f
            if state == "FAILED":
                raise GeminiRejectedError(f"Gemini could not process the uploaded video ({name})")
            if self._clock() >= deadline:
                raise GeminiUnavailableError(
                    f"uploaded video {name} not ACTIVE after {self.active_timeout_s:g} s"
                )
            self._sleep(self.poll_interval_s)

    def analyze(
        self,
        path: Path | str,
        *,
        clip: str,
        duration_s: float,
        on_step: Callable[[str], None] | None = None,
    ) -> GeminiResult:
        """Analyse one local video file.

        Args:
            on_step: called with one line per step as it completes (upload ready, cache created
                or skipped, validation passed, cleaned up): the CLI's ``-v`` output.

        Raises:
            GeminiUnavailableError: transient (429, 5xx, time-outs, never ACTIVE).
            GeminiRejectedError, InvalidObservationError: permanent.
            ConfigurationError: bad API key.
        """
        from google.genai import errors, types

        uploaded = self._call(
            "files.upload",
            lambda: self.client.files.upload(
                file=str(path),
                config=types.UploadFileConfig(
                    mime_type="video/mp4", display_name=upload_display_name(clip)
                ),
            ),
        )
        step = on_step or (lambda _line: None)
        cache_name: str | None = None
        try:
            active = self._wait_active(uploaded.name)
            step(f"Uploaded to the Gemini File API; ready: {uploaded.name}")
            video = types.Part(
                file_data=types.FileData(file_uri=active.uri, mime_type=active.mime_type),
                video_metadata=types.VideoMetadata(fps=self.fps),
            )
            prompt = PROMPT.format(fps=self.fps, duration=duration_s)
            if self.use_cache:
                try:
                    cache = self.client.caches.create(
                        model=self.model,
                        config=types.CreateCachedContentConfig(
                            contents=[types.Content(role="user", parts=[video])],
                            ttl=f"{self.cache_ttl_s}s",
                        ),
                    )
                    cache_name = cache.name
                    step(
                        f"Cache created: {cache_name} (FPS={self.fps:g}, Resolution=HIGH, "
                        f"Model={self.model}, TTL={self.cache_ttl_s} s)"
                    )
                except errors.ClientError as exc:
                    step("Cache skipped (clip below the model's minimum cache size); inline video")
                    logger.info(
                        "context cache skipped (clip below the model's minimum cache "
                        "size or caching unavailable)",
                        extra={"reason": str(exc)[:300]},
                    )
                except Exception as exc:
                    translated = _translate(exc, "caches.create")
                    if translated is exc:
                        raise
                    raise translated from exc
            result = self._generate(video, prompt, cache_name, clip=clip, duration_s=duration_s)
            step(
                f"Validation passed ({len(result.observation.samples)} samples, attempt "
                f"{result.attempts})"
            )
            return result
        finally:
            if cache_name is not None:
                self._quietly(lambda: self.client.caches.delete(name=cache_name), "cache")
            self._quietly(lambda: self.client.files.delete(name=uploaded.name), "file")
            step("Cleaned up the uploaded file" + (" and the cache" if cache_name else ""))

    def _quietly(self, fn: Callable[[], Any], what: str) -> None:
        try:
            fn()
        except Exception:
            logger.warning("could not delete the uploaded %s; Gemini expires it after 48 h", what)

    def _generate(
        self, video: Any, prompt: str, cache_name: str | None, *, clip: str, duration_s: float
    ) -> GeminiResult:
        from google.genai import types

        config = types.GenerateContentConfig(
            response_mime_type="application/json",
            response_schema=Observation,
            media_resolution=types.MediaResolution.MEDIA_RESOLUTION_HIGH,
            cached_content=cache_name,
        )
        user_parts = [types.Part(text=prompt)] if cache_name else [video, types.Part(text=prompt)]
        contents: list[Any] = [types.Content(role="user", parts=user_parts)]
        usage: dict[str, int] = {"prompt": 0, "output": 0, "cached": 0}
        problems: list[Problem] = []
        for attempt in (1, 2):
            response = self._call(
                "generate_content",
                lambda contents=contents: self.client.models.generate_content(  # type: ignore[misc]
                    model=self.model, contents=contents, config=config
                ),
            )
            self._add_usage(usage, response)
            text = self._text_or_block(response)
            obs, problems = validate(text, clip_duration_s=duration_s)
            if obs is not None:
                return GeminiResult(
                    observation=obs.model_copy(update={"clip": clip}),
                    model=self.model,
                    attempts=attempt,
                    cached=cache_name is not None,
                    usage=usage,
                    cost_usd=self._cost(usage),
                )
            logger.warning(
                "invalid observation from Gemini",
                extra={"attempt": attempt, "problems": [str(p) for p in problems[:20]]},
            )
            contents = [
                *contents,
                types.Content(role="model", parts=[types.Part(text=text)]),
                types.Content(
                    role="user",
                    parts=[
                        types.Part(
                            text=(
                                "That answer is invalid:\n"
                                + "\n".join(str(p) for p in problems[:50])
                                + "\nAnswer again with the whole corrected observation."
                            )
                        )
                    ],
                ),
            ]
        raise InvalidObservationError(
            f"Gemini's observation for {clip} is still invalid after a corrective retry: "
            + "; ".join(str(p) for p in problems[:5])
        )

    @staticmethod
    def _text_or_block(response: Any) -> str:
        feedback = getattr(response, "prompt_feedback", None)
        if feedback is not None and getattr(feedback, "block_reason", None):
            raise GeminiRejectedError(f"Gemini blocked the request: {feedback.block_reason}")
        candidates = getattr(response, "candidates", None) or []
        if candidates:
            reason = str(
                getattr(candidates[0].finish_reason, "value", candidates[0].finish_reason) or ""
            )
            if reason in ("SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII"):
                raise GeminiRejectedError(f"Gemini stopped the answer: finish reason {reason}")
        text = response.text
        if not text:
            raise GeminiRejectedError("Gemini returned no text")
        return str(text)

    @staticmethod
    def _add_usage(usage: dict[str, int], response: Any) -> None:
        meta = getattr(response, "usage_metadata", None)
        if meta is None:
            return
        usage["prompt"] += meta.prompt_token_count or 0
        usage["output"] += meta.candidates_token_count or 0
        usage["cached"] += meta.cached_content_token_count or 0

    def _cost(self, usage: dict[str, int]) -> float:
        fresh = max(0, usage["prompt"] - usage["cached"])
        return round(
            (
                fresh * self.prices.input_per_mtok
                + usage["output"] * self.prices.output_per_mtok
                + usage["cached"] * self.prices.cached_per_mtok
            )
            / 1e6,
            6,
        )


def make_client(
    api_key: str,
    *,
    retries: int = 3,
    timeout_s: float = 300.0,
    initial_delay_s: float = 1.0,
    http_client: httpx.Client | None = None,
    base_url: str | None = None,
) -> Any:
    """A google-genai client with retries on 408/429/5xx and a request time-out.

    Args:
        api_key: the Gemini API key.
        retries: attempts per request (google-genai's ``HttpRetryOptions``).
        timeout_s: per-request time-out in seconds.
        initial_delay_s: first back-off delay in seconds (doubles per retry).
        http_client: an ``httpx.Client`` to send with (tests answer in-process); by default
            google-genai builds its own (``httpx2`` when installed, see :func:`_transport_errors`).
        base_url: another API endpoint (a proxy, or an unreachable port in tests).
    """
    from google import genai
    from google.genai import types

    return genai.Client(
        api_key=api_key,
        http_options=types.HttpOptions(
            timeout=int(timeout_s * 1000),
            retry_options=types.HttpRetryOptions(
                attempts=retries,
                initial_delay=initial_delay_s,
                http_status_codes=[408, 429, 500, 502, 503, 504],
            ),
            httpx_client=http_client,
            base_url=base_url,
        ),
    )


def observation_json(result: GeminiResult) -> dict[str, Any]:
    """``physics.json``: the observation with the model, attempts, cache use, tokens and cost."""
    return {
        **json.loads(result.observation.model_dump_json()),
        "analysis": {
            "model": result.model,
            "attempts": result.attempts,
            "cached": result.cached,
            "usage_tokens": result.usage,
            "estimated_cost_usd": result.cost_usd,
        },
    }
