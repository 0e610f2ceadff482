"""The TLS options shared by mail server URLs (smtp.url, imap.url).

``?tls=none|starttls|ssl&verify=true|false&cafile=PATH``: parsed and checked in one place
so SMTP and IMAP accept exactly the same words and say the same things about them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, parse_qs

TLS_MODES = ("none", "starttls", "ssl")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class TlsOptions:
    tls: str
    verify: bool
    cafile: str | None


def parse_tls_options(parts: SplitResult, secure_scheme: str) -> TlsOptions:
    """The URL's TLS options; ``secure_scheme`` (smtps, imaps) defaults to implicit TLS."""
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise ValueError(f"has an unreadable query {parts.query!r}") from None
    unknown = sorted(set(query) - {"tls", "verify", "cafile"})
    if unknown:
        raise ValueError(f"has unknown option {unknown[0]!r} (known: tls, verify, cafile)")
    tls = _one(query, "tls") or ("ssl" if parts.scheme == secure_scheme else "starttls")
    if tls not in TLS_MODES:
        raise ValueError(f"tls={tls} is not one of {', '.join(TLS_MODES)}")
    verify = (_one(query, "verify") or "true").lower()
    if verify not in _TRUE | _FALSE:
        raise ValueError(f"verify={verify} must be true or false")
    cafile = _one(query, "cafile")
    if cafile and not Path(cafile).is_file():
        raise ValueError(f"cafile {cafile} is not a readable file")
    return TlsOptions(tls=tls, verify=verify in _TRUE, cafile=cafile or None)


def _one(query: dict[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    if not values:
        return None
    if len(values) > 1:
        raise ValueError(f"gives {key} more than once")
    return values[0].strip()
