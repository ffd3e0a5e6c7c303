"""Gemini transport failures, through the HTTP stack google-genai really uses by default.

No ``httpx_client`` is injected here: google-genai builds its own client (``httpx2`` in the
installed release), so the exception that reaches :mod:`functions.physics.gemini` is the one a
deployment sees when Gemini cannot be reached.
"""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from functions.physics.gemini import GeminiAnalyzer, GeminiUnavailableError, _translate, make_client
from shared.errors import ConfigurationError
from vidpipe.synth import make_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gemini-net") / "clip.mp4"
    make_clip(path, (5,))
    return path


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def default_backend() -> str:
    from google.genai import _api_client, types

    return str(_api_client._get_http_client_backend(types.HttpOptions()))


def unreachable_analyzer() -> GeminiAnalyzer:
    client = make_client(
        "test-key",
        retries=2,
        timeout_s=5,
        initial_delay_s=0.01,
        base_url=f"http://127.0.0.1:{closed_port()}",
    )
    return GeminiAnalyzer(client, model="gemini-3-flash-preview", use_cache=False)


def test_unreachable_gemini_on_the_default_transport_is_transient(clip, monkeypatch):
    # given: no GOOGLE_GENAI_HTTP_CLIENT override, so google-genai chooses its default stack
    monkeypatch.delenv("GOOGLE_GENAI_HTTP_CLIENT", raising=False)
    backend = default_backend()
    # when
    with pytest.raises(GeminiUnavailableError, match="cannot reach the API") as info:
        unreachable_analyzer().analyze(clip, clip="clip.mp4", duration_s=0.2)
    # then: the cause is the default stack's own ConnectError (httpx2 in google-genai 3.x)
    cause = info.value.__cause__
    assert type(cause).__module__.split(".")[0] == backend
    assert type(cause).__name__ == "ConnectError"
    assert backend in str(info.value)


def test_unreachable_gemini_on_plain_httpx_is_transient(clip, monkeypatch):
    monkeypatch.setenv("GOOGLE_GENAI_HTTP_CLIENT", "httpx")
    with pytest.raises(GeminiUnavailableError) as info:
        unreachable_analyzer().analyze(clip, clip="clip.mp4", duration_s=0.2)
    assert isinstance(info.value.__cause__, httpx.ConnectError)


def _api_error(code: int) -> Exception:
    from google.genai import errors

    cls = errors.ServerError if code >= 500 else errors.ClientError
    return cls(code, {"error": {"code": code, "message": f"scripted {code}", "status": "X"}})


@pytest.mark.parametrize("code", [408, 429, 500, 502, 503, 504])
def test_retryable_api_codes_are_transient(code):
    assert isinstance(_translate(_api_error(code), "generate_content"), GeminiUnavailableError)


def test_auth_codes_are_configuration_errors_and_other_4xx_permanent():
    assert isinstance(_translate(_api_error(403), "files.upload"), ConfigurationError)
    translated = _translate(_api_error(400), "files.upload")
    assert not translated.retryable and "400" in str(translated)


def _requests_errors() -> list[Exception]:
    import requests

    return [requests.ConnectionError("refused"), requests.ReadTimeout("slow")]


def _httpx2_errors() -> list[Exception]:
    import httpx2

    request = httpx2.Request("GET", "http://127.0.0.1/")
    return [
        httpx2.ConnectError("refused", request=request),
        httpx2.ReadTimeout("slow", request=request),
        httpx2.RemoteProtocolError("closed", request=request),
    ]


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        TimeoutError("socket"),
        *_httpx2_errors(),
        *_requests_errors(),
    ],
    ids=lambda e: f"{type(e).__module__.split('.')[0]}.{type(e).__name__}",
)
def test_transport_errors_of_every_stack_are_transient(exc):
    assert isinstance(_translate(exc, "files.get"), GeminiUnavailableError)


def test_a_bug_is_not_disguised_as_a_gemini_error():
    exc = KeyError("x")
    assert _translate(exc, "files.get") is exc
