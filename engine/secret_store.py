"""Secrets (SMTP, IMAP, SMS gateway, webhook keys): the OS keyring, or the environment.

Never in the database, never in exported files, never in logs (SPEC §8). Headless workers
may take them from environment variables. Where no keyring backend exists we say so and
never fall back to a plaintext file silently.
"""

from __future__ import annotations

import contextlib
import os

from .errors import UserError

SERVICE = "journeys"

# Secret name -> environment variable that overrides the keyring (headless workers).
ENV = {
    "smtp.password": "JOURNEYS_SMTP_PASSWORD",
    "imap.password": "JOURNEYS_IMAP_PASSWORD",
    "sms.token": "JOURNEYS_SMS_TOKEN",
}
NO_BACKEND_HELP = (
    "no keyring backend is available on this machine, so secrets cannot be stored safely. "
    "Either install one (for example `pip install keyrings.alt` for an encrypted file "
    "keyring, or run a Secret Service such as GNOME Keyring/KWallet), or give headless "
    "workers their secrets through environment variables ("
    + ", ".join(sorted(ENV.values()))
    + ", JOURNEYS_SECRET_<NAME> for webhook keys)."
)


def _env_name(name: str) -> str:
    if name in ENV:
        return ENV[name]
    return "JOURNEYS_SECRET_" + "".join(c if c.isalnum() else "_" for c in name).upper()


def backend_available() -> bool:
    import keyring
    from keyring.backends import fail

    backend = keyring.get_keyring()
    return not isinstance(backend, fail.Keyring) and backend.priority > 0


def get_secret(name: str) -> str | None:
    """The secret from its environment variable, else the keyring, else None."""
    env = os.environ.get(_env_name(name))
    if env:
        return env
    import keyring
    from keyring.errors import KeyringError

    try:
        return keyring.get_password(SERVICE, name)
    except KeyringError:
        return None


def set_secret(name: str, value: str) -> None:
    import keyring
    from keyring.errors import KeyringError

    if not backend_available():
        raise UserError(NO_BACKEND_HELP)
    try:
        keyring.set_password(SERVICE, name, value)
    except KeyringError as exc:
        raise UserError(f"the keyring refused to store {name!r}: {exc}") from None


def delete_secret(name: str) -> None:
    import keyring
    from keyring.errors import KeyringError, PasswordDeleteError

    with contextlib.suppress(PasswordDeleteError, KeyringError):
        keyring.delete_password(SERVICE, name)


def has_secret(name: str) -> bool:
    return get_secret(name) is not None
