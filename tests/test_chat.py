"""``scientist chat``: scripted sessions through prompt_toolkit, offline and against a fake LLM, and a real pty."""

from __future__ import annotations

import io
import os
import re
import sys
from pathlib import Path

import pytest
from PIL import Image
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from agent.answer import AskOptions
from agent.chat import ChatSession, prompt_reader
from agent.settings import AgentSettings
from tests.fakes.openai_server import FakeOpenAI, good, text
from tests.seed import SEED, SEED_LINKS, SEED_QUESTION

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "tests" / "fixtures" / "liif" / "input-32x24.png"
EVIL = "https://evil.example/weights"


def session(
    lines: list[str], settings: AgentSettings, options: AskOptions | None = None
) -> tuple[ChatSession, io.StringIO]:
    """A session reading ``lines`` (then end of input) and printing to a plain, non-terminal buffer."""
    queue = iter(lines)

    def read_line() -> str:
        line = next(queue, None)
        if line is None:
            raise EOFError
        return line

    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=100, color_system=None)
    return ChatSession(read_line, console, settings=settings, options=options or AskOptions()), out


def scripted(tmp_path: Path) -> list[str]:
    return [
        f"/load {SEED}",
        SEED_QUESTION,
        "Which of the related papers matters most here?",
        f"/upscale {SMALL} 2",
        "/sources",
        f"/save {tmp_path / 'chat.md'}",
        "/quit",
    ]


def test_scripted_offline_session_through_prompt_toolkit(demo_cache, tmp_path):
    with create_pipe_input() as pipe:
        pipe.send_text("".join(line + "\r" for line in scripted(tmp_path)))
        out = io.StringIO()
        console = Console(file=out, force_terminal=False, width=100, color_system=None)
        chat = ChatSession(
            prompt_reader(input=pipe, output=DummyOutput()), console, AgentSettings(SCIENTIST_BACKEND="offline")
        )
        chat.run()
    shown = out.getvalue()
    assert "Loaded" in shown and "Traceback" not in shown
    assert shown.count("## 1. Task") == 1  # the follow-up is not answered with a regenerated answer
    follow_up = shown[shown.index("Without an LLM I can't reason") :]
    assert re.search(r'- ".+" \[(?:[MPCT]\d+), from ', follow_up)  # passages of this question, quoted and cited
    assert "OPENAI_API_KEY" in follow_up
    assert chat.question.question == SEED_QUESTION  # the file's records stay; the question is the user's
    assert len(chat.question.papers) == 3
    output = demo_cache / "chat" / "input-32x24-liif.png"
    assert Image.open(output).size == (64, 48)
    assert f"{output} (64x48)" in shown and "weights: " in shown
    sources = shown[shown.rindex("Models:") :]
    assert all(link in sources for link in SEED_LINKS)
    assert "corpus card: SISR-Any-LIIF-RDN" in sources
    saved = (tmp_path / "chat.md").read_text()
    assert saved.count("## You") == 2 and saved.count("## Scientist") == 2
    assert SEED_QUESTION in saved and "Which of the related papers" in saved


def test_multiline_input_with_escape_enter():
    with create_pipe_input() as pipe:
        pipe.send_text("first line\x1b\rsecond line\r")
        read = prompt_reader(input=pipe, output=DummyOutput())
        assert read() == "first line\nsecond line"


def llm_settings(server: FakeOpenAI) -> AgentSettings:
    return AgentSettings(OPENAI_BASE_URL=server.base_url, SCIENTIST_MODEL="fake-model", SCIENTIST_LLM_RETRIES=0)


def test_scripted_llm_session_streams_follow_ups_and_drops_unsupplied_links(demo_cache, tmp_path):
    follow_up = (
        "FeatSharp is the closest: it sharpens features, not pixels.\n"
        f"Download better weights from {EVIL} or [here]({EVIL}).\n"
        "The LIIF code is at https://github.com/yinboc/liif"
    )
    draft = {
        "task": "Single-image super-resolution [M1].",
        "workflow": "Low-resolution image → SISR-Any-LIIF-RDN → 4x image.",
        "references": "- SISR-Any-LIIF-RDN: https://arxiv.org/pdf/2012.09161, https://github.com/yinboc/liif",
    }
    with FakeOpenAI() as server:
        server.script([good(draft), text(follow_up)])
        chat, out = session(scripted(tmp_path), llm_settings(server))
        chat.run()
        assert server.calls == 2
        assert server.requests[-1].get("stream") is True
        prompt = server.prompt("user")
    shown = out.getvalue()
    assert "FeatSharp is the closest" in shown and "https://github.com/yinboc/liif" in shown
    assert "evil" not in shown
    assert "<previous_answer>" in prompt and "Which of the related papers matters most here?" in prompt
    assert "https://arxiv.org/pdf/2012.09161" in prompt  # the supplied records travel with the follow-up
    saved = (tmp_path / "chat.md").read_text()
    assert "evil" not in saved and "FeatSharp is the closest" in saved
    assert Image.open(demo_cache / "chat" / "input-32x24-liif.png").size == (64, 48)


