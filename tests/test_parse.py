"""Question parsing: the seed format, its hand-edited variants, JSON/YAML, bad inputs, sources, clipping."""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

import pytest

from agent.errors import QuestionError
from agent.parse import MAX_FIELD_CHARS, clip, load_question, parse_question_text
from agent.schema import Question
from tests.seed import EXAMPLES, SEED, SEED_LINKS, SEED_QUESTION

INSTRUCTIONS = "You are an AI scientist.\n\nA user has asked the following question:\n"
TAIL = "\n\nBased on the following recommended models, explain:\n\n1. What task.\n\n"


def seed_like(models: str, papers: str = "", question: str = '"How does it work?"') -> str:
    blocks = f"### Recommended AI Models:\n{models}\n\n### Related Papers:\n{papers}\n\nAnswer:\n"
    return f"{INSTRUCTIONS}{question}{TAIL}{blocks}"


def content(question: Question) -> dict:
    return question.model_dump(exclude={"source"})


# -- the seed ------------------------------------------------------------------------------------


def test_seed_parses_exactly() -> None:
    q = load_question(str(SEED))
    assert q.source == str(SEED)
    assert q.question == SEED_QUESTION
    assert [m.model_dump() for m in q.models] == [
        {
            "name": "SISR-Any-LIIF-RDN",
            "paper": "https://arxiv.org/pdf/2012.09161",
            "github": "https://github.com/yinboc/liif",
            "huggingface": None,
            "summary": None,
            "dropped_links": {},
        }
    ]
    assert [p.name for p in q.papers] == [
        "FeatSharp: Your Vision Model Features, Sharper",
        "ImageNet-Hard: The Hardest Images Remaining from a Study of the Power of Zoom and Spatial Biases in "
        "Image Classification",
        "Speeding Up Image Classifiers with Little Companions",
    ]
    assert [p.paper for p in q.papers] == SEED_LINKS[2:]
    assert all(p.summary and p.github is None and p.huggingface is None for p in q.papers)
    assert q.papers[0].summary.startswith("The feature maps of vision encoders")
    assert q.papers[2].summary.endswith("simple practical method for large model compression.")
    assert q.supplied_links() == SEED_LINKS


def test_seed_is_the_same_as_json_and_yaml() -> None:
    text = load_question(str(SEED))
    assert content(load_question(str(EXAMPLES / "4x-upscale.json"))) == content(text)
    assert content(load_question(str(EXAMPLES / "4x-upscale.yaml"))) == content(text)


def test_crlf_and_bom_give_the_seed() -> None:
    raw = SEED.read_text(encoding="utf-8")
    expected = content(parse_question_text(raw))
    assert content(parse_question_text("\ufeff" + raw.replace("\n", "\r\n"))) == expected


# -- variants of the text format -----------------------------------------------------------------


def test_bold_keys_bullets_and_tolerant_headers() -> None:
    text = (
        '"How does it work?"\n\n'
        "## recommended ai models\n"
        "- **Model:** **SISR-Any-LIIF-RDN**\n"
        "- **Paper**: <https://arxiv.org/pdf/2012.09161>\n"
        "- *GitHub:* https://github.com/yinboc/liif\n\n"
        "**Related Papers**\n"
        "* MODEL: FeatSharp\n"
        "* paper: http://arxiv.org/pdf/2502.16025v1.pdf\n"
        "* Summary: __Sharper features.__\n"
    )
    q = parse_question_text(text)
    assert q.question == "How does it work?"
    assert q.models[0].name == "SISR-Any-LIIF-RDN"
    assert q.models[0].links() == SEED_LINKS[1:2]  # a link field is one URL and nothing else, <> included
    assert q.models[0].dropped_links == {"paper": f"<{SEED_LINKS[0]}>"}
    assert [(p.name, p.paper, p.summary) for p in q.papers] == [
        ("FeatSharp", "http://arxiv.org/pdf/2502.16025v1.pdf", "Sharper features.")
    ]


@pytest.mark.parametrize(
    ("models_header", "papers_header"),
    [
        ("Recommended Model", "Related paper:"),
        ("AI Models:", "**Papers:**"),
        ("###recommended models", "## Related Papers"),
        ("**Recommended AI Models:**", "__Related Papers__:"),
    ],
)
def test_header_spellings(models_header: str, papers_header: str) -> None:
    text = f"Why?\n\n{models_header}\nModel: M\n\n{papers_header}\nTitle: P\n"
    q = parse_question_text(text)
    assert ([m.name for m in q.models], [p.name for p in q.papers]) == (["M"], ["P"])


