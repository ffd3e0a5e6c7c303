"""Build the configured status store (``STATUS_BACKEND``)."""

from __future__ import annotations

from shared.config import Settings, StatusBackend
from shared.errors import ConfigurationError
from shared.secrets import resolve_secret
from shared.status import StatusStore


def supabase_key(settings: Settings) -> str:
    """The service-role key: ``SUPABASE_KEY``, else the SSM SecureString that
    ``SUPABASE_KEY_PARAMETER`` names.

    Raises:
        ConfigurationError: neither is set, or the parameter cannot be read.
    """
    return resolve_secret(
        settings.supabase_key, settings.supabase_key_parameter, name="SUPABASE_KEY"
    )


def make_status_store(settings: Settings) -> StatusStore:
    """The adapter ``STATUS_BACKEND`` names.

    Raises:
        ConfigurationError: the backend is not available in this build.
        StatusStoreUnavailableError: the store cannot be opened.
    """
    if settings.status_backend == StatusBackend.SQLITE:
        from shared.status.sqlite import SqliteStatusStore

        return SqliteStatusStore(settings.sqlite_path)
    if settings.status_backend == StatusBackend.SUPABASE:
        from shared.status.supabase import SupabaseStatusStore

        if not settings.supabase_url:
            raise ConfigurationError("STATUS_BACKEND=supabase needs SUPABASE_URL")
        return SupabaseStatusStore.connect(
            settings.supabase_url, supabase_key(settings), timeout_s=settings.supabase_timeout_s
        )
    if settings.status_backend == StatusBackend.POSTGRES:
        from shared.status.postgres import PostgresStatusStore

        if settings.database_url is None:
            raise ConfigurationError("STATUS_BACKEND=postgres needs DATABASE_URL")
        return PostgresStatusStore(settings.database_url.get_secret_value())
    raise ConfigurationError(f"unknown STATUS_BACKEND={settings.status_backend}")