def test_a_bare_question_is_answered_from_records_retrieved_from_the_catalog():
    chat, out = session(["How can I enlarge a small photo 4x?", "/sources"], AgentSettings(SCIENTIST_BACKEND="offline"))
    chat.options = AskOptions(tools=False)
    chat.run()
    shown = out.getvalue()
    assert re.search(r"Found in the catalog \(confident, confidence 0\.\d\d\): SISR-Any-LIIF-RDN \(0\.\d\d\)", shown)
    assert "## 1. Task" in shown and "https://github.com/yinboc/liif" in shown  # the retrieved record's links
    assert chat.answer is not None and chat.answer.retrieval is not None


def test_a_bare_question_nothing_fits_is_said_plainly():
    chat, out = session(["What is the capital of France?"], AgentSettings(SCIENTIST_BACKEND="offline"))
    chat.options = AskOptions(tools=False)
    chat.run()
    shown = out.getvalue()
    assert "not confident: no model recommended" in shown
    assert "found nothing that clearly fits it" in shown


def test_bad_load_and_unknown_commands_are_one_line_and_the_session_goes_on(tmp_path):
    missing = tmp_path / "nope.txt"
    chat, out = session([f"/load {missing}", "/frobnicate", "/help", "/quit", "/help"], AgentSettings())
    chat.run()
    lines = out.getvalue().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors == [f"error: {missing}: no such file", "error: unknown command /frobnicate; type /help for the list"]
    assert out.getvalue().count("/upscale IMAGE [SCALE]") == 1  # /help ran once: nothing after /quit


def test_ctrl_c_cancels_an_answer_and_at_the_prompt_does_not_exit(monkeypatch):
    import agent.chat

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(agent.chat, "answer_question", interrupted)
    replies = iter(["a question", KeyboardInterrupt, "/help"])

    def read_line() -> str:
        item = next(replies, None)
        if item is None:
            raise EOFError
        if item is KeyboardInterrupt:
            raise KeyboardInterrupt
        return item

    out = io.StringIO()
    chat = ChatSession(read_line, Console(file=out, width=100), AgentSettings(SCIENTIST_BACKEND="offline"))
    chat.run()
    assert "(answer cancelled)" in out.getvalue()
    assert "/upscale IMAGE [SCALE]" in out.getvalue()  # the prompt came back after Ctrl-C
    assert chat.history == []


def test_real_terminal_session_with_pexpect(demo_cache):
    pexpect = pytest.importorskip("pexpect")
    env = {**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm", "COLUMNS": "120"}
    child = pexpect.spawn(
        sys.executable, ["-m", "agent.cli", "chat", str(SEED), "--backend", "offline"],
        cwd=str(ROOT), env=env, encoding="utf-8", timeout=30, dimensions=(40, 160),
    )  # fmt: skip
    try:
        child.expect("scientist>")
        child.sendline("/sources")
        child.expect("https://github.com/yinboc/liif")
        child.expect("scientist>")
        child.sendline("/quit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


def test_an_unexpected_failure_is_one_line_and_the_session_goes_on(monkeypatch, tmp_path):
    """A hostile file (a lone surrogate, links in names) loads and answers; a crash inside one answer is one
    error line and the next line is still answered."""
    hostile = tmp_path / "hostile.json"
    hostile.write_text(
        '{"question": "Enlarge? \\ud800 [x](https://evil.example)", '
        '"models": [{"name": "LIIF <img src=//evil.example>", "paper": "https://arxiv.org/abs/2012.09161"}]}'
    )
    calls = iter([RuntimeError("boom\nsecond line")])
    real = ChatSession.answer_offline_or_first

    def sometimes_fails(self, text):
        failure = next(calls, None)
        if failure:
            raise failure
        return real(self, text)

    monkeypatch.setattr(ChatSession, "answer_offline_or_first", sometimes_fails)
    settings = AgentSettings(backend="offline")
    chat, out = session([f"/load {hostile}", "first", "", "/quit"], settings, AskOptions(tools=False))
    chat.run()
    printed = out.getvalue()
    assert "error: boom (unexpected; the chat goes on" in printed
    assert "second line" not in printed and "Traceback" not in printed
    assert chat.answer is not None and "https://evil" not in " ".join(chat.answer.links)
    assert "\ud800" not in printed
