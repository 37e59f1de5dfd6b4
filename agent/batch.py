"""``scientist batch``: many question files -> ``DIR/NAME.json`` + ``DIR/NAME.md`` each, resumable.

Every input gets a stable output name from its path, so a rerun maps it to the same files and skips
it when its stored record was made from the same content with the same settings. Every file is
written atomically (a temp file in DIR, then ``os.replace``) and the ``.json`` last: it is the
completion marker, so a killed run leaves only whole records behind. One bad input never stops the
batch: it gets a record with ``error`` set and the batch goes on.
"""

from __future__ import annotations

import glob
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agent.answer import AskOptions, answer_question, llm_backend, write_outputs
from agent.catalog import CATALOG_FILE
from agent.errors import AgentError, QuestionError, plain_message
from agent.files import TEMP_GLOB, atomic_file
from agent.markdown_text import clean_text
from agent.parse import FILE_SUFFIXES, parse_question_text
from agent.schema import Answer
from agent.settings import AgentSettings

BATCH_SUFFIXES = (*FILE_SUFFIXES, ".jsonl")
INDEX = "index.jsonl"
Status = Literal["answered", "failed", "skipped"]


@dataclass
class BatchInput:
    """One question to answer: a file, or one line of a ``.jsonl`` file (``label`` is then ``FILE#LINE``)."""

    label: str
    name: str  # the output stem: DIR/NAME.json, DIR/NAME.md
    content: bytes | None = None
    read_error: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content or b"").hexdigest()


@dataclass
class Outcome:
    input: BatchInput
    status: Status
    error: str | None = None
    elapsed_s: float = 0.0
    cached: bool = False  # the record was kept from an earlier run

    def index_line(self) -> dict[str, Any]:
        """Text cleaned (file names can hold lone surrogates), so that writing the index cannot fail."""
        return {
            "input": clean_text(self.input.label), "name": self.input.name, "status": self.status,
            "error": self.error and clean_text(self.error), "json": f"{self.input.name}.json",
            "elapsed_s": round(self.elapsed_s, 3), "cached": self.cached,
        }  # fmt: skip


@dataclass
class BatchReport:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0  # answering, after start-up
    startup_s: float = 0.0  # loading the LLM client, when one is used
    interrupted: bool = False

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def ok(self) -> bool:
        return not self.interrupted and self.count("failed") == 0


# -- inputs -------------------------------------------------------------------------------------


def collect_inputs(paths: list[str], out: Path) -> list[BatchInput]:
    """Files, folders (recursively, question suffixes only, ``out`` left out) and globs, in order.

    Raises ``QuestionError`` for a path that does not exist or a glob or folder with no question files.
    """
    found: list[tuple[Path, str]] = []  # (file, name before deduplication)
    out = out.resolve()
    for arg in paths:
        path = Path(arg)
        if path.is_dir():
            files = sorted(
                p for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in BATCH_SUFFIXES and not _hidden(p.relative_to(path))
                and not p.resolve().is_relative_to(out)
            )  # fmt: skip
            if not files:
                raise QuestionError(f"{arg}: no question files ({', '.join(BATCH_SUFFIXES)}) in this folder")
            found += [(p, "__".join(p.relative_to(path).with_suffix("").parts)) for p in files]
        elif path.is_file():
            found.append((path, path.stem))
        elif glob.has_magic(arg):
            matches = sorted(Path(m) for m in glob.glob(arg, recursive=True) if Path(m).is_file())
            if not matches:
                raise QuestionError(f"{arg}: no files match")
            found += [(p, p.stem) for p in matches]
        else:
            raise QuestionError(f"{arg}: no such file or folder")
    inputs: list[BatchInput] = []
    for path, name in found:
        if path.suffix.lower() == ".jsonl":
            inputs += _jsonl_inputs(path, name)
        else:
            inputs.append(_read(path, str(path), name))
    return _unique_names(inputs)


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _read(path: Path, label: str, name: str) -> BatchInput:
    try:
        return BatchInput(label, name, content=path.read_bytes())
    except OSError as exc:
        return BatchInput(label, name, read_error=f"cannot read ({exc.strerror or exc})")


def _jsonl_inputs(path: Path, name: str) -> list[BatchInput]:
    """One input per non-blank line, named ``NAME-LINE`` (line numbers from 1)."""
    whole = _read(path, str(path), name)
    if whole.content is None:
        return [whole]
    lines = whole.content.split(b"\n")
    return [
        BatchInput(f"{path}#{number}", f"{name}-{number}", content=line)
        for number, line in enumerate(lines, start=1)
        if line.strip()
    ] or [BatchInput(str(path), name, read_error="file is empty")]


def _unique_names(inputs: list[BatchInput]) -> list[BatchInput]:
    """Filesystem-safe names, unique regardless of case: a later clash gets ``-2``, ``-3``..."""
    taken: set[str] = set()
    for item in inputs:
        base = re.sub(r"[^A-Za-z0-9._-]+", "-", item.name).strip(".-") or "input"
        name, n = base, 1
        while name.casefold() in taken:
            n += 1
            name = f"{base}-{n}"
        taken.add(name.casefold())
        item.name = name
    return inputs


# -- one input ----------------------------------------------------------------------------------


def settings_key(options: AskOptions, settings: AgentSettings) -> str:
    """What besides the content decides an answer: a record made under another key is redone. The
    catalog counts too: a question that came without records is answered from it."""
    resolved = settings.resolved_backend()
    model = f":{settings.model}" if resolved == "openai" else ""
    catalog = Path(settings.corpus) / CATALOG_FILE
    corpus = hashlib.sha256(catalog.read_bytes()).hexdigest()[:12] if catalog.is_file() else "none"
    return f"backend={resolved}{model};tools={options.tools};corpus={corpus}"


