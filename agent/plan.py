"""Which tools to run, decided from the recommended models and their cards alone:
a recommended super-resolution model gets one measured LIIF run; nothing else runs a tool.
Related papers never trigger a tool (FeatSharp upsamples features, not pictures)."""

from __future__ import annotations

import re

from agent.liif_tool import DEMO_IMAGE, TOOL_NAME
from agent.schema import Evidence, ModelCard, Plan, ToolRequest

SUPER_RESOLUTION = re.compile(r"super[- ]?resolution|\bsisr\b|\bliif\b|upscal|upsampl\w* images?", re.IGNORECASE)


def is_super_resolution(evidence: Evidence) -> bool:
    for record in evidence.question.models:
        card = evidence.cards.get(record.name)
        if isinstance(card, ModelCard):
            if card.tool == TOOL_NAME or card.task == "image-super-resolution":
                return True
        elif SUPER_RESOLUTION.search(f"{record.name} {record.summary or ''}"):
            return True
    return False


def make_plan(evidence: Evidence, image: str | None = None, weights: str | None = None, tools: bool = True) -> Plan:
    if not tools or not is_super_resolution(evidence):
        return Plan()
    arguments = {"image": image or DEMO_IMAGE}
    if weights:
        arguments["weights"] = weights
    return Plan(tools=[ToolRequest(name=TOOL_NAME, arguments=arguments)])
