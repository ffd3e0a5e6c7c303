"""vidpipe's tooling above the Lambda handlers: the command line, the embedded local stack, the SQS
poller (local runner and long-running worker), the template reader and synthetic clips.

Never copied into the Lambda image; see docs/architecture.md for the layers
(``vidpipe/`` -> ``functions/`` -> ``shared/``).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vidpipe")
except PackageNotFoundError:  # pragma: no cover - running from a checkout without install
    __version__ = "0+unknown"
