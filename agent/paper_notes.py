"""Notes on related papers that are true by construction.

What a paper is about comes from its own record: the sentence of its summary that states its
contribution ("We propose…", "This paper…"), shortened; never a task label guessed for it. How it
relates to the question is judged on meaning (MiniLM sentence embeddings of the paper against the
question and its task) on three honest levels: related (addresses the question's problem),
tangential (same field, a different problem), not related (another field).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from agent.corpus import classify_task, load_corpus
from agent.evidence import sentences
from agent.schema import ModelCard, PaperCard, Record, Task

Level = Literal["related", "tangential", "not related"]

# Cosine of a paper with the question's problem (MiniLM), chosen on the development set's paper labels
# (bench/answer_quality.py levels), then stricter about "related" after blind grading; held-out checks.
RELATED_IN_FIELD = 0.50  # a paper of the question's field this close addresses its problem
RELATED_ANY = 0.60  # any paper this close does
TANGENTIAL = 0.35  # below this and outside the question's field: not related

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
    found = sentences(summary)
    chosen = next((s for s in found if _CONTRIBUTION.search(s)), found[0])
    return chosen if len(chosen) <= limit else chosen[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"


def problem_text(question: str, task: Task | None, models: Sequence[str] = ()) -> str:
    """What the question is about, for comparing papers with it: the question, its task and what we know
    of the recommended models (names, card summaries)."""
    return " ".join([question, f"{task.name}: {task.doing}." if task else "", *models]).strip()


@dataclass(frozen=True)
class Closeness:
    """How a paper reads next to the question: its cosine with the question's problem, and the task
    whose description it is closest to in meaning."""

    similarity: float
    task: Task | None


def note(
    record: Record,
    card: PaperCard | ModelCard | None,
    task: Task | None,
    closeness: Closeness | None,
    recommended: Sequence[ModelCard] = (),
    model_letters: str = "",
) -> PaperNote:
    """The note for one related paper (``closeness`` is None when embeddings are not available: then
    only the paper's own words, read by keywords, decide). ``card`` is a paper card, or the model card
    of the model this paper introduced; ``recommended`` are the recommended models' cards and
    ``model_letters`` their names (``name_letters``): a paper whose title names what a recommended model
    is built on is related."""
    if isinstance(card, PaperCard):  # our own card: its topics were written by hand
        level: Level = "related" if task is not None and task.id in card.topics else "tangential"
        return PaperNote(level, card.summary, quoted=False)
    corpus = load_corpus()
    about = contribution(record.summary)
    own = [classify_task(corpus, f"{record.name}. {about or ''}", [])]  # its title and main claim
    own.append(closeness.task if closeness else None)
    if card is not None:  # the paper of a model we know: its card says its task
        own.append(corpus.task(card.task))
    builds_on = (card is not None and any(card.name == model.name for model in recommended)) or _named_in(
        record.name, model_letters
    )
    same_task = builds_on or (task is not None and any(t is not None and t.id == task.id for t in own))
    same_field = task is not None and any(t is not None and _field(t) == _field(task) for t in own)
    similarity = closeness.similarity if closeness else -1.0
    if same_task or (same_field and similarity >= RELATED_IN_FIELD) or similarity >= RELATED_ANY:
        level = "related"
    elif same_field or similarity >= TANGENTIAL:
        level = "tangential"
    else:
        level = "not related"
    if about is None:
        return PaperNote(level, "its record gives only the title", quoted=False)
    return PaperNote(level, about, quoted=True)


_FIELDS = {"video": "vision", "3d": "vision", "robotics": "vision"}  # one field of seeing, for relevance


def _field(task: Task) -> str:
    return _FIELDS.get(task.area, task.area)


_GENERIC = frozenset(
    "model models learning network networks neural deep image images language large vision visual text speech "
    "audio data based towards via using with from for the and self supervised transformer transformers "
    "pre training trained efficient scalable unified general foundation".split()
)


def name_letters(names: Sequence[str]) -> str:
    """The models' names as letters and digits, one per line: what ``note`` looks for title words in."""
    return "\n".join(re.sub(r"[\W_]+", "", name.casefold()) for name in names)


def _named_in(title: str, model_letters: str) -> bool:
    """The paper's short title (before a colon) has a distinctive word that a recommended model's name is
    built from: "Hyena Hierarchy: …" and HyenaDNA."""
    short = title.split(":", 1)[0].casefold()
    return any(w in model_letters for w in re.findall(r"[a-z][a-z0-9]{3,}", short) if w not in _GENERIC)


def closeness(records: list[Record], problem: str) -> list[Closeness] | None:
    """Each paper next to the question's problem (MiniLM), or None if the encoder cannot load."""
    if not records:
        return []
    try:
        from agent.corpus import embed

        corpus = load_corpus()
        vectors = embed([problem, *(f"{r.name}. {contribution(r.summary) or ''}" for r in records)])
        tasks = corpus.task_vectors
    except (ImportError, OSError, RuntimeError):
        return None
    return [
        Closeness(float(vectors[0] @ vector), corpus.tasks[int((tasks @ vector).argmax())] if corpus.tasks else None)
        for vector in vectors[1:]
    ]
