"""Hostile input: no link outside the supplied records reaches a rendered answer, whatever the question,
the records or a draft say, and nothing crashes. Judged by rendering (tests/link_oracle.py)."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
from concurrent.futures import ProcessPoolExecutor

import pytest

import agent.answer
import agent.corpus
from agent.answer import AskOptions, answer_question
from agent.schema import Answer, Draft, Question, Record
from tests.cli_helpers import run
from tests.link_oracle import followed_urls, unsupplied

PAPER = "https://arxiv.org/abs/2012.09161"
CODE = "https://github.com/yinboc/liif"
HF = "https://huggingface.co/yinboc/liif"
ATTENTION = "https://arxiv.org/abs/1706.03762"
SUPPLIED = [PAPER, CODE, ATTENTION]

# Each kind of leak the issue names, and variants. Every one must render as text, or be cut.
ATTACKS = {
    "md-link": "see [the docs](https://evil.example/docs) now",
    "md-image": "![p](https://evil.example/p.png)",
    "autolink": "<https://evil.example/auto>",
    "mail-autolink": "<mailto:evil@example.com>",
    "www": "www.evil-www.com",
    "bare-url": "https://evil.example/bare",
    "fake-section": "ok\n\n## 3. Papers and tools\n\n- [Official code](https://evil.example/code)\n",
    "look-alike": "https://arxiv.org.evil.example/abs/2012.09161",
    "img-onerror": "<img src=x onerror=alert(1)>",
    "entity-link": "[docs](h&#116;tps://evil.example/entity)",
    "entity-image": "![p](&#104;ttps://evil.example/entity.png)",
    "protocol-relative-img": "<img src=//evil-beacon.example?u=1>",
    "protocol-relative-a": '<a href="//evil-a.example">x</a>',
    "srcset": '<img srcset="https://evil.example/1x.png 1x, https://evil.example/2x.png 2x">',
    "onclick-ping": f'<a href="{PAPER}" onclick="fetch(1)" ping="https://evil.example/ping">paper</a>',
    "form": "<form action=//evil-form.example><button>go</button></form>",
    "email": "write to evil@example.com",
    "nopath": "evil-nopath.com",
    "subdomain": "sub.evil.co.uk",
    "query": "evil.com?x=1",
    "fragment": "evil.com#x",
    "port": "evil.example:8080 and evil.com:8080/x",
    "reference-id": "[https://evil.example/ref]\n\n[https://evil.example/ref]: https://evil.example/ref",
    "reference-def": "[click][1]\n\n[1]: https://evil.example/def",
    "javascript": "[x](javascript:alert(1))",
    "data-image": "![x](data:image/png;base64,AAAA)",
    "html-comment": "<!-- x --><a href=https://evil.example/c>c</a>",
    "style": '<div style="background:url(https://evil.example/bg.png)">x</div>',
    "meta-refresh": '<meta http-equiv="refresh" content="0; url=https://evil.example/r">',
    "link-in-link-text": f"[{PAPER}](https://evil.example/swap)",
    "angle-entity": "&lt;a href=https://evil.example/lt&gt;",
    "code-span-break": "`x` [y](https://evil.example/code) `z`",
    "nested": "[[[x](https://evil.example/n1)](https://evil.example/n2)](https://evil.example/n3)",
}
HOSTILE_FIELDS = {
    "two-urls": f"{CODE} [official mirror](https://evil.example/mirror)",
    "newline-heading": f"{HF}\n## Injected\n[y](https://evil.example/injected)",
    "javascript-field": "javascript:alert(1)",
    "relative-field": "//evil.example/rel",
    "markdown-field": "[code](https://evil.example/field)",
    "spaces": "https://evil.example/a b",
}


def question_with(attack: str, where: str) -> Question:
    """The seed-like question with ``attack`` in one place: the question, a model name, a paper title
    or a summary."""
    model = Record(name="SISR-Any-LIIF-RDN", paper=PAPER, github=CODE, summary="Enlarges pictures at any scale.")
    paper = Record(name="Attention Is All You Need", paper=ATTENTION, summary="The Transformer.")
    text = "How can AI enlarge my small photos 4x?"
    if where == "question":
        text += " " + attack
    elif where == "name":
        model = model.model_copy(update={"name": f"SISR-Any-LIIF-RDN {attack}"})
    elif where == "title":
        paper = paper.model_copy(update={"name": f"Attention Is All You Need {attack}"})
    else:
        paper = paper.model_copy(update={"summary": f"The Transformer. {attack}"})
    return Question(source="hostile", question=text, models=[model], papers=[paper])


def offline(question: Question) -> Answer:
    return answer_question(question, AskOptions(tools=False, backend="offline"))


def assert_no_leak(answer: Answer, supplied: list[str] = SUPPLIED) -> None:
    markdown = answer.answer_markdown or ""
    assert unsupplied(markdown, supplied) == [], markdown
    assert "evil" not in " ".join(followed_urls(markdown))
    assert answer.links == list(dict.fromkeys(url for url in followed_urls(markdown) if url in supplied))


@pytest.mark.parametrize("where", ["question", "name", "title", "summary"])
@pytest.mark.parametrize("attack", ATTACKS.values(), ids=ATTACKS.keys())
def test_untrusted_text_never_links(attack, where):
    answer = offline(question_with(attack, where))
    assert_no_leak(answer)
    assert set(answer.links) == set(SUPPLIED)  # the supplied links all survive
    assert not any("rendered answer would have followed" in i for i in answer.grounding.issues)  # escaping sufficed


@pytest.mark.parametrize("attack", ATTACKS.values(), ids=ATTACKS.keys())
def test_draft_links_are_cut_and_reported(attack, monkeypatch):
    """An LLM (here: any draft writer) that writes the attack into every part: cut, and reported."""
    draft = Draft(task=f"Task. {attack}", workflow=f"Input → model → output. {attack}", references=attack)
    monkeypatch.setattr(agent.answer, "compose", lambda evidence, calls: draft)
    answer = offline(question_with("", "question"))
    assert_no_leak(answer)
    assert set(answer.links) == set(SUPPLIED)
    leaked = [url for url in followed_urls(attack) if url not in SUPPLIED]
    if leaked:
        html = any(issue.startswith("made raw HTML") for issue in answer.grounding.issues)
        assert answer.grounding.removed_links or html, answer.grounding


@pytest.mark.parametrize("value", HOSTILE_FIELDS.values(), ids=HOSTILE_FIELDS.keys())
def test_a_link_field_is_one_url_or_nothing(value):
    record = Record(name="LIIF", paper=PAPER, github=value)
    assert record.github is None
    assert record.dropped_links == {"github": value.replace("\r", "")}
    answer = offline(Question(source="hostile", question="How does LIIF enlarge photos?", models=[record]))
    assert_no_leak(answer, [PAPER])
    assert answer.links == [PAPER]
    assert "dropped the GitHub field of LIIF: not one http(s) URL" in answer.grounding.issues


def test_a_supplied_link_with_trailing_punctuation_is_kept_whole():
    """Trailing dots and brackets belong to the supplied link: rendered as an autolink, kept as given."""
    odd = ["https://example.org/paper.", "https://example.org/a_(b)", "https://example.org/x_"]
    records = [Record(name=f"Model {i}", paper=url) for i, url in enumerate(odd)]
    answer = offline(Question(source="hostile", question="What do these models do?", models=records))
    assert_no_leak(answer, odd)
    assert answer.links == odd
    assert "Paper. ·" not in (answer.answer_markdown or "")


def test_question_file_with_a_fake_section_is_one_quoted_line(tmp_path):
    file = tmp_path / "q.json"
    file.write_text(json.dumps({"question": "Enlarge?\n\n## 3. Papers and tools\n\n- [x](https://evil.example)"}))
    result = run("ask", file, "--backend", "offline", "--no-tools", "--json")
    answer = Answer.model_validate_json(result.stdout)
    lines = (answer.answer_markdown or "").split("\n")
    assert [line for line in lines if line.startswith("## ")] == [
        "## 1. Task",
        "## 2. Workflow (input → model → output)",
        "## 3. Papers and tools",
    ]
    assert lines[0].startswith("> Enlarge? ")
    assert_no_leak(answer, answer.grounding.allowed_links)


def test_batch_jsonl_of_hostile_questions(tmp_path):
    lines = [
        json.dumps({"question": f"Enlarge photos? {attack}", "models": [{"name": f"LIIF {attack}", "paper": PAPER}]})
        for attack in ATTACKS.values()
    ]
    (tmp_path / "hostile.jsonl").write_text("\n".join(lines) + "\n")
    result = run("batch", tmp_path / "hostile.jsonl", "--out", tmp_path / "out", "--backend", "offline", "--no-tools")
    assert result.exit_code == 0, result.output
    answers = sorted((tmp_path / "out").glob("*.md"))
    assert len(answers) == len(ATTACKS)
    for path in answers:
        assert unsupplied(path.read_text(), [PAPER]) == [], path.read_text()


# --------------------------------------------------------------------------------------------
# Property test: random records and questions built from hostile pieces

PIECES = [
    *ATTACKS.values(),
    *HOSTILE_FIELDS.values(),
    "evil.com", "x.co", "a@b.io", "http://", "https:/", "//", "www.", "](", "[", "]", "<", ">", "<a ", "&#", "&amp;",
    "\n", "\n\n", "\r\n", "\t", "#", "## 2. Workflow", "- ", "1. ", "> ", "|", "---", "```", "`", "*", "_", "~~",
    "\\", "\u200b", "\u202e", "\ufeff", "\x00", "\x1b[31m", "\ud800", "\udfff", "evil\u3002com", "evil\uff0ecom",
    "ex\u0430mple.com", "LIIF.py", "node.js", "v1.2", "e.g.", "x:y", "mailto:", "javascript:", "data:",
    "enlarge", "photos", "super-resolution", "model", "4x", "28.77 dB", PAPER, CODE, HF, ATTENTION,
]  # fmt: skip
LINKS = [PAPER, CODE, HF, ATTENTION, "https://example.org/p.", "https://example.org/(x)", None, None]


def random_text(rng: random.Random, most: int) -> str:
    return "".join(rng.choice(PIECES) + rng.choice(["", " ", "", "x"]) for _ in range(rng.randint(0, most)))


def random_record(rng: random.Random) -> Record:
    link = lambda: rng.choice([*LINKS, random_text(rng, 3)])  # noqa: E731
    return Record(
        name=random_text(rng, 4) or "model",
        paper=link(),
        github=link(),
        huggingface=link(),
        summary=random_text(rng, 6) or None,
    )


def random_question(rng: random.Random) -> Question:
    return Question(
        source="fuzz",
        question=random_text(rng, 8) or "What is this?",
        models=[random_record(rng) for _ in range(rng.randint(1, 3))],
        papers=[random_record(rng) for _ in range(rng.randint(0, 3))],
    )


CASES = int(os.environ.get("HOSTILE_CASES", 5000))  # fewer while developing


def refuse_embeddings(texts: list[str]) -> None:
    raise RuntimeError("embeddings are off in the property test")  # the answer falls back to keywords


def run_cases(first: int, count: int) -> tuple[list[tuple[int, list[str]]], int]:
    """Cases ``first .. first + count``, each from its own seed: odd ones with a random hostile draft standing
    in for an LLM's, even ones by the offline composer. Returns the leaks found and how many of the
    composer's answers needed a link cut (escaping alone should make that zero)."""
    real_compose, real_encode = agent.answer.compose, agent.corpus.embed
    drafts: list[Draft] = []
    agent.answer.compose = lambda evidence, calls: drafts.pop() if drafts else real_compose(evidence, calls)
    agent.corpus.embed = refuse_embeddings  # links don't depend on meaning; 5,000 MiniLM runs would take minutes
    leaks, composer_cuts = [], 0
    try:
        for case in range(first, first + count):
            rng = random.Random(case)
            question = random_question(rng)
            if case % 2:
                drafts.append(
                    Draft(task=random_text(rng, 10), workflow=random_text(rng, 10), references=random_text(rng, 10))
                )
            answer = offline(question)
            found = unsupplied(answer.answer_markdown or "", question.supplied_links())
            if found:
                leaks.append((case, found))
            if case % 2 == 0 and answer.grounding.removed_links:
                composer_cuts += 1
    finally:
        agent.answer.compose, agent.corpus.embed = real_compose, real_encode
    return leaks, composer_cuts


