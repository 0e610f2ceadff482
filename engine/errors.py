"""Error classes shared by the engine and its front ends.

The command line maps :class:`UserError` to exit code 2 (bad input, nothing changed) and
:class:`EngineFailure` to exit code 1 (a runtime failure), so every module raises one of
these instead of inventing its own exit policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class JourneysError(Exception):
    """Base of every error the engine raises on purpose."""


class UserError(JourneysError):
    """The input was wrong: a file, a filter, an argument. Nothing was changed."""


class ReadOnly(UserError):
    """An edit asked of a database opened to look only (``journeys dashboard --read-only``,
    the app's read-only setting): refused before anything is written."""

    def __init__(self, what: str = "") -> None:
        super().__init__(
            f"{what + ': ' if what else ''}the database is open read-only "
            "(to look, not to edit); open it without --read-only to change anything"
        )


class EngineFailure(JourneysError):
    """Something failed at run time (locked database, dead server...)."""


BUSY_MESSAGE = "the database is busy: another Journeys process is writing; try again"


class DatabaseBusy(EngineFailure):
    """Another process held the database's write lock past the busy timeout.

    Not a fault of this process and nothing was half-written (the transaction rolled
    back), so front ends say it in one line and retry or ask the person to: the command
    line exits with its own code (75, ``EX_TEMPFAIL``), the app retries its passes.
    """

    def __init__(self, message: str = BUSY_MESSAGE) -> None:
        super().__init__(message)


@dataclass(frozen=True)
class Problem:
    """One validation problem, located by a JSON path such as ``$.activities[2].trigger``."""

    path: str
    message: str
    severity: str = "error"  # "error" blocks import and start; "warning" only informs

    def __str__(self) -> str:
        prefix = "" if self.severity == "error" else f"{self.severity}: "
        return f"{self.path}: {prefix}{self.message}"


@dataclass
class ValidationError(UserError):
    """Several problems found at once; every one is reported, nothing is written."""

    problems: list[Problem] = field(default_factory=list)
    title: str = "invalid input"

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = [f"{self.title} ({len(self.problems)} problem(s)):"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)
