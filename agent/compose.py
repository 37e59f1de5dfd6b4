"""The offline composer: a deterministic, grounded answer from the evidence and tool
results, written through the Jinja templates in ``prompts/offline/``. It reads well
for any valid question file, including models that have no card in ``corpus/``."""

from __future__ import annotations

import re
from typing import Any

from agent.corpus import classify_task, load_corpus
from agent.evidence import tokens
from agent.markdown_text import inline
from agent.prompts import render
from agent.schema import Draft, Evidence, ModelCard, PaperCard, Record, ToolCall

LINK_LABELS = (("paper", "Paper"), ("github", "GitHub"), ("huggingface", "HuggingFace"))
DETAILED_MODELS = 8  # parts 1 and 2 walk through this many models; part 3 lists every one
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def first_sentence(text: str | None, limit: int = 220) -> str:
    if not text:
        return ""
    sentence = SENTENCE_END.split(" ".join(text.split()), maxsplit=1)[0]
    return sentence if len(sentence) <= limit else sentence[:limit].rsplit(" ", 1)[0] + " …"


def labelled_links(record: Record) -> list[tuple[str, str]]:
    return [(label, getattr(record, field)) for field, label in LINK_LABELS if getattr(record, field)]


def passage_ids(evidence: Evidence) -> dict[str, str]:
    """Passage text -> id, so template lines can cite what they use."""
    return {p.text: p.id for p in evidence.passages}


def model_context(evidence: Evidence, index: int, record: Record, ids: dict[str, str]) -> dict[str, Any]:
    card = evidence.cards.get(record.name)
    card = card if isinstance(card, ModelCard) else None
    task = evidence.task
    return {
        "name": record.name,
        "card": card,
        "summary": first_sentence(record.summary),
        "passage": ids.get(card.summary, f"M{index}") if card else f"M{index}",
        "input": card.input if card else (task.input if task else "the data the model was built for"),
        "output": card.output if card else (task.output if task else "the model's prediction"),
        "steps": [f"{step} [{ids[step]}]" if step in ids else step for step in card.method] if card else [],
        "general_steps": task.steps if (task and not card) else [],
        "links": labelled_links(record),
    }


def relevance(evidence: Evidence, record: Record, index: int) -> str:
    """An honest one-line relevance: from the paper's card when we have one, else from word overlap."""
    task = evidence.task
    topic = task.name.lower() if task else "the question"
    card = evidence.cards.get(record.name)
    if isinstance(card, PaperCard):
        related = task is not None and task.id in card.topics
        return f"{'Related' if related else 'Tangential to ' + topic}: {card.summary} [P{index}]"
    text = f"{record.name} {record.summary or ''}"
    own_task = classify_task(load_corpus(), text, [])
    if task and own_task and own_task.id == task.id:
        return f"Related: like the question, it is about {topic} [P{index}]"
    about = set(tokens(evidence.question.question)) | (set(tokens(" ".join(task.keywords))) if task else set())
    shared = sorted(about & set(tokens(text)))
    subject = own_task.name.lower() if own_task else None
    if len(shared) >= 3:
        though = f", though its main subject is {subject}" if subject else ""
        terms = ", ".join(shared[:5])
        return f"Possibly related: its record shares the terms {terms} with the question{though} [P{index}]"
    if subject:
        return f"Tangential: judged from its title and summary it is about {subject}, not {topic} [P{index}]"
    return f"Tangential: judged from its title and summary, it does not address {topic} directly [P{index}]"


def compose(evidence: Evidence, tool_calls: list[ToolCall]) -> Draft:
    question = evidence.question
    ids = passage_ids(evidence)
    models = [model_context(evidence, i, r, ids) for i, r in enumerate(question.models, 1)]
    detailed = models[:DETAILED_MODELS]
    papers = [
        {"name": r.name, "links": labelled_links(r), "relevance": relevance(evidence, r, i)}
        for i, r in enumerate(question.papers, 1)
    ]
    context = {
        "task": evidence.task,
        "task_passage": "T1" if evidence.task else None,
        "models": detailed,
        "more_models": len(models) - len(detailed),
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
