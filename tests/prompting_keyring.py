"""A keyring that asks for its own password, for ``journeys`` subprocesses only.

Kept out of every test module on purpose: ``keyring`` picks its backend among *all*
imported subclasses of ``KeyringBackend``, so defining this one in a module pytest
imports would make in-process tests prompt for a password. The subprocess loads it by
name through ``PYTHON_KEYRING_BACKEND``.
"""

from __future__ import annotations

import getpass

from keyring.backend import KeyringBackend


class PromptingKeyring(KeyringBackend):
    """Asks for its own password on first use, exactly as keyrings.alt's EncryptedKeyring
    does (``getpass``, which falls back to reading standard input without a terminal)."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        getpass.getpass("Please enter password for encrypted keyring: ")
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        getpass.getpass("Please enter password for encrypted keyring: ")

    def delete_password(self, service: str, username: str) -> None:
        getpass.getpass("Please enter password for encrypted keyring: ")
