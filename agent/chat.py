"""``scientist chat``: an interactive session over the same one-pass agent.

The first plain line is a question: with a question file loaded it replaces the file's question
and keeps its records; with none, the records are retrieved from the corpus's catalog. Later
lines are follow-ups: through the LLM (streamed, links filtered to the supplied ones) when the
settings resolve to openai, else the offline answer re-run with the follow-up as the question.
Reading lines and printing are injected (``read_line``, ``console``) so that tests can drive it.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from agent.answer import AskOptions, answer_question, build_evidence
from agent.corpus import load_corpus
from agent.errors import AgentError, plain_message
from agent.evidence import rank, sentences
from agent.guard import strip_unsupplied_links
from agent.parse import MAX_FIELD_CHARS, load_question
from agent.prompts import render
from agent.retrieval import with_retrieved_records
from agent.schema import Answer, Evidence, Passage, Question
from agent.settings import AgentSettings

PROMPT = "scientist> "
HELP = """\
Type a question and press Enter (Alt-Enter or Esc-Enter for a new line); later lines are follow-ups.
  /load FILE              load a question file (its records ground the answers)
  /upscale IMAGE [SCALE]  enlarge a picture with LIIF (default 4x)
  /sources                the loaded records with their links, and the corpus cards used
  /save FILE              write the conversation as Markdown
  /help                   this list
  /quit                   leave (Ctrl-D too); Ctrl-C cancels an answer in progress"""

CHAT_TAGS = ("conversation", "previous_answer", "follow_up")
_SPOOFED_CHAT_TAG = re.compile(r"<(/?)(" + "|".join(CHAT_TAGS) + r")\b", re.IGNORECASE)
HISTORY_TURNS = 6  # earlier turns shown to the LLM with a follow-up


def _chat_data(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    from agent.llm import as_data

    return _SPOOFED_CHAT_TAG.sub(r"‹\1\2", as_data(text, limit))


@dataclass
class Turn:
    role: str  # "You" or "Scientist"
    text: str


@dataclass
class ChatSession:
    """The state of one chat: the current Question, the last Answer and the conversation."""

    read_line: Callable[[], str]
    console: Console
    settings: AgentSettings = field(default_factory=AgentSettings)
    options: AskOptions = field(default_factory=AskOptions)
    question: Question | None = None
    answer: Answer | None = None
    history: list[Turn] = field(default_factory=list)
    _evidence: tuple[Question, Evidence] | None = None  # the loaded question's evidence, for follow-ups

    def __post_init__(self) -> None:
        self.settings = self.settings.with_backend(self.options.backend)

    @property
    def mode(self) -> str:
        return self.settings.resolved_backend()

    # -- the loop

    def run(self) -> None:
        """Read and handle lines until /quit or end of input; Ctrl-C at the prompt only clears the line."""
        while True:
            try:
                line = self.read_line()
            except KeyboardInterrupt:
                continue
            except EOFError:
                break
            try:
                if not self.handle(line):
                    break
            except Exception as exc:  # one bad line is one error; the session goes on
                if os.environ.get("SCIENTIST_DEBUG") == "1":
                    raise
                self.error(
                    f"{plain_message(exc)} (unexpected; the chat goes on, SCIENTIST_DEBUG=1 shows the traceback)"
                )

    def handle(self, line: str) -> bool:
        """One line of input; False when the session should end."""
        text = line.strip()
        if text.startswith("/"):
            return self.command(text)
        if not text:
            if self.question is not None and self.answer is None:
                self.ask(self.question.question)  # Enter on a freshly loaded file asks its question
            return True
        self.ask(text)
        return True

    def command(self, text: str) -> bool:
        name, _, rest = text.partition(" ")
        rest = rest.strip()
        if name in ("/quit", "/exit"):
            return False
        handlers = {
            "/help": lambda _: self.say(HELP),
            "/load": self.load,
            "/upscale": self.upscale,
            "/sources": lambda _: self.sources(),
            "/save": self.save,
        }
        handler = handlers.get(name)
        if handler is None:
            self.error(f"unknown command {name}; type /help for the list")
        else:
            handler(rest)
        return True

    # -- output

    def say(self, text: str, style: str | None = None) -> None:
        self.console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)

    def error(self, message: str) -> None:
        self.say(f"error: {message}", style="red")

    def show_markdown(self, text: str) -> None:
        if self.console.is_terminal:
            from rich.markdown import Markdown

            self.console.print(Markdown(text))
        else:
            self.say(text)

    # -- questions and follow-ups

    def load(self, source: str) -> None:
        if not source:
            self.error("usage: /load FILE")
            return
        try:
            question = load_question(source)
        except AgentError as exc:
            self.error(str(exc))
            return
        self.question, self.answer = question, None
        records = len(question.models) + len(question.papers)
        self.say(f"Loaded {source}: {records} record(s). Ask your question (Enter alone asks the file's own).")

    def ask(self, text: str) -> None:
        """Answer a line: the first question of a loaded file or the corpus, else a follow-up."""
        self.history.append(Turn("You", text))
        try:
            if self.answer is not None and self.question is not None and self.mode == "openai":
                reply = self.follow_up_llm(text)
            elif self.answer is not None and self.question is not None:
                reply = self.follow_up_offline(text)
            else:
                reply = self.answer_offline_or_first(text)
        except KeyboardInterrupt:
            self.history.pop()
            self.say("(answer cancelled)", style="yellow")
            return
        if reply is None:
            self.history.pop()
        else:
            self.history.append(Turn("Scientist", reply))

    def answer_offline_or_first(self, text: str) -> str | None:
        if self.question is None:
            with self.console.status("Searching the catalog…") if self.console.is_terminal else nullcontext():
                self.question = with_retrieved_records(Question(source="inline", question=text), self.settings)
            self.say(retrieval_summary(self.question))
        question = self.question.model_copy(update={"question": text})
        status = "Thinking (and running the LIIF demo if the records call for it)…"
        with self.console.status(status) if self.console.is_terminal else nullcontext():
            answer = answer_question(question, self.options, self.settings)
        self.answer = answer
        self.show_markdown(answer.answer_markdown or "")
        return answer.answer_markdown

    def follow_up_offline(self, text: str) -> str:
        """A follow-up without an LLM: the passages of this question's evidence that best match it, quoted
        and cited, never a regenerated answer to a different question."""
        assert self.question is not None
        if self._evidence is None or self._evidence[0] is not self.question:  # built once per loaded question
            self._evidence = (self.question, build_evidence(self.question, self.settings))
        pieces = [
            Passage(id=passage.id, source=passage.source, text=sentence)
            for passage in self._evidence[1].passages
            for sentence in sentences(passage.text)
            if len(sentence.split()) >= 4
        ]
        best = [piece for piece in rank(text, pieces) if piece.score > 0][:3]
        reply = render("chat_offline_followup.j2", passages=best)
        self.show_markdown(reply)
        return reply

    def follow_up_llm(self, text: str) -> str | None:
        """Stream the LLM's reply to a follow-up; links outside the supplied records never show."""
        from agent.answer import llm_backend
        from agent.llm import LLMError

        assert self.question is not None and self.answer is not None
        pieces = llm_backend(self.settings.model_dump_json()).stream(self.follow_up_messages(text))
        try:
            return self.stream(pieces, self.question.supplied_links())
        except LLMError as exc:
            self.error(str(exc))
            return None

    def follow_up_messages(self, text: str) -> list[tuple[str, str]]:
        from agent.llm import DATA_TAGS, REPAIR_TAGS, answer_context

        assert self.question is not None and self.answer is not None
        question = self.question.model_copy(update={"question": text})
        evidence = build_evidence(question, self.settings)
        context = answer_context(evidence, self.answer.tool_calls)
        earlier = self.history[:-2][-HISTORY_TURNS:]  # the last answer and this follow-up come separately
        conversation = [(turn.role, _chat_data(turn.text, 2000)) for turn in earlier]
        human = render(
            "chat_followup.j2",
            **context,
            conversation=conversation,
            previous_answer=_chat_data(self.history[-2].text if len(self.history) > 1 else "", 3 * MAX_FIELD_CHARS),
            follow_up=_chat_data(text),
        )
        system = render("chat_system.j2", data_tags=[*DATA_TAGS, *REPAIR_TAGS, *CHAT_TAGS])
        return [("system", system), ("human", human)]

    def stream(self, pieces: Iterator[str], allowed: list[str]) -> str:
        """Show tokens as they arrive (only whole, filtered lines when not a terminal); return the filtered reply."""
        received = ""
        if self.console.is_terminal:
            from rich.live import Live
            from rich.markdown import Markdown

            with Live(console=self.console, transient=True, refresh_per_second=12) as live:
                for piece in pieces:
                    received += piece
                    shown = received[: max(received.rfind(" "), received.rfind("\n")) + 1]  # no half-written URL
                    live.update(Markdown(strip_unsupplied_links(shown, allowed)))
            reply = strip_unsupplied_links(received, allowed)
            self.console.print(Markdown(reply))
            return reply
        printed = 0
        for piece in pieces:
            received += piece
            lines = received.split("\n")[:-1]
            for line in lines[printed:]:
                self._stream_line(line, allowed)
            printed = len(lines)
        for line in received.split("\n")[printed:]:
            self._stream_line(line, allowed)
        return strip_unsupplied_links(received, allowed)

    def _stream_line(self, line: str, allowed: list[str]) -> None:
        kept = strip_unsupplied_links(line, allowed)
        if kept.strip() or not line.strip():
            self.say(kept)

    # -- slash commands

    def upscale(self, rest: str) -> None:
        from tools.liif.errors import LiifError
        from tools.liif.pipeline import upscale_file
        from tools.liif.settings import LiifSettings

        try:
            args = shlex.split(rest)
        except ValueError as exc:
            self.error(f"/upscale: {exc}")
            return
        if not 1 <= len(args) <= 2:
            self.error("usage: /upscale IMAGE [SCALE]")
            return
        try:
            scale = float(args[1]) if len(args) == 2 else 4.0
        except ValueError:
            self.error(f"/upscale: {args[1]!r} is not a number, e.g. 2 or 4")
            return
        source = Path(args[0]).expanduser()
        settings = LiifSettings()
        output = settings.cache_dir / "chat" / f"{source.stem}-liif.png"
        output.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self.console.status("Upscaling with LIIF…") if self.console.is_terminal else nullcontext():
                report = upscale_file(source, output, self._liif_model, scale=scale, max_pixels=settings.max_pixels)
        except KeyboardInterrupt:
            self.say("(upscale cancelled)", style="yellow")
            return
        except (LiifError, OSError) as exc:
            self.error(str(exc))
            return
        (w, h), (big_w, big_h) = report.input_size, report.output_size
        self.say(f"{report.input} ({w}x{h}) -> {report.output} ({big_w}x{big_h}) in {report.seconds:.2f} s")
        self.say(f"weights: {report.weights}")

    def _liif_model(self) -> Any:
        from tools.liif.api import shared_model

        return shared_model(self.options.weights)

    def sources(self) -> None:
        question = self.question
        if question is None or not (question.models or question.papers):
            self.say("No records loaded (use /load FILE).")
        else:
            corpus = load_corpus()
            for label, kind, records in (("Models", "model", question.models), ("Papers", "paper", question.papers)):
                if records:
                    self.say(f"{label}:")
                for record in records:
                    self.say(f"- {record.name}" + "".join(f"\n    {link}" for link in record.links()))
                    card = corpus.card_for(record, kind)  # type: ignore[arg-type]
                    if card is not None:
                        self.say(f"    corpus card: {card.name}")
            if question.retrieval is not None:
                self.say(retrieval_summary(question))

    def save(self, rest: str) -> None:
        if not rest:
            self.error("usage: /save FILE")
            return
        path = Path(rest).expanduser()
        body = "".join(f"## {turn.role}\n\n{turn.text.strip()}\n\n" for turn in self.history)
        try:
            path.write_text(f"# Chat with the AI scientist\n\n{body}", encoding="utf-8")
        except OSError as exc:
            self.error(f"{path}: cannot write ({exc.strerror or exc})")
            return
        self.say(f"Saved {len(self.history)} message(s) to {path}")


