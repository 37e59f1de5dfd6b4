"""Every prompt and answer layout is a Jinja2 template in ``prompts/``; this renders them."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from agent.markdown_text import code, inline

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"


@cache
def environment() -> Environment:
    """``| md`` echoes untrusted text as inert Markdown, ``| code`` as an inline code span."""
    env = Environment(
        loader=FileSystemLoader(PROMPTS_DIR),
        undefined=StrictUndefined,  # a missing variable is a bug, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(md=inline, code=code)
    return env


def render(name: str, **context: Any) -> str:
    """Render ``prompts/<name>`` with the given variables."""
    return environment().get_template(name).render(**context)
