"""The objects that flow through the agent, one stage to the next:

Question -> Evidence -> Plan -> tool runs -> Draft -> (guard) -> Answer
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator, model_validator

from agent.markdown_text import clean_text

LINK_FIELDS = ("paper", "github", "huggingface")
LINK_LABELS = {"paper": "Paper", "github": "GitHub", "huggingface": "HuggingFace"}

_ONE_URL = re.compile(r"https?://(?:[A-Za-z0-9\-._~:/?#@!$&()*+,;=]|%[0-9A-Fa-f]{2})+", re.IGNORECASE)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")


def is_single_url(value: str) -> bool:
    """Exactly one absolute http(s) URL in plain ASCII (anything else percent-encoded): no spaces, no
    Markdown or HTML around or inside it, no invisible or look-alike characters, a host, no user name."""
    if not _ONE_URL.fullmatch(value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises on a port that is not a number in range)
    except ValueError:
        return False
    host = parts.hostname or ""
    return bool(_HOST.fullmatch(host)) and "@" not in parts.netloc


class Record(BaseModel):
    """A supplied model or paper: its name (a model's unique name, or a paper's title) and links.

    A link field holds exactly one absolute http(s) URL or nothing: any other value (two URLs, a URL
    with Markdown around it, another scheme, newlines) is moved to ``dropped_links`` for the
    grounding report and never reaches an answer."""

    name: str
    paper: str | None = None
    github: str | None = None
    huggingface: str | None = None
    summary: str | None = None
    dropped_links: dict[str, str] = Field(default_factory=dict)  # field -> the refused value

    @field_validator("name", "summary", mode="after")
    @classmethod
    def _clean(cls, value: str | None) -> str | None:
        return clean_text(value) if value is not None else None

    @model_validator(mode="after")
    def _single_urls(self) -> Record:
        for field in LINK_FIELDS:
            value = getattr(self, field)
            if value is None:
                continue
            url = value.strip()
            if is_single_url(url):
                setattr(self, field, url)
            else:
                self.dropped_links[field] = clean_text(value)
                setattr(self, field, None)
        return self

    def links(self) -> list[str]:
        """The record's supplied links, in field order, verbatim."""
        return [url for url in (self.paper, self.github, self.huggingface) if url]


class Hit(BaseModel):
    """A catalog record retrieval found, with its scores (each 0..1; ``score`` is the blend that ranks)."""

    name: str
    kind: Literal["model", "paper"]
    score: float
    bm25: float  # keyword match, relative to the best record's
    semantic: float  # MiniLM cosine similarity to the question
    task: str | None = None  # the taxonomy task the record serves


class Retrieval(BaseModel):
    """How a question's records were found when it arrived without any."""

    query: str
    corpus: str
    tasks: list[str] = Field(default_factory=list)  # taxonomy tasks the question was read as (query expansion)
    confidence: float  # 0..1; see agent.retrieval.CONFIDENT
    confident: bool
    reranked: bool = False  # reordered by the LLM
    note: str | None = None  # e.g. why reranking did not happen
    results: list[Hit] = Field(default_factory=list)


class Question(BaseModel):
    source: str = "-"  # the file path, '-' for stdin, or 'inline'
    question: str
    models: list[Record] = Field(default_factory=list)  # recommended models
    papers: list[Record] = Field(default_factory=list)  # related papers
    retrieval: Retrieval | None = None  # set when the records were retrieved rather than supplied

    @field_validator("source", "question", mode="after")
    @classmethod
    def _clean(cls, value: str) -> str:
        return clean_text(value)

    def supplied_links(self) -> list[str]:
        """Every link the records supply, verbatim, first occurrence first: the only links an answer may use."""
        seen: dict[str, None] = {}
        for record in [*self.models, *self.papers]:
            for url in record.links():
                seen.setdefault(url, None)
        return list(seen)


class Passage(BaseModel):
    """A piece of evidence the draft can cite by id, e.g. ``[M1]``, ``[P2]``, ``[C1]``."""

    id: str
    source: str  # which record or card it comes from
    text: str
    score: float = 0.0


class ModelCard(BaseModel):
    """A curated card from ``corpus/models/``: facts in our own words."""

    name: str
    aliases: list[str] = Field(default_factory=list)
    paper_urls: list[str] = Field(default_factory=list)  # used only to match supplied records, never as links
    task: str  # id of an entry in corpus/tasks.yaml
    summary: str
    input: str
    output: str
    method: list[str] = Field(default_factory=list)  # steps, input -> model -> output
    facts: list[str] = Field(default_factory=list)
    tool: str | None = None  # a tool this model can be demonstrated with, e.g. "liif_upscale"


class PaperCard(BaseModel):
    """A curated card from ``corpus/papers/``: what a paper is about, in our own words."""

    name: str  # the title
    aliases: list[str] = Field(default_factory=list)
    paper_urls: list[str] = Field(default_factory=list)  # used only to match supplied records, never as links
    summary: str
    topics: list[str] = Field(default_factory=list)  # task ids or keywords it bears on


class Task(BaseModel):
    """An entry of the task taxonomy in ``corpus/tasks.yaml``."""

    id: str
    name: str  # plain-language name
    area: str  # vision, language, audio, video, 3d, recommendation, ...
    doing: str  # what the user is doing, in everyday words
    input: str
    output: str
    steps: list[str] = Field(default_factory=list)  # how models for this task generally work, in our words
    keywords: list[str] = Field(default_factory=list)


class Evidence(BaseModel):
    question: Question
    task: Task | None = None
    cards: dict[str, ModelCard | PaperCard] = Field(default_factory=dict)  # supplied record name -> its card
    passages: list[Passage] = Field(default_factory=list)  # ranked, best first


class ToolRequest(BaseModel):
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Plan(BaseModel):
    tools: list[ToolRequest] = Field(default_factory=list)


class ToolCall(BaseModel):
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: str | None = None


class Draft(BaseModel):
    """What a backend writes: the three parts as Markdown bodies (no headings)."""

    task: str
    workflow: str
    references: str


class Grounding(BaseModel):
    ok: bool = True
    allowed_links: list[str] = Field(default_factory=list)
    removed_links: list[str] = Field(default_factory=list)
    issues: list[str] = Field(default_factory=list)


class Answer(BaseModel):
    """The answer record (``--json``, ``DIR/NAME.json``)."""

    source: str
    question: str
    answer_markdown: str | None = None
    sections: dict[str, str] | None = None  # task, workflow, references
    links: list[str] = Field(default_factory=list)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    grounding: Grounding | None = None
    backend: str | None = None
    retrieval: Retrieval | None = None  # when the records were retrieved from a corpus
    elapsed_s: float = 0.0
    error: str | None = None
