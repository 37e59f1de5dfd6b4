"""Retrieval over a catalog: the index, the hybrid search, evaluation, reranking and bare questions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from agent.answer import answer_question
from agent.catalog import Catalog
from agent.parse import load_question
from agent.retrieval import CONFIDENT, Retriever, retrieve_one
from agent.search_index import load_index
from agent.settings import AgentSettings
from tests.cli_helpers import assert_ok, assert_one_line_error, run
from tests.conftest import CATALOG
from tests.fakes.openai_server import FakeOpenAI, text

OFF_TOPIC = [
    "What's the capital of France?",
    "How do I fix a leaking tap?",
    "Who won the football world cup in 2018?",
    "Is coffee bad for you?",
]


def offline(root: Path) -> AgentSettings:
    return AgentSettings(SCIENTIST_BACKEND="offline", SCIENTIST_CORPUS=str(root))


@pytest.fixture
def corpus_copy(catalog_corpus: Path, tmp_path: Path) -> Path:
    """A private copy of the indexed catalog corpus, for tests that change it."""
    root = tmp_path / "corpus"
    shutil.copytree(catalog_corpus, root)
    return root


@pytest.mark.parametrize("questions", ["questions.json", "questions-heldout.json", "questions-blind.json"])
def test_recall_at_3_on_everyday_questions(catalog_corpus, questions):
    result = run("retrieve", "--corpus", catalog_corpus, "--queries", CATALOG / questions, "-k", "5", "--json")
    assert_ok(result)
    report = json.loads(result.stdout)
    asked = json.loads((CATALOG / questions).read_text())
    assert set(report["recall"]) == {"1", "3", "5"} and len(report["queries"]) == len(asked) >= 45
    assert report["recall"]["3"] >= 0.9, report["recall"]
    assert report["recall"]["1"] <= report["recall"]["3"] <= report["recall"]["5"]
    first = report["queries"][0]
    assert first["question"] == asked[0]["question"] and len(first["results"]) == 5
    assert set(first["results"][0]) == {"name", "kind", "score"} and first["results"][0]["kind"] == "model"
    scores = [hit["score"] for hit in first["results"]]
    assert scores == sorted(scores, reverse=True)


def test_recall_is_computed_not_assumed(catalog_corpus, tmp_path):
    queries = tmp_path / "q.json"
    queries.write_text(json.dumps([
        {"question": "How can I make a tiny photo bigger and sharp?", "expected": "SISR-Any-LIIF-RDN"},
        {"question": "How can I make a tiny photo bigger and sharp?", "expected": "Protein-AlphaFold2"},
        {"question": "Which model folds proteins?", "expected": "Not-In-The-Catalog"},
    ]))  # fmt: skip
    result = run("retrieve", "--corpus", catalog_corpus, "--queries", queries, "--json")
    report = json.loads(result.stdout)
    names = [[hit["name"] for hit in query["results"]] for query in report["queries"]]
    for k in (1, 3, 5):  # only the first query's expected model can be found, wherever it ranks
        assert report["recall"][str(k)] == pytest.approx(("SISR-Any-LIIF-RDN" in names[0][:k]) / 3, abs=1e-3)
    assert report["recall"]["5"] == pytest.approx(1 / 3, abs=1e-3)
    assert report["unknown_expected"] == ["Not-In-The-Catalog"]


def test_a_single_question_prints_ranked_results(catalog_corpus):
    result = run("retrieve", "how does my phone turn my voice into a text message?", "--corpus", catalog_corpus)
    assert_ok(result)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("confidence 0.") and "(confident)" in lines[0]
    assert lines[1].startswith("1. ") and "ASR-" in result.stdout.split("\n4.")[0]
    as_json = json.loads(run("retrieve", "voice to text", "-k", "2", "--corpus", catalog_corpus, "--json").stdout)
    assert len(as_json["results"]) == 2 and {"bm25", "semantic", "score", "task"} <= set(as_json["results"][0])


def test_taxonomy_expansion_reaches_a_record_words_alone_miss(catalog_corpus):
    """'karaoke' is in no record; the taxonomy reads it as source separation, whose name joins the query."""
    found = Retriever.open(catalog_corpus).search("Can I make a karaoke track of my favourite song?", k=3)
    assert "source-separation" in found.tasks
    assert found.results[0].name == "Sep-HTDemucs"


def test_off_topic_questions_are_not_confident(catalog_corpus):
    retriever = Retriever.open(catalog_corpus)
    for question in OFF_TOPIC:
        found = retriever.search(question)
        assert not found.confident and found.confidence < CONFIDENT, question


def test_adding_is_incremental(corpus_copy, tmp_path):
    before = load_index(corpus_copy)
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps([
        {"Model Unique Name": "Colorize-DeOldify", "Detailed Category": "Image Colorization",
         "Summary": "Adds plausible colour to black-and-white photos with a GAN.", "GitHub": "https://github.com/jantic/DeOldify"},
    ]))  # fmt: skip
    result = run("corpus", "add", extra, "--corpus", corpus_copy)
    assert_ok(result)
    assert f"{extra}: 1 added" in result.stdout and "1 embedded" in result.stdout
    after = load_index(corpus_copy)
    assert before is not None and after is not None
    assert len(after.digests) == len(before.digests) + 1
    np.testing.assert_array_equal(after.embeddings[:-1], before.embeddings)  # old vectors reused, not recomputed
    assert "coloris" in after.postings or "colorization" in after.postings or "colour" in after.postings
    again = run("corpus", "add", extra, "--corpus", corpus_copy)
    assert "1 already there" in again.stdout and "0 embedded" in again.stdout
    found = Retriever.open(corpus_copy).search("Can AI add colour to my grandfather's black and white photos?", k=1)
    assert found.results[0].name == "Colorize-DeOldify"


def test_a_missing_or_stale_index_is_rebuilt(corpus_copy):
    shutil.rmtree(corpus_copy / "index")
    result = run("corpus", "stats", "--corpus", corpus_copy, "--json")
    assert_ok(result)
    stats = json.loads(result.stdout)
    assert stats["records"] == 52 and stats["embedded_now"] == 52 and stats["tasks"] >= 15
    (corpus_copy / "index" / "embeddings.npy").write_bytes(b"garbage")
    assert load_index(corpus_copy) is None
    assert json.loads(run("corpus", "stats", "--corpus", corpus_copy, "--json").stdout)["embedded_now"] == 52
    assert json.loads(run("corpus", "stats", "--corpus", corpus_copy, "--json").stdout)["embedded_now"] == 0


def test_remove_takes_records_out_of_search(corpus_copy):
    result = run("corpus", "remove", "Sep-HTDemucs", "--corpus", corpus_copy)
    assert_ok(result)
    assert "removed: Sep-HTDemucs" in result.stdout
    found = Retriever.open(corpus_copy).search("pull the vocals out of a song", k=10)
    assert "Sep-HTDemucs" not in [hit.name for hit in found.results]
    assert len(load_index(corpus_copy).digests) == 51
    error = assert_one_line_error(run("corpus", "remove", "Sep-HTDemucs", "--corpus", corpus_copy))
    assert "Sep-HTDemucs" in error


def test_corpus_list(catalog_corpus):
    result = run("corpus", "list", "--corpus", catalog_corpus)
    assert_ok(result)
    assert len(result.stdout.splitlines()) == 52
    assert (
        "SISR-Any-LIIF-RDN  [model; Single Image Super-Resolution]  https://arxiv.org/pdf/2012.09161" in result.stdout
    )


def test_add_keeps_good_files_and_records_and_exits_1(tmp_path):
    root = tmp_path / "c"
    broken = tmp_path / "broken.json"
    broken.write_text("{oops")
    partly = tmp_path / "partly.json"
    partly.write_text(json.dumps([{"Model Unique Name": "Good-One", "Summary": "Turns speech into text."}, 42]))
    result = run("corpus", "add", broken, partly, tmp_path / "missing.json", "--corpus", root)
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = result.stderr.splitlines()
    assert len(errors) == 3 and all(line.startswith("error: ") for line in errors)
    assert str(broken) in errors[0] and f"{partly}: record 2" in errors[1] and "missing.json" in errors[2]
    assert [r.name for r in Catalog.load(root).records] == ["Good-One"]


def test_retrieve_usage_and_input_errors(catalog_corpus, tmp_path):
    both = run("retrieve", "q", "--queries", tmp_path / "x.json", "--corpus", catalog_corpus)
    assert both.exit_code == 2 and "either a QUESTION or --queries" in both.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"question": "not a list"}')
    assert_one_line_error(run("retrieve", "--queries", bad, "--corpus", catalog_corpus), bad)
    assert_one_line_error(run("retrieve", "hello", "--corpus", tmp_path / "empty"), "no catalog records")


def test_llm_reranks_the_candidates_in_openai_mode(catalog_corpus):
    with FakeOpenAI() as server:
        server.script([text('{"ranking": [3, 1]}')])
        settings = AgentSettings(OPENAI_BASE_URL=server.base_url, SCIENTIST_CORPUS=str(catalog_corpus))
        plain = retrieve_one("How can I make a tiny photo bigger?", settings.model_copy(update={"rerank": False}), 3)
        reranked = retrieve_one("How can I make a tiny photo bigger?", settings, 3)
        prompt = server.prompt("user")
    assert reranked.reranked and not plain.reranked
    names = [hit.name for hit in plain.results]
    assert [hit.name for hit in reranked.results] == [names[2], names[0], names[1]]
    assert "How can I make a tiny photo bigger?" in prompt and "<candidates>" in prompt and names[0] in prompt


def test_a_failed_rerank_keeps_the_hybrid_order_and_says_why(catalog_corpus):
    with FakeOpenAI() as server:
        server.script([text("I cannot rank these.")])
        settings = AgentSettings(OPENAI_BASE_URL=server.base_url, SCIENTIST_CORPUS=str(catalog_corpus))
        found = retrieve_one("How can I make a tiny photo bigger?", settings, 3)
    plain = retrieve_one("How can I make a tiny photo bigger?", offline(catalog_corpus), 3)
    assert not found.reranked and "names no candidate" in found.note
    assert [h.name for h in found.results] == [h.name for h in plain.results]


# -- bare questions answered from the shipped corpus -----------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "Can AI make a tiny picture bigger?",
        "how do I blow up a low-res photo for printing",
        "My pictures are too small, can I make them larger without blur?",
        "Can I upscale a thumbnail to poster size?",
        "Make my pixelated image high resolution",
        "I used to avoid enlarging small pictures, but now AI makes them look great even at 4x. What makes this work?",
    ],
)
def test_the_shipped_corpus_puts_liif_first_for_enlarging_photos(question):
    found = retrieve_one(question, AgentSettings(SCIENTIST_BACKEND="offline"), 3)
    assert found.confident and found.results[0].name == "SISR-Any-LIIF-RDN", found.results


def test_a_bare_question_about_enlarging_photos_gets_liif_and_its_demo(demo_cache):
    question = load_question("How can I enlarge my old small photos so they still look sharp?")
    answer = answer_question(question, settings=AgentSettings(SCIENTIST_BACKEND="offline"))
    assert answer.retrieval is not None and answer.retrieval.confident
    assert answer.retrieval.results[0].name == "SISR-Any-LIIF-RDN" and answer.retrieval.results[0].score > 0
    assert "searched our catalog: **SISR-Any-LIIF-RDN**" in answer.sections["task"]
    (call,) = answer.tool_calls
    assert call.name == "liif_upscale" and call.result["psnr_db"] > call.result["bicubic_psnr_db"]
    assert answer.grounding.ok
    assert "https://github.com/yinboc/liif" in answer.links
    supplied = {link for hit in answer.retrieval.results for link in _links(hit.name)}
    assert set(answer.links) <= supplied  # only the retrieved records' links


def test_bare_question_cli_json_carries_the_scores(demo_cache):
    result = run("ask", "Can AI make a tiny picture bigger?", "--backend", "offline", "--json", "--no-tools")
    assert_ok(result)
    record = json.loads(result.stdout)
    hits = record["retrieval"]["results"]
    assert hits[0]["name"] == "SISR-Any-LIIF-RDN" and {"score", "bm25", "semantic"} <= set(hits[0])
    assert record["retrieval"]["confident"] is True


def test_when_retrieval_is_not_confident_the_answer_says_so_and_recommends_nothing(catalog_corpus):
    question = load_question("What's the capital of France?")
    answer = answer_question(question, settings=offline(catalog_corpus))
    assert not answer.retrieval.confident
    assert "found nothing that clearly fits it" in answer.sections["task"]
    assert "(recommended model)" not in answer.sections["references"] and answer.tool_calls == []
    assert answer.grounding.ok


def test_supplied_records_are_never_replaced_by_retrieval(demo_cache):
    from tests.seed import SEED

    answer = answer_question(load_question(str(SEED)), settings=AgentSettings(SCIENTIST_BACKEND="offline"))
    assert answer.retrieval is None and "searched our catalog" not in answer.answer_markdown


def _links(name: str) -> list[str]:
    shipped = Catalog.load(Path(__file__).parent.parent / "corpus")
    return next(r for r in shipped.records if r.name == name).record().links()


def test_batch_answers_bare_questions_and_redoes_them_when_the_catalog_changes(corpus_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("SCIENTIST_CORPUS", str(corpus_copy))
    questions = tmp_path / "questions"
    questions.mkdir()
    (questions / "karaoke.json").write_text(json.dumps({"question": "Can I strip the singing out of a song?"}))
    out = tmp_path / "out"
    assert_ok(run("batch", questions, "--out", out, "--backend", "offline", "--no-tools"))
    record = json.loads((out / "karaoke.json").read_text())
    assert record["retrieval"]["results"][0]["name"] == "Sep-HTDemucs"
    assert "https://github.com/facebookresearch/demucs" in record["links"]
    assert_ok(run("batch", questions, "--out", out, "--backend", "offline", "--no-tools"))
    assert json.loads((out / "index.jsonl").read_text().splitlines()[-1])["status"] == "skipped"
    assert_ok(run("corpus", "remove", "Sep-HTDemucs", "--corpus", corpus_copy))
    assert_ok(run("batch", questions, "--out", out, "--backend", "offline", "--no-tools"))
    assert json.loads((out / "index.jsonl").read_text().splitlines()[-1])["status"] == "answered"
    redone = json.loads((out / "karaoke.json").read_text())
    assert "Sep-HTDemucs" not in [hit["name"] for hit in redone["retrieval"]["results"]]


def test_a_bare_question_through_the_llm_is_reranked_told_and_guarded(demo_cache):
    from tests.fakes.openai_server import good

    with FakeOpenAI() as server:
        server.script([text('{"ranking": [1]}'), good()])
        settings = AgentSettings(OPENAI_BASE_URL=server.base_url)
        answer = answer_question(load_question("How can I enlarge my old small photos?"), settings=settings)
        rerank_prompt, draft_prompt = server.prompt("user", 0), server.prompt("user", 1)
    assert answer.backend.startswith("openai") and answer.retrieval.reranked
    assert "<candidates>" in rerank_prompt and "SISR-Any-LIIF-RDN" in rerank_prompt
    assert "found by searching our catalog" in draft_prompt and "a confident match" in draft_prompt
    assert answer.sections["task"].startswith("*No records came with this question, so I searched our catalog")
    assert answer.grounding.ok and "https://github.com/yinboc/liif" in answer.links


def test_a_corpus_of_papers_only_recommends_no_model_and_says_so(tmp_path):
    papers = tmp_path / "papers.json"
    papers.write_text(json.dumps([
        {"Title": "Image Super-Resolution via Iterative Refinement", "kind": "paper",
         "Paper": "http://arxiv.org/pdf/2104.07636v2.pdf", "Summary": "Enlarges photos 4x with a diffusion model."},
        {"Title": "Photo enlargement survey", "kind": "paper", "Summary": "Ways to make small images bigger."},
    ]))  # fmt: skip
    root = tmp_path / "corpus"
    assert_ok(run("corpus", "add", papers, "--corpus", root))
    answer = answer_question(load_question("How can I make my small photos bigger?"), settings=offline(root))
    assert answer.retrieval.confident and answer.tool_calls == []
    assert "no model in it fits the question, only the papers listed in part 3" in answer.sections["task"]
    assert answer.links == ["http://arxiv.org/pdf/2104.07636v2.pdf"] and answer.grounding.ok


def test_an_empty_queries_file_is_refused(catalog_corpus, tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    line = assert_one_line_error(run("retrieve", "--queries", empty, "--corpus", catalog_corpus), empty)
    assert "non-empty JSON list" in line
