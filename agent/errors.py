"""Errors the agent reports as one line (the CLI adds ``error: `` and exits 1)."""


class AgentError(Exception):
    """Base class for user-facing errors."""


class QuestionError(AgentError):
    """A question file that cannot be read or is not a question."""
