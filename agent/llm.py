"""The LLM backend: Evidence and tool results in, a three-part Draft out, through any OpenAI-compatible server.

LangChain's ``ChatOpenAI`` (imported on first use: it takes over a second) asks for structured output
(``response_format`` json_schema); a reply that ignores it is still read, as the JSON object or as
the three-part Markdown, and a server that rejects it is asked again in plain text. Every failure
reaches the caller as one ``LLMError`` with a one-line reason, so that it can fall back to the
offline composer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from agent.errors import AgentError
from agent.parse import MAX_FIELD_CHARS, clip
from agent.prompts import render
from agent.schema import Draft, Evidence, ModelCard, Record, Task, ToolCall
from agent.settings import AgentSettings

if TYPE_CHECKING:
    from langchain_openai import ChatOpenAI

    from agent.catalog import CatalogRecord

# Prompt sections whose text is data, never instructions; the templates wrap each in <tag>...</tag>.
DATA_TAGS = (
    "question", "supplied_records", "allowed_links", "task", "cards", "passages", "tool_results", "candidates"
)  # fmt: skip
REPAIR_TAGS = ("previous_draft",)
_SPOOFED_TAG = re.compile(r"<(/?)(" + "|".join(DATA_TAGS + REPAIR_TAGS) + r")\b", re.IGNORECASE)

PART_FIELDS = ("task", "workflow", "references")
_PART_HINTS = {
    "task": "Part 1, Task: what the user is trying to do, in plain words (Markdown, no heading).",
    "workflow": "Part 2, Workflow (input → model → output), with any tool results (Markdown, no heading).",
    "references": "Part 3, Papers and tools: every supplied record with its links (Markdown, no heading).",
}


class LLMError(AgentError):
    """The LLM gave no usable draft (HTTP error, timeout, unreadable reply); the reason is one line."""


def as_data(text: Any, limit: int = MAX_FIELD_CHARS) -> str:
    """Text quoted inside a data section: clipped, and unable to open or close a section itself."""
    return _SPOOFED_TAG.sub(r"‹\1\2", clip(str(text).strip(), limit))


def _draft_format() -> dict[str, Any]:
    """The json_schema response format for a Draft (strict: exactly the three string fields)."""
    schema = Draft.model_json_schema()
    schema["additionalProperties"] = False
    for field, hint in _PART_HINTS.items():
        schema["properties"][field]["description"] = hint
    return {"name": "Draft", "schema": schema, "strict": True}


# ------------------------------------------------------------------------------------------------
# Prompt context: the templates lay out what Python has already clipped and made safe.


def _record(record: Record) -> dict[str, Any]:
    links = zip(("Paper", "GitHub", "HuggingFace"), (record.paper, record.github, record.huggingface), strict=True)
    return {
        "name": as_data(record.name, 300),
        "links": [(label, as_data(link, 1000)) for label, link in links if link],
        "summary": as_data(record.summary) if record.summary else None,
    }


def _card(record_name: str, card: Any) -> dict[str, Any]:
    """A card's own words; its ``paper_urls`` stay out (they only match records, they are never links)."""
    view: dict[str, Any] = {"record": as_data(record_name, 300), "name": as_data(card.name, 300)}
    view["summary"] = as_data(card.summary)
    if isinstance(card, ModelCard):
        view["fields"] = [("Input", as_data(card.input)), ("Output", as_data(card.output))]
        view["method"] = [as_data(step) for step in card.method]
        view["facts"] = [as_data(fact) for fact in card.facts]
    else:
        view["fields"] = [("Topics", as_data(", ".join(card.topics)))] if card.topics else []
        view["method"], view["facts"] = [], []
    return view


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _tool_call(call: ToolCall) -> dict[str, Any]:
    return {
        "name": as_data(call.name, 200),
        "arguments": as_data(json.dumps(call.arguments, ensure_ascii=False)),
        "result": [(as_data(key, 200), as_data(_value(value), 1000)) for key, value in (call.result or {}).items()],
        "error": as_data(call.error, 1000) if call.error else None,
    }


