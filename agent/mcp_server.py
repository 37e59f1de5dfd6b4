"""``scientist mcp``: the agent, the question parser and LIIF over the Model Context Protocol.

Built on the official SDK's ``MCPServer`` (mcp 2.x). Tools: ``answer_question``, ``upscale_image``,
``parse_question_file``; resources: the curated corpus as JSON under ``corpus://``.

Every path a client names is resolved (symlinks too) and must lie inside the allowed root
(``--root``, else ``SCIENTIST_MCP_ROOT``, else the working directory). Outputs go to a temporary
folder of the server process, never into the root. Anticipated failures (bad arguments, bad images,
paths outside the root) are raised as ``ToolError``: the client gets an ``is_error`` result with
the one-line message, and the server keeps running.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resources import TextResource
from mcp.types import CallToolResult, ImageContent, TextContent
from pydantic import Field

from agent.corpus import CORPUS_DIR, load_corpus
from agent.errors import AgentError
from agent.parse import parse_question_text
from agent.schema import Question, Record, Retrieval
from agent.settings import AgentSettings

ROOT_ENV = "SCIENTIST_MCP_ROOT"
INSTRUCTIONS = (
    "An AI scientist: answers questions about AI models grounded only in the supplied records (a question "
    "with none gets them from its catalog: search_catalog shows what it finds), and enlarges images with "
    "LIIF super-resolution. Corpus cards are resources under corpus://."
)


def allowed_root(root: str | Path | None = None) -> Path:
    """The folder client paths must stay inside: ``root``, else $SCIENTIST_MCP_ROOT, else the working directory."""
    chosen = root or os.environ.get(ROOT_ENV) or Path.cwd()
    return Path(chosen).expanduser().resolve()


def confine(path: str, root: Path) -> Path:
    """``path`` (relative paths are taken from ``root``) resolved, symlinks included; refused outside ``root``."""
    try:
        candidate = Path(path).expanduser()
        resolved = (candidate if candidate.is_absolute() else root / candidate).resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # a NUL byte, a symlink loop, an unknown ~user
        raise ToolError(f"{path!r}: not a usable path ({exc})") from None
    if not resolved.is_relative_to(root):
        raise ToolError(f"{path}: outside the allowed root {root}")
    return resolved


def liif_model() -> Any:
    """The process's one LIIF model (SCIENTIST_LIIF_WEIGHTS, else the default), loaded on first use."""
    from tools.liif.api import shared_model  # imports torch: not at server start

    return shared_model()


class ScientistTools:
    """The tool implementations, bound to one allowed root, one output folder and one model."""

    def __init__(self, root: Path, outputs: Path) -> None:
        self.root = root
        self.outputs = outputs

    def answer_question(
        self,
        text: Annotated[str | None, Field(description="A question file's text (seed format, JSON or YAML).")] = None,
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
            parsed = self._parse(text, "mcp")
        else:
            if not (question or "").strip():
                raise ToolError("question is empty")
            parsed = Question(source="mcp", question=question.strip(), models=models or [], papers=papers or [])
        try:
            record = answer(parsed, AskOptions(tools=run_tools, backend=backend))
        except AgentError as exc:
            raise ToolError(str(exc)) from None
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
        reference = confine(reference_path, self.root) if reference_path is not None else None
        source = confine(path, self.root) if path is not None else None
        job = self.outputs / uuid.uuid4().hex
        job.mkdir(parents=True)
        try:
            source = source or self._decoded(image_base64 or "", job)
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
            message = str(exc).replace(str(job / "input"), "image_base64")
            shutil.rmtree(job, ignore_errors=True)
            raise ToolError(message) from None
        metrics = report.model_dump(mode="json")
        if image_base64 is not None:
            metrics["input"] = "image_base64"
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
            raise ToolError(str(exc)) from None

    def parse_question_file(
        self,
        text: Annotated[str | None, Field(description="A question file's content.")] = None,
        path: Annotated[str | None, Field(description="A question file inside the allowed root.")] = None,
    ) -> Question:
        """Parse a question file (seed text format, JSON or YAML) into the question and its supplied records."""
        if (text is None) == (path is None):
            raise ToolError("give either text or path")
        if path is not None:
            file = confine(path, self.root)
            try:
                text = file.read_bytes().decode("utf-8", errors="replace")
            except OSError as exc:
                raise ToolError(f"{path}: cannot read ({exc.strerror or exc})") from None
            return self._parse(text, path, prefix=path)
        return self._parse(text or "", "mcp")

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

    @staticmethod
    def _decoded(data: str, job: Path) -> Path:
        if data.startswith("data:") and "," in data:  # a data: URL is accepted too
            data = data.split(",", 1)[1]
        try:
            raw = base64.b64decode("".join(data.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ToolError("image_base64: not valid base64") from None
        if not raw:
            raise ToolError("image_base64: empty")
        source = job / "input"
        source.write_bytes(raw)
        return source


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


def build_server(root: Path, outputs: Path | None = None) -> MCPServer:
    """The MCP server; ``outputs`` defaults to a temporary folder removed when the process exits."""
    if outputs is None:
        outputs = Path(tempfile.mkdtemp(prefix="scientist-mcp-"))
        atexit.register(shutil.rmtree, outputs, ignore_errors=True)
    tools = ScientistTools(root, outputs)
    server = MCPServer("cnaps-scientist", instructions=INSTRUCTIONS, log_level="WARNING")
    server.add_tool(tools.answer_question, name="answer_question")
    server.add_tool(tools.upscale_image, name="upscale_image")
    server.add_tool(tools.parse_question_file, name="parse_question_file")
    server.add_tool(tools.search_catalog, name="search_catalog")
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
