"""The answer as Markdown (``prompts/answer.md.j2``), checked as a renderer will show it."""

from __future__ import annotations

import re

from agent.guard import SECTIONS
from agent.prompts import render
from agent.rendered_links import enforce
from agent.schema import Draft, Grounding

_PART = re.compile(r"^## [1-3]\. .*(?:\n|$)", re.MULTILINE)  # the layout's own headings (drafts' are removed)


def render_markdown(question: str, draft: Draft) -> str:
    return render("answer.md.j2", question=question, sections=draft.model_dump())


def sections_of(markdown: str) -> dict[str, str]:
    """The three parts' bodies, read back from a rendered answer."""
    parts = _PART.split(markdown)
    bodies = [part.strip() for part in parts[1:]] if len(parts) == len(SECTIONS) + 1 else [""] * len(SECTIONS)
    return dict(zip(SECTIONS, bodies, strict=True))


def render_checked(question: str, draft: Draft, grounding: Grounding) -> tuple[str, dict[str, str], list[str]]:
    """The answer's Markdown after the renderer's check (cuts reported in ``grounding``), its three
    parts, and the supplied links a renderer links in it."""
    checked = enforce(render_markdown(question, draft), grounding.allowed_links)
    if checked.cut:
        grounding.removed_links = list(dict.fromkeys([*grounding.removed_links, *checked.cut]))
        grounding.issues += [f"removed a link the rendered answer would have followed: {url}" for url in checked.cut]
    return checked.markdown, sections_of(checked.markdown), checked.links