def _task(task: Task) -> dict[str, Any]:
    fields = [("Area", task.area), ("Doing", task.doing), ("Input", task.input), ("Output", task.output)]
    fields += [(f"How such models generally work, step {i}", step) for i, step in enumerate(task.steps, 1)]
    return {"name": as_data(task.name, 300), "fields": [(label, as_data(text)) for label, text in fields]}


def answer_context(evidence: Evidence, tool_calls: list[ToolCall]) -> dict[str, Any]:
    """Everything ``answer.j2`` shows the model."""
    question = evidence.question
    task = evidence.task
    return {
        "question": as_data(question.question),
        "models": [_record(record) for record in question.models],
        "papers": [_record(record) for record in question.papers],
        "allowed_links": [as_data(link, 1000) for link in question.supplied_links()],
        "task": None if task is None else _task(task),
        "cards": [_card(name, card) for name, card in evidence.cards.items()],
        "passages": [
            {"id": as_data(p.id, 50), "source": as_data(p.source, 300), "text": as_data(p.text)}
            for p in evidence.passages
        ],
        "tool_calls": [_tool_call(call) for call in tool_calls],
        "retrieval": question.retrieval,
    }


def system_prompt() -> str:
    return render("system.j2", data_tags=[*DATA_TAGS, *REPAIR_TAGS])


# ------------------------------------------------------------------------------------------------
# Reading a reply


_NUMBERED = re.compile(
    r"^\s{0,3}(?P<hashes>#{1,6}\s*)?(?P<bold>\*\*|__)?\s*(?:part\s+)?(?P<number>[123])\s*[.):]"
    r"\s*(?:\*\*|__)?\s*(?P<title>.*?)\s*(?:\*\*|__)?\s*:?\s*$",
    re.IGNORECASE,
)
_UNNUMBERED = re.compile(r"^\s{0,3}(?:#{1,6}\s+(?P<heading>.+?)|(?:\*\*|__)(?P<bold>[^*_]+?)(?:\*\*|__):?)\s*$")
_KEYWORDS = {
    1: re.compile(r"\btask\b", re.IGNORECASE),
    2: re.compile(r"\b(workflow|pipeline|how (it|the model|they) works?)\b|→|->", re.IGNORECASE),
    3: re.compile(r"\b(papers?|tools?|references?|sources?|reading)\b", re.IGNORECASE),
}


def _heading_rank(line: str, part: int) -> int:
    """How surely ``line`` heads part ``part``: 4 (numbered, marked, keyword) down to 1, 0 when it does not."""
    if match := _NUMBERED.match(line):
        if int(match["number"]) != part:
            return 0
        keyword = bool(_KEYWORDS[part].search(match["title"]))
        if match["hashes"] or match["bold"]:
            return 4 if keyword else 3
        return 2 if keyword and len(match["title"].split()) <= 8 else 0  # a short title, not a list item
    if match := _UNNUMBERED.match(line):
        return 1 if _KEYWORDS[part].search(match["heading"] or match["bold"]) else 0
    return 0


def _find_heading(lines: list[str], start: int, part: int) -> int | None:
    """The first line from ``start`` of the best rank for part ``part``."""
    ranked = [(rank, index) for index in range(start, len(lines)) if (rank := _heading_rank(lines[index], part))]
    if not ranked:
        return None
    best = max(rank for rank, _ in ranked)
    return next(index for rank, index in ranked if rank == best)


def _from_markdown(text: str) -> Draft | None:
    """The three parts of a Markdown answer with numbered headings ('1. Task', '## 2. Workflow…', '**3. …**')."""
    lines = text.splitlines()
    starts: list[int] = []
    for part in (1, 2, 3):
        index = _find_heading(lines, starts[-1] + 1 if starts else 0, part)
        if index is None:
            return None
        starts.append(index)
    ends = [*starts[1:], len(lines)]
    bodies = ["\n".join(lines[start + 1 : end]).strip() for start, end in zip(starts, ends, strict=True)]
    if not all(bodies):
        return None
    return Draft(**dict(zip(PART_FIELDS, bodies, strict=True)))


