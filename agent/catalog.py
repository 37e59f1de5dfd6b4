"""A corpus's catalog: the models and papers retrieval can find, with the links an answer may then use.

Kept as ``<corpus>/catalog.jsonl``, one record a line, so that it diffs and merges like text. Records come
from catalog JSON (``Model Unique Name``, ``Category``, ``Detailed Category``, ``Dataset``, ``Paper``,
``GitHub``, ``HuggingFace``, ``Summary``; other keys kept in ``extra``), from our YAML cards, and from
question files (their records). A record that names the same work as one already there (same name, or
same paper once arXiv versions and abs/pdf are ignored) fills that record's gaps instead of adding a twin.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError

from agent.corpus import load_corpus, name_key, normalise_url
from agent.errors import AgentError, QuestionError, validation_problems
from agent.files import atomic_file
from agent.parse import EMPTY_VALUES, load_question
from agent.parse import _key as loose_key
from agent.schema import ModelCard, PaperCard, Record

CATALOG_FILE = "catalog.jsonl"
CATALOG_FIELDS = {  # loose key (see parse._key) -> field; every other key goes to ``extra``
    "modeluniquename": "name",
    "name": "name",
    "model": "name",
    "title": "name",
    "category": "category",
    "detailedcategory": "detailed_category",
    "dataset": "dataset",
    "paper": "paper",
    "github": "github",
    "huggingface": "huggingface",
    "summary": "summary",
    "kind": "kind",
}
TEXT_FIELDS = ("category", "detailed_category", "dataset", "paper", "github", "huggingface", "summary")

Kind = Literal["model", "paper"]


class CatalogError(AgentError):
    """A catalog file or record that cannot be ingested; the message names the file."""


class CatalogRecord(BaseModel):
    kind: Kind = "model"
    name: str
    category: str | None = None
    detailed_category: str | None = None
    dataset: str | None = None
    paper: str | None = None
    github: str | None = None
    huggingface: str | None = None
    summary: str | None = None
    match_urls: list[str] = Field(default_factory=list)  # a card's paper URLs: for deduplication, never links
    extra: dict[str, Any] = Field(default_factory=dict)
    sources: list[str] = Field(default_factory=list)  # the files it was ingested from

    def record(self) -> Record:
        """The record an answer is grounded in: name, summary and the links, verbatim."""
        return Record(
            name=self.name, paper=self.paper, github=self.github, huggingface=self.huggingface, summary=self.summary
        )

    def identity_keys(self) -> set[str]:
        """What makes two records the same work: the name (case and punctuation ignored), any paper URL."""
        urls = [url for url in (self.paper, *self.match_urls) if url]
        return {f"name:{name_key(self.name)}", *(f"paper:{normalise_url(url)}" for url in urls)}

    def search_text(self) -> str:
        """What retrieval reads: the name, its categories, dataset and summary."""
        parts = [self.name, self.detailed_category, self.category, self.dataset, self.summary]
        return ". ".join(part.strip() for part in parts if part and part.strip())

    def digest(self) -> str:
        """Changes exactly when the search text does (the index re-embeds on a change)."""
        return hashlib.sha256(self.search_text().encode()).hexdigest()[:16]

    def merge(self, other: CatalogRecord) -> bool:
        """Fill this record's gaps from ``other`` (which names the same work); True when it gained anything
        besides another source."""
        before = self.model_dump(exclude={"sources"})
        if other.kind == "model":
            self.kind = "model"  # a model and its paper are one record, listed as the model
        for name in TEXT_FIELDS:
            if getattr(self, name) is None and getattr(other, name) is not None:
                setattr(self, name, getattr(other, name))
        self.match_urls += [url for url in other.match_urls if url not in self.match_urls]
        self.extra = {**other.extra, **self.extra}
        self.sources += [source for source in other.sources if source not in self.sources]
        return self.model_dump(exclude={"sources"}) != before


@dataclass
class AddReport:
    added: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)  # existing records that gained fields
    unchanged: list[str] = field(default_factory=list)


class Catalog:
    """The records of one corpus directory."""

    def __init__(self, root: Path, records: list[CatalogRecord] | None = None) -> None:
        self.root = Path(root)
        self.records = records or []

    @property
    def path(self) -> Path:
        return self.root / CATALOG_FILE

    @classmethod
    def load(cls, root: Path) -> Catalog:
        path = Path(root) / CATALOG_FILE
        if not path.exists():
            return cls(root)
        records = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append(CatalogRecord.model_validate_json(line))
            except ValidationError as error:
                raise CatalogError(f"{path}:{number}: not a catalog record ({validation_problems(error)})") from None
        return cls(root, records)

    def save(self) -> None:
        """Written whole to a temporary file and moved into place: a killed process leaves the old catalog."""
        self.root.mkdir(parents=True, exist_ok=True)
        with atomic_file(self.path) as tmp:
            tmp.write_text("".join(record.model_dump_json(exclude_defaults=True) + "\n" for record in self.records))

    def add(self, records: Iterable[CatalogRecord]) -> AddReport:
        report = AddReport()
        by_key = {key: existing for existing in self.records for key in existing.identity_keys()}
        for record in records:
            existing = next((by_key[key] for key in record.identity_keys() if key in by_key), None)
            if existing is None:
                existing = record.model_copy(deep=True)
                self.records.append(existing)
                report.added.append(record.name)
            elif existing.merge(record):
                report.merged.append(existing.name)
            else:
                report.unchanged.append(existing.name)
            by_key.update(dict.fromkeys(existing.identity_keys(), existing))
        return report

    def remove(self, names: Iterable[str]) -> tuple[list[str], list[str]]:
        """Remove records by name (case and punctuation ignored); returns (removed, not found)."""
        wanted = {name_key(name): name for name in names}
        removed = [record.name for record in self.records if name_key(record.name) in wanted]
        self.records = [record for record in self.records if name_key(record.name) not in wanted]
        found = {name_key(name) for name in removed}
        return removed, [name for key, name in wanted.items() if key not in found]


# -- reading files --------------------------------------------------------------------------------


def read_records(path: Path) -> tuple[list[CatalogRecord], list[str]]:
    """The records a file holds, and one problem line per record that had to be skipped.

    A catalog JSON/YAML list, one of our YAML cards, or a question file (seed text, JSON or YAML).
    Raises CatalogError when the file as a whole cannot be read.
    """
    source = str(path)
    if not path.is_file():
        raise CatalogError(f"{source}: {'is a directory' if path.is_dir() else 'no such file'}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CatalogError(f"{source}: cannot read ({error})") from None
    data = _structured(text, path)
    if isinstance(data, list):
        return _catalog_records(data, source)
    if isinstance(data, dict) and not any(loose_key(key) == "question" for key in data):
        return [_card_record(data, source)], []
    return _question_records(source), []


def _structured(text: str, path: Path) -> Any:
    """The parsed JSON/YAML of a .json/.yaml file; None for anything else (read as a question file)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            return json.loads(text)
        if suffix in (".yaml", ".yml"):
            return yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise CatalogError(f"{path}: not valid {suffix[1:].upper()} ({str(error).splitlines()[0]})") from None
    return None


