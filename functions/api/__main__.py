"""``python -m functions.api``: print the OpenAPI document (``> docs/openapi.json``)."""

from __future__ import annotations

import sys

from functions.api.app import openapi_document

if __name__ == "__main__":
    sys.stdout.write(openapi_document())
