"""Errors the agent reports as one line (the CLI adds ``error: `` and exits 1)."""

import sys

from pydantic import ValidationError


class AgentError(Exception):
    """Base class for user-facing errors."""


class QuestionError(AgentError):
    """A question file that cannot be read or is not a question."""


def validation_problems(error: ValidationError) -> str:
    """A pydantic error as one line: ``field: message; other.field: message``."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in error.errors())


def plain_message(exc: BaseException) -> str:
    """An unexpected exception as one plain sentence for a user: never a Python type name or a
    multi-line dump. Errors we raise on purpose (``AgentError``) are already worded for users."""
    if isinstance(exc, AgentError):
        return str(exc)
    if isinstance(exc, RecursionError):
        return "the data is nested too deeply to read"
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, OverflowError):
        return "a number is too large"
    if isinstance(exc, UnicodeError) or "surrogates not allowed" in str(exc):  # also pydantic's JSON errors
        return "text with characters that cannot be encoded (lone surrogates)"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    if isinstance(exc, ValueError) and "integer string conversion" in str(exc):
        return f"a number has more than {sys.get_int_max_str_digits()} digits"
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else "an unexpected error"
