"""``ask_ai_scientist``: the agent as a LangChain tool another agent can bind."""

from __future__ import annotations

from langchain_core.messages import ToolMessage

from agent.langchain_tool import TOOL_NAME, scientist_tool
from agent.settings import AgentSettings
from tests.seed import SEED_LINKS

OFFLINE = AgentSettings(SCIENTIST_BACKEND="offline")
ARGS = {
    "question": "I used to avoid enlarging small pictures, but now AI makes them look great at 4x. How?",
    "models": [{"name": "SISR-Any-LIIF-RDN", "paper": SEED_LINKS[0], "github": SEED_LINKS[1]}],
    "papers": [{"name": "FeatSharp: Your Vision Model Features, Sharper", "paper": SEED_LINKS[2]}],
    "run_tools": False,
}


def test_schema_names_the_arguments():
    tool = scientist_tool(OFFLINE)
    assert tool.name == TOOL_NAME
    assert set(tool.args) == {"question", "models", "papers", "run_tools"}
    assert tool.tool_call_schema.model_json_schema()["required"] == ["question"]


def test_invoke_returns_the_grounded_markdown():
    markdown = scientist_tool(OFFLINE).invoke(ARGS)
    for part in ("1. Task", "2. Workflow", "3. Papers and tools"):
        assert part in markdown
    for link in SEED_LINKS[:3]:
        assert link in markdown
    assert "http://arxiv.org/pdf/2304.05538v4.pdf" not in markdown  # not supplied here


def test_tool_call_carries_the_record_as_artifact():
    message = scientist_tool(OFFLINE).invoke({"type": "tool_call", "id": "call-1", "name": TOOL_NAME, "args": ARGS})
    assert isinstance(message, ToolMessage) and message.tool_call_id == "call-1"
    record = message.artifact
    assert record["answer_markdown"] == message.content
    assert record["grounding"]["ok"] and sorted(record["links"]) == sorted(SEED_LINKS[:3])
    assert record["tool_calls"] == [] and record["source"] == "langchain"


def test_a_bare_question_is_enough(demo_cache):
    markdown = scientist_tool(OFFLINE).invoke({"question": "How does my music app guess the next song?"})
    assert "1. Task" in markdown
