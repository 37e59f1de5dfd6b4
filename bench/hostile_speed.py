"""How long hostile input takes to answer (offline composer, no tool), in one run.

- a model name of ``"<a " * 20000`` (60 KB), through the guard alone and through a whole answer;
- 500, 1,000 and 2,000 records, to show the cost grows linearly (the ratio per doubling should be ~2);
- 1 MB of hostile text as the question, as one summary, and as a draft standing in for an LLM's.

Usage: python bench/hostile_speed.py
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import agent.answer
from agent.answer import AskOptions, answer_question, build_evidence
from agent.compose import compose
from agent.guard import guard
from agent.schema import Draft, Question, Record
from agent.settings import AgentSettings

PIECES = [
    "[x](https://evil.example/a)", "<a href=//evil.example>", "evil.com", "www.evil.com", "a@b.io", "](", "[", "<a ",
    "&#104;", "\n", "## 3. Papers", "`", "*", "_", "enlarge", "photos", "4x", "28.77 dB", "https://arxiv.org/abs/1",
]  # fmt: skip


def hostile(rng: random.Random, size: int) -> str:
    parts, length = [], 0
    while length < size:
        piece = rng.choice(PIECES) + " "
        parts.append(piece)
        length += len(piece)
    return "".join(parts)[:size]


def timed(label: str, work) -> float:
    started = time.perf_counter()
    answer = work()
    seconds = time.perf_counter() - started
    size = len(getattr(answer, "answer_markdown", None) or "")
    print(f"{label:<52} {seconds:7.2f} s" + (f"   ({size:,} characters of answer)" if size else ""))
    return seconds


def offline(question: Question):
    return answer_question(question, AskOptions(tools=False, backend="offline"))


def records(count: int) -> Question:
    models = [Record(name=f"Model-{i}", paper=f"https://arxiv.org/abs/2101.{i:05d}") for i in range(count // 4)]
    papers = [
        Record(name=f"Paper {i}: on enlarging pictures", paper=f"https://arxiv.org/abs/2201.{i:05d}", summary="x " * 40)
        for i in range(count - count // 4)
    ]
    return Question(source="bench", question="How do I enlarge photos 4x?", models=models, papers=papers)


def main() -> None:
    rng = random.Random(0)
    offline(records(4))  # warm imports and the corpus
    tags = "<a " * 20000
    question = Question(source="bench", question="Enlarge photos?", models=[Record(name=tags, paper="https://a.org/x")])
    evidence = build_evidence(question, AgentSettings())
    draft = compose(evidence, [])
    timed('guard, model name "<a " * 20000', lambda: guard(draft, question, [], []))
    timed('whole answer, model name "<a " * 20000', lambda: offline(question))

    times = {}
    for count in (500, 1000, 2000):
        times[count] = timed(f"whole answer, {count:,} records", lambda c=count: offline(records(c)))
    print(f"ratio 1,000/500: {times[1000] / times[500]:.2f}; 2,000/1,000: {times[2000] / times[1000]:.2f} (linear: ~2)")

    megabyte = hostile(rng, 1_000_000)
    liif = [Record(name="LIIF", paper="https://a.org/x")]
    big_question = Question(source="bench", question=megabyte, models=liif)
    timed("whole answer, 1 MB hostile question", lambda: offline(big_question))
    big_summary = [Record(name="LIIF", paper="https://a.org/x", summary=megabyte)]
    timed("whole answer, 1 MB hostile summary", lambda: offline(question.model_copy(update={"models": big_summary})))
    third = len(megabyte) // 3
    llm = Draft(task=megabyte[:third], workflow=megabyte[third : 2 * third], references=megabyte[2 * third :])
    agent.answer.compose = lambda evidence, calls: llm  # a draft writer that returns 1 MB of hostile text
    timed("whole answer, 1 MB hostile draft", lambda: offline(question.model_copy(update={"models": liif})))


if __name__ == "__main__":
    main()
