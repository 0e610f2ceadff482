"""The ``webhook`` server action: POST the record as JSON to a URL a person trusted (§3).

- The body is ``{"trace_id", "campaign": {id, name}, "activity": {id, key, name},
  "record": {"id", …the chosen fields}}``, compact JSON; the signed bytes are exactly the
  bytes sent.
- ``Idempotency-Key: <trace id>``: a retried trace carries the same key, so the receiver
  can drop duplicates (SPEC E13 allows webhooks to be retried, never messages).
- ``X-Journeys-Signature: sha256=<hex HMAC-SHA256 of the body>`` when the action names a
  secret; the key comes from the keyring (or ``JOURNEYS_SECRET_<NAME>``), never from the
  campaign, and never appears in a message or a log.
- 2xx → processed. 408, 425, 429, 5xx, time-outs and connection failures are transient:
  retried with the engine's back-off until ``engine.max_attempts``, then error. Any other
  status (4xx, redirects, which are not followed) → error at once. Failures quote the
  status and the start of the answer, because that is what a person needs to fix it.
- After ``BREAKER`` transient failures in a row, the rest of the batch is postponed
  without being sent: a dead endpoint must not cost one time-out per trace.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

import httpx

from . import secret_store
from .channels import Delivery
from .executor_steps import BatchContext, TraceRow, apply_delivery, retry_delay
from .plan import ActivityPlan, CampaignPlan

log = logging.getLogger(__name__)

BREAKER = 3
EXCERPT_CHARS = 200
READ_LIMIT = 4096  # bytes of the answer read for the excerpt; the rest is dropped
RETRY_STATUSES = frozenset({408, 425, 429})
USER_AGENT = "Journeys-Webhook/1"


def run_webhook(
    ctx: BatchContext,
    plan: CampaignPlan,
    act: ActivityPlan,
    action: dict[str, Any],
    rows: list[TraceRow],
    recs: Any,
) -> None:
    """Set every trace's outcome; never raises, because a re-run would post again."""
    try:
        _send_all(ctx, plan, act, action, rows, recs)
    except Exception as exc:
        log.exception("webhook failed for a batch of %d traces", len(rows))
        for r in rows:
            if r.id not in ctx.outcome.final and not _retrying(ctx, r):
                ctx.outcome.set(r, "error", f"webhook: {type(exc).__name__}: {exc}")


def _retrying(ctx: BatchContext, row: TraceRow) -> bool:
    return any(tid == row.id for tid, *_ in ctx.outcome.retries)


def signature(key: bytes, body: bytes) -> str:
    """The ``X-Journeys-Signature`` value a receiver recomputes to trust the body."""
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def body_of(
    plan: CampaignPlan, act: ActivityPlan, row: TraceRow, rec: dict[str, Any], fields: list[str]
) -> bytes:
    payload = {
        "trace_id": row.id,
        "campaign": plan.info,
        "activity": act.info,
        "record": {"id": row.record_id, **{f: rec.get(f) for f in fields}},
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def _send_all(
    ctx: BatchContext,
    plan: CampaignPlan,
    act: ActivityPlan,
    action: dict[str, Any],
    rows: list[TraceRow],
    recs: Any,
) -> None:
    url = str(action.get("url") or "")
    fields = [str(f) for f in action.get("fields") or []]
    timeout = float(action.get("timeout_s") or 10)
    key: bytes | None = None
    secret_name = action.get("secret")
    if secret_name:
        secret = secret_store.get_secret(secret_name)
        if not secret:
            message = (
                f"webhook secret {secret_name!r} is not set (store it in the keyring, or give "
                f"workers the environment variable {secret_store.env_var(secret_name)})"
            )
            for r in rows:
                ctx.outcome.set(r, "error", message)
            return
        key = secret.encode()
    failures = 0
    headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json"}
    recs.load()
    # No lock while posting. On its own a webhook may be posted again after a crash (it
    # carries the idempotency key); inside a chain the earlier steps are committed here,
    # so the chain's traces are flagged and never re-run.
    ctx.hand_off(r.id for r in rows if ctx.in_chain)
    with httpx.Client(timeout=timeout, follow_redirects=False, headers=headers) as client:
        for n, r in enumerate(rows):
            if not ctx.in_chain and ctx.out_of_time():
                ctx.outcome.deferred.update(x.id for x in rows[n:])
                return
            rec = recs.get(r.record_id)
            if rec is None:  # deleted since it was claimed
                ctx.outcome.set(r, "rejected", "Rejected by activity filter")
                continue
            body = body_of(plan, act, r, rec, fields)
            extra = {"Idempotency-Key": str(r.id)}
            if key is not None:
                extra["X-Journeys-Signature"] = signature(key, body)
            status, detail = _post(client, url, body, extra, timeout)
            if status == "ok":
                ctx.outcome.set(r, "processed")
                failures = 0
            elif status == "transient":
                apply_delivery(ctx, r, Delivery("transient", detail), "")
                failures += 1
                if failures >= BREAKER:
                    _postpone(ctx, rows[n + 1 :], detail)
                    return
            else:
                ctx.outcome.set(r, "error", detail)
                failures = 0


def _postpone(ctx: BatchContext, rows: list[TraceRow], detail: str) -> None:
    """Reschedule without counting an attempt: these traces were not sent at all."""
    for r in rows:
        message = f"Not sent, retrying later: the last {BREAKER} requests failed ({detail})"
        ctx.outcome.retries.append(
            (r.id, ctx.now + retry_delay(r.attempts + 1), r.attempts, message)
        )


def _post(
    client: httpx.Client, url: str, body: bytes, headers: dict[str, str], timeout: float
) -> tuple[str, str]:
    """``("ok" | "transient" | "error", detail)`` for one request."""
    try:
        with client.stream("POST", url, content=body, headers=headers) as resp:
            excerpt = _excerpt(resp)
    except httpx.TimeoutException:
        return "transient", f"timed out after {timeout:g} s"
    except httpx.TransportError as exc:
        return "transient", f"connection failed: {exc or type(exc).__name__}"
    except (httpx.InvalidURL, ValueError) as exc:
        return "error", f"webhook: invalid URL: {exc}"
    code = resp.status_code
    if 200 <= code < 300:
        return "ok", ""
    detail = f"HTTP {code}" + (f": {excerpt}" if excerpt else "")
    if code >= 500 or code in RETRY_STATUSES:
        return "transient", detail
    return "error", detail


def _excerpt(resp: httpx.Response) -> str:
    data = b""
    for chunk in resp.iter_bytes():
        data += chunk
        if len(data) >= READ_LIMIT:
            break
    try:
        text = data[:READ_LIMIT].decode(resp.charset_encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        text = data[:READ_LIMIT].decode("utf-8", errors="replace")
    return " ".join(text.split())[:EXCERPT_CHARS]
