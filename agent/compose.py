"""The offline composer: a deterministic, grounded answer from the evidence and tool
results, written through the Jinja templates in ``prompts/offline/``. It reads well
for any valid question file, including models that have no card in ``corpus/``."""

from __future__ import annotations

from typing import Any

from agent.corpus import load_corpus
from agent.evidence import sentences
from agent.markdown_text import inline
from agent.paper_notes import closeness, name_letters, note, problem_text
from agent.prompts import render
from agent.schema import LINK_LABELS, Draft, Evidence, ModelCard, PaperCard, Record, ToolCall

DETAILED_MODELS = 8  # parts 1 and 2 walk through this many models; part 3 lists every one
MEASURED_PAPERS = 64  # papers judged by meaning (MiniLM); any beyond, by their own words only


def first_sentence(text: str | None, limit: int = 220) -> str:
    found = sentences(text or "")
    if not found:
        return ""
    sentence = found[0]
    return sentence if len(sentence) <= limit else sentence[:limit].rsplit(" ", 1)[0] + " …"


def labelled_links(record: Record) -> list[tuple[str, str]]:
    return [(label, getattr(record, field)) for field, label in LINK_LABELS.items() if getattr(record, field)]


def passage_ids(evidence: Evidence) -> dict[str, str]:
    """Passage text -> id, so template lines can cite what they use."""
    return {p.text: p.id for p in evidence.passages}


def model_context(evidence: Evidence, index: int, record: Record, ids: dict[str, str]) -> dict[str, Any]:
    """What the templates say about one model: its card's own input, output and steps; else the task's
    general ones (labelled as general); else nothing, and the template says the records do not tell."""
    card = evidence.cards.get(record.name)
    card = card if isinstance(card, ModelCard) else None
    task = evidence.task
    return {
        "name": record.name,
        "card": card,
        "card_is_own": card is not None and load_corpus().is_own_card(record, card),
        "summary": first_sentence(record.summary),
        "passage": ids.get(card.summary, f"M{index}") if card else f"M{index}",
        "input": card.input if card else (task.input if task else None),
        "output": card.output if card else (task.output if task else None),
        "steps": [f"{step} [{ids[step]}]" if step in ids else step for step in card.method] if card else [],
        "general_steps": task.steps if (task and not card) else [],
        "links": labelled_links(record),
    }


def paper_contexts(evidence: Evidence) -> list[dict[str, Any]]:
    """Each related paper with its links and an honest note (see ``agent.paper_notes``)."""
    question, task = evidence.question, evidence.task
    recommended = [c for r in question.models if isinstance(c := evidence.cards.get(r.name), ModelCard)]
    cards = [evidence.cards.get(r.name) for r in question.papers]
    uncarded = [r for r, card in zip(question.papers, cards, strict=True) if not isinstance(card, PaperCard)]
    problem = problem_text(
        question.question, task, [r.name for r in question.models] + [c.summary for c in recommended]
    )
    measured = uncarded[:MEASURED_PAPERS]
    signals = closeness(measured, problem) or [None] * len(measured)
    by_name = dict(zip((r.name for r in measured), signals, strict=True))
    letters = name_letters([r.name for r in question.models])
    contexts = []
    for i, (record, card) in enumerate(zip(question.papers, cards, strict=True), 1):
        written = note(record, card, task, by_name.get(record.name), recommended, letters)
        contexts.append({"name": record.name, "links": labelled_links(record), "note": written, "passage": f"P{i}"})
    return contexts


def compose(evidence: Evidence, tool_calls: list[ToolCall]) -> Draft:
    question = evidence.question
    ids = passage_ids(evidence)
    models = [model_context(evidence, i, r, ids) for i, r in enumerate(question.models, 1)]
    detailed = models[:DETAILED_MODELS]
    papers = paper_contexts(evidence)
    context = {
        "task": evidence.task,
        "task_passage": "T1" if evidence.task else None,
        "models": detailed,
        "more_models": len(models) - len(detailed),
        "any_summary": any(m["summary"] for m in detailed),
        "liif_recommended": any(m["card"] is not None and m["card"].tool == "liif_upscale" for m in models),
        "listed_models": models,
        "model_names": ", ".join(inline(m["name"]) for m in detailed) or "the recommended models",
        "papers": papers,
        "runs": tool_calls,
    }
    return Draft(
        task=render("offline/task.j2", **context),
        workflow=render("offline/workflow.j2", **context),
        references=render("offline/references.j2", **context),
    )
