"""``scientist mcp`` through the official SDK's own client: stdio (a spawned ``python -m agent.cli mcp``)
and streamable HTTP (a spawned ``--http --port P``)."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult, ImageContent, TextContent
from PIL import Image

from tests.seed import SEED, SEED_LINKS

REPO = Path(__file__).resolve().parent.parent


def server_env(root: Path) -> dict[str, str]:
    """The test's environment (demo_cache's SCIENTIST_CACHE_DIR/SCIENTIST_LIIF_WEIGHTS included) plus the root."""
    return {**os.environ, "SCIENTIST_MCP_ROOT": str(root), "PYTHONPATH": str(REPO)}


def with_stdio_server(root: Path, check: Callable[[Client], Awaitable[None]]) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "agent.cli", "mcp"], env=server_env(root), cwd=str(REPO)
    )

    async def main() -> None:
        async with Client(params) as client:
            await check(client)

    anyio.run(main)


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def assert_refused(result: CallToolResult, *words: str) -> None:
    assert result.is_error, result
    message = text_of(result)
    for word in words:
        assert word in message, (word, message)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    folder.mkdir()
    return folder


def test_stdio_tools_answer_parse_and_resources(root: Path, demo_cache: Path) -> None:
    seed = SEED.read_text()

    async def check(client: Client) -> None:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert set(tools) >= {"answer_question", "upscale_image", "parse_question_file"}
        assert {"text", "question", "models", "papers", "run_tools", "backend"} <= set(
            tools["answer_question"].input_schema["properties"]
        )
        assert {"path", "image_base64", "scale", "width", "height", "reference_path"} <= set(
            tools["upscale_image"].input_schema["properties"]
        )
        assert {"text", "path"} <= set(tools["parse_question_file"].input_schema["properties"])
        assert {"question", "k"} <= set(tools["search_catalog"].input_schema["properties"])

        found = await client.call_tool("search_catalog", {"question": "How can I enlarge a small photo?", "k": 3})
        assert not found.is_error, text_of(found)
        assert found.structured_content["results"][0]["name"] == "SISR-Any-LIIF-RDN"
        assert len(found.structured_content["results"]) == 3 and found.structured_content["confident"] is True
        assert_refused(await client.call_tool("search_catalog", {"question": "  "}), "question is empty")

        result = await client.call_tool("answer_question", {"text": seed, "backend": "offline"})
        assert not result.is_error, text_of(result)
        record = result.structured_content
        assert record["grounding"]["ok"] is True, record["grounding"]
        assert all(link in record["links"] for link in SEED_LINKS), record["links"]
        assert any(call["name"] == "liif_upscale" and call["result"] for call in record["tool_calls"])
        markdown = text_of(result)
        assert markdown == record["answer_markdown"]
        assert all(link in markdown for link in SEED_LINKS)

        both = await client.call_tool("answer_question", {"text": seed, "question": "why?"})
        assert_refused(both, "either text")
        neither = await client.call_tool("answer_question", {"run_tools": False})
        assert_refused(neither, "either text")

        parsed = await client.call_tool("parse_question_file", {"text": seed})
        assert not parsed.is_error, text_of(parsed)
        question = parsed.structured_content
        assert [m["name"] for m in question["models"]] == ["SISR-Any-LIIF-RDN"]
        assert len(question["papers"]) == 3
        (root / "q.txt").write_text(seed)
        by_path = await client.call_tool("parse_question_file", {"path": "q.txt"})
        assert by_path.structured_content["models"] == question["models"]
        assert_refused(await client.call_tool("parse_question_file", {"path": str(SEED)}), str(SEED), "outside")
        assert_refused(await client.call_tool("parse_question_file", {"text": "\x00\x01binary"}), "binary")

        uris = {str(resource.uri) for resource in (await client.list_resources()).resources}
        assert {"corpus://models/sisr-any-liif-rdn", "corpus://papers/featsharp", "corpus://tasks"} <= uris
        card = json.loads((await client.read_resource("corpus://models/sisr-any-liif-rdn")).contents[0].text)
        assert card["name"] == "SISR-Any-LIIF-RDN"
        tasks = json.loads((await client.read_resource("corpus://tasks")).contents[0].text)
        assert any(task["id"] == card["task"] for task in tasks)

    with_stdio_server(root, check)


def test_stdio_upscale_image(root: Path, demo_cache: Path, fixtures: Path) -> None:
    shutil.copyfile(fixtures / "input-32x24.png", root / "small.png")
    (root / "escape.png").symlink_to(fixtures / "input-32x24.png")
    before = sorted(root.iterdir())
    encoded = base64.b64encode((fixtures / "input-32x24.png").read_bytes()).decode()

    async def check(client: Client) -> None:
        result = await client.call_tool("upscale_image", {"path": "small.png", "scale": 2})
        assert not result.is_error, text_of(result)
        images = [block for block in result.content if isinstance(block, ImageContent)]
        assert len(images) == 1 and images[0].mime_type == "image/png"
        assert Image.open(io.BytesIO(base64.b64decode(images[0].data))).size == (64, 48)
        metrics = result.structured_content
        assert metrics["output_size"] == [64, 48]
        assert metrics["seconds"] >= 0 and "liif" in metrics["weights"]
        assert not Path(metrics["output"]).resolve().is_relative_to(root)

        sized = await client.call_tool("upscale_image", {"image_base64": encoded, "width": 40, "height": 30})
        assert not sized.is_error, text_of(sized)
        assert sized.structured_content["output_size"] == [40, 30]

        shutil.copyfile(fixtures / "reference-128x96.png", root / "reference.png")
        measured = await client.call_tool("upscale_image", {"path": "small.png", "reference_path": "reference.png"})
        assert not measured.is_error, text_of(measured)
        assert measured.structured_content["psnr_db"] > measured.structured_content["bicubic_psnr_db"] > 0
        assert measured.structured_content["ssim"] is not None

        outside = fixtures / "input-32x24.png"
        assert_refused(await client.call_tool("upscale_image", {"path": str(outside)}), str(outside), "outside")
        assert_refused(await client.call_tool("upscale_image", {"path": "escape.png"}), "escape.png", "outside")
        assert_refused(await client.call_tool("upscale_image", {"path": "../x.png"}), "../x.png", "outside")
        assert_refused(await client.call_tool("upscale_image", {"image_base64": "not base64!"}), "base64")
        not_image = base64.b64encode(b"just some text").decode()
        assert_refused(await client.call_tool("upscale_image", {"image_base64": not_image}), "not an image")
        assert_refused(await client.call_tool("upscale_image", {"path": "small.png", "scale": 0}), "scale")
        assert_refused(await client.call_tool("upscale_image", {"path": "small.png", "scale": 1e6}), "limit")
        assert_refused(await client.call_tool("upscale_image", {"path": "small.png", "image_base64": encoded}))
        assert_refused(await client.call_tool("upscale_image", {"path": "missing.png"}), "no such file")

    with_stdio_server(root, check)
    assert sorted(path for path in root.iterdir() if path.name != "reference.png") == before


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_listening(process: subprocess.Popen, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"server exited with {process.returncode}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"server not listening on {port} after {timeout}s")


def test_streamable_http(root: Path, tmp_path: Path) -> None:
    port = free_port()
    env = {**server_env(root), "SCIENTIST_CACHE_DIR": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "agent.cli", "mcp", "--http", "--port", str(port)]
    process = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_listening(process, port)

        async def main() -> None:
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                names = {tool.name for tool in (await client.list_tools()).tools}
                assert {"answer_question", "upscale_image", "parse_question_file"} <= names
                result = await client.call_tool("parse_question_file", {"text": SEED.read_text()})
                assert not result.is_error, text_of(result)
                assert len(result.structured_content["models"]) == 1
                assert len(result.structured_content["papers"]) == 3

        anyio.run(main)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
