"""Non-secret settings, stored in the database so every worker of it agrees.

Secrets never come here (SPEC §8): they live in the OS keyring. The tracking key is the
documented exception — generated once per database, hidden from listings, never exported.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import limits
from .errors import UserError
from .models import Setting

TRACKING_SECRET_KEY = "_internal.tracking_secret"


_WHOLE = re.compile(r"[+-]?[0-9]{1,30}")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})")


def _number(key: str, *, decimal: bool = False) -> Callable[[str], Any]:
    """A parser of numbers within ``limits.SETTING_BOUNDS[key]``.

    ASCII digits only (``int()`` would take '１' or '1_000'), and the bounds keep a value
    from overflowing a timer, a date or a SQL LIMIT once the engine uses it.
    """
    low, high = limits.SETTING_BOUNDS[key]
    pattern, convert = (_DECIMAL, float) if decimal else (_WHOLE, int)
    if decimal:
        words = "a number"
    else:
        words = "a port number" if key == "tracking.port" else "a whole number"

    def parse(text: str) -> Any:
        stripped = text.strip()
        if not pattern.fullmatch(stripped) or not low <= convert(stripped) <= high:
            raise ValueError(f"must be {words} from {low} to {high}, not {_shown(text)}")
        return convert(stripped)

    return parse


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:37]) + "..."


def _bounded(key: str, value: Any) -> Any:
    """A stored value within its bounds: one written by an older release may lie outside,
    and must not make every engine pass fail; it is read as the nearest bound."""
    bounds = limits.SETTING_BOUNDS.get(key)
    if bounds is None or isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return type(value)(limits.within(value, *bounds))


def _base_url(text: str) -> str:
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http(s) URL such as https://track.example.com")
    return text.strip().rstrip("/")


def _email_or_empty(text: str) -> str | None:
    if not text.strip():
        return None
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(text.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None


def _phone_or_empty(text: str) -> str | None:
    if not text.strip():
        return None
    import phonenumbers

    try:
        number = phonenumbers.parse(text.strip(), None)
    except phonenumbers.NumberParseException:
        raise ValueError(
            "must be a phone number in international form, e.g. +32470123456"
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _region_or_empty(text: str) -> str | None:
    value = text.strip().upper()
    if not value:
        return None
    import phonenumbers

    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError("must be a two-letter country code such as BE or US")
    return value


def _host(text: str) -> str:
    import ipaddress

    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise ValueError("must be an IP address such as 127.0.0.1 or 0.0.0.0") from None


def _channel_url(schemes: tuple[str, ...]) -> Callable[[str], str | None]:
    def parse(text: str) -> str | None:
        if not text.strip():
            return None
        parts = urlsplit(text.strip())
        if parts.scheme not in schemes or not parts.hostname:
            raise ValueError(
                f"must be a URL starting with {' or '.join(s + '://' for s in schemes)}"
            )
        if parts.password:
            raise ValueError(
                "must not contain a password: secrets go to the keyring "
                "(`journeys settings smtp.password`, `imap.password`, `sms.token`)"
            )
        return text.strip()

    return parse


def _smtp_url(text: str) -> str | None:
    if not text.strip():
        return None
    from .channels.smtp import parse_smtp_url

    parse_smtp_url(text)  # refuse now what the engine could not use later
    return text.strip()


def _imap_url(text: str) -> str | None:
    if not text.strip():
        return None
    from .imap import parse_imap_url

    parse_imap_url(text)  # refuse now what the poller could not use later
    return text.strip()


def _sms_url(text: str) -> str | None:
    if not text.strip():
        return None
    from .channels.sms_gateway import check_url

    return check_url(text)  # refuse now what the engine could not use later


@dataclass(frozen=True)
class SettingSpec:
    key: str
    default: Any
    parse: Callable[[str], Any]
    help: str
    env: str | None = None


SPECS: dict[str, SettingSpec] = {
    s.key: s
    for s in [
        SettingSpec(
            "tracking.port",
            8787,
            _number("tracking.port"),
            "port of the tracking server",
            "JOURNEYS_TRACKING_PORT",
        ),
        SettingSpec(
            "tracking.base_url",
            None,
            _base_url,
            "public base URL of tracked links (default http://127.0.0.1:<port>)",
            "JOURNEYS_TRACKING_BASE_URL",
        ),
        SettingSpec(
            "tracking.bind",
            "127.0.0.1",
            _host,
            "address the tracking server listens on (0.0.0.0: every interface)",
            "JOURNEYS_TRACKING_BIND",
        ),
        SettingSpec(
            "engine.sync_interval_minutes",
            5,
            _number("engine.sync_interval_minutes"),
            "how often the embedded engine adds new matching records",
        ),
        SettingSpec(
            "engine.poll_seconds",
            30,
            _number("engine.poll_seconds"),
            "longest the embedded engine sleeps between passes",
        ),
        SettingSpec(
            "engine.batch_size",
            2000,
            _number("engine.batch_size"),
            "traces claimed and executed together",
        ),
        SettingSpec(
            "engine.batch_seconds",
            120,
            _number("engine.batch_seconds"),
            "time budget of one batch: what is not sent by then waits for the next pass",
        ),
        SettingSpec(
            "engine.handoff_group",
            20,
            _number("engine.handoff_group"),
            "messages handed to a channel together; after a crash only these can be "
            "'delivery unknown'",
        ),
        SettingSpec(
            "engine.max_attempts",
            5,
            _number("engine.max_attempts"),
            "deliveries tried before a transient failure becomes an error",
        ),
        SettingSpec(
            "sandbox.cpu_seconds",
            2,
            _number("sandbox.cpu_seconds"),
            "CPU seconds an execute_code action may use per record",
        ),
        SettingSpec(
            "sandbox.memory_mb",
            256,
            _number("sandbox.memory_mb"),
            "memory (MiB) of the process that runs execute_code actions",
        ),
        SettingSpec(
            "engine.claim_timeout_minutes",
            15,
            _number("engine.claim_timeout_minutes"),
            "after this long, a claim by a vanished worker is released",
        ),
        SettingSpec(
            "test.recipient_email",
            None,
            _email_or_empty,
            "test emails go here instead of the record's address",
        ),
        SettingSpec(
            "test.recipient_phone",
            None,
            _phone_or_empty,
            "test SMS go here instead of the record's number",
        ),
        SettingSpec(
            "sms.default_region",
            None,
            _region_or_empty,
            "country assumed for phone numbers written without +prefix",
        ),
        SettingSpec(
            "smtp.url",
            None,
            _smtp_url,
            "outgoing mail server, e.g. smtp://user@host:587?tls=starttls "
            "(tls=none|starttls|ssl, verify=false, cafile=PATH); unset: the outbox",
            "JOURNEYS_SMTP_URL",
        ),
        SettingSpec(
            "smtp.rate_per_second",
            0.0,
            _number("smtp.rate_per_second", decimal=True),
            "most emails sent per second (0: as fast as the server accepts)",
        ),
        SettingSpec(
            "smtp.timeout_seconds",
            30,
            _number("smtp.timeout_seconds"),
            "how long to wait for the mail server before retrying later",
        ),
        SettingSpec(
            "imap.url",
            None,
            _imap_url,
            "mailbox read for replies and bounces, e.g. imaps://user@host:993/INBOX "
            "(tls=none|starttls|ssl, verify=false, cafile=PATH); unset: not read",
            "JOURNEYS_IMAP_URL",
        ),
        SettingSpec(
            "imap.address",
            None,
            _email_or_empty,
            "address of that mailbox; replies and bounces are routed to it by token",
            "JOURNEYS_IMAP_ADDRESS",
        ),
        SettingSpec(
            "imap.poll_seconds",
            60,
            _number("imap.poll_seconds"),
            "how often the embedded engine reads that mailbox",
        ),
        SettingSpec(
            "sms.url",
            None,
            _sms_url,
            "SMS gateway: https://… (JSON POST, bearer sms.token) or "
            "twilio://ACCOUNT_SID@api.twilio.com?from=+15551234567 "
            "(or messaging_service=MG…; scheme=http for a loopback test server); "
            "unset: the outbox",
            "JOURNEYS_SMS_URL",
        ),
    ]
}


def get(session: Session, key: str) -> Any:
    spec = SPECS[key]
    if spec.env and os.environ.get(spec.env):
        try:
            return spec.parse(os.environ[spec.env])
        except ValueError as exc:
            raise UserError(f"{key} (from ${spec.env}) {exc}") from None
    value = session.scalar(select(Setting.value).where(Setting.key == key))
    return spec.default if value is None else _bounded(key, value)


def set_value(session: Session, key: str, text: str) -> Any:
    """Parse and store ``text`` for ``key``; an empty text resets to the default."""
    spec = SPECS.get(key)
    if spec is None:
        raise UserError(f"unknown setting {key!r}; known settings: {', '.join(sorted(SPECS))}")
    bad = limits.surrogate_in(text)
    if bad is not None:
        raise UserError(f"{key}: the value {limits.surrogate_words(bad)}")
    if text.strip() == "":
        value = None
    else:
        try:
            value = spec.parse(text)
        except ValueError as exc:
            raise UserError(f"{key} {exc}") from None
    row = session.get(Setting, key)
    if value is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value
    return spec.default if value is None else value


def all_settings(session: Session) -> dict[str, Any]:
    return {key: get(session, key) for key in sorted(SPECS)}


def tracking_base_url(session: Session) -> str:
    return get(session, "tracking.base_url") or f"http://127.0.0.1:{get(session, 'tracking.port')}"


def tracking_secret(session: Session) -> bytes:
    """The per-database HMAC key, created on first use (SPEC §8).

    Two workers may race to create it: the loser's insert fails inside a savepoint and it
    reads the winner's key, so every worker signs with the same one.
    """
    from sqlalchemy.exc import IntegrityError

    value = session.scalar(select(Setting.value).where(Setting.key == TRACKING_SECRET_KEY))
    if value is None:
        try:
            with session.begin_nested():
                session.add(Setting(key=TRACKING_SECRET_KEY, value=secrets.token_hex(32)))
        except IntegrityError:
            pass
        value = session.scalar(select(Setting.value).where(Setting.key == TRACKING_SECRET_KEY))
    return bytes.fromhex(str(value))
