"""The few HTML pages recipients see: unsubscribe confirmation, thank-you, errors.

They are self-contained (inline CSS, no script, no outside resource) so the strict
Content-Security-Policy the server sends holds, and they read well on a phone. Every
value printed is escaped here, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

_CSS = """
:root { color-scheme: light dark; }
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: flex; align-items: center;
  justify-content: center; padding: 24px; background: #f3f4f6; color: #1f2937;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
main { width: 100%; max-width: 440px; background: #fff; border-radius: 12px;
  padding: 32px 28px; box-shadow: 0 1px 3px rgba(0,0,0,.08), 0 8px 24px rgba(0,0,0,.06); }
.mark { width: 44px; height: 44px; border-radius: 50%; display: flex; align-items: center;
  justify-content: center; font-size: 22px; font-weight: 700; margin-bottom: 16px; }
.mark.ask { background: #e0e7ff; color: #3730a3; }
.mark.ok { background: #dcfce7; color: #166534; }
.mark.bad { background: #fee2e2; color: #991b1b; }
h1 { font-size: 22px; line-height: 1.3; margin: 0 0 12px; }
p { margin: 0 0 12px; }
.muted { color: #6b7280; font-size: 14px; }
.who { font-weight: 600; overflow-wrap: anywhere; }
.note { background: #fef9c3; color: #713f12; border-radius: 8px; padding: 8px 12px;
  font-size: 14px; }
form { margin: 20px 0 12px; }
button { width: 100%; border: 0; border-radius: 8px; padding: 12px 16px; cursor: pointer;
  background: #b91c1c; color: #fff; font: inherit; font-weight: 600; }
button:hover { background: #991b1b; }
button:focus-visible { outline: 3px solid #fca5a5; outline-offset: 2px; }
@media (prefers-color-scheme: dark) {
  body { background: #111827; color: #e5e7eb; }
  main { background: #1f2937; box-shadow: none; }
  .muted { color: #9ca3af; }
  .mark.ask { background: #312e81; color: #c7d2fe; }
  .mark.ok { background: #14532d; color: #bbf7d0; }
  .mark.bad { background: #7f1d1d; color: #fecaca; }
  .note { background: #422006; color: #fde68a; }
}
"""

_MARKS = {"ask": "?", "ok": "✓", "bad": "!"}


def page(
    title: str,
    paragraphs: list[str],
    *,
    mark: str = "bad",
    form_button: str | None = None,
    note: str | None = None,
    footer: str | None = None,
) -> bytes:
    """A complete page; ``paragraphs`` are HTML fragments built with :func:`esc` values."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    if note:
        body += f'<p class="note">{escape(note)}</p>'
    if form_button:
        # action="" posts back to this very URL, whatever base URL or proxy served it.
        button = f'<button type="submit">{escape(form_button)}</button>'
        body += f'<form method="post" action="">{button}</form>'
    if footer:
        body += f'<p class="muted">{escape(footer)}</p>'
    html = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex, nofollow">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f'<body><main><div class="mark {mark}" aria-hidden="true">{_MARKS[mark]}</div>'
        f"<h1>{escape(title)}</h1>{body}</main></body></html>\n"
    )
    return html.encode("utf-8")


def esc(value: str) -> str:
    return escape(value, quote=True)


def mask_address(address: str | None) -> str | None:
    """Enough of an address to recognise it, not enough to read it off a forwarded link."""
    if not address:
        return None
    local, at, domain = address.partition("@")
    if at:
        return f"{local[:1]}•••@{domain}"
    return f"{address[:3]}•••{address[-2:]}" if len(address) > 6 else "•••"


@dataclass(frozen=True)
class OptOut:
    """What the unsubscribe pages say about one message's recipient."""

    channel: str  # "email" | "sms"
    address: str | None
    sender: str | None
    already: bool  # opted out before this request
    test: bool


def _what(o: OptOut) -> str:
    kind = "emails" if o.channel == "email" else "text messages"
    return f'{kind} from <span class="who">{esc(o.sender)}</span>' if o.sender else kind


def _at(o: OptOut) -> str:
    masked = mask_address(o.address)
    return f' at <span class="who">{esc(masked)}</span>' if masked else ""


_TEST_ASK = "This is a test message: unsubscribing here changes nothing."
_TEST_DONE = "This was a test message, so nothing was changed."


def confirm_page(o: OptOut) -> bytes:
    if o.already:
        return page(
            "You are unsubscribed",
            [f"You will not receive further {_what(o)}{_at(o)}."],
            mark="ok",
            footer="You can close this page.",
        )
    return page(
        "Unsubscribe?",
        [f"Stop receiving {_what(o)}{_at(o)}?"],
        mark="ask",
        form_button="Unsubscribe",
        note=_TEST_ASK if o.test else None,
        footer="Changed your mind? Just close this page and nothing changes.",
    )


def done_page(o: OptOut) -> bytes:
    return page(
        "You are unsubscribed",
        [
            f"You will not receive further {_what(o)}{_at(o)}.",
            '<span class="muted">A message that was already on its way may still arrive.</span>',
        ],
        mark="ok",
        note=_TEST_DONE if o.test else None,
        footer="You can close this page.",
    )


def not_found_page() -> bytes:
    return page(
        "This link is not valid",
        [
            "It may have been cut off or mistyped. If you copied it from a message, "
            "make sure you copied the whole link."
        ],
    )


def error_page(status: int, reason: str) -> bytes:
    return page(reason, [f'<span class="muted">HTTP {status}</span>'])