def _without_heading(body: str, part: int) -> str:
    """A part's body, minus the part's own heading when the model repeated it."""
    first, _, rest = body.strip().partition("\n")
    return rest.strip() if _heading_rank(first, part) else body.strip()


def _from_mapping(data: Any) -> Draft | None:
    if not isinstance(data, dict):
        return None
    keys = {str(key).lower().replace(" ", "_"): value for key, value in data.items()}
    bodies = []
    for part, names in enumerate((("task",), ("workflow",), ("references", "papers_and_tools", "papers")), 1):
        value = next((keys[name] for name in names if name in keys), None)
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            value = "\n".join(value)
        if not isinstance(value, str) or not value.strip():
            return None
        bodies.append(_without_heading(value, part))
    return Draft(**dict(zip(PART_FIELDS, bodies, strict=True)))


def _from_json(text: str) -> Draft | None:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        return None
    try:
        return _from_mapping(json.loads(text[start : end + 1]))
    except ValueError:
        return None


def parse_draft(text: str) -> Draft:
    """Read a reply as the JSON object {task, workflow, references}, else as the three-part Markdown."""
    draft = _from_json(text) or _from_markdown(text)
    if draft is None:
        raise LLMError("openai: the reply is neither the JSON draft nor the three-part Markdown answer")
    return draft


def parse_ranking(text: str, count: int) -> list[int]:
    """0-based candidate indices from a reply like {"ranking": [3, 1, 2]} (numbers are 1-based); a bare
    list or numbers in prose are read too. Numbers outside 1..count are dropped."""
    numbers: Any = None
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        try:
            numbers = json.loads(text[start : end + 1]).get("ranking")
        except (ValueError, AttributeError):
            numbers = None
    if not isinstance(numbers, list):
        numbers = re.findall(r"\b\d+\b", text)
    ranked = []
    for number in numbers:
        try:
            index = int(number) - 1
        except (TypeError, ValueError):
            continue
        if 0 <= index < count and index not in ranked:
            ranked.append(index)
    if not ranked:
        raise LLMError("openai: the ranking reply names no candidate")
    return ranked


def _text(content: Any) -> str:
    if isinstance(content, list):  # content blocks
        return "".join(block.get("text", "") if isinstance(block, dict) else str(block) for block in content)
    return content or ""


# ------------------------------------------------------------------------------------------------
# The backend


