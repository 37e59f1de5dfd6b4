"""The curated corpus in ``corpus/``: model cards, paper cards and the task taxonomy.

Cards hold facts in our own words; their ``paper_urls`` only recognise supplied records and are never
offered as links. Task keywords let a question be classified when no card names its task.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, cached_property
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
        groups = [self._model_lookup, self._paper_lookup]
        if kind == "paper":
            groups.reverse()
        for lookup in groups:
            if card := lookup.match(record):
                return card
        return None

    def is_own_card(self, record: Record, card: Card) -> bool:
        """``card`` is the record's own (same name or alias, or same paper), not one whose name it contains."""
        return any(lookup.exact(record) is card for lookup in (self._model_lookup, self._paper_lookup))

    @cached_property
    def task_vectors(self) -> Any:
        """The tasks' descriptions embedded: taken from the shipped search index when it was built from this
        very taxonomy (no encoding at all), else encoded now, once."""
        from agent.minilm import MODEL_NAME
        from agent.search_index import load_index, task_text, taxonomy_digest

        index = load_index(CORPUS_DIR)
        if index is not None and index.model == MODEL_NAME and index.taxonomy == taxonomy_digest(self.tasks):
            return index.task_vectors
        return embed([task_text(task) for task in self.tasks])

    @cached_property
    def _model_lookup(self) -> _Lookup:
        return _Lookup(self.models)

    @cached_property
    def _paper_lookup(self) -> _Lookup:
        return _Lookup(self.papers)


class _Lookup:
    """Cards by name and alias, by paper URL, and by the words of their shorter names, built once."""

    def __init__(self, cards: Sequence[Card]) -> None:
        self.by_name: dict[str, Card] = {}
        self.by_url: dict[str, Card] = {}
        self.nicknames: list[tuple[str, list[str], Card]] = []  # (letters, words, card)
        for card in cards:
            for alias in [card.name, *card.aliases]:
                key = name_key(alias)
                self.by_name.setdefault(key, card)
                words = _name_words(alias)
                if key and len(words) <= 6:  # a paper title is no nickname
                    self.nicknames.append((key, words, card))
            for url in card.paper_urls:
                self.by_url.setdefault(normalise_url(url), card)

    def exact(self, record: Record) -> Card | None:
        """A card whose name or alias is the record's name, else one that shares a paper URL with it."""
        if card := self.by_name.get(name_key(record.name)):
            return card
        return next((card for url in record.links() if (card := self.by_url.get(normalise_url(url)))), None)

    def match(self, record: Record) -> Card | None:
        """The record's own card (``exact``), else one whose name or alias stands inside the record's name
        ("ASR-Whisper-Large-v3" is Whisper's)."""
        if card := self.exact(record):
            return card
        card = self._inside(record.name)
        if card is not None and record.paper and card.paper_urls:
            return None  # another paper, so another model, whatever its name borrows ("Qwen2-VL" is not Qwen2)
        return card

    def _inside(self, name: str) -> Card | None:
        """The card with the longest name or alias inside ``name``: as a run of its words, or (when long
        enough not to match by chance) inside its letters and digits; a short name only at the start."""
        words, letters = _name_words(name), name_key(name)
        if len(words) > 5:
            return None  # a paper title, not a model's name: its words are no nickname of ours
        best: tuple[int, Card] | None = None
        for key, alias_words, card in self.nicknames:
            if best is not None and len(key) <= best[0]:
                continue
            at = _run_at(words, alias_words)
            if (at is not None and (len(key) >= 4 or at == 0)) or (len(key) >= 7 and _inside_letters(key, letters)):
                best = (len(key), card)
        return best[1] if best else None


def _inside_letters(key: str, letters: str) -> bool:
    """``key`` inside ``letters`` and not followed by a digit: "starcoder2" is not StarCoder."""
    at = letters.find(key)
    while at != -1:
        if not letters[at + len(key) : at + len(key) + 1].isdigit():
            return True
        at = letters.find(key, at + 1)
    return False


