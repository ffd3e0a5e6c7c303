"""S3's browser-upload (POST Object) policy check in front of moto, for the local mode.

moto stores whatever a ``multipart/form-data`` POST sends; S3 refuses a POST whose signed policy
does not hold. So that a presigned POST behaves locally as it does on AWS (a wrong key, content
type or size is refused), :class:`PostPolicyCheck` checks it before moto sees it, as AWS
documents it ("Creating a POST policy", "Calculating a signature" for POST, Amazon S3 API
reference):

* the form has a base64 ``policy`` whose ``expiration`` has not passed, signed with SigV4
  (``x-amz-algorithm`` ``AWS4-HMAC-SHA256``; the signature is the HMAC of the base64 policy with
  the key derived from the secret, the credential's date, region and ``s3``);
* every condition holds: ``{"field": "value"}`` and ``["eq", "$field", "value"]`` exactly (the
  ``bucket`` condition against the URL's bucket), ``["starts-with", "$field", "prefix"]``, and
  ``["content-length-range", min, max]`` on the file's size;
* every form field but ``file``, ``policy``, ``x-amz-signature`` and ``x-ignore-*`` is named by a
  condition.

A failure answers as S3 does: ``403 AccessDenied`` ("Invalid according to Policy"), or
``400 EntityTooLarge``/``EntityTooSmall`` for the size. Anything that is not a form POST to a
bucket goes to moto untouched.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from werkzeug.formparser import parse_form_data

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

#: Form fields the policy need not name.
_EXEMPT = {"file", "policy", "x-amz-signature"}


class PolicyError(Exception):
    """The POST breaks its policy; ``code`` and ``status`` are S3's answer."""

    def __init__(self, message: str, code: str = "AccessDenied", status: int = 403) -> None:
        super().__init__(message)
        self.code, self.status = code, status


def signature(secret: str, date: str, region: str, policy_b64: str) -> str:
    """SigV4 signature of a POST policy: ``date`` is ``YYYYMMDD`` from the credential."""

    def sign(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    key = sign(("AWS4" + secret).encode(), date)
    for part in (region, "s3", "aws4_request"):
        key = sign(key, part)
    return hmac.new(key, policy_b64.encode(), hashlib.sha256).hexdigest()


def check_post(
    fields: dict[str, str], bucket: str, size: int, secret: str, now: datetime | None = None
) -> None:
    """Check one POST's form fields and file size against its signed policy.

    Args:
        fields: the form's text fields (names as sent).
        bucket: the bucket in the URL.
        size: the file's size in bytes.
        secret: the secret access key the policy was signed with.

    Raises:
        PolicyError: a check failed (module docstring).
    """
    lower = {k.lower(): v for k, v in fields.items()}
    raw = lower.get("policy")
    if not raw:
        raise PolicyError("Bucket POST must contain a field named 'policy'")
    try:
        policy = json.loads(base64.b64decode(raw, validate=True))
        expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
        conditions = policy["conditions"]
    except (ValueError, KeyError, TypeError) as exc:
        raise PolicyError(f"Invalid Policy: {exc}") from exc
    if (now or datetime.now(UTC)) >= expiration:
        raise PolicyError("Invalid according to Policy: Policy expired.")
    if lower.get("x-amz-algorithm") != "AWS4-HMAC-SHA256":
        raise PolicyError("only AWS4-HMAC-SHA256 POST policies are checked")
    try:
        _, date, region, _, _ = lower["x-amz-credential"].split("/")
    except (KeyError, ValueError) as exc:
        raise PolicyError("Invalid x-amz-credential") from exc
    if not hmac.compare_digest(
        signature(secret, date, region, raw), lower.get("x-amz-signature", "")
    ):
        raise PolicyError(
            "The request signature we calculated does not match the signature you provided.",
            code="SignatureDoesNotMatch",
        )
    values = {**lower, "bucket": bucket}
    named: set[str] = set()
    for cond in conditions:
        if isinstance(cond, dict):
            [(name, expected)] = cond.items()
            name = name.lower()
            named.add(name)
            if values.get(name) != expected:
                raise PolicyError(
                    f"Invalid according to Policy: Policy Condition failed: "
                    f'["eq", "${name}", "{expected}"]'
                )
        elif isinstance(cond, list) and cond and cond[0] == "content-length-range":
            low, high = int(cond[1]), int(cond[2])
            if size > high:
                raise PolicyError(
                    "Your proposed upload exceeds the maximum allowed size", "EntityTooLarge", 400
                )
            if size < low:
                raise PolicyError(
                    "Your proposed upload is smaller than the minimum allowed size",
                    "EntityTooSmall",
                    400,
                )
        elif isinstance(cond, list) and len(cond) == 3 and cond[0] in ("eq", "starts-with"):
            op, ref, expected = cond
            name = str(ref).lstrip("$").lower()
            named.add(name)
            value = values.get(name)
            ok = value == expected if op == "eq" else (value or "").startswith(str(expected))
            if value is None or not ok:
                raise PolicyError(
                    f"Invalid according to Policy: Policy Condition failed: "
                    f'["{op}", "${name}", "{expected}"]'
                )
        else:
            raise PolicyError(f"Invalid Policy: unknown condition {cond!r}")
    extra = [k for k in lower if k not in named | _EXEMPT and not k.startswith("x-ignore-")]
    if extra:
        raise PolicyError(
            f"Invalid according to Policy: Extra input fields: {', '.join(sorted(extra))}"
        )


class PostPolicyCheck:
    """WSGI middleware: check form POSTs to a bucket (:func:`check_post`), then hand the
    request on unchanged.

    Args:
        app: moto's WSGI app.
        secret: the secret access key of the local credentials.
    """

    def __init__(self, app: WSGIApp, secret: str) -> None:
        self.app, self.secret = app, secret

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        kind = environ.get("CONTENT_TYPE", "")
        bucket = path.strip("/")
        if (
            environ.get("REQUEST_METHOD") != "POST"
            or not kind.startswith("multipart/form-data")
            or not bucket
            or "/" in bucket
        ):
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        probe = dict(environ, **{"wsgi.input": io.BytesIO(body)})
        _, form, files = parse_form_data(probe)
        upload = files.get("file")
        size = len(upload.read()) if upload is not None else 0
        try:
            if upload is None:
                raise PolicyError("POST requires exactly one file upload", "InvalidArgument", 400)
            check_post(dict(form.items()), bucket, size, self.secret)
        except PolicyError as exc:
            xml = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>'
                f"{escape(exc.code)}</Code><Message>{escape(str(exc))}</Message></Error>"
            ).encode()
            reason = {400: "Bad Request", 403: "Forbidden"}[exc.status]
            start_response(
                f"{exc.status} {reason}",
                [
                    ("Content-Type", "application/xml"),
                    ("Content-Length", str(len(xml))),
                    ("Access-Control-Allow-Origin", "*"),
                ],
            )
            return [xml]
        environ["wsgi.input"] = io.BytesIO(body)
        return self.app(environ, start_response)
