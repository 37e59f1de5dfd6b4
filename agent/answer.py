"""One pass from a question to a grounded answer:

Question -> Evidence -> Plan -> tool runs -> Draft (LLM or offline) -> Guard -> Answer.
The guard checks every draft, whoever wrote it; an LLM draft it cannot accept after
one repair round is replaced by the offline composer's, and the report says so.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from agent.compose import compose
from agent.corpus import identify_task, load_corpus
from agent.evidence import gather_evidence
from agent.files import atomic_file
from agent.guard import guard
from agent.liif_tool import run_liif
from agent.plan import make_plan
from agent.prompts import render
from agent.render import render_checked
from agent.retrieval import CONFIDENT, with_retrieved_records
from agent.schema import Answer, Draft, Evidence, Grounding, ModelCard, PaperCard, Question, ToolCall
from agent.settings import AgentSettings


@dataclass
class AskOptions:
    image: str | None = None  # the user's own picture for the LIIF demo
    weights: str | None = None  # a LIIF checkpoint, e.g. rdn-liif.pth
    tools: bool = True
    backend: str | None = None  # overrides settings: auto | offline | openai


def retrieval_note(question: Question) -> str:
    """Part 1's opening line when the records were retrieved: what was found, and how surely."""
    note = render("retrieval_note.j2", retrieval=question.retrieval, models=question.models, threshold=CONFIDENT)
    return note.strip()


def build_evidence(question: Question, settings: AgentSettings) -> Evidence:
    corpus = load_corpus()
    cards: dict[str, ModelCard | PaperCard] = {}
    for kind, records in (("model", question.models), ("paper", question.papers)):
        for record in records:
            card = corpus.card_for(record, kind)
            if card is not None:
                cards[record.name] = card
    # Only the recommended models' own cards say the task: a related paper's card is about that paper.
    model_cards = [c for r in question.models if isinstance(c := cards.get(r.name), ModelCard)]
    described = " ".join([question.question, *(r.summary or "" for r in question.models)])
    task = identify_task(corpus, described, [r.name for r in question.models], model_cards)
    if question.retrieval is not None and not question.retrieval.confident:
        task = None  # the search found nothing that fits: no task is asserted either
    return gather_evidence(question, cards, task, embeddings=settings.embeddings)


def evidence_texts(evidence: Evidence) -> list[str]:
    """Everything numbers in an answer may be traced to (besides tool results)."""
    q = evidence.question
    records = [f"{r.name} {r.summary or ''}" for r in [*q.models, *q.papers]]
    cards = [card.model_dump_json() for card in evidence.cards.values()]
    task = [evidence.task.model_dump_json()] if evidence.task else []
    return [q.question, *records, *cards, *task, *(p.text for p in evidence.passages)]


@cache
def llm_backend(settings_json: str):
    """One backend (and HTTP client) per distinct settings, shared by every answer in the process:
    building LangChain's client per answer costs more than a concurrent batch can overlap."""
    from agent.llm import OpenAIBackend

    return OpenAIBackend(AgentSettings.model_validate_json(settings_json))


def write_draft(
    evidence: Evidence, tool_calls: list[ToolCall], settings: AgentSettings, backend: str
) -> tuple[Draft, Grounding, str]:
    """Draft and guard; returns (draft, grounding, backend name)."""
    sources = evidence_texts(evidence)
    if backend == "openai":
        from agent.llm import LLMError

        llm = llm_backend(settings.model_dump_json())
        try:
            draft, grounding = guard(llm.draft(evidence, tool_calls), evidence.question, sources, tool_calls)
            if not grounding.ok:
                repaired = llm.repair(evidence, tool_calls, draft, grounding.issues)
                draft, grounding = guard(repaired, evidence.question, sources, tool_calls)
            if grounding.ok:
                return draft, grounding, llm.name
            reason = "the LLM draft failed the guard after one repair round: " + "; ".join(grounding.issues)
        except LLMError as exc:
            reason = f"the LLM failed: {exc}"
        draft, grounding = guard(compose(evidence, tool_calls), evidence.question, sources, tool_calls)
        grounding.issues.insert(0, f"fell back to the offline composer ({reason})")
        return draft, grounding, f"offline (fallback from {llm.name})"
    draft, grounding = guard(compose(evidence, tool_calls), evidence.question, sources, tool_calls)
    return draft, grounding, "offline"


def answer_question(
    question: Question, options: AskOptions | None = None, settings: AgentSettings | None = None
) -> Answer:
    options = options or AskOptions()
    settings = (settings or AgentSettings()).with_backend(options.backend)
    started = time.perf_counter()
    question = with_retrieved_records(question, settings)  # a question without records gets the corpus's
    evidence = build_evidence(question, settings)
    plan = make_plan(evidence, options.image, options.weights, options.tools)
    tool_calls = [run_liif(request.arguments) for request in plan.tools]
    draft, grounding, backend = write_draft(evidence, tool_calls, settings, settings.resolved_backend())
    if question.retrieval is not None:  # said by code, whichever backend drafted
        draft = draft.model_copy(update={"task": f"{retrieval_note(question)}\n\n{draft.task}"})
    markdown, sections, links = render_checked(question.question, draft, grounding)
    return Answer(
        source=question.source,
        question=question.question,
        answer_markdown=markdown,
        sections=sections,
        links=links,
        tool_calls=tool_calls,
        grounding=grounding,
        backend=backend,
        retrieval=question.retrieval,
        elapsed_s=round(time.perf_counter() - started, 3),
    )


IMAGE_KEYS = ("input", "output", "compare", "reference")  # tool-result paths copied next to an answer


def write_outputs(answer: Answer, folder: Path, name: str, extra: dict[str, Any] | None = None) -> Answer:
    """The demo images as DIR/NAME-*.png (paths in the answer rewritten to them), then DIR/NAME.md,
    then DIR/NAME.json, the completion marker (with ``extra`` fields); each written atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    text = answer.model_dump_json()
    for call in answer.tool_calls:
        for key in IMAGE_KEYS:
            path = (call.result or {}).get(key)
            if path and Path(path).is_file():
                copy = folder / f"{name}-{Path(path).name}"
                with atomic_file(copy) as tmp:
                    shutil.copyfile(path, tmp)
                text = text.replace(json.dumps(path)[1:-1], str(copy))
    answer = Answer.model_validate_json(text)
    if answer.answer_markdown is not None:
        with atomic_file(folder / f"{name}.md") as tmp:
            tmp.write_text(answer.answer_markdown)
    record = {**answer.model_dump(mode="json"), **(extra or {})}
    with atomic_file(folder / f"{name}.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False))
    return answer
