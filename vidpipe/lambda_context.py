"""A Lambda-like context for local runs, the worker mode and tests.

It has what Powertools and our runner read from ``LambdaContext``: ``function_name``,
``memory_limit_in_mb``, ``invoked_function_arn``, ``aws_request_id`` and
``get_remaining_time_in_millis()`` counting down from a real deadline.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field


@dataclass
class LocalContext:
    """Lambda context with a deadline ``timeout_s`` seconds after creation."""

    function_name: str = "vidpipe-local"
    timeout_s: float = 900.0
    memory_limit_in_mb: int = 3008
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/vidpipe-local"
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds until the deadline (0 once passed)."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))