def test_no_instruction_lines_first_lines_are_the_question() -> None:
    text = "How do phones\nturn voice into text?\n\n### Recommended AI Models\nModel: Whisper\n"
    q = parse_question_text(text)
    assert q.question == "How do phones turn voice into text?"
    assert [m.name for m in q.models] == ["Whisper"]


def test_question_only_is_fine() -> None:
    assert parse_question_text("What is super-resolution?\n").question == "What is super-resolution?"


@pytest.mark.parametrize(
    "quoted",
    ["“How does it work?”", "'How does it work?'", "How does it work?", '"How does\nit work?"'],
)
def test_question_quotes_curly_straight_absent_or_multiline(quoted: str) -> None:
    assert parse_question_text(seed_like("Model: X", question=quoted)).question == "How does it work?"


def test_question_on_the_instruction_line_keeps_inner_quotes() -> None:
    text = 'A user has asked the following question: "What does "4x" mean here?"\n\nModel: ignored\n'
    assert parse_question_text(text).question == 'What does "4x" mean here?'


def test_missing_empty_and_not_available_fields_are_none() -> None:
    q = parse_question_text(seed_like("Model: A\nGitHub:\nHuggingFace: N/A\nPaper: None\nSummary: -"))
    assert q.models[0].model_dump() == {
        "name": "A",
        "paper": None,
        "github": None,
        "huggingface": None,
        "summary": None,
        "dropped_links": {},
    }
    assert q.supplied_links() == []


def test_multiline_summary_stops_at_the_next_key() -> None:
    papers = (
        "Title: P1\nPaper: https://arxiv.org/abs/1\nSummary: First line\ncontinues here.\n\nSecond paragraph.\n"
        "GitHub: https://github.com/a/b\nnot part of the summary\n\n"
        "Model: P2\nSummary:\nStarts on the next line.\n"
    )
    q = parse_question_text(seed_like("Model: M", papers))
    assert [p.name for p in q.papers] == ["P1", "P2"]
    assert q.papers[0].summary == "First line\ncontinues here.\n\nSecond paragraph."
    assert q.papers[0].github == "https://github.com/a/b"
    assert q.papers[1].summary == "Starts on the next line."


def test_a_record_starts_at_each_name_line_or_repeated_key() -> None:
    papers = "Paper: https://a.org/1\nTitle: First\nTitle: Second\nPaper: https://a.org/2\n"
    q = parse_question_text(seed_like("Model: M", papers))
    assert [(p.name, p.paper) for p in q.papers] == [("First", "https://a.org/1"), ("Second", "https://a.org/2")]


def test_duplicates_merged_first_kept_gaps_filled_links_verbatim() -> None:
    models = (
        "Model: LIIF\nPaper: https://arxiv.org/pdf/2012.09161\n\nModel: liif\nGitHub: https://github.com/yinboc/liif"
    )
    papers = (
        "Title: FeatSharp\nPaper: http://arxiv.org/pdf/2502.16025v1.pdf\n\n"
        "Title: FeatSharp (again)\nPaper: https://arxiv.org/abs/2502.16025/\nSummary: Filled in.\n\n"
        "Title: Other\nPaper: https://example.org/paper/\n\n"
        "Title: Other copy\nPaper: http://example.org/paper\n"
    )
    q = parse_question_text(seed_like(models, papers))
    assert [(m.name, m.paper, m.github) for m in q.models] == [
        ("LIIF", "https://arxiv.org/pdf/2012.09161", "https://github.com/yinboc/liif")
    ]
    assert [(p.name, p.paper, p.summary) for p in q.papers] == [
        ("FeatSharp", "http://arxiv.org/pdf/2502.16025v1.pdf", "Filled in."),
        ("Other", "https://example.org/paper/", None),
    ]


def test_other_headers_and_answer_line_are_ignored() -> None:
    text = seed_like("Model: M") + "### Notes\nModel: not a record\n**Answer:**\n"
    q = parse_question_text(text)
    assert [m.name for m in q.models] == ["M"]
    assert q.papers == []


def test_record_without_a_name_is_an_error() -> None:
    with pytest.raises(QuestionError, match=r"Related Papers.*no Model: or Title: line"):
        parse_question_text(seed_like("Model: M", "Paper: https://a.org/1\nSummary: orphan"))


# -- JSON and YAML ------------------------------------------------------------------------------


