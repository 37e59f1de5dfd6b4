"""The curated corpus in ``corpus/``: model cards, paper cards and the task taxonomy.

Cards hold facts in our own words; their ``paper_urls`` only recognise supplied records and are never
offered as links. Task keywords let a question be classified when no card names its task.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import BaseModel, ValidationError

from agent.errors import validation_problems
from agent.schema import ModelCard, PaperCard, Record, Task

CORPUS_DIR = Path(__file__).resolve().parent.parent / "corpus"

Card = ModelCard | PaperCard
CardT = TypeVar("CardT", bound=BaseModel)

ARXIV_HOSTS = {"arxiv.org", "www.arxiv.org", "export.arxiv.org"}
ARXIV_PATH = re.compile(r"^/(?:abs|pdf)/(?P<id>.+?)(?:v\d+)?$")


@dataclass
class Corpus:
    models: list[ModelCard]
    papers: list[PaperCard]
    tasks: list[Task]

    def task(self, task_id: str) -> Task | None:
        return next((task for task in self.tasks if task.id == task_id), None)

    def card_for(self, record: Record, kind: Literal["model", "paper"] = "model") -> Card | None:
        """The card for a supplied record, by name/alias or paper URL; cards of ``kind`` are tried first."""
        groups: list[Sequence[Card]] = [self.models, self.papers]
        if kind == "paper":
            groups.reverse()
        for cards in groups:
            if card := _match(record, cards):
                return card
        return None


def _match(record: Record, cards: Sequence[Card]) -> Card | None:
    """A card whose name or alias is the record's name, else one that shares a paper URL with it."""
    name = name_key(record.name)
    by_name = (card for card in cards if name in {name_key(n) for n in [card.name, *card.aliases]})
    urls = {normalise_url(url) for url in record.links()}
    by_url = (card for card in cards if urls & {normalise_url(url) for url in card.paper_urls})
    return next(by_name, None) or next(by_url, None)


def name_key(name: str) -> str:
    """A name with case, spaces and punctuation ignored: 'SISR-Any-LIIF-RDN' == 'sisr any liif rdn'."""
    return re.sub(r"[\W_]+", "", name.casefold())


def normalise_url(url: str) -> str:
    """A form of ``url`` for matching only (never shown): arXiv abs/pdf and versions collapse to one."""
    url = url.strip()
    parts = urlsplit(url if "://" in url else f"https://{url}")
    scheme = "https" if parts.scheme.lower() == "http" else parts.scheme.lower()
    host = parts.netloc.lower()
    path = parts.path.rstrip("/").removesuffix(".pdf").rstrip("/")
    query = parts.query
    if host in ARXIV_HOSTS and (m := ARXIV_PATH.match(path)):
        host, path, query = "arxiv.org", f"/abs/{m['id']}", ""
    return urlunsplit((scheme, host, path, query, ""))


def load_corpus(root: Path = CORPUS_DIR) -> Corpus:
    """Read and validate every card and the task list under ``root`` (once per root)."""
    return _load(Path(root).resolve())


@cache
def _load(root: Path) -> Corpus:
    models = [_validate(ModelCard, _read(path), path) for path in sorted((root / "models").glob("*.yaml"))]
    papers = [_validate(PaperCard, _read(path), path) for path in sorted((root / "papers").glob("*.yaml"))]
    tasks_path = root / "tasks.yaml"
    entries = _read(tasks_path) if tasks_path.exists() else []
    if not isinstance(entries, list):
        raise ValueError(f"{tasks_path}: expected a list of tasks")
    tasks = [_validate(Task, entry, tasks_path) for entry in entries]
    ids = [task.id for task in tasks]
    if duplicates := sorted({i for i in ids if ids.count(i) > 1}):
        raise ValueError(f"{tasks_path}: duplicate task ids: {', '.join(duplicates)}")
    return Corpus(models=models, papers=papers, tasks=tasks)


def _read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML: {error}") from error


def _validate(kind: type[CardT], data: Any, path: Path) -> CardT:
    try:
        return kind.model_validate(data)
    except ValidationError as error:
        raise ValueError(f"{path}: not a valid {kind.__name__}: {validation_problems(error)}") from error


def classify_task(corpus: Corpus, text: str, cards: Sequence[Card | None] = ()) -> Task | None:
    """The task a question is about: the task a matched model card names, else the best keyword match.

    ``text`` is everything known about the question (the question, record names, summaries). A task scores
    the number of words of every distinct keyword found in the text, so a phrase like "voice memo" outweighs
    a lone word; ties go to the task listed first. None when no keyword occurs at all.
    """
    for card in cards:
        if isinstance(card, ModelCard) and (task := corpus.task(card.task)):
            return task
    scores = keyword_scores(corpus.tasks, text)
    best = max(scores, key=scores.__getitem__, default=None)  # the first listed among equals
    return corpus.task(best) if best else None


def keyword_scores(tasks: Sequence[Task], text: str) -> dict[str, int]:
    """Each task whose keywords occur in ``text``, scored by the words of its distinct matched keywords."""
    scores = {}
    present = set(_TEXT_WORD.findall(text.lower()))
    for task in tasks:
        score = sum(
            words
            for forms, pattern, words in _task_keywords(tuple(task.keywords))
            if (forms is None or not forms.isdisjoint(present)) and pattern.search(text)  # the set test is cheap
        )
        if score:
            scores[task.id] = score
    return scores


_TEXT_WORD = re.compile(r"[a-z0-9]+")


@cache
def _task_keywords(keywords: tuple[str, ...]) -> tuple[tuple[frozenset[str] | None, re.Pattern[str], int], ...]:
    """A task's distinct keywords ("speech-to-text" once): the words a text must contain for the keyword
    to match (its first word, or the inflections of a one-word keyword; None: no shortcut), the pattern,
    and the keyword's word count."""
    distinct = dict.fromkeys(" ".join(_words(keyword)).casefold() for keyword in keywords)
    found = []
    for keyword in distinct:
        words = _words(keyword)
        first = words[0].lower()
        forms: frozenset[str] | None = frozenset({first})
        if not _TEXT_WORD.fullmatch(first):
            forms = None
        elif len(words) == 1:
            stem = first[:-1] if first.endswith("e") and len(first) > 2 else first
            forms = frozenset({first, *(stem + ending for ending in ("e", "s", "es", "ed", "ing"))})
        found.append((forms, _keyword_pattern(keyword), len(words)))
    return tuple(found)


def _words(phrase: str) -> list[str]:
    return re.split(r"[\s_-]+", phrase.strip())


@cache
def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    """Word-bounded, case-insensitive; spaces and hyphens interchangeable; the last word may inflect."""
    *head, last = (re.escape(word) for word in _words(keyword))
    if last.endswith("e") and len(last) > 2:
        last = f"{last[:-1]}(?:e|es|ed|ing)"  # enlarge, enlarges, enlarged, enlarging
    elif last[-1:].isalpha():
        last = f"{last}(?:s|es|ed|ing)?"  # memo, memos; sharpen, sharpened
    body = r"[\s_-]+".join([*head, last])
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)
