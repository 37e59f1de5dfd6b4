"""Question files -> ``Question``: the seed text format and its hand-edited variants, JSON and YAML.

Users write question files by hand, so the text parser forgives case, emphasis, bullets, curly
quotes, CRLF and missing fields, but it never rewrites a link: links are copied verbatim because
the answer may only use the supplied links, character for character.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from agent.errors import QuestionError
from agent.markdown_text import clean_text
from agent.schema import Question, Record

MAX_FIELD_CHARS = 4000

NO_QUESTION = (
    "no question found (expected 'A user has asked the following question:' or a first line with the question)"
)
FILE_SUFFIXES = (".txt", ".json", ".yaml", ".yml", ".md")
EMPTY_VALUES = {"", "n/a", "none", "null", "-", "–", "—"}
QUOTES = {'"': '"', "“": "”", "„": "“", "«": "»", "”": "”", "'": "'", "‘": "’"}

# The instruction line that introduces the question ("A user has asked the following question:").
MARKER = re.compile(r"\buser\s+(?:has\s+)?asked\b[^\n:]*:", re.IGNORECASE)
# '#'-headers are classified by the words they contain; bold or bare lines only by the known titles.
HASH_HEADER = re.compile(r"^[ \t]*#{1,6}[ \t]*(?=[A-Za-z*_])(?P<title>.*)$")
PLAIN_HEADER = re.compile(r"^[ \t]*(?P<title>(?:\*\*|__)?[A-Za-z ]+?:?(?:\*\*|__)?:?)[ \t]*$")
KNOWN_TITLE = re.compile(r"^(?:recommended\s+(?:ai\s+)?models?|(?:ai\s+)?models|related\s+papers?|papers)$", re.I)
KEYS = r"model\s+unique\s+name|model\s+name|model|title|paper|github|hugging\s*face|summary"
KEY_LINE = re.compile(
    rf"^[ \t]*(?:[-*+•][ \t]+|\d+[.)][ \t]+)?"  # optional bullet
    rf"(?:(?P<em>\*\*|__|\*|_)(?P<k1>{KEYS})[ \t]*(?::[ \t]*(?P=em)|(?P=em)[ \t]*:)|(?P<k2>{KEYS})[ \t]*:)"
    rf"[ \t]*(?P<value>.*)$",
    re.IGNORECASE,
)
ANSWER_LINE = re.compile(r"^[ \t]*(?:\*\*|#+[ \t]*)?answer[ \t]*:?[ \t]*(?:\*\*)?[ \t]*$", re.IGNORECASE)
YAML_QUESTION_KEY = re.compile(r"^[\"']?question[\"']?[ \t]*:", re.IGNORECASE | re.MULTILINE)
ARXIV = re.compile(r"^arxiv\.org/(?:abs|pdf)/(?P<id>.+?)(?:v\d+)?(?:\.pdf)?$", re.IGNORECASE)
FIELD_NAMES = {
    "name": "name",
    "model": "name",
    "modelname": "name",
    "modeluniquename": "name",
    "title": "name",
    "paper": "paper",
    "github": "github",
    "huggingface": "huggingface",
    "summary": "summary",
}
BLOCK_NAMES = {  # the record lists of JSON/YAML input
    "models": "models",
    "recommendedmodels": "models",
    "recommendedaimodels": "models",
    "papers": "papers",
    "relatedpapers": "papers",
}


def clip(text: str | None, limit: int = MAX_FIELD_CHARS) -> str:
    """Text cut to at most ``limit`` characters (default ``MAX_FIELD_CHARS`` = 4000), marker included.

    Parsing keeps fields whole; prompts clip them, so a pasted 5 MB summary cannot flood a prompt.
    The cut falls on a word boundary when one is near, and ends with " […]" so a reader sees it.
    """
    if not text:
        return ""
    if len(text) <= limit:
        return text
    marker = " […]"
    cut = text[: max(limit - len(marker), 0)]
    boundary = max(cut.rfind(" "), cut.rfind("\n"), cut.rfind("\t"))
    if boundary > len(cut) // 2:  # no space in the second half: a long token, cut it hard
        cut = cut[:boundary]
    return cut.rstrip() + marker


def load_question(source: str) -> Question:
    """Read a question from ``-`` (stdin), a file path, or take ``source`` itself as a bare question."""
    if source == "-":
        stream = getattr(sys.stdin, "buffer", None)
        text = stream.read().decode("utf-8", errors="replace") if stream else sys.stdin.read()
        return _parse_with_prefix(text, "-", "stdin")
    if not source.strip():
        raise QuestionError("empty question")
    path = Path(source)
    if _exists(path):
        if path.is_dir():
            raise QuestionError(f"{source}: is a directory, not a question file")
        try:
            text = path.read_bytes().decode("utf-8", errors="replace")
        except OSError as exc:
            raise QuestionError(f"{source}: cannot read ({exc.strerror or exc})") from None
        return _parse_with_prefix(text, source, source)
    if _looks_like_path(source):
        raise QuestionError(f"{source}: no such file")
    return Question(source="inline", question=clean_text(source).strip())


def parse_question_text(text: str, source: str = "-") -> Question:
    """Parse a question file's content; the format (JSON, YAML or seed text) is detected from it."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    _reject_non_questions(text)
    # Lone surrogates (which no UTF-8 writer takes) and control characters: cleaned in the text here (a raw
    # control character would make JSON unreadable), and in every value by the schema, since JSON escapes
    # ("\\ud800") make new ones.
    text, source = clean_text(text), clean_text(source)
    if text.lstrip().startswith(("{", "[")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            if text.lstrip().startswith("{"):
                raise QuestionError(f"invalid JSON: {exc}") from None
        except (RecursionError, ValueError) as exc:
            raise QuestionError(f"invalid JSON: {_limit_reason(exc)}") from None
        else:
            if not isinstance(data, dict):
                raise QuestionError("a JSON list, not a question record {question, models, papers}")
            return _from_mapping(data, source, "JSON")
    data = _yaml_mapping(text)
    if data is not None:
        return _from_mapping(data, source, "YAML")
    return _from_text(text, source)


def _parse_with_prefix(text: str, source: str, prefix: str) -> Question:
    try:
        return parse_question_text(text, source)
    except QuestionError as exc:
        raise QuestionError(f"{prefix}: {exc}") from None


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a long bare question is "File name too long", not an error
        return False


def _looks_like_path(source: str) -> bool:
    if "\n" in source:
        return False
    if source.lower().endswith(FILE_SUFFIXES):
        return True
    return ("/" in source or "\\" in source) and not any(c.isspace() for c in source)


def _reject_non_questions(text: str) -> None:
    """Fail early, with a reason, on input that is plainly not a question file."""
    if not text.strip():
        raise QuestionError("file is empty")
    sample = text[:8192]
    odd = sum(1 for c in sample if c == "\ufffd" or (unicodedata.category(c) == "Cc" and c not in "\t\n\f\v"))
    if "\x00" in text or odd > len(sample) * 0.3:
        raise QuestionError("binary data, not a question file")
    head = text.lstrip()[:1024].lower()
    if head.startswith("<") and ("<html" in head or "<!doctype" in head):
        raise QuestionError("looks like HTML, not a question file")


# -- JSON and YAML ----------------------------------------------------------------------------


def _yaml_mapping(text: str) -> dict[str, Any] | None:
    """The YAML mapping when ``text`` is one of ours (a ``question`` key, records in lists), else None.

    A seed-format file can itself parse as YAML (``Model: X`` lines at the top level), so a mapping
    that carries record keys at its top level is treated as text.
    """
    if not YAML_QUESTION_KEY.search(text):
        return None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(text, Loader=loader)  # a safe loader; the C one when PyYAML has it
    except yaml.YAMLError:
        return None
    except (RecursionError, ValueError) as exc:  # the pure-Python loader recurses; any loader makes ints
        raise QuestionError(f"invalid YAML: {_limit_reason(exc)}") from None
    if not isinstance(data, dict) or "question" not in {_key(k) for k in data}:
        return None
    if any(_key(k) in FIELD_NAMES for k in data):
        return None
    return data


def _limit_reason(exc: RecursionError | ValueError) -> str:
    """Why a JSON or YAML parser gave up on well-formed input: Python's own limits, said plainly."""
    if isinstance(exc, RecursionError):
        return "nested too deeply to read"
    return f"a number has more than {sys.get_int_max_str_digits()} digits"


def _from_mapping(data: Any, source: str, kind: str) -> Question:
    if not isinstance(data, dict):
        raise QuestionError(f"{kind} must be a mapping with a 'question' key")
    fields = {_key(k): v for k, v in data.items()}
    question = fields.get("question")
    if not isinstance(question, str) or not question.strip():
        raise QuestionError(f"no question found ({kind} has no 'question' string)")
    blocks: dict[str, list[Record]] = {"models": [], "papers": []}
    for key, value in fields.items():
        if key in BLOCK_NAMES and value is not None:
            block = BLOCK_NAMES[key]
            blocks[block] = _merge_duplicates(blocks[block] + _records(value, block))
    return Question(source=source, question=question.strip(), **blocks)


def _records(items: Any, block: str) -> list[Record]:
    if not isinstance(items, list):
        raise QuestionError(f"'{block}' must be a list of records, not {_kind(items)}")
    records = []
    for i, item in enumerate(items):
        where = f"{block}[{i}]"
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict):
            raise QuestionError(f"{where}: a record must be a mapping, not {_kind(item)}")
        fields: dict[str, Any] = {}
        for key, value in item.items():
            field = FIELD_NAMES.get(_key(key))
            if field and fields.get(field) is None:
                fields[field] = _clean_value(value, link=field != "name" and field != "summary")
        if not fields.get("name"):
            raise QuestionError(f"{where}: record has no name (expected 'name', 'model' or 'title')")
        try:
            records.append(Record(**fields))
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(part) for part in error["loc"])
            raise QuestionError(f"{where}.{field}: {error['msg'].lower()}") from None
    return records


