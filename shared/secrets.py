"""Secrets from settings or SSM Parameter Store (never from the template)."""

from __future__ import annotations

from pydantic import SecretStr

from shared.errors import ConfigurationError


def resolve_secret(value: SecretStr | None, parameter: str | None, *, name: str) -> str:
    """``value`` when set, else the SSM SecureString ``parameter`` names.

    The parameter is read with Powertools Parameters (decrypted, cached 5 minutes), so a warm
    Lambda does not call SSM on every invocation.

    Args:
        value: the secret given directly (e.g. ``SUPABASE_KEY``).
        parameter: the SSM parameter name (e.g. ``SUPABASE_KEY_PARAMETER``).
        name: the setting's name, for messages (``SUPABASE_KEY``).

    Raises:
        ConfigurationError: neither is set, or the parameter cannot be read.
    """
    if value is not None:
        return value.get_secret_value()
    if not parameter:
        raise ConfigurationError(f"set {name} or {name}_PARAMETER")
    from aws_lambda_powertools.utilities import parameters

    try:
        return str(parameters.get_parameter(parameter, decrypt=True, max_age=300))
    except parameters.exceptions.GetParameterError as exc:
        raise ConfigurationError(f"cannot read SSM parameter {parameter}: {exc}") from exc
