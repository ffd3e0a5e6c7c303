"""The ``api`` function: vidpipe's HTTP front door behind an API Gateway HTTP API (docs/api.md).

Presigned uploads, status and results, runs, listings, trailer profiles and options, and
``/health``, written with Powertools' Event Handler so the OpenAPI document comes from the code
(``python -m functions.api`` prints it; ``docs/openapi.json`` is a copy the tests keep equal).
The web console (``console/index.html``) is served at ``/``.
"""
