"""Secrets on the command line: typed at a prompt or piped in, never taken from argv.

Arguments end up in shell history and in every process listing on the machine, so a
secret given as an argument is refused before anything is stored. Secrets are listed as
"set" or "not set" only, and written nowhere but the keyring (SPEC §8).
"""

from __future__ import annotations

import getpass
import os
import sys
from typing import TextIO

from engine import secret_store
from engine.errors import UserError

ABOUT = {
    "smtp.password": "password of smtp.url's user",
    "imap.password": "password of imap.url's user",
    "sms.token": "access token of the SMS gateway (sms.url)",
}
PREFIX = "secret."  # secret.NAME: any other keyring entry, e.g. a webhook's signing key


def is_secret(key: str) -> bool:
    return key in ABOUT or (key.startswith(PREFIX) and len(key) > len(PREFIX))


def _name(key: str) -> str:
    return key[len(PREFIX) :] if key.startswith(PREFIX) else key


LOCKED_KEYRING = (
    "the keyring is locked: it asks for its own password, but standard input is not a "
    "terminal (or is empty), so it cannot be typed. Run the command in a terminal, or give "
    "the secrets through their environment variables ({names})"
)


def _has_secret(key: str) -> bool:
    """Like :func:`secret_store.has_secret`, but a keyring that prompts with nobody there
    (keyrings.alt's EncryptedKeyring reads its password from stdin) is a clear error."""
    try:
        return secret_store.has_secret(key)
    except EOFError:
        raise UserError(LOCKED_KEYRING.format(names=", ".join(secret_store.ENV.values()))) from None


def rows() -> list[dict[str, str]]:
    """The known secrets for ``journeys settings``: whether each is set, never its value."""
    return [
        {
            "key": key,
            "value": "set" if _has_secret(key) else "not set",
            "about": f"{about} (secret: keyring or {secret_store.ENV[key]})",
        }
        for key, about in ABOUT.items()
    ]


def read_secret(key: str, stdin: TextIO | None = None) -> str:
    """A prompt without echo on a terminal; otherwise the first line of standard input."""
    stream = stdin or sys.stdin
    if stream.isatty():
        value = getpass.getpass(f"{key} (input hidden): ")
    else:
        value = stream.readline().rstrip("\r\n")
    if not value:
        raise UserError(f"no {key} given: nothing stored (`--unset` removes a stored one)")
    return value


def command(key: str, value: str | None, *, unset: bool, stdin: TextIO | None = None) -> int:
    if value is not None:
        # Do not repeat the value: the message itself may end up in a log.
        raise UserError(
            f"{key} is a secret and is never taken from the command line (shell history and "
            f"process lists would show it); nothing stored. Run `journeys settings {key}` "
            "and type it, or pipe it in on standard input"
        )
    name = _name(key)
    env = secret_store.env_var(name)
    if unset:
        secret_store.delete_secret(name)
        print(f"{key} removed from the keyring")
    else:
        if not secret_store.backend_available():
            # Before the prompt: nobody should type a password only to have it refused.
            raise UserError(secret_store.NO_BACKEND_HELP)
        secret_store.set_secret(name, read_secret(key, stdin))
        print(f"{key} stored in the keyring")
    if os.environ.get(env):
        print(f"note: {env} is set and takes precedence over the keyring", file=sys.stderr)
    return 0
