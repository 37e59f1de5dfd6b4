"""Notes on related papers that are true by construction.

What a paper is about comes from its own record: the sentence of its summary that states its
contribution ("We propose…", "This paper…"), shortened; never a task label guessed for it. How it
relates to the question is judged on meaning (MiniLM sentence embeddings of the paper against the
question and its task) on three honest levels: related (addresses the question's problem),
tangential (same field, a different problem), not related (another field).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from agent.corpus import classify_task, load_corpus
from agent.schema import PaperCard, Record, Task

Level = Literal["related", "tangential", "not related"]

# Cosine of a paper with the question's problem (MiniLM), chosen on the development set's paper labels
# (bench/answer_quality.py levels); the held-out set checks them.
RELATED_IN_FIELD = 0.33  # a paper of the question's field this close addresses its problem
RELATED_ANY = 0.45  # any paper this close does
TANGENTIAL = 0.30  # below this and outside the question's field: not related

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")
_CONTRIBUTION = re.compile(
    r"\b(?:we|this (?:paper|work|study|article)|here we|our (?:method|approach|model|work))\s+"
    r"(?:\w+\s+){0,2}?(?:propose|introduce|present|develop|describe|show|demonstrate|study|investigate|"
    r"design|build|release|find|report|explore|address|tackle|train|use)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class PaperNote:
    level: Level
    about: str  # the paper's own words (or a plain statement that its record gives only a title)
    quoted: bool  # ``about`` quotes the record's summary


def contribution(summary: str | None, limit: int = 240) -> str | None:
    """The summary's sentence that says what the paper does, else its first sentence; shortened."""
    if not summary or not summary.strip():
        return None
    sentences = [s.strip() for s in _SENTENCE.split(" ".join(summary.split())) if s.strip()]
    chosen = next((s for s in sentences if _CONTRIBUTION.search(s)), sentences[0])
    return chosen if len(chosen) <= limit else chosen[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"


def problem_text(question: str, task: Task | None) -> str:
    """What the question is about, for comparing papers with it: the question and its task."""
    return f"{question} {task.name}: {task.doing}." if task else question


def note(record: Record, card: PaperCard | None, task: Task | None, similarity: float | None) -> PaperNote:
    """The note for one related paper. ``similarity`` is its cosine with the question's problem
    (None when embeddings are not available: then only its own field decides)."""
    if card is not None:  # our own card: its topics were written by hand
        level: Level = "related" if task is not None and task.id in card.topics else "tangential"
        return PaperNote(level, card.summary, quoted=False)
    about = contribution(record.summary)
    text = f"{record.name}. {record.summary or ''}"
    own = classify_task(load_corpus(), text, [])
    same_task = task is not None and own is not None and own.id == task.id
    same_field = task is not None and own is not None and own.area == task.area
    closeness = -1.0 if similarity is None else similarity
    if same_task or (same_field and closeness >= RELATED_IN_FIELD) or closeness >= RELATED_ANY:
        level = "related"
    elif same_field or closeness >= TANGENTIAL:
        level = "tangential"
    else:
        level = "not related"
    if about is None:
        return PaperNote(level, "its record gives only the title", quoted=False)
    return PaperNote(level, about, quoted=True)


def similarities(records: list[Record], problem: str) -> list[float] | None:
    """Each paper's cosine with the question's problem (MiniLM), or None if the encoder cannot load."""
    if not records:
        return []
    try:
        from agent.minilm import load_minilm

        vectors = load_minilm().encode([problem, *(f"{r.name}. {contribution(r.summary) or ''}" for r in records)])
    except (ImportError, OSError, RuntimeError):
        return None
    return [float(vectors[0] @ vector) for vector in vectors[1:]]