def _kind(value: Any) -> str:
    """What a JSON/YAML value is, in the file's terms rather than Python's (``dict``, ``int``)."""
    kinds = {bool: "true/false", int: "a number", float: "a number", str: "text", dict: "a mapping"}
    return "null" if value is None else kinds.get(type(value), "a list" if isinstance(value, list) else "a value")


def _key(key: Any) -> str:
    """A key compared loosely: ``Model Unique Name``, ``model_unique_name`` and ``modeluniquename`` agree."""
    return re.sub(r"[^a-z0-9]", "", str(key).lower())


# -- the seed text format ---------------------------------------------------------------------


def _from_text(text: str, source: str) -> Question:
    lines = [line for line in text.split("\n") if not ANSWER_LINE.match(line)]
    first_header = next((i for i, line in enumerate(lines) if _header_block(line)), len(lines))
    question = _question("\n".join(lines[:first_header]))
    if not question:
        raise QuestionError(NO_QUESTION)
    blocks = _text_blocks(lines[first_header:])
    return Question(
        source=source,
        question=question,
        models=_merge_duplicates(blocks["models"]),
        papers=_merge_duplicates(blocks["papers"]),
    )


def _question(preamble: str) -> str:
    """The question: what follows the instruction line, or else the first paragraph."""
    marker = MARKER.search(preamble)
    rest = preamble[marker.end() :] if marker else preamble
    rest = rest.strip()
    if not marker:
        rest = re.sub(r"^[*_]*question[*_]*[ \t]*:[*_]*[ \t]*", "", rest, flags=re.IGNORECASE)
    body = re.split(r"\n[ \t]*\n", rest, maxsplit=1)[0]
    if body[:1] in QUOTES:  # a quoted question ends at its closing quote at the end of a line
        closing = re.compile(re.escape(QUOTES[body[0]]) + r"[ \t]*(?:\n|$)").search(body, 1)
        if closing:
            body = body[1 : closing.start()]
    return " ".join(line.strip() for line in body.split("\n") if line.strip())


