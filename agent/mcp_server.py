"""``scientist mcp``: the agent, the question parser and LIIF over the Model Context Protocol.

Built on the official SDK's ``MCPServer`` (mcp 2.x). Tools: ``answer_question``, ``upscale_image``,
``parse_question_file``, ``search_catalog``; resources: the curated corpus as JSON under ``corpus://``.

Hardened against hostile clients:

- Paths. A client path is relative to the allowed root (``--root``, else ``SCIENTIST_MCP_ROOT``, else the
  working directory), or absolute below it; ``..`` is refused. Files are opened one component at a time
  from a descriptor of the root with ``O_NOFOLLOW``, so a symlink anywhere on the path is refused, even one
  that points inside the root: a link swapped in between a check and the read can never lead out. Only
  regular files are read (never FIFOs or devices, which would block), up to a size limit; an image is
  copied into the job's folder before the pipeline sees it. Outputs go to a temporary folder of the
  server process, never into the root.
- Time. Each tool runs in a worker thread under a time limit (``SCIENTIST_MCP_TIMEOUT`` seconds,
  default 300; 10 for ``parse_question_file``), so one stuck call cannot freeze the event loop.
- Errors. A bad call gets an ``is_error`` result with one sentence (no tracebacks, no server paths), and
  the server keeps serving. Lone surrogates (JSON ``"\\ud800"``, which the SDK's parser refuses without
  replying) become U+FFFD on stdin, and in every result.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import errno
import functools
import json
import logging
import os
import re
import shutil
import stat
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resources import TextResource
from mcp.server.stdio import stdio_server
from mcp.types import CallToolResult, ImageContent, TextContent
from pydantic import BaseModel, Field

from agent.corpus import CORPUS_DIR, load_corpus
from agent.errors import AgentError
from agent.markdown_text import without_surrogates
from agent.parse import parse_question_text
from agent.schema import Question, Record, Retrieval
from agent.settings import AgentSettings

ROOT_ENV = "SCIENTIST_MCP_ROOT"
TIME_LIMIT_ENV = "SCIENTIST_MCP_TIMEOUT"
TIME_LIMIT = 300.0  # seconds per call; answer_question with the LIIF demo takes ~10 s on a laptop CPU
READ_TIME_LIMIT = 10.0  # parse_question_file only reads a small file and parses it
QUESTION_FILE_LIMIT = 10 * 2**20
IMAGE_FILE_LIMIT = 100 * 2**20
INSTRUCTIONS = (
    "An AI scientist: answers questions about AI models grounded only in the supplied records (a question "
    "with none gets them from its catalog: search_catalog shows what it finds), and enlarges images with "
    "LIIF super-resolution. Corpus cards are resources under corpus://."
)
DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a FIFO opens at once, then is refused
SERVER_PATH = re.compile(r"(?<![\w/.:~])/(?:[^\s/:'\"]+/)*([^\s/:'\"]+)")

logger = logging.getLogger(__name__)


def allowed_root(root: str | Path | None = None) -> Path:
    """The folder client paths must stay inside: ``root``, else $SCIENTIST_MCP_ROOT, else the working directory."""
    chosen = root or os.environ.get(ROOT_ENV) or Path.cwd()
    return Path(chosen).expanduser().resolve()


def time_limit() -> float:
    """Seconds one tool call may take: $SCIENTIST_MCP_TIMEOUT, else 300."""
    value = os.environ.get(TIME_LIMIT_ENV) or str(TIME_LIMIT)
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise AgentError(f"{TIME_LIMIT_ENV}={value!r}: expected a positive number of seconds")
    return seconds


def parts_in_root(root: Path, path: str) -> list[str]:
    """``path``'s components below ``root``, judged by the text alone; nothing on disk is looked at yet."""
    candidate = Path(path)
    if candidate.is_absolute():
        if not candidate.is_relative_to(root):
            raise ToolError(f"{path}: outside the allowed root")
        candidate = candidate.relative_to(root)
    if ".." in candidate.parts:
        raise ToolError(f"{path}: outside the allowed root ('..' is not allowed)")
    if not candidate.parts:
        raise ToolError(f"{path!r}: not a file path")
    return list(candidate.parts)