class OpenAIBackend:
    """Drafts answers with a chat model on an OpenAI-compatible server (OpenAI, Ollama, vLLM, llama.cpp)."""

    def __init__(self, settings: AgentSettings) -> None:
        self.settings = settings
        self._chat: ChatOpenAI | None = None
        self._structured = True  # False once the server has rejected response_format json_schema

    @property
    def name(self) -> str:
        return f"openai:{self.settings.model}"

    def warm(self) -> None:
        """Import the client library and build the client now (a batch does this before its workers start)."""
        self._model()

    def draft(self, evidence: Evidence, tool_calls: list[ToolCall]) -> Draft:
        return self._ask(self._messages(evidence, tool_calls))

    def repair(self, evidence: Evidence, tool_calls: list[ToolCall], draft: Draft, problems: list[str]) -> Draft:
        """Ask again with the previous draft and the problems the guard found in it."""
        previous = {field: as_data(getattr(draft, field), 3 * MAX_FIELD_CHARS) for field in PART_FIELDS}
        request = render("repair.j2", draft=previous, problems=[as_data(problem, 1000) for problem in problems])
        return self._ask([*self._messages(evidence, tool_calls), ("human", request)])

    def _messages(self, evidence: Evidence, tool_calls: list[ToolCall]) -> list[tuple[str, str]]:
        return [("system", system_prompt()), ("human", render("answer.j2", **answer_context(evidence, tool_calls)))]

    def _model(self) -> ChatOpenAI:
        if self._chat is None:
            from langchain_openai import ChatOpenAI

            settings = self.settings
            self._chat = ChatOpenAI(
                model=settings.model,
                base_url=settings.openai_base_url,
                api_key=settings.openai_api_key or "not-needed",
                temperature=0,
                timeout=settings.llm_timeout_s,
                max_retries=settings.llm_max_retries,
            )
        return self._chat

    def _ask(self, messages: list[tuple[str, str]]) -> Draft:
        import openai

        chat = self._model()
        try:
            if self._structured:
                # One model call with the json_schema response format; the reply is read below
                # (as JSON, or as Markdown from a server that ignores the format).
                try:
                    reply = chat.invoke(
                        messages, response_format={"type": "json_schema", "json_schema": _draft_format()}
                    )
                except (openai.BadRequestError, openai.UnprocessableEntityError):
                    self._structured = False  # the server does not take json_schema: ask in plain text
                else:
                    return self._read(reply)
            return self._read(chat.invoke(messages))
        except openai.OpenAIError as error:
            raise LLMError(self._reason(error)) from error

    def _read(self, message: Any) -> Draft:
        """The Draft in a reply: its JSON object, or its three-part Markdown, read leniently."""
        if refusal := message.additional_kwargs.get("refusal"):
            raise LLMError(f"openai: the model refused: {clip(refusal, 200)}")
        try:
            return parse_draft(_text(message.content))
        except LLMError:
            if message.response_metadata.get("finish_reason") == "length":
                raise LLMError("openai: the reply was cut off at the token limit") from None
            raise

    def rerank(self, question: str, candidates: Sequence[CatalogRecord]) -> list[int]:
        """The candidates' indices, most fitting first, as the model ranks them (retrieval in openai mode)."""
        import openai

        view = [
            {
                "number": number,
                "name": as_data(record.name, 300),
                "category": as_data(record.detailed_category or record.category or "", 200),
                "summary": as_data(record.summary or "", 600),
            }
            for number, record in enumerate(candidates, 1)
        ]
        messages = [
            ("system", render("rerank_system.j2")),
            ("human", render("rerank.j2", question=as_data(question), candidates=view)),
        ]
        try:
            reply = self._model().invoke(messages)
        except openai.OpenAIError as error:
            raise LLMError(self._reason(error)) from error
        return parse_ranking(_text(reply.content), len(candidates))

    def stream(self, messages: list[tuple[str, str]]) -> Iterator[str]:
        """A free-text reply's pieces as they arrive (chat follow-ups); client errors become LLMError."""
        import openai

        try:
            for chunk in self._model().stream(messages):
                yield _text(chunk.content)
        except openai.OpenAIError as error:
            raise LLMError(self._reason(error)) from error

    def _reason(self, error: Exception) -> str:
        """A one-line reason for an error of the openai client (raised after its own retries)."""
        import openai

        retries = self.settings.llm_max_retries
        counted = f"{retries} retr{'y' if retries == 1 else 'ies'}"
        after = f" after {counted}" if retries else ""
        if isinstance(error, openai.APITimeoutError):
            retried = f" (and {counted})" if retries else ""
            return f"openai: timed out after {self.settings.llm_timeout_s} s{retried}"
        if isinstance(error, openai.APIConnectionError):
            return f"openai: cannot connect to {self.settings.openai_base_url or 'https://api.openai.com/v1'}{after}"
        if isinstance(error, openai.RateLimitError):
            return f"openai: rate limited (429){after}"
        if isinstance(error, openai.AuthenticationError):
            return "openai: authentication failed (401); check OPENAI_API_KEY"
        if isinstance(error, openai.InternalServerError):
            return f"openai: server error {error.status_code}{after}"
        if isinstance(error, openai.APIStatusError):
            return f"openai: HTTP {error.status_code}: {_first_line(error.message)}"
        if isinstance(error, openai.LengthFinishReasonError):
            return "openai: the reply was cut off at the token limit"
        if isinstance(error, openai.ContentFilterFinishReasonError):
            return "openai: the reply was stopped by the content filter"
        return f"openai: {_first_line(str(error))}"


def _first_line(text: str) -> str:
    return clip(text.strip().splitlines()[0] if text.strip() else "no detail", 200)
