"""The tracking server's durable spool: what recipients did, on disk before it is answered.

An interaction is appended here (one JSON line, ``fsync``) before the request waits for
the database at all, and marked done once the database has it, so neither a busy database
nor a crash can lose it. A JSON-lines file rather than a second SQLite database: appending
one line and syncing it is all the request path does, nothing can be locked by another
program, and a torn last line after a crash is simply skipped.

Each server process writes its own file ``<pid>-<random>.jsonl`` in a folder of its
database (:func:`spool_folder`) and holds an exclusive ``flock`` on it while it runs (a
BSD lock: unlike the POSIX locks SQLite uses, closing some other descriptor of the file
never drops it). At start a server *adopts* the files nobody holds — left by a server
that crashed, or that stopped while the database was unavailable: it copies their
pending entries into its own file, then deletes them. A file whose entries are all done
is emptied as it grows and deleted when its server stops.

Without ``flock`` (Windows) entries are still spooled, but no file can be known to be
abandoned, so a crashed server's entries wait in its file (never lost, never adopted).

Lines: ``{"add": ID, "op": {...}}`` and ``{"done": ID}``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

log = logging.getLogger(__name__)

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

SPOOL_ENV = "JOURNEYS_TRACKING_SPOOL"
COMPACT_AT = 1024 * 1024  # an all-done file is emptied once it is this large
MAX_LINE = 4 * 1024 * 1024  # a longer line cannot be ours: skipped
TURN_FILE = "write.lock"


@dataclass(frozen=True)
class Entry:
    id: str
    op: dict[str, Any]


def spool_folder(engine: Engine) -> Path | None:
    """Where the spool files of this database live.

    A SQLite database keeps them beside its file (``journeys.db.tracking-spool``): they
    belong to that file, whoever runs the server on it, and move with its folder. Other
    databases use ``$JOURNEYS_TRACKING_SPOOL`` (else the user's data directory) and a
    digest of the URL. An in-memory database keeps nothing (nothing else can share it).
    """
    url = engine.url
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            return None
        path = Path(url.database).expanduser().absolute()
        return path.with_name(path.name + ".tracking-spool")
    identity = url.render_as_string(hide_password=True)
    digest = hashlib.sha256(identity.encode()).hexdigest()[:20]
    base = os.environ.get(SPOOL_ENV)
    if not base:
        from platformdirs import user_data_dir

        base = str(Path(user_data_dir("journeys", appauthor=False)) / "tracking-spool")
    return Path(base) / digest


def _encode(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(
        json.dumps(line, separators=(",", ":"), ensure_ascii=True).encode() + b"\n"
        for line in lines
    )


def _try_lock(fd: int) -> bool:
    """Take the file's exclusive lock; False if another process holds it — or if this
    system has no ``flock`` (Windows), where no file can be known to be abandoned."""
    if fcntl is None:  # pragma: no cover - Windows: spooled, but not adopted after a crash
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def read_pending(path: Path) -> list[Entry]:
    """The entries of a spool file that were added and not marked done, in order."""
    pending: dict[str, dict[str, Any]] = {}
    with path.open("rb") as f:
        for raw in f:
            if len(raw) > MAX_LINE:
                continue
            try:
                line = json.loads(raw)
            except ValueError:  # a line torn by a crash: never acknowledged, skipped
                continue
            if not isinstance(line, dict):
                continue
            if isinstance(line.get("add"), str) and isinstance(line.get("op"), dict):
                pending[line["add"]] = line["op"]
            elif isinstance(line.get("done"), str):
                pending.pop(line["done"], None)
    return [Entry(k, v) for k, v in pending.items()]


class Spool:
    """This process's spool file of one database; ``folder=None`` keeps nothing on disk."""

    def __init__(self, folder: Path | None, *, take_turns: bool = False) -> None:
        self.folder = folder
        self._take_turns = take_turns and fcntl is not None
        self._turn_fd: int | None = None
        self.path: Path | None = None
        self._fd: int | None = None
        self._lock = threading.Lock()
        self._pending: set[str] = set()
        self._size = 0
        # Group fsync: bytes ever written, and how many of them an fsync has covered. A
        # request whose line an fsync begun after its write already covered need not
        # sync again — with many requests at once, one fsync serves them all.
        self._written = 0
        self._synced = 0
        self._sync_lock = threading.Lock()
        self._adopted: list[tuple[Path, int]] = []
        # Entries written and waiting for their fsync, and the thread that does it.
        self._waiting: list[Callable[[], None]] = []
        self._wake = threading.Condition(self._lock)
        self._closing = False
        self._syncer: threading.Thread | None = None

    def open(self) -> list[Entry]:
        """Create this process's file and adopt abandoned ones; returns their pending entries.

        A folder that cannot be written is reported and the server runs without a spool
        (interactions are still retried while it runs, only not across a crash).
        """
        if self.folder is None:
            return []
        try:
            path, fd = self._create()
        except OSError as exc:
            log.error(
                "tracking spool %s cannot be written (%s): interactions the database cannot "
                "take at once are kept in memory only",
                self.folder,
                exc.strerror or exc,
            )
            return []
        self.path, self._fd = path, fd
        if self._take_turns:
            with contextlib.suppress(OSError):  # without it, SQLite's own waiting only
                self._turn_fd = os.open(self.folder / TURN_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        adopted = self._adopt()
        try:
            self._append([{"add": e.id, "op": e.op} for e in adopted])
        except OSError as exc:  # their files stay as they are, for a later start
            log.error("tracking spool: cannot take over earlier entries: %s", exc)
            for _, other_fd in self._adopted:
                os.close(other_fd)
            self._adopted = []
            return []
        self._pending.update(e.id for e in adopted)
        self._delete_adopted()
        return adopted

    def _create(self) -> tuple[Path, int]:
        """Our own file, locked before it gets a name other servers would adopt."""
        assert self.folder is not None
        name = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        for attempt in range(2):  # another server may remove the empty folder meanwhile
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            temp = self.folder / f"{name}.new"
            try:
                fd = os.open(temp, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
            except FileNotFoundError:
                if attempt:
                    raise
                continue
            _try_lock(fd)
            path = self.folder / f"{name}.jsonl"
            os.rename(temp, path)
            return path, fd
        raise AssertionError("unreachable")

    def _adopt(self) -> list[Entry]:
        assert self.folder is not None
        found: list[Entry] = []
        for unnamed in self.folder.glob("*.new"):  # a crash between creating and naming
            self._remove_if_abandoned(unnamed)
        for other in sorted(self.folder.glob("*.jsonl")):
            if other == self.path:
                continue
            try:
                fd = os.open(other, os.O_RDWR)
            except OSError:  # deleted meanwhile by another adopter
                continue
            if not _try_lock(fd):  # its server is running
                os.close(fd)
                continue
            try:  # still the file of that name, not one another adopter has just removed
                same = os.fstat(fd).st_ino == os.stat(other).st_ino
            except OSError:
                same = False
            if not same:
                os.close(fd)
                continue
            try:
                found.extend(read_pending(other))
            except OSError as exc:
                log.error("tracking spool %s cannot be read: %s", other, exc)
                os.close(fd)
                continue
            self._adopted.append((other, fd))
        if found:
            log.warning("tracking spool: %d interactions left by an earlier server", len(found))
        return found

    @staticmethod
    def _remove_if_abandoned(path: Path) -> None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return
        try:
            if _try_lock(fd):
                path.unlink()
        except OSError:
            pass
        finally:
            os.close(fd)

    def _delete_adopted(self) -> None:
        # Only once their entries are safely in our own file.
        for other, fd in self._adopted:
            with contextlib.suppress(OSError):
                other.unlink()
            os.close(fd)
        self._adopted = []

    def _append(self, lines: list[dict[str, Any]], *, sync: bool = True) -> None:
        if self._fd is None or not lines:
            return
        data = _encode(lines)
        with self._lock:
            if self._fd is None:
                return
            mine = self._write_locked(data)
        if sync:
            self._sync(mine)

    def _write_locked(self, data: bytes) -> int:
        """Append ``data`` (holding :attr:`_lock`); the bytes ever written after it."""
        assert self._fd is not None
        os.write(self._fd, data)
        self._size += len(data)
        self._written += len(data)
        return self._written

    def _sync(self, upto: int) -> None:
        """Return once the first ``upto`` bytes ever written are on disk."""
        with self._sync_lock:
            if self._synced >= upto:
                return  # an fsync that began after our write covered it
            with self._lock:
                fd, target = self._fd, self._written
            if fd is None:
                return
            os.fsync(fd)
            self._synced = target

    def add(self, entry: Entry, on_safe: Callable[[], None] | None = None) -> None:
        """Durably record ``entry``; raises OSError if the disk refuses (full, gone).

        Without ``on_safe`` this returns once an fsync covered the entry. With it, this
        returns once the entry is written and the spool's syncer thread calls ``on_safe``
        after the fsync that covers it: every entry written while one fsync runs waits
        for the next one, however many requests are writing — no thread waits meanwhile.
        """
        line = {"add": entry.id, "op": entry.op}
        if on_safe is None:
            self._append([line])
            with self._lock:
                self._pending.add(entry.id)
            return
        data = _encode([line])
        with self._lock:
            # Closing or no file on disk: as safe as it gets (the syncer may be gone).
            queued = self._fd is not None and not self._closing
            if queued:
                self._write_locked(data)
                self._waiting.append(on_safe)
                self._start_syncer()
                self._wake.notify()
            self._pending.add(entry.id)
        if not queued:
            on_safe()

    def _start_syncer(self) -> None:
        if self._syncer is None:
            self._syncer = threading.Thread(
                target=self._sync_loop, name="journeys-tracking-spool", daemon=True
            )
            self._syncer.start()

    def _sync_loop(self) -> None:
        while True:
            with self._lock:
                while not self._waiting and not self._closing:
                    self._wake.wait()
                if not self._waiting:
                    return
                waiting, self._waiting = self._waiting, []
                upto = self._written
            try:
                self._sync(upto)
            except OSError as exc:  # a failing disk: recorded all the same, if not crash-proof
                log.error("tracking spool: cannot sync (%s); entries kept in memory", exc)
            for on_safe in waiting:
                try:
                    on_safe()
                except Exception:  # one waiter's failure is its own
                    log.exception("tracking spool: a waiter failed")

    def done(self, entry_ids: Iterable[str]) -> None:
        """The database has these: never replay them again (one write for a group)."""
        ids = list(entry_ids)
        try:  # not synced: losing it in a crash only replays an idempotent entry
            self._append([{"done": entry_id} for entry_id in ids], sync=False)
        except OSError as exc:  # replayed after a crash, where recording is idempotent
            log.error("tracking spool: cannot mark entries done: %s", exc)
        with self._lock:
            self._pending.difference_update(ids)
            if not self._pending and self._size >= COMPACT_AT and self._fd is not None:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, 0)
                    os.fsync(self._fd)
                    self._size = 0

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """This server's turn at the database's write lock, among the servers of one
        SQLite file (``take_turns``). SQLite makes a writer that finds the lock taken
        poll for it, sleeping up to 100 ms between tries — with several servers that
        was the longest wait of a click; a ``flock`` queue wakes the next at once."""
        fd = self._turn_fd
        if fd is None:
            yield
            return
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def close(self) -> None:
        """Release the file: deleted when nothing is pending, else left for the next start."""
        with self._lock:
            self._closing = True
            self._wake.notify_all()
            syncer = self._syncer
        if syncer is not None and syncer is not threading.current_thread():
            syncer.join(30.0)  # what was written is synced and its waiters told first
        with self._sync_lock, self._lock:  # never while an fsync uses the descriptor
            fd, self._fd = self._fd, None
            if fd is None:
                return
            if not self._pending and self.path is not None:
                with contextlib.suppress(OSError):
                    self.path.unlink()
            os.close(fd)
            turn, self._turn_fd = self._turn_fd, None
            if turn is not None:
                os.close(turn)
        if self.folder is not None:
            if not any(self.folder.glob("*.jsonl")):  # the last server: no one takes turns
                with contextlib.suppress(OSError):
                    (self.folder / TURN_FILE).unlink()
            with contextlib.suppress(OSError):  # not empty, or in use: fine
                self.folder.rmdir()
        if self._pending:
            log.warning(
                "tracking spool: %d interactions not yet in the database are kept in %s "
                "for the next start",
                len(self._pending),
                self.path,
            )