def test_json_key_aliases_and_nulls() -> None:
    data = {
        "Question": "  What is it?  ",
        "models": [{"Model Unique Name": "A", "GitHub": "https://github.com/a/a", "HuggingFace": None}],
        "papers": [{"Title": "P", "paper": "https://arxiv.org/abs/1", "Summary": "S"}, "Just a name"],
    }
    q = parse_question_text(json.dumps(data), source="q.json")
    assert q.source == "q.json"
    assert q.question == "What is it?"
    assert q.models[0].model_dump() == {
        "name": "A",
        "paper": None,
        "github": "https://github.com/a/a",
        "huggingface": None,
        "summary": None,
        "dropped_links": {},
    }
    assert [(p.name, p.paper, p.summary) for p in q.papers] == [
        ("P", "https://arxiv.org/abs/1", "S"),
        ("Just a name", None, None),
    ]


def test_yaml_records() -> None:
    text = "question: How?\nmodels:\n  - model: A\n    paper: https://arxiv.org/abs/1\npapers:\n"
    q = parse_question_text(text)
    assert (q.question, [m.name for m in q.models], q.papers) == ("How?", ["A"], [])


def test_text_with_a_question_label_is_not_taken_for_yaml() -> None:
    q = parse_question_text("Question: How?\n\n### Recommended AI Models:\nModel: A\nPaper: https://a.org/1\n")
    assert (q.question, [m.name for m in q.models]) == ("How?", ["A"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"models": []}', r"no question found \(JSON has no 'question' string\)"),
        ('{"question": 42}', r"no question found \(JSON has no 'question' string\)"),
        ("question:\n  - a list\n", r"no question found \(YAML has no 'question' string\)"),
        ('{"question": "Q", "models": {"name": "A"}}', r"'models' must be a list of records, not a mapping"),
        ('{"question": "Q", "models": [{"name": "A", "paper": 42}]}', r"models\[0\]\.paper: input should be"),
        ('{"question": "Q", "papers": [{"summary": "no name"}]}', r"papers\[0\]: record has no name"),
        ('{"question": "Q", "papers": [3]}', r"papers\[0\]: a record must be a mapping, not a number"),
        ('{"question": "Q",', r"invalid JSON"),
    ],
)
def test_bad_structured_input(text: str, message: str) -> None:
    with pytest.raises(QuestionError, match=message):
        parse_question_text(text)


# -- bad inputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "file is empty"),
        (" \n\t\r\n", "file is empty"),
        ("\ufeff\n", "file is empty"),
        ("PK\x03\x04\x00\x00binary", "binary data, not a question file"),
        ("\x01\x02\x03\ufffd\ufffd\x07\x08" * 50, "binary data, not a question file"),
        ("<!DOCTYPE html>\n<html><body>Not found</body></html>", "looks like HTML, not a question file"),
        ("  <html lang='en'><p>hi</p></html>", "looks like HTML, not a question file"),
        ("### Recommended AI Models:\nModel: A\n", r"no question found \(expected 'A user has asked"),
        ("A user has asked the following question:\n\n### Related Papers:\nModel: P\n", "no question found"),
    ],
)
def test_bad_text_input(text: str, message: str) -> None:
    with pytest.raises(QuestionError, match=message):
        parse_question_text(text)


def test_a_question_mentioning_html_is_still_a_question() -> None:
    question = "How do I turn <html> pages into text?"
    assert parse_question_text(question).question == question


# -- sources ------------------------------------------------------------------------------------


def test_load_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(SEED.read_text(encoding="utf-8")))
    q = load_question("-")
    assert (q.source, q.question, q.supplied_links()) == ("-", SEED_QUESTION, SEED_LINKS)


def test_empty_stdin_names_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    with pytest.raises(QuestionError, match=r"^stdin: file is empty$"):
        load_question("-")


def test_bare_question_is_inline() -> None:
    q = load_question("  How does my phone turn voice memos into text?  ")
    assert q == Question(source="inline", question="How does my phone turn voice memos into text?")


def test_very_long_bare_question_is_not_a_path_error() -> None:
    assert load_question("why " * 2000).source == "inline"


@pytest.mark.parametrize("missing", ["examples/nope.txt", "nope.yaml", "some/dir/question", "q.MD"])
def test_missing_path_is_an_error(missing: str) -> None:
    with pytest.raises(QuestionError, match=f"^{re.escape(missing)}: no such file$"):
        load_question(missing)


def test_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(QuestionError, match="is a directory, not a question file"):
        load_question(str(tmp_path))


def test_file_errors_start_with_the_path(tmp_path: Path) -> None:
    empty = tmp_path / "bad.txt"
    empty.write_bytes(b"")
    with pytest.raises(QuestionError, match=f"^{re.escape(str(empty))}: file is empty$"):
        load_question(str(empty))
    binary = tmp_path / "image.txt"
    binary.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(QuestionError, match=f"^{re.escape(str(binary))}: binary data, not a question file$"):
        load_question(str(binary))


