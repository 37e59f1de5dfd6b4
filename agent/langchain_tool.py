"""The AI scientist as a LangChain tool, for other agents to bind.

    from langchain_openai import ChatOpenAI
    from agent.langchain_tool import scientist_tool

    tool = scientist_tool()  # ask_ai_scientist
    markdown = tool.invoke({
        "question": "How can AI make my small photos 4x bigger?",
        "models": [{"name": "SISR-Any-LIIF-RDN", "paper": "https://arxiv.org/pdf/2012.09161",
                    "github": "https://github.com/yinboc/liif"}],
        "run_tools": False,
    })
    print(markdown)  # the three-part answer: 1. Task, 2. Workflow, 3. Papers and tools

    agent_llm = ChatOpenAI(model="gpt-4o-mini").bind_tools([tool])  # or any LangChain agent

Called by a model (a ``ToolCall``), the tool returns a ``ToolMessage`` whose content is the Markdown
answer and whose ``artifact`` is the full answer record (links, grounding report, tool runs).
"""

from __future__ import annotations

from typing import Any

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from agent.answer import AskOptions, answer_question
from agent.schema import Question, Record
from agent.settings import AgentSettings

TOOL_NAME = "ask_ai_scientist"
DESCRIPTION = (
    "Ask an AI scientist about AI models. Give the user's question and the recommended models and "
    "related papers (name plus paper/github/huggingface links and a summary). Returns a grounded "
    "Markdown answer in three parts (the task, the input → model → output workflow, the papers and "
    "tools) that uses only the supplied links; super-resolution answers are proven by a local LIIF run."
)


class ScientistArgs(BaseModel):
    question: str = Field(description="The user's question, in their own words.")
    models: list[Record] = Field(default_factory=list, description="Recommended models: name, paper, github, ...")
    papers: list[Record] = Field(default_factory=list, description="Related papers: name (title), paper, summary")
    run_tools: bool = Field(True, description="Run the LIIF demo when the question is about super-resolution.")


def scientist_tool(settings: AgentSettings | None = None) -> StructuredTool:
    """``ask_ai_scientist``: content is the Markdown answer, the artifact is the answer record (a dict)."""

    def ask(
        question: str, models: list[Record] | None = None, papers: list[Record] | None = None, run_tools: bool = True
    ) -> tuple[str, dict[str, Any]]:
        asked = Question(source="langchain", question=question.strip(), models=models or [], papers=papers or [])
        answer = answer_question(asked, AskOptions(tools=run_tools), settings)
        return answer.answer_markdown or "", answer.model_dump(mode="json")

    return StructuredTool.from_function(
        func=ask, name=TOOL_NAME, description=DESCRIPTION, args_schema=ScientistArgs,
        response_format="content_and_artifact",
    )  # fmt: skip