def stored_record(folder: Path, item: BatchInput, key: str) -> dict[str, Any] | None:
    """The earlier record for this input when it was made from the same content and settings."""
    try:
        record = json.loads((folder / f"{item.name}.json").read_text())
    except (OSError, ValueError):
        return None
    if isinstance(record, dict) and record.get("input_sha256") == item.sha256 and record.get("settings_key") == key:
        return record
    return None


def answer_input(item: BatchInput, folder: Path, options: AskOptions, settings: AgentSettings, key: str) -> Outcome:
    """Answer one input and write its files; any failure, in answering or in writing, becomes a
    record with ``error`` set, so one input can never stop the batch."""
    started = time.perf_counter()
    try:
        if item.read_error:
            raise QuestionError(item.read_error)
        text = (item.content or b"").decode("utf-8", errors="replace")
        try:
            question = parse_question_text(text, item.label)
        except QuestionError as exc:
            raise QuestionError(f"{item.label}: {exc}") from None
        answer = answer_question(question, options, settings)
        try:
            write_record(answer, folder, item, key)
        except OSError as exc:
            raise AgentError(f"{item.label}: cannot write its answer to {folder} ({exc.strerror or exc})") from None
        return Outcome(item, "failed" if answer.error else "answered", answer.error, time.perf_counter() - started)
    except Exception as exc:  # one bad input never stops the batch
        error = plain_message(exc)
        if not error.startswith(item.label):
            error = f"{item.label}: {error}"
        error = clean_text(error)
        try:
            write_error_record(Answer(source=clean_text(item.label), question="", error=error), folder, item, key)
        except OSError as write_error:
            error += f"; its record could not be written ({write_error.strerror or write_error})"
        return Outcome(item, "failed", error, time.perf_counter() - started)


def write_record(answer: Answer, folder: Path, item: BatchInput, key: str) -> None:
    write_outputs(answer, folder, item.name, {"input_sha256": item.sha256, "settings_key": key})


def write_error_record(answer: Answer, folder: Path, item: BatchInput, key: str) -> None:
    """An error record is JSON only, ASCII-escaped: no character in it can make writing it fail."""
    record = {**answer.model_dump(mode="json"), "input_sha256": item.sha256, "settings_key": key}
    with atomic_file(folder / f"{item.name}.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2, ensure_ascii=True), encoding="ascii")


# -- the batch ----------------------------------------------------------------------------------


def run_batch(
    inputs: list[BatchInput], folder: Path, options: AskOptions, settings: AgentSettings | None = None, *,
    jobs: int = 1, force: bool = False, on_done: Callable[[Outcome], None] | None = None,
) -> BatchReport:  # fmt: skip
    """Answer every input (``jobs`` at a time), skipping unchanged ones unless ``force``; writes index.jsonl.

    Ctrl-C stops submitting new inputs; the answers in flight finish and are written, and the
    report comes back with ``interrupted`` set.
    """
    settings = (settings or AgentSettings()).with_backend(options.backend)  # --backend decides, e.g. what to warm
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(TEMP_GLOB):  # our unfinished writes of a killed run; nothing of the user's
        stale.unlink(missing_ok=True)
    key = settings_key(options, settings)
    report = BatchReport()
    results: dict[int, Outcome] = {}

    def done(index: int, outcome: Outcome) -> None:
        results[index] = outcome
        if on_done:
            on_done(outcome)

    todo: list[int] = []
    for i, item in enumerate(inputs):
        record = None if force else stored_record(folder, item, key)
        if record is None:
            todo.append(i)
        else:
            error = record.get("error")
            done(i, Outcome(item, "failed" if error else "skipped", error, cached=True))
    if todo and settings.resolved_backend() == "openai":
        # Load the LLM client once, before the clock and the workers start (its import alone takes
        # a second or two, which every worker would otherwise wait on).
        warm_started = time.perf_counter()
        llm_backend(settings.model_dump_json()).warm()
        report.startup_s = time.perf_counter() - warm_started
    started = time.perf_counter()
    try:
        with closing(_answer_all(todo, inputs, folder, options, settings, key, jobs)) as answers:
            for i, outcome in answers:
                done(i, outcome)
    except KeyboardInterrupt:
        report.interrupted = True
    report.outcomes = [results[i] for i in sorted(results)]
    report.seconds = time.perf_counter() - started
    write_index(folder, report.outcomes)
    return report


def _answer_all(
    todo: list[int], inputs: list[BatchInput], folder: Path, options: AskOptions, settings: AgentSettings,
    key: str, jobs: int,
) -> Iterator[tuple[int, Outcome]]:  # fmt: skip
    """(index, outcome) as answers complete; at most ``jobs`` run and at most ``2 * jobs`` wait at a time."""
    if jobs <= 1:
        for i in todo:
            yield i, answer_input(inputs[i], folder, options, settings, key)
        return
    pending = iter(todo)
    running: dict[Future[Outcome], int] = {}
    executor = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="batch")
    try:
        while True:
            while len(running) < 2 * jobs and (i := next(pending, None)) is not None:
                running[executor.submit(answer_input, inputs[i], folder, options, settings, key)] = i
            if not running:
                return
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                yield running.pop(future), future.result()
    finally:  # on Ctrl-C: drop the queued inputs, let the ones in flight finish writing
        executor.shutdown(wait=True, cancel_futures=True)


def write_index(folder: Path, outcomes: list[Outcome]) -> None:
    with atomic_file(folder / INDEX) as tmp:
        lines = "".join(json.dumps(o.index_line(), ensure_ascii=False) + "\n" for o in outcomes)
        tmp.write_text(lines, encoding="utf-8")