def test_invalid_utf8_is_replaced_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("Qu'est-ce que la super-résolution ?".encode("latin-1"))
    assert load_question(str(path)).question == "Qu'est-ce que la super-r\ufffdsolution ?"


def test_empty_source_is_an_error() -> None:
    with pytest.raises(QuestionError, match="empty question"):
        load_question("  ")


# -- size ---------------------------------------------------------------------------------------


def test_clip_cuts_a_long_field_at_a_word_boundary() -> None:
    text = "word " * 200_000  # 1 MB
    clipped = clip(text)
    assert len(clipped) <= MAX_FIELD_CHARS
    assert clipped.endswith("word […]")
    assert clip("x" * 1_000_000, 100) == "x" * 96 + " […]"
    assert clip("short") == "short"
    assert clip(None) == ""


def test_parsing_a_5mb_summary_keeps_it_whole() -> None:
    summary = "lorem ipsum dolor " * 300_000
    q = parse_question_text(seed_like("Model: M", f"Model: P\nPaper: https://a.org/1\nSummary: {summary}"))
    assert q.papers[0].summary == summary.strip()
    many_lines = "\n".join(["a line of text: with a colon"] * 200_000)
    assert parse_question_text(seed_like("Model: M", f"Model: P\nSummary: x\n{many_lines}")).papers[0].summary


# -- examples -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(EXAMPLES.iterdir()), ids=lambda p: p.name)
def test_example_files_parse(path: Path) -> None:
    q = load_question(str(path))
    assert q.question.endswith("?")
    assert q.models and q.papers
    assert all(link.startswith(("http://", "https://")) for link in q.supplied_links())


def test_examples_cover_the_variants() -> None:
    raw = (EXAMPLES / "spot-objects.txt").read_bytes()
    assert b"\r\n" in raw and b"**Model:**" in raw
    yolo = load_question(str(EXAMPLES / "spot-objects.txt")).models[0]
    assert (yolo.name, yolo.github) == ("YOLOv3", "https://github.com/ultralytics/ultralytics")
    song = load_question(str(EXAMPLES / "next-song.txt")).models[0]
    assert (song.name, song.github, song.huggingface) == ("SASRec", None, None)


def test_a_json_list_is_not_a_question():
    with pytest.raises(QuestionError, match="JSON list"):
        parse_question_text('["a", "b"]')


def test_a_question_starting_with_a_bracket_is_still_a_question():
    question = parse_question_text("[Beginner] How does autocorrect know what I meant?")
    assert question.question.startswith("[Beginner]")


# -- text that cannot be stored or printed, and Python's own limits -------------------------------


def test_lone_surrogates_and_control_characters_are_cleaned_everywhere() -> None:
    """JSON's "\\ud800" decodes to a lone surrogate, which no UTF-8 writer accepts: the parser never passes one on."""
    record = {"name": "M\udfff", "summary": "a\x1bb\tc", "paper": "https://a.org/x\ud800y"}
    q = parse_question_text(json.dumps({"question": "Why \ud800?\x07", "models": [record]}), "odd\udcff.json")
    assert q.question == "Why \ufffd?"
    assert (q.models[0].name, q.models[0].summary) == ("M\ufffd", "ab\tc")
    assert q.source == "odd\ufffd.json"
    q.model_dump_json()  # encodable: this raised before
    seed = parse_question_text(seed_like("Model: A\x01\ud800\nPaper: https://a.org/1\x0c"))
    assert seed.models[0].name == "A\ufffd" and seed.models[0].paper == "https://a.org/1"
    assert load_question("a bare \ud800 question\x1b").question == "a bare \ufffd question"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000, "invalid JSON: nested too deeply to read"),
        ('{"question": "Q", "x": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001, "invalid JSON: nested too deeply"),
        ('{"question": "Q", "x": ' + "7" * 5000 + "}", "invalid JSON: a number has more than 4300 digits"),
        ("question: Q\nx: " + "7" * 5000 + "\n", "invalid YAML: a number has more than 4300 digits"),
    ],
)
def test_python_limits_are_plain_question_errors(text: str, message: str) -> None:
    with pytest.raises(QuestionError, match=re.escape(message)) as info:
        parse_question_text(text)
    assert "Error" not in str(info.value) and "sys." not in str(info.value)


def test_deep_yaml_on_the_pure_python_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without libyaml, PyYAML's Python loader recurses; the C one refuses deep nesting itself."""
    import yaml

    monkeypatch.delattr(yaml, "CSafeLoader")
    with pytest.raises(QuestionError, match="invalid YAML: nested too deeply to read"):
        parse_question_text("question: Q\nx: " + "[" * 100_000 + "]" * 100_000 + "\n")