def _header_block(line: str) -> str | None:
    """``models``/``papers`` for a block header, ``other`` for any other '#' header, None for non-headers."""
    if KEY_LINE.match(line):
        return None
    header = HASH_HEADER.match(line)
    if header:
        title = _strip_header_title(header["title"])
    else:
        plain = PLAIN_HEADER.match(line) if len(line) < 100 else None
        title = _strip_header_title(plain["title"]) if plain else ""
        if not KNOWN_TITLE.match(title):
            return None
    title = title.lower()
    return "models" if "model" in title else "papers" if "paper" in title else "other"


def _strip_header_title(title: str) -> str:
    return " ".join(title.replace("*", "").replace("_", " ").rstrip(": \t").split())


class _RecordBuilder:
    """Collects one record's fields line by line; only a Summary continues over following lines."""

    def __init__(self) -> None:
        self.fields: dict[str, str | None] = {}
        self.summary_lines: list[str] | None = None
        self.in_summary = False

    def has(self, field: str) -> bool:
        return field in self.fields or (field == "summary" and self.summary_lines is not None)

    def set(self, field: str, raw: str) -> None:
        self.in_summary = field == "summary"
        if field == "summary":
            self.summary_lines = [raw]
        else:
            self.fields[field] = _clean_value(raw, link=field != "name")

    def continue_summary(self, line: str) -> None:
        if self.in_summary and self.summary_lines is not None:
            self.summary_lines.append(line.strip())

    @property
    def empty(self) -> bool:
        return not self.fields and self.summary_lines is None

    def build(self, block: str) -> Record:
        fields = dict(self.fields)
        if self.summary_lines is not None:
            fields["summary"] = _clean_value("\n".join(self.summary_lines).strip(), link=False)
        if not fields.get("name"):
            label = "Recommended AI Models" if block == "models" else "Related Papers"
            raise QuestionError(f"a record in '{label}' has no Model: or Title: line")
        return Record(**fields)


