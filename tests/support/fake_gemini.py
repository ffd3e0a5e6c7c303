"""Answer the real google-genai client's HTTP in-process (docs/dependencies.md:
``HttpOptions(httpx_client=httpx.Client(transport=httpx.MockTransport(handler)))``),
following the Gemini API's shapes.

Routes (``/v1`` or ``/v1beta``):

* ``POST /upload/v1beta/files``: resumable upload, ``start`` then ``upload, finalize``;
* ``GET /v1beta/files/{id}``: the file, its ``state`` taken from the ``states`` script;
* ``POST /v1beta/cachedContents``: a cache, or 400 "too small" when ``cache_too_small``;
* ``POST /v1beta/models/{model}:generateContent``: the next scripted answer: JSON text, an HTTP
  status (an error), ``"SAFETY"`` (a blocked answer) or ``"TIMEOUT"`` (the read times out);
* ``DELETE`` of files and caches, recorded.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

HOST = "https://generativelanguage.googleapis.com"


def _error(code: int, message: str, status: str) -> httpx.Response:
    return httpx.Response(
        code, json={"error": {"code": code, "message": message, "status": status}}
    )


class FakeGemini:
    """Scripted Gemini API.

    Args:
        answers: what successive generateContent calls answer (str JSON, int status, "SAFETY").
        states: the uploaded file's state on successive GETs (the last one repeats).
        cache_too_small: answer cache creation with Gemini's "too small" 400.
    """

    def __init__(
        self,
        answers: list[Any],
        states: tuple[str, ...] = ("PROCESSING", "ACTIVE"),
        cache_too_small: bool = False,
    ) -> None:
        self.answers = list(answers)
        self.states = list(states)
        self.cache_too_small = cache_too_small
        self.requests: list[tuple[str, str]] = []
        self.generate_bodies: list[dict[str, Any]] = []
        #: the metadata of each upload's ``start`` request (display name, MIME type)
        self.upload_requests: list[Any] = []
        self.deleted: list[str] = []
        self.uploads = 0

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handle))

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.requests.append((request.method, path))
        command = request.headers.get("x-goog-upload-command", "")
        if request.method == "POST" and path.startswith("/upload/"):
            if "start" in command:
                self.upload_requests.append(json.loads(request.content or b"{}"))
                return httpx.Response(
                    200,
                    json={},
                    headers={
                        "x-goog-upload-url": f"{HOST}/upload/v1beta/files?id=u{self.uploads}",
                        "x-goog-upload-status": "active",
                    },
                )
            self.uploads += 1
            return httpx.Response(
                200,
                headers={"x-goog-upload-status": "final"},
                json={"file": self._file(self.states[0])},
            )
        if m := re.fullmatch(r"/v1(beta)?/files/(\w+)", path):
            if request.method == "DELETE":
                self.deleted.append(f"files/{m.group(2)}")
                return httpx.Response(200, json={})
            state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
            return httpx.Response(200, json=self._file(state))
        if re.fullmatch(r"/v1(beta)?/cachedContents", path) and request.method == "POST":
            if self.cache_too_small:
                return _error(
                    400,
                    "Cached content is too small. total_token_count=900, "
                    "min_total_token_count=1024",
                    "INVALID_ARGUMENT",
                )
            return httpx.Response(
                200, json={"name": "cachedContents/c1", "model": "models/gemini-3-flash-preview"}
            )
        if m := re.fullmatch(r"/v1(beta)?/cachedContents/(\w+)", path):
            self.deleted.append(f"cachedContents/{m.group(2)}")
            return httpx.Response(200, json={})
        if re.fullmatch(r"/v1(beta)?/models/[\w.-]+:generateContent", path):
            self.generate_bodies.append(json.loads(request.content))
            answer = self.answers.pop(0)
            if isinstance(answer, int):
                status = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}.get(
                    answer, "INVALID_ARGUMENT"
                )
                return _error(answer, f"scripted {answer}", status)
            if answer == "TIMEOUT":
                raise httpx.ReadTimeout("scripted time-out", request=request)
            if answer == "SAFETY":
                return httpx.Response(
                    200,
                    json={
                        "candidates": [{"finishReason": "SAFETY"}],
                        "usageMetadata": {"promptTokenCount": 10},
                    },
                )
            return httpx.Response(
                200,
                json={
                    "candidates": [
                        {
                            "content": {"role": "model", "parts": [{"text": answer}]},
                            "finishReason": "STOP",
                        }
                    ],
                    "usageMetadata": {
                        "promptTokenCount": 20000,
                        "candidatesTokenCount": 1500,
                        "cachedContentTokenCount": 18000,
                        "totalTokenCount": 21500,
                    },
                },
            )
        return _error(404, f"no route {request.method} {path}", "NOT_FOUND")

    @staticmethod
    def _file(state: str) -> dict[str, Any]:
        return {
            "name": "files/f1",
            "uri": f"{HOST}/v1beta/files/f1",
            "mimeType": "video/mp4",
            "state": state,
            "sizeBytes": "1000",
        }
