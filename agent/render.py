"""The answer as Markdown (``prompts/answer.md.j2``) and as the JSON record."""

from __future__ import annotations

from agent.prompts import render
from agent.schema import Draft


def render_markdown(question: str, draft: Draft) -> str:
    return render("answer.md.j2", question=question, sections=draft.model_dump())
