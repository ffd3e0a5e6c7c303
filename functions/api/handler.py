"""Lambda entrypoint ``functions.api.handler.lambda_handler`` (API Gateway HTTP API, payload
format 2.0): the routes of :mod:`functions.api.app`."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.api.app import app
from shared.observability import logger


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Answer one HTTP request (an API Gateway v2 event).

    A CORS preflight (``OPTIONS``, the template's unauthenticated ``OPTIONS /{proxy+}`` route)
    is ``204`` with no body: API Gateway adds the headers of its CORS configuration.
    """
    method = ((event.get("requestContext") or {}).get("http") or {}).get("method")
    if method == "OPTIONS":
        return {"statusCode": 204, "headers": {}, "body": ""}
    return app.resolve(event, context)
