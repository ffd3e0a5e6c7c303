"""Build the configured status store (``STATUS_BACKEND``)."""

from __future__ import annotations

from shared.config import Settings, StatusBackend
from shared.errors import ConfigurationError
from shared.status import StatusStore


def make_status_store(settings: Settings) -> StatusStore:
    """The adapter ``STATUS_BACKEND`` names.

    Raises:
        ConfigurationError: the backend is not available in this build.
        StatusStoreUnavailableError: the store cannot be opened.
    """
    if settings.status_backend == StatusBackend.SQLITE:
        from shared.status.sqlite import SqliteStatusStore

        return SqliteStatusStore(settings.sqlite_path)
    raise ConfigurationError(
        f"STATUS_BACKEND={settings.status_backend} is not available yet; use 'sqlite'"
    )
