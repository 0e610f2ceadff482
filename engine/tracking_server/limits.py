"""What one client may ask of the tracking server, and how long anything may wait."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_body: int = 64 * 1024  # forms and SMS callbacks: a few hundred bytes in practice
    max_esp_body: int = 1024 * 1024  # ESPs batch events; a refused batch is re-sent forever
    read_timeout: float = 5.0  # longest silence while a request is being received
    request_deadline: float = 15.0  # the whole request (line, headers, body) within this
    # Connections open at once, idle ones included (each costs a socket, not a thread).
    # When all are taken, the one waiting longest for its request makes room.
    max_connections: int = 5000
    workers: int = 8  # threads doing database lookups for requests
    # How long a person's request (pixel, click, unsubscribe) waits for its interaction
    # to be recorded and acted on before it is answered anyway — it is in the spool.
    answer_within: float = 0.5
    # The same for gateways and ESPs, whose answer reports what was recorded.
    machine_answer_within: float = 5.0
    retry_max_delay: float = 5.0  # longest pause between attempts while the database is busy