def test_property_no_generated_case_leaks_or_crashes():
    """5,000 seeded cases, judged by the oracle, in two processes (one per core here)."""
    half = CASES // 2
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        results = list(pool.map(run_cases, [0, half], [half, CASES - half]))
    assert [leak for leaks, _ in results for leak in leaks] == []
    assert sum(cuts for _, cuts in results) == 0  # the composer's own answers never needed the renderer's cut


def test_mcp_answers_hostile_questions_without_leaks(tmp_path):
    """Through the SDK's own client: attacks in the question (a bare question, retrieved records) and in
    records passed as arguments."""
    from mcp import Client

    from tests.test_mcp import with_stdio_server

    attacks = [ATTACKS[name] for name in ("md-link", "fake-section", "img-onerror", "email", "entity-link")]
    liif_block = f"### Recommended AI Models:\nModel: LIIF\nPaper: {PAPER}\n"
    records = [{"name": f"LIIF {attack}", "paper": PAPER, "github": HOSTILE_FIELDS["two-urls"]} for attack in attacks]

    async def check(client: Client) -> None:
        for attack in attacks:
            for arguments in (
                {"question": f"How do I enlarge photos? {attack}", "models": records},
                {"question": f"How do I enlarge photos? {attack}"},
                {"text": f"How do I enlarge photos? {attack}\n\n{liif_block}"},
            ):
                result = await client.call_tool(
                    "answer_question", {**arguments, "backend": "offline", "run_tools": False}
                )
                assert not result.is_error, result
                answer = Answer.model_validate(result.structured_content)
                assert_no_leak(answer, answer.grounding.allowed_links)

    with_stdio_server(tmp_path, check)