def _text_blocks(lines: list[str]) -> dict[str, list[Record]]:
    blocks: dict[str, list[Record]] = {"models": [], "papers": []}
    block: str | None = None
    current = _RecordBuilder()

    def flush() -> None:
        nonlocal current
        if block in blocks and not current.empty:
            blocks[block].append(current.build(block))
        current = _RecordBuilder()

    for line in lines:
        key = KEY_LINE.match(line)
        if key:
            field = FIELD_NAMES[_key(key["k1"] or key["k2"])]
            if current.has(field):  # a repeated key (or a second name) starts the next record
                flush()
            current.set(field, key["value"])
            continue
        header = _header_block(line)
        if header:
            flush()
            block = header
            continue
        current.continue_summary(line)
    flush()
    return blocks


def _clean_value(value: Any, *, link: bool) -> Any:
    """A field's value; N/A, None, '-' mean missing. A name or summary loses surrounding emphasis; a link
    is kept exactly as written (the schema accepts it only if it is one URL, with nothing around it)."""
    if not isinstance(value, str):
        return value  # pydantic reports wrong types
    value = value.strip()
    if not link:  # names and summaries are cleaned by the schema; links are refused there, never repaired
        for mark in ("**", "__", "`", "*", "_"):
            if len(value) > 2 * len(mark) and value.startswith(mark) and value.endswith(mark):
                value = value[len(mark) : -len(mark)].strip()
                break
    return None if value.lower() in EMPTY_VALUES else value


# -- duplicates -------------------------------------------------------------------------------


def _merge_duplicates(records: list[Record]) -> list[Record]:
    """Records naming the same thing (name, or paper link) merged: first kept, gaps filled from later ones."""
    merged: list[Record] = []
    index: dict[str, int] = {}
    for record in records:
        keys = [f"name:{record.name.strip().casefold()}"]
        if record.paper:
            keys.append(f"paper:{_paper_key(record.paper)}")
        found = next((index[k] for k in keys if k in index), None)
        if found is None:
            found = len(merged)
            merged.append(record)
        else:
            first = merged[found]
            gaps = {f: getattr(record, f) for f in Record.model_fields if getattr(first, f) is None}
            merged[found] = first.model_copy(update={f: v for f, v in gaps.items() if v is not None})
        for key in keys:
            index.setdefault(key, found)
    return merged


def _paper_key(url: str) -> str:
    """A paper link made comparable (scheme, www, trailing slash, arXiv abs/pdf and version); never shown."""
    bare = re.sub(r"^https?://(?:www\.)?", "", url.strip(), flags=re.IGNORECASE).rstrip("/")
    arxiv = ARXIV.match(bare)
    return f"arxiv:{arxiv['id'].lower()}" if arxiv else bare.lower()