def _catalog_records(items: list[Any], source: str) -> tuple[list[CatalogRecord], list[str]]:
    records, problems = [], []
    for number, item in enumerate(items, 1):
        try:
            records.append(_catalog_record(item, source))
        except CatalogError as error:
            problems.append(f"{source}: record {number}: {error}; skipped")
    if not records and not problems:
        raise CatalogError(f"{source}: the catalog list is empty")
    return records, problems


def _catalog_record(item: Any, source: str) -> CatalogRecord:
    """One catalog entry; keys compared loosely, empty values ('', 'N/A', null) treated as missing."""
    if not isinstance(item, dict):
        raise CatalogError(f"expected a mapping, not {type(item).__name__}")
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in item.items():
        name = CATALOG_FIELDS.get(loose_key(key))
        if isinstance(value, str):
            value = None if value.strip().lower() in EMPTY_VALUES else value.strip()
        if name is None:
            if value is not None:
                extra[str(key)] = value
        elif fields.get(name) is None:
            fields[name] = value
    if not isinstance(fields.get("name"), str):
        raise CatalogError("no name (expected 'Model Unique Name', 'name' or 'title')")
    if fields.get("kind") is None:
        fields.pop("kind", None)
    try:
        return CatalogRecord(**fields, extra=extra, sources=[source])
    except ValidationError as error:
        raise CatalogError(validation_problems(error)) from None


def _card_record(data: dict[str, Any], source: str) -> CatalogRecord:
    """One of our YAML cards: its words are searchable; its paper URLs only deduplicate (never links)."""
    kind: type[ModelCard] | type[PaperCard] = ModelCard if "task" in data else PaperCard
    try:
        card = kind.model_validate(data)
    except ValidationError as error:
        problems = validation_problems(error)
        raise CatalogError(f"{source}: not a catalog list, a question file or a valid card ({problems})") from None
    if isinstance(card, PaperCard):
        return CatalogRecord(
            kind="paper", name=card.name, summary=card.summary, match_urls=card.paper_urls, sources=[source]
        )
    task = load_corpus().task(card.task)
    return CatalogRecord(
        kind="model",
        name=card.name,
        category=task.area if task else None,
        detailed_category=task.name if task else card.task,
        summary=card.summary,
        match_urls=card.paper_urls,
        sources=[source],
    )


def _question_records(source: str) -> list[CatalogRecord]:
    try:
        question = load_question(source)
    except QuestionError as error:
        raise CatalogError(str(error) if str(error).startswith(source) else f"{source}: {error}") from None
    records = [
        CatalogRecord(kind=kind, sources=[source], **record.model_dump())
        for kind, group in (("model", question.models), ("paper", question.papers))
        for record in group
    ]
    if not records:
        raise CatalogError(f"{source}: a question file with no records, nothing to add")
    return records
