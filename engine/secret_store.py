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
    "Either run a Secret Service (GNOME Keyring, KWallet), or use keyrings.alt's "
    "encrypted file keyring, protected by a password of its own: "
    "`pip install keyrings.alt pycryptodome` and "
    "`export PYTHON_KEYRING_BACKEND=keyrings.alt.file.EncryptedKeyring`; or give "
    "headless workers their secrets through environment variables ("
    + ", ".join(sorted(ENV.values()))
    + ", JOURNEYS_SECRET_<NAME> for webhook keys). A plaintext file keyring is refused."
)


def _env_name(name: str) -> str:
    if name in ENV:
        return ENV[name]
    return "JOURNEYS_SECRET_" + "".join(c if c.isalnum() else "_" for c in name).upper()


def env_var(name: str) -> str:
    """The environment variable that overrides the keyring for secret ``name``."""
    return _env_name(name)


def backend_available() -> bool:
    """A keyring that keeps secrets safe: not the fail/null ones, and not plaintext.

    keyrings.alt installed without pycryptodome makes its PlaintextKeyring the best
    candidate; storing into it would be exactly the silent plaintext file §8 forbids.
    """
    import keyring
    from keyring.backends import fail

    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring) or backend.priority <= 0:
        return False
    chained = getattr(backend, "backends", None)  # keyring's ChainerBackend writes first
    first = chained[0] if chained else backend
    return "plaintext" not in type(first).__name__.lower()


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
