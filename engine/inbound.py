"""The reply and bounce mailbox, read over IMAP on a schedule (SPEC §5, E7, E13).

One poll: open the mailbox (:mod:`engine.imap`), fetch the messages not yet marked
handled in chunks, let :func:`engine.dsn.classify` decide what each one is, record
replies and bounces, then mark the chunk handled. Then the executor runs what the
interactions made due, so 0-delay children run in the same pass.

Nothing counts twice, even across a crash: the mark is set only after the database
commit, and the commit also stores the message's key (its Message-ID, hashed) under a
unique constraint. A crash between the two leaves the message unmarked; the next poll
finds its key and only marks it. Two workers polling the same mailbox collide on the
same constraint, so one of them counts it.

Nothing is lost either: mail that fails in our code is left unmarked and retried next
poll, and a dead or misconfigured server ends the poll with a :class:`PollResult` whose
``error`` says what failed and why; what was committed before stays committed.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from . import dsn, interactions, settings, tracking
from .clock import Clock
from .db import Database
from .executor import Executor
from .imap import TIMEOUT, Mailbox, MailboxError, parse_imap_url
from .models import InboundMessage
from .secret_store import get_secret

log = logging.getLogger(__name__)

CHUNK = 50  # messages fetched, recorded and marked together
MAX_PER_POLL = 1000  # a first poll of a full mailbox is spread over several polls


@dataclass
class PollResult:
    """What one poll did; plain data, safe to hand to the GUI thread."""

    configured: bool = True
    fetched: int = 0
    replies: int = 0
    bounces: int = 0
    ignored: int = 0
    duplicates: int = 0  # already counted earlier (a crash before marking, a copy)
    remaining: int = 0  # left for the next poll (MAX_PER_POLL)
    executed: int = 0  # traces the executor ran after recording
    failed: list[str] = field(default_factory=list)  # messages left for the next poll
    error: str | None = None  # the mailbox could not be read (to the end)
    campaigns: set[int] = field(default_factory=set)

    @property
    def recorded(self) -> int:
        return self.replies + self.bounces

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failed

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["campaigns"] = sorted(self.campaigns)
        return data


def parse_message(raw: bytes) -> Message:
    """The parsed message; its headers alone when its body defeats the parser.

    The email package raises on a few pathological structures (thousands of nested
    message/rfc822 parts exhaust the recursion limit); the headers still say whether it
    is a reply, and an unreadable body cannot be a delivery report we could use.
    """
    parser = BytesParser(policy=policy.default)
    try:
        return parser.parsebytes(raw)
    except Exception:
        log.warning("unreadable MIME structure; classifying by its headers alone")
    try:
        return parser.parsebytes(raw, headersonly=True)
    except Exception:
        return EmailMessage(policy=policy.default)


def dedupe_key(msg: Message, raw: bytes) -> str:
    """A fixed-size key for "this message": its Message-ID, else its bytes."""
    for value in dsn.header_values(msg, "message-id"):
        ids = re.findall(r"<[^<>\s]+>", value)
        if ids:
            data = b"message-id:" + ids[0].encode("utf-8", "surrogateescape")
            return hashlib.sha256(data).hexdigest()
    return hashlib.sha256(b"bytes:" + raw).hexdigest()


def poll_mailbox(
    db: Database,
    clock: Clock,
    *,
    executor: Executor | None = None,
    max_messages: int = MAX_PER_POLL,
    timeout: float = TIMEOUT,
) -> PollResult:
    """Read the mailbox once; ``configured`` is False when ``imap.url`` is not set."""
    with db.session() as s:
        try:
            url_text = settings.get(s, "imap.url")
            address = settings.get(s, "imap.address")
        except ValueError as exc:  # JOURNEYS_IMAP_URL/_ADDRESS are parsed when read
            return PollResult(error=f"the IMAP settings in the environment are invalid: {exc}")
        secret = settings.tracking_secret(s)
    result = PollResult(configured=bool(url_text))
    if not url_text:
        return result
    try:
        url = parse_imap_url(url_text)
    except ValueError as exc:
        result.error = f"imap.url {exc}"
        return result
    password = get_secret("imap.password")
    if password is None:
        result.error = (
            "no IMAP password: store it with `journeys settings imap.password` "
            "or give it in JOURNEYS_IMAP_PASSWORD"
        )
        return result

    def verify(token: str) -> int | None:
        return tracking.verify_token(secret, token)

    try:
        with Mailbox(url, password, timeout) as box:
            uids = box.unhandled()
            result.remaining = max(0, len(uids) - max_messages)
            uids = uids[:max_messages]
            for start in range(0, len(uids), CHUNK):
                if executor is not None and executor.should_stop():
                    result.remaining += len(uids) - start  # the engine is stopping
                    break
                fetched = box.fetch(uids[start : start + CHUNK])
                done = _handle(db, fetched, address, verify, clock.now(), result)
                box.mark(done)
    except MailboxError as exc:
        result.error = str(exc)
    except SQLAlchemyError as exc:
        result.error = (
            f"the database failed while recording inbound mail ({type(exc).__name__}: "
            f"{getattr(exc, 'orig', None) or exc}); that chunk was not marked, the next "
            "poll retries it"
        )
    if result.error:
        log.warning("mailbox poll: %s", result.error)
    if result.recorded:
        stats = (executor or Executor(db, clock)).execute_due(clock.now())
        result.executed = stats.executed
    return result


def _handle(
    db: Database,
    fetched: list[tuple[int, bytes]],
    address: str | None,
    verify: Callable[[str], int | None],
    now: datetime,
    result: PollResult,
) -> list[int]:
    """Classify and record one chunk in one transaction; returns the UIDs to mark."""
    done: list[int] = []
    todo: list[tuple[int, str, dsn.Verdict]] = []
    for uid, raw in fetched:
        result.fetched += 1
        try:
            msg = parse_message(raw)
            verdict = dsn.classify(msg, address=address, verify=verify)
            key = dedupe_key(msg, raw)
        except Exception as exc:  # a defect of ours, not of the mail: retry next poll
            log.exception("inbound message UID %s could not be read", uid)
            result.failed.append(f"message UID {uid}: {type(exc).__name__}: {exc}")
            continue
        if verdict.kind == "ignore":
            log.info("inbound message UID %s ignored: %s", uid, verdict.reason)
            result.ignored += 1
            done.append(uid)
        else:
            todo.append((uid, key, verdict))
    if not todo:
        return done
    # Counted only once the transaction has committed: a failed commit counts nothing.
    outcomes: list[tuple[str, set[int]]] = []
    with db.session() as s:
        keys = [key for _, key, _ in todo]
        known = set(s.scalars(select(InboundMessage.key).where(InboundMessage.key.in_(keys))))
        for uid, key, verdict in todo:
            done.append(uid)
            if key in known:
                outcomes.append(("duplicate", set()))
                continue
            assert verdict.trace_id is not None
            try:
                with s.begin_nested():
                    res = interactions.record(
                        s, [verdict.trace_id], verdict.kind, now, detail=verdict.reason
                    )
                    if res.recorded:
                        s.execute(
                            insert(InboundMessage).values(
                                key=key,
                                kind=verdict.kind,
                                trace_id=verdict.trace_id,
                                handled_at=now,
                            )
                        )
            except IntegrityError:  # another worker counted it a moment ago
                outcomes.append(("duplicate", set()))
                continue
            known.add(key)
            if res.recorded:
                log.info(
                    "inbound message UID %s: %s on trace %s", uid, verdict.kind, verdict.trace_id
                )
                outcomes.append((verdict.kind, res.campaigns))
            else:
                log.info("inbound message UID %s: trace %s is no sent email", uid, verdict.trace_id)
                outcomes.append(("ignored", set()))
    for outcome, campaigns in outcomes:
        result.replies += outcome == "reply"
        result.bounces += outcome == "bounce"
        result.duplicates += outcome == "duplicate"
        result.ignored += outcome == "ignored"
        result.campaigns |= campaigns
    return done
