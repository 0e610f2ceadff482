"""Secrets through `journeys settings`: prompt or stdin only, listed as set/not set (§8)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator

import pytest

from app.cli import main
from tests.memory_keyring import MemoryKeyring, no_keyring, use_keyring

SECRET = "fake correct horse battery staple"
Cli = Callable[..., tuple[str, str]]


@pytest.fixture
def memory() -> Iterator[MemoryKeyring]:
    with use_keyring(MemoryKeyring()) as backend:
        assert isinstance(backend, MemoryKeyring)
        yield backend


@pytest.fixture
def cli(
    sqlite_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Cli:
    for var in ("JOURNEYS_SMTP_PASSWORD", "JOURNEYS_IMAP_PASSWORD", "JOURNEYS_SMS_TOKEN"):
        monkeypatch.delenv(var, raising=False)

    def run(*args: str, stdin: str | None = None, expect: int = 0) -> tuple[str, str]:
        if stdin is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(["--db", sqlite_url, *args])
        out, err = capsys.readouterr()
        assert code == expect, f"exit {code}: {err}{out}"
        assert SECRET not in out + err  # never shown, whatever happened
        return out, err

    return run


def test_a_piped_secret_is_stored_in_the_keyring_and_listed_only_as_set(
    cli: Cli, memory: MemoryKeyring
) -> None:
    out, _ = cli("settings", "--json")
    assert json.loads(out)["smtp.password"] == "not set"
    out, _ = cli("settings", "smtp.password", stdin=SECRET + "\n")
    assert "stored in the keyring" in out
    assert memory.store == {("journeys", "smtp.password"): SECRET}
    out, _ = cli("settings", "--json")
    listed = json.loads(out)
    assert listed["smtp.password"] == "set" and listed["imap.password"] == "not set"
    out, _ = cli("settings")
    assert any(line.split()[:2] == ["smtp.password", "set"] for line in out.splitlines())


def test_a_secret_on_the_command_line_is_refused_and_not_repeated(
    cli: Cli, memory: MemoryKeyring
) -> None:
    _, err = cli("settings", "smtp.password", SECRET, expect=2)
    assert "never taken from the command line" in err and "nothing stored" in err
    assert memory.store == {}


def test_on_a_terminal_the_secret_is_read_without_echo(
    cli: Cli, memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts: list[str] = []

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    def getpass(prompt: str) -> str:
        prompts.append(prompt)
        return SECRET

    monkeypatch.setattr("sys.stdin", Tty(""))
    monkeypatch.setattr("getpass.getpass", getpass)
    cli("settings", "imap.password")
    assert prompts == ["imap.password (input hidden): "]
    assert memory.store == {("journeys", "imap.password"): SECRET}


def test_unset_and_empty_input(cli: Cli, memory: MemoryKeyring) -> None:
    _, err = cli("settings", "sms.token", stdin="\n", expect=2)
    assert "nothing stored" in err and memory.store == {}
    cli("settings", "secret.crm-hook", stdin=SECRET)  # a webhook's signing key
    assert memory.store == {("journeys", "crm-hook"): SECRET}
    cli("settings", "secret.crm-hook", "--unset")
    assert memory.store == {}
    cli("settings", "smtp.rate_per_second", "5")
    cli("settings", "smtp.rate_per_second", "--unset")
    out, _ = cli("settings", "smtp.rate_per_second")
    assert out.strip() == "0.0"


def test_the_environment_wins_and_says_so(
    cli: Cli, memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOURNEYS_SMTP_PASSWORD", "from-env")
    _, err = cli("settings", "smtp.password", stdin=SECRET)
    assert "JOURNEYS_SMTP_PASSWORD is set and takes precedence" in err
    out, _ = cli("settings", "--json")
    assert json.loads(out)["smtp.password"] == "set"
    assert "from-env" not in out


def test_without_a_keyring_backend_nothing_is_stored_and_the_choices_are_explained(
    cli: Cli, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    with use_keyring(no_keyring()):
        _, err = cli("settings", "smtp.password", stdin=SECRET, expect=2)
        out, _ = cli("settings", "--json")
    assert "no keyring backend" in err
    assert "keyrings.alt" in err and "EncryptedKeyring" in err
    assert "JOURNEYS_SMTP_PASSWORD" in err
    assert json.loads(out)["smtp.password"] == "not set"
    assert not any(
        SECRET in p.read_text(errors="ignore") for p in tmp_path.rglob("*") if p.is_file()
    )


def test_a_plaintext_keyring_is_refused(cli: Cli) -> None:
    class PlaintextKeyring(MemoryKeyring):
        """Named like keyrings.alt's unencrypted file backend."""

    backend = PlaintextKeyring()
    with use_keyring(backend):
        _, err = cli("settings", "smtp.password", stdin=SECRET, expect=2)
    assert "plaintext file keyring is refused" in err.lower()
    assert backend.store == {}


def test_a_password_inside_a_server_url_is_refused_without_being_repeated(
    cli: Cli, memory: MemoryKeyring
) -> None:
    _, err = cli("settings", "smtp.url", "smtp://mailer:hunter2@mail.example.com", expect=2)
    assert "must not contain a password" in err and "hunter2" not in err
    out, _ = cli("settings", "smtp.url")
    assert out.strip() == "-"
