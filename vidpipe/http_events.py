"""HTTP requests as API Gateway HTTP API events (payload format 2.0), and the function's answers
back as HTTP (docs/local.md, "local serve").

The shape is AWS's "Working with AWS Lambda proxy integrations for HTTP APIs" (payload format
version 2.0): ``version``, ``routeKey`` (``$default``: the API proxies every route to the
function), ``rawPath``, ``rawQueryString``, lower-case ``headers`` (repeated ones joined with
commas), ``cookies``, ``queryStringParameters`` (repeated ones joined with commas),
``requestContext.http`` and, with a JWT authorizer, ``requestContext.authorizer.jwt.claims``.
Bodies that are not text travel base64-encoded with ``isBase64Encoded: true``, as API Gateway
sends them.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

_TEXT_TYPES = ("application/json", "text/", "application/x-www-form-urlencoded")


def http_event(
    method: str,
    path: str,
    *,
    query: str = "",
    headers: Iterable[tuple[str, str]] = (),
    body: bytes | str | None = None,
    claims: dict[str, Any] | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """The event API Gateway would send for one request.

    Args:
        method: ``GET``, ``POST`` ...
        path: the path without the query string (``/videos/demo/cuts1``).
        query: the raw query string, without ``?``.
        headers: (name, value) pairs as received.
        body: the request body (bytes are sent base64-encoded unless the content type is text).
        claims: a verified JWT's claims, as a JWT authorizer passes them.
        source_ip: the caller's address.
    """
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    params: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        params[name] = f"{params[name]},{value}" if name in params else value
    now = datetime.now(UTC)
    request_context: dict[str, Any] = {
        "accountId": "000000000000",
        "apiId": "local",
        "domainName": merged.get("host", "127.0.0.1"),
        "domainPrefix": "local",
        "http": {
            "method": method.upper(),
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": merged.get("user-agent", ""),
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": "$default",
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(time.time() * 1000),
    }
    if claims is not None:
        request_context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": merged,
        "requestContext": request_context,
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if params:
        event["queryStringParameters"] = params
    if body is not None and body != b"" and body != "":
        if isinstance(body, str):
            event["body"] = body
        elif merged.get("content-type", "").startswith(_TEXT_TYPES):
            event["body"] = body.decode("utf-8", errors="replace")
        else:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    return event


def http_response(result: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """A payload-2.0 function result as ``(status, headers, body)``.

    A result without ``statusCode`` is a JSON body with status 200, as API Gateway treats it.
    """
    if "statusCode" not in result:
        import json

        return 200, [("content-type", "application/json")], json.dumps(result).encode()
    headers = [(k, str(v)) for k, v in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers += [(name, str(v)) for v in values]
    headers += [("set-cookie", c) for c in result.get("cookies") or []]
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    return int(result["statusCode"]), headers, body