def retrieval_summary(question: Question) -> str:
    """One line on how a bare question's records were found: names, scores and confidence."""
    retrieval = question.retrieval
    if retrieval is None:
        return "Records: supplied with the question"
    scores = {hit.name: hit.score for hit in retrieval.results}
    found = ", ".join(f"{r.name} ({scores.get(r.name, 0):.2f})" for r in [*question.models, *question.papers])
    sure = "confident" if retrieval.confident else "not confident: no model recommended"
    return f"Found in the catalog ({sure}, confidence {retrieval.confidence:.2f}): {found}"


def prompt_reader(history_file: Path | None = None, **session_args: Any) -> Callable[[], str]:
    """A prompt_toolkit line reader: Enter submits, Alt-Enter / Esc-Enter inserts a newline."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    from prompt_toolkit.key_binding import KeyBindings

    bindings = KeyBindings()

    @bindings.add("escape", "enter")
    def _newline(event: Any) -> None:
        event.current_buffer.insert_text("\n")

    history: Any = InMemoryHistory()
    if history_file is not None:
        try:
            history_file.parent.mkdir(parents=True, exist_ok=True)
            history = FileHistory(str(history_file))
        except OSError:
            pass
    session: PromptSession[str] = PromptSession(history=history, key_bindings=bindings, **session_args)
    return lambda: session.prompt(PROMPT)


def run_chat(source: str | None, options: AskOptions) -> None:
    """The ``scientist chat`` session on the real terminal."""
    from tools.liif.settings import LiifSettings

    console = Console()
    question = load_question(source) if source else None  # a bad SOURCE fails before the session starts
    session = ChatSession(prompt_reader(LiifSettings().cache_dir / "chat-history"), console, options=options)
    console.print("AI scientist chat: type a question, /help for commands, /quit to leave.", highlight=False)
    if question is not None and question.source == "inline":
        session.ask(question.question)  # a bare question as SOURCE is asked at once
    elif question is not None:
        session.question = question
        session.say(f"Loaded {source}. Ask your question (Enter alone asks the file's own).")
    session.run()
