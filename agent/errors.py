"""Errors the agent reports as one line (the CLI adds ``error: `` and exits 1)."""

from pydantic import ValidationError


class AgentError(Exception):
    """Base class for user-facing errors."""


class QuestionError(AgentError):
    """A question file that cannot be read or is not a question."""


def validation_problems(error: ValidationError) -> str:
    """A pydantic error as one line: ``field: message; other.field: message``."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in error.errors())