def read_in_root(root: Path, path: str, limit: int) -> bytes:
    """The bytes of the regular file ``path`` inside ``root``. Each component is opened from its folder's
    descriptor without following symlinks, so a link swapped in at any moment cannot lead outside the root;
    FIFOs and devices are refused instead of read, since a read could block forever."""
    parts = parts_in_root(root, path)
    try:
        folder = os.open(root, DIRECTORY_FLAGS)
        try:
            for part in parts[:-1]:
                inner = os.open(part, DIRECTORY_FLAGS, dir_fd=folder)
                os.close(folder)
                folder = inner
            fd = os.open(parts[-1], FILE_FLAGS, dir_fd=folder)
        finally:
            os.close(folder)
    except ValueError:  # a NUL byte, or a character the file system cannot encode
        raise ToolError(f"{path!r}: not a usable path") from None
    except OSError as exc:
        raise ToolError(f"{path}: {why_unopened(exc)}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ToolError(f"{path}: not a regular file (folders, FIFOs and devices are refused)")
        with open(fd, "rb", closefd=False) as file:
            data = file.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ToolError(f"{path}: larger than the {limit // 2**20} MB limit")
    return data


def why_unopened(exc: OSError) -> str:
    """Why ``read_in_root`` could not open a path, in words (O_NOFOLLOW's ELOOP and ENOTDIR mean a symlink)."""
    if exc.errno == errno.ENOENT:
        return "no such file"
    if exc.errno == errno.ELOOP:
        return "a symbolic link, and links are not followed (they could lead outside the allowed root)"
    if exc.errno == errno.ENOTDIR:
        return "a folder on the way is a symbolic link or not a folder, and links are not followed"
    return f"cannot open ({(exc.strerror or 'unknown error').lower()})"


def without_lone_surrogates(value: Any) -> Any:
    """``value`` (JSON-like data) with each lone surrogate made U+FFFD: UTF-8, hence the wire, cannot carry one."""
    if isinstance(value, str):
        return without_surrogates(value)
    if isinstance(value, list):
        return [without_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {without_lone_surrogates(key): without_lone_surrogates(item) for key, item in value.items()}
    return value


def sendable(result: Any) -> Any:
    """A tool's result (a pydantic model) rebuilt without lone surrogates, when it has any."""
    if not isinstance(result, BaseModel):
        return result
    data = result.model_dump()
    clean = without_lone_surrogates(data)
    return result if clean == data else type(result).model_validate(clean)


def surrogate_free_line(line: str) -> str:
    """One JSON-RPC line with its lone-surrogate escapes (``"\\ud800"``) made U+FFFD: the SDK's parser refuses
    such a line, and a refused request gets no reply at all, so the client would wait forever."""
    if "\\u" not in line:
        return line
    try:
        message = json.loads(line)
        clean = without_lone_surrogates(message)
    except (ValueError, RecursionError):
        return line  # not JSON: the SDK reports it
    return line if clean == message else json.dumps(clean) + "\n"


class SurrogateFreeLines:
    """Stdin's lines for the SDK's stdio transport, each passed through ``surrogate_free_line``."""

    def __init__(self, lines: anyio.AsyncFile[str]) -> None:
        self.lines = lines

    async def __aiter__(self) -> AsyncIterator[str]:
        async for line in self.lines:
            yield surrogate_free_line(line)


def hide_paths(message: str) -> str:
    """``message`` with each absolute path cut to its last part: where the server keeps files is not a
    client's business."""
    return SERVER_PATH.sub(r"\1", message)


def off_loop(body: Callable[..., Any], seconds: float) -> Callable[..., Awaitable[Any]]:
    """The tool ``body`` as a coroutine that runs it in a worker thread under a time limit, so a slow or stuck
    call cannot freeze the event loop that serves everyone else; any failure becomes one sentence."""
    name = body.__name__

    @functools.wraps(body)
    async def tool(**arguments: Any) -> Any:
        try:
            with anyio.move_on_after(seconds):
                call = functools.partial(body, **arguments)
                return sendable(await anyio.to_thread.run_sync(call, abandon_on_cancel=True))
        except ToolError as exc:
            raise ToolError(without_lone_surrogates(str(exc))) from None
        except Exception:
            logger.exception("%s failed unexpectedly", name)  # the details stay in the server's log
            raise ToolError(f"{name} failed on an unexpected error; the server logged it and keeps serving") from None
        raise ToolError(f"{name} did not finish within its {seconds:g} s limit")

    return tool


def liif_model() -> Any:
    """The process's one LIIF model (SCIENTIST_LIIF_WEIGHTS, else the default), loaded on first use."""
    from tools.liif.api import shared_model  # imports torch: not at server start

    return shared_model()


def as_text(text: str | dict[str, Any] | list[Any]) -> str:
    """A question file's text; the SDK turns JSON-looking text into objects before the tool sees it."""
    return text if isinstance(text, str) else json.dumps(text)


class ScientistTools:
    """The tool implementations (synchronous; ``off_loop`` runs them), bound to one allowed root and one
    output folder."""

    def __init__(self, root: Path, outputs: Path) -> None:
        self.root = root
        self.outputs = outputs

    def answer_question(
        self,
        text: Annotated[
            str | dict[str, Any] | list[Any] | None,
            Field(description="A question file's text (seed format, JSON or YAML); a JSON record as an object."),
        ] = None,
        question: Annotated[str | None, Field(description="The user's question (instead of text).")] = None,
        models: Annotated[list[Record] | None, Field(description="Recommended models, with question.")] = None,
        papers: Annotated[list[Record] | None, Field(description="Related papers, with question.")] = None,
        run_tools: Annotated[bool, Field(description="Run the LIIF demo when the answer calls for it.")] = True,
        backend: Annotated[Literal["auto", "offline", "openai"] | None, Field(description="Draft writer.")] = None,
    ) -> CallToolResult:
        """Answer a question about AI models, grounded in the supplied records; returns the Markdown answer,
        with the full answer record (links, tool calls, grounding report) as structured content."""
        from agent.answer import AskOptions
        from agent.answer import answer_question as answer

        if (text is None) == (question is None):
            raise ToolError("give either text (a question file's content) or question (with models and papers)")
        if text is not None and (models or papers):
            raise ToolError("models and papers go with question, not with text (text carries its own records)")
        if text is not None:
            parsed = self._parse(as_text(text), "mcp")
        else:
            if not (question or "").strip():
                raise ToolError("question is empty")
            parsed = Question(source="mcp", question=question.strip(), models=models or [], papers=papers or [])
        try:
            record = answer(parsed, AskOptions(tools=run_tools, backend=backend))
        except AgentError as exc:
            raise ToolError(hide_paths(str(exc))) from None
        content = [TextContent(type="text", text=record.answer_markdown or record.error or "")]
        return CallToolResult(
            content=content, structured_content=record.model_dump(mode="json"), is_error=record.error is not None
        )

    def upscale_image(
        self,
        path: Annotated[str | None, Field(description="An image file inside the allowed root.")] = None,
        image_base64: Annotated[str | None, Field(description="The image itself, base64-encoded.")] = None,
        scale: Annotated[
            float | None, Field(description="Enlargement factor [default: 4, or the reference's size].")
        ] = None,
        width: Annotated[int | None, Field(description="Exact output width (with height).")] = None,
        height: Annotated[int | None, Field(description="Exact output height (with width).")] = None,
        reference_path: Annotated[
            str | None, Field(description="A high-resolution reference inside the root: adds PSNR/SSIM.")
        ] = None,
    ) -> CallToolResult:
        """Enlarge an image with LIIF super-resolution; returns the PNG and its metrics
        (sizes, seconds, weights; PSNR/SSIM against a reference, and bicubic's, when one is given)."""
        from agent.liif_tool import preferred_precision
        from tools.liif.errors import LiifError
        from tools.liif.pipeline import upscale_file
        from tools.liif.settings import LiifSettings

        if (path is None) == (image_base64 is None):
            raise ToolError("give either path (an image inside the allowed root) or image_base64")
        size = self._size(scale, width, height)
        job = self.outputs / uuid.uuid4().hex
        job.mkdir(parents=True)
        names = {job / "input": path or "image_base64", job / "reference": reference_path or "reference"}
        try:  # the pipeline reads copies in the job's folder, made by read_in_root
            if path is not None:
                source = self._copy_in(path, job / "input")
            else:
                source = self._decoded(image_base64 or "", job / "input")
            reference = self._copy_in(reference_path, job / "reference") if reference_path is not None else None
            report = upscale_file(
                source,
                job / "upscaled.png",
                liif_model,
                scale=scale,
                size=size,
                reference=reference,
                precision=preferred_precision(),
                max_pixels=LiifSettings().max_pixels,
            )
        except ToolError:
            shutil.rmtree(job, ignore_errors=True)
            raise
        except (LiifError, OSError) as exc:
            shutil.rmtree(job, ignore_errors=True)
            message = str(exc)
            for copy, name in names.items():
                message = message.replace(str(copy), name)
            raise ToolError(hide_paths(message)) from None
        metrics = report.model_dump(mode="json") | {"input": names[job / "input"], "reference": reference_path}
        png = base64.b64encode(Path(report.output).read_bytes()).decode("ascii")
        return CallToolResult(
            content=[
                ImageContent(type="image", data=png, mime_type="image/png"),
                TextContent(type="text", text=json.dumps(metrics)),
            ],
            structured_content=metrics,
        )

    def search_catalog(
        self,
        question: Annotated[str, Field(description="An everyday question about what AI can do.")],
        k: Annotated[int, Field(ge=1, le=50, description="How many records to return.")] = 5,
    ) -> Retrieval:
        """Find the catalog's models and papers for a question (hybrid MiniLM + BM25 search), best first,
        with scores and whether the match is confident."""
        from agent.retrieval import retrieve_one

        if not question.strip():
            raise ToolError("question is empty")
        try:
            return retrieve_one(question.strip(), AgentSettings(), k)
        except AgentError as exc:
            raise ToolError(hide_paths(str(exc))) from None

    def parse_question_file(
        self,
        text: Annotated[
            str | dict[str, Any] | list[Any] | None,
            Field(description="A question file's content; a JSON record as an object."),
        ] = None,
        path: Annotated[str | None, Field(description="A question file inside the allowed root.")] = None,
    ) -> Question:
        """Parse a question file (seed text format, JSON or YAML) into the question and its supplied records."""
        if (text is None) == (path is None):
            raise ToolError("give either text or path")
        if path is not None:
            data = read_in_root(self.root, path, QUESTION_FILE_LIMIT)
            return self._parse(data.decode("utf-8", errors="replace"), path, prefix=path)
        return self._parse(as_text(text or ""), "mcp")

    @staticmethod
    def _parse(text: str, source: str, prefix: str | None = None) -> Question:
        try:
            return parse_question_text(text, source)
        except AgentError as exc:
            raise ToolError(f"{prefix}: {exc}" if prefix else str(exc)) from None

    @staticmethod
    def _size(scale: float | None, width: int | None, height: int | None) -> tuple[int, int] | None:
        if (width is None) != (height is None):
            raise ToolError("give width and height together")
        if width is not None and height is not None:
            if scale is not None:
                raise ToolError("give either scale or width and height, not both")
            return width, height
        return None  # the values themselves are checked by tools.liif (output_size), like the CLI's

    def _copy_in(self, path: str, copy: Path) -> Path:
        copy.write_bytes(read_in_root(self.root, path, IMAGE_FILE_LIMIT))
        return copy

    @staticmethod
    def _decoded(data: str, copy: Path) -> Path:
        if data.startswith("data:") and "," in data:  # a data: URL is accepted too
            data = data.split(",", 1)[1]
        try:
            raw = base64.b64decode("".join(data.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ToolError("image_base64: not valid base64") from None
        if not raw:
            raise ToolError("image_base64: empty")
        copy.write_bytes(raw)
        return copy


def corpus_resources() -> list[TextResource]:
    """Each model and paper card as ``corpus://models|papers/<file stem>``, and ``corpus://tasks``."""
    corpus = load_corpus()
    resources = []
    for kind, cards in (("models", corpus.models), ("papers", corpus.papers)):
        stems = [path.stem for path in sorted((CORPUS_DIR / kind).glob("*.yaml"))]  # load_corpus's order
        for stem, card in zip(stems, cards, strict=True):
            resources.append(
                TextResource(
                    uri=f"corpus://{kind}/{stem}",
                    name=card.name,
                    description=card.summary.strip().split("\n")[0],
                    mime_type="application/json",
                    text=card.model_dump_json(indent=2),
                )
            )
    tasks = json.dumps([task.model_dump(mode="json") for task in corpus.tasks], indent=2)
    resources.append(
        TextResource(
            uri="corpus://tasks",
            name="tasks",
            description="The task taxonomy.",
            mime_type="application/json",
            text=tasks,
        )
    )
    return resources


class ScientistServer(MCPServer):
    """The SDK's server, reading stdin through ``SurrogateFreeLines`` so that no request goes unanswered."""

    async def run_stdio_async(self) -> None:
        # As MCPServer.run_stdio_async, with our stdin; the SDK's InMemoryTransport also runs _lowlevel_server.
        with open(sys.stdin.fileno(), encoding="utf-8", errors="replace", closefd=False) as lines:
            async with stdio_server(stdin=SurrogateFreeLines(anyio.wrap_file(lines))) as (reader, writer):
                server = self._lowlevel_server
                await server.run(reader, writer, server.create_initialization_options())


def build_server(
    root: Path, outputs: Path | None = None, seconds: float | None = None, read_seconds: float = READ_TIME_LIMIT
) -> MCPServer:
    """The MCP server; ``outputs`` defaults to a temporary folder removed when the process exits, ``seconds``
    (a tool call's time limit) to $SCIENTIST_MCP_TIMEOUT; ``read_seconds`` limits parse_question_file."""
    if outputs is None:
        outputs = Path(tempfile.mkdtemp(prefix="scientist-mcp-"))
        atexit.register(shutil.rmtree, outputs, ignore_errors=True)
    seconds = seconds or time_limit()
    tools = ScientistTools(root, outputs)
    server = ScientistServer("cnaps-scientist", instructions=INSTRUCTIONS, log_level="WARNING")
    server.add_tool(off_loop(tools.answer_question, seconds), name="answer_question")
    server.add_tool(off_loop(tools.upscale_image, seconds), name="upscale_image")
    server.add_tool(off_loop(tools.parse_question_file, min(read_seconds, seconds)), name="parse_question_file")
    server.add_tool(off_loop(tools.search_catalog, seconds), name="search_catalog")
    for resource in corpus_resources():
        server.add_resource(resource)
    return server


def serve(root: Path, http: bool = False, port: int = 8000) -> None:
    """Run until the client goes away: stdio, or streamable HTTP on 127.0.0.1:``port``/mcp."""
    server = build_server(root)
    if http:
        server.run("streamable-http", host="127.0.0.1", port=port)
    else:
        server.run()