def _name_words(name: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", name.casefold())


def _run_at(words: list[str], run: list[str]) -> int | None:
    """Where ``run`` occurs in ``words`` as consecutive words, or None."""
    if not run:
        return None
    return next((i for i in range(len(words) - len(run) + 1) if words[i : i + len(run)] == run), None)


def name_key(name: str) -> str:
    """A name with case, spaces and punctuation ignored: 'SISR-Any-LIIF-RDN' == 'sisr any liif rdn'."""
    return re.sub(r"[\W_]+", "", name.casefold().replace("+", "plus"))  # PointNet++ is not PointNet


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


# A task read from the question's meaning alone must be this close (MiniLM cosine with the task's
# description) and this far ahead of the next task; otherwise the answer says it cannot tell.
TASK_SIMILARITY = 0.30
TASK_MARGIN = 0.02
TASK_SLACK = 0.12  # a keyword's task may trail the closest task in meaning by this much, no more


def identify_task(
    corpus: Corpus, question: str, names: Sequence[str], cards: Sequence[Card | None] = ()
) -> Task | None:
    """The task a question is about, reading everything supplied: a matched model card's task; else the
    keywords in the models' names (technical words, the strongest hint); else the keywords and meaning
    (MiniLM) of ``question`` (the question with the models' summaries) together. None when those
    disagree and neither is clear: the answer then says so instead of guessing.
    """
    for card in cards:
        if isinstance(card, ModelCard) and (task := corpus.task(card.task)):
            return task
    in_names = keyword_scores(corpus.tasks, " ".join(names))
    in_question = keyword_scores(corpus.tasks, question)
    if in_names:
        by_names = max(in_names, key=lambda task_id: (in_names[task_id], in_question.get(task_id, 0)))
        if by_names in in_question:  # the question's own words agree: no need to read its meaning
            return corpus.task(by_names)
        similarity = _meaning(corpus, " ".join([question, *names]))
        if similarity is None or _plausible(corpus, by_names, similarity):
            return corpus.task(by_names)  # else a word in a name misled (a "WaveNet" that forecasts traffic)
    else:
        similarity = _meaning(corpus, " ".join([question, *names]))
    ranked = sorted(in_question, key=lambda task_id: -in_question[task_id])
    by_meaning = _closest_task(corpus, similarity)
    agreed = ranked and (by_meaning is None or by_meaning.id in ranked[:2] or in_question[ranked[0]] >= 3)
    strong = bool(ranked) and in_question[ranked[0]] >= 3  # a phrase of three words or more
    if agreed and (similarity is None or strong or _plausible(corpus, ranked[0], similarity)):
        return corpus.task(ranked[0])
    return by_meaning


def _meaning(corpus: Corpus, text: str) -> Any:
    """``text``'s MiniLM similarity to each task's description, or None without the encoder."""
    try:
        return corpus.task_vectors @ embed([text])[0]
    except (ImportError, OSError, RuntimeError):
        return None


def _plausible(corpus: Corpus, task_id: str, similarity: Any) -> bool:
    """A task read from keywords is plausible unless the question's meaning clearly points elsewhere."""
    index = next(i for i, task in enumerate(corpus.tasks) if task.id == task_id)
    return float(similarity[index]) >= float(similarity.max()) - TASK_SLACK


def _closest_task(corpus: Corpus, similarity: Any) -> Task | None:
    """The task whose description is clearly closest in meaning, or None."""
    if similarity is None:
        return None
    order = similarity.argsort()[::-1]
    best, second = float(similarity[order[0]]), float(similarity[order[1]]) if len(order) > 1 else 0.0
    return corpus.tasks[order[0]] if best >= TASK_SIMILARITY and best - second >= TASK_MARGIN else None


def embed(texts: list[str]) -> Any:
    """MiniLM sentence vectors of ``texts`` (unit length); torch loads only when meaning is needed."""
    from agent.minilm import load_minilm

    return load_minilm().encode(texts)


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
