"""A small exception hierarchy that carries data; API errors have a stable code."""
from __future__ import annotations

from typing import Any


class HelplineError(Exception):
    pass


class ApiError(HelplineError):
    def __init__(self, status: int, code: str, detail: Any = None) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status, self.code, self.detail = status, code, detail


class ProviderError(HelplineError):
    """A provider refused or failed a send."""

    def __init__(self, code: str, detail: str = "", *, permanent: bool,
                 retry_after: float | None = None, unreachable: bool = False) -> None:
        super().__init__(f"provider error {code}: {detail}")
        self.code, self.detail = code, detail
        self.permanent, self.retry_after, self.unreachable = permanent, retry_after, unreachable


class StaffFileError(HelplineError):
    """A staff file is invalid; names the line and field."""

    def __init__(self, message: str, line: int | None = None, field: str | None = None) -> None:
        where = f"line {line}: " if line else ""
        super().__init__(f"{where}{field + ': ' if field else ''}{message}")
        self.line, self.field = line, field


class ContentError(HelplineError):
    """Content or flow files are invalid; names file, line and field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
