from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from agent.corpus import CORPUS_DIR, Corpus, classify_task, load_corpus, normalise_url
from agent.schema import ModelCard, PaperCard, Record, Task, is_single_url

SEED_QUESTION = (
    "I used to avoid enlarging small pictures, but now AI makes them look great even at 4x. What makes this possible?"
)
SEED_MODEL = Record(
    name="SISR-Any-LIIF-RDN", paper="https://arxiv.org/pdf/2012.09161", github="https://github.com/yinboc/liif"
)
SEED_PAPERS = {
    "FeatSharp: Your Vision Model Features, Sharper": "http://arxiv.org/pdf/2502.16025v1.pdf",
    "ImageNet-Hard: The Hardest Images Remaining from a Study of the Power of Zoom and Spatial Biases in "
    "Image Classification": "http://arxiv.org/pdf/2304.05538v4.pdf",
    "Speeding Up Image Classifiers with Little Companions": "http://arxiv.org/pdf/2406.17117v2.pdf",
}
URL_IN_PROSE = re.compile(r"https?://|www\.|arxiv\.org|github\.com|huggingface\.co", re.IGNORECASE)


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return load_corpus()


# --- loading ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("folder", "kind"), [("models", ModelCard), ("papers", PaperCard)], ids=["models", "papers"])
def test_every_card_file_validates(folder: str, kind: type[ModelCard | PaperCard]) -> None:
    paths = sorted((CORPUS_DIR / folder).glob("*.yaml"))
    assert paths
    for path in paths:
        kind.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def test_corpus_loads_every_file(corpus: Corpus) -> None:
    assert len(corpus.models) == len(list((CORPUS_DIR / "models").glob("*.yaml")))
    assert len(corpus.papers) == len(list((CORPUS_DIR / "papers").glob("*.yaml")))
    assert load_corpus() is corpus  # cached


def test_tasks_cover_the_areas_with_unique_ids(corpus: Corpus) -> None:
    ids = [task.id for task in corpus.tasks]
    assert len(ids) >= 28
    assert len(set(ids)) == len(ids)
    assert {"vision", "language", "audio", "video", "3d", "recommendation"} <= {t.area for t in corpus.tasks}
    assert all(task.keywords for task in corpus.tasks)


def test_every_model_card_names_a_known_task(corpus: Corpus) -> None:
    for card in corpus.models:
        assert corpus.task(card.task) is not None, card.name
    assert corpus.task("no-such-task") is None


def test_card_prose_holds_no_urls(corpus: Corpus) -> None:
    """Links may only come from supplied records, so cards must not smuggle any in."""
    for card in corpus.models:
        for text in [card.summary, card.input, card.output, *card.method, *card.facts]:
            assert not URL_IN_PROSE.search(text), (card.name, text)
    for paper in corpus.papers:
        assert not URL_IN_PROSE.search(paper.summary), paper.name


def card_problems(card: ModelCard) -> list[str]:
    """What a model card lacks: a lay summary, concrete input and output, 3-5 steps of its own method, and
    paper links that are each one plain http(s) URL."""
    shortest = {"summary": 40, "input": 8, "output": 8}
    problems = [f"{field} is too short" for field, least in shortest.items() if len(getattr(card, field)) < least]
    if not 3 <= len(card.method) <= 5:
        problems.append(f"{len(card.method)} method steps, not 3 to 5")
    problems += [f"paper URL {url!r} is not one plain URL" for url in card.paper_urls if not is_single_url(url)]
    return problems


def test_every_model_card_is_complete(corpus: Corpus) -> None:
    assert len(corpus.models) >= 100
    assert {card.name: card_problems(card) for card in corpus.models if card_problems(card)} == {}


def test_the_card_check_rejects_what_it_should() -> None:
    good = next(card for card in load_corpus().models if card.name == "SISR-Any-LIIF-RDN")
    assert card_problems(good) == []
    for change, problem in [
        ({"method": good.method[:2]}, "2 method steps"),
        ({"summary": "An upscaler."}, "summary is too short"),
        ({"paper_urls": ["https://arxiv.org/abs/2012.09161 [x](https://evil.example)"]}, "is not one plain URL"),
        ({"paper_urls": ["arxiv.org/abs/2012.09161"]}, "is not one plain URL"),
    ]:
        assert any(problem in p for p in card_problems(good.model_copy(update=change))), change


def _write_corpus(root: Path, model_yaml: str) -> Path:
    (root / "models").mkdir(parents=True)
    (root / "papers").mkdir()
    (root / "tasks.yaml").write_text("[]\n")
    (root / "models" / "broken.yaml").write_text(model_yaml)
    return root


def test_malformed_card_names_the_file_and_the_problem(tmp_path: Path) -> None:
    root = _write_corpus(tmp_path / "corpus", "name: X\naliases: [Y]\n")  # no task, summary, input, output
    with pytest.raises(ValueError, match=r"broken\.yaml.*ModelCard.*task"):
        load_corpus(root)


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    root = _write_corpus(tmp_path / "corpus", "name: [unclosed\n")
    with pytest.raises(ValueError, match=r"broken\.yaml"):
        load_corpus(root)


def test_duplicate_task_ids_are_rejected(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    root.mkdir()
    task = {"id": "a", "name": "A", "area": "vision", "doing": "d", "input": "i", "output": "o"}
    (root / "tasks.yaml").write_text(yaml.safe_dump([task, task]))
    with pytest.raises(ValueError, match=r"tasks\.yaml.*duplicate.*\ba\b"):
        load_corpus(root)


# --- matching records to cards -----------------------------------------------------------------------------


def test_seed_model_matches_its_card_by_name(corpus: Corpus) -> None:
    card = corpus.card_for(SEED_MODEL, kind="model")
    assert isinstance(card, ModelCard)
    assert card.name == "SISR-Any-LIIF-RDN"
    assert card.tool == "liif_upscale"


@pytest.mark.parametrize("name", ["sisr any liif rdn", "SISR_Any_LIIF_RDN", "LIIF", "rdn-liif", "RDN LIIF"])
def test_model_matches_by_name_variant_or_alias(corpus: Corpus, name: str) -> None:
    card = corpus.card_for(Record(name=name), kind="model")
    assert card is not None and card.name == "SISR-Any-LIIF-RDN"


@pytest.mark.parametrize(
    "url",
    ["https://arxiv.org/pdf/2012.09161", "http://arxiv.org/abs/2012.09161v2", "https://arxiv.org/pdf/2012.09161v1.pdf"],
)
def test_model_matches_by_paper_url_alone(corpus: Corpus, url: str) -> None:
    card = corpus.card_for(Record(name="Some Renamed Upscaler", paper=url), kind="model")
    assert card is not None and card.name == "SISR-Any-LIIF-RDN"


@pytest.mark.parametrize(("title", "url"), SEED_PAPERS.items(), ids=["featsharp", "imagenet-hard", "little-big"])
def test_seed_papers_match_their_cards_by_url(corpus: Corpus, title: str, url: str) -> None:
    card = corpus.card_for(Record(name="an unknown title", paper=url), kind="paper")
    assert isinstance(card, PaperCard)
    assert card.name == title
    assert corpus.card_for(Record(name=title, paper=url), kind="paper") is card


def test_kind_decides_which_cards_are_searched_first(corpus: Corpus) -> None:
    # A paper record citing the LIIF paper finds the model card when no paper card covers it.
    record = Record(name="Learning continuous image representation", paper="https://arxiv.org/abs/2012.09161")
    assert isinstance(corpus.card_for(record, kind="paper"), ModelCard)


def test_unrelated_record_matches_nothing(corpus: Corpus) -> None:
    record = Record(
        name="WaveNet Vocoder",
        paper="https://arxiv.org/abs/1609.03499",
        github="https://github.com/someone/wavenet",
        huggingface="https://huggingface.co/someone/wavenet",
    )
    assert corpus.card_for(record, kind="model") is None
    assert corpus.card_for(record, kind="paper") is None
    assert corpus.card_for(Record(name="Speeding Up"), kind="paper") is None  # a prefix is not a name


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://arxiv.org/pdf/2502.16025v1.pdf", "https://arxiv.org/abs/2502.16025"),
        ("https://arxiv.org/abs/2502.16025", "https://arxiv.org/abs/2502.16025"),
        ("https://ArXiv.org/pdf/2502.16025/", "https://arxiv.org/abs/2502.16025"),
        ("https://www.arxiv.org/abs/2304.05538v4", "https://arxiv.org/abs/2304.05538"),
        ("https://arxiv.org/abs/cs/0112017v1", "https://arxiv.org/abs/cs/0112017"),
        ("HTTP://GitHub.com/yinboc/liif/", "https://github.com/yinboc/liif"),
        ("https://example.org/papers/liif.pdf", "https://example.org/papers/liif"),
        ("https://example.org/a?b=1#top", "https://example.org/a?b=1"),
    ],
)
def test_normalise_url(url: str, expected: str) -> None:
    assert normalise_url(url) == expected


def test_normalise_url_keeps_distinct_papers_apart() -> None:
    assert normalise_url("https://arxiv.org/abs/2502.16025") != normalise_url("https://arxiv.org/abs/2502.1602")


# --- classifying the task ----------------------------------------------------------------------------------


def _seed_text() -> str:
    records = [SEED_MODEL.name, *SEED_PAPERS]
    summaries = [paper.summary for paper in load_corpus().papers]
    return "\n".join([SEED_QUESTION, *records, *summaries])


def test_seed_question_is_super_resolution_without_cards(corpus: Corpus) -> None:
    task = classify_task(corpus, SEED_QUESTION, [])
    assert task is not None and task.id == "image-super-resolution"
    task = classify_task(corpus, _seed_text(), [])  # with the related papers' classifier talk around it
    assert task is not None and task.id == "image-super-resolution"


def test_a_model_card_names_the_task(corpus: Corpus) -> None:
    card = corpus.card_for(SEED_MODEL, kind="model")
    task = classify_task(corpus, "How does my phone turn my voice memos into text?", [None, card])
    assert task is not None and task.id == "image-super-resolution"


def test_paper_cards_do_not_decide_the_task(corpus: Corpus) -> None:
    papers = [corpus.card_for(Record(name=title), kind="paper") for title in SEED_PAPERS]
    assert all(isinstance(p, PaperCard) for p in papers)
    task = classify_task(corpus, "How does my phone turn my voice memos into text?", papers)
    assert task is not None and task.id == "speech-recognition"


@pytest.mark.parametrize(
    ("question", "task_id"),
    [
        ("How does my phone turn my voice memos into text?", "speech-recognition"),
        ("how does my music app know my taste?", "recommendation"),
        ("How can a video be made into smooth slow motion?", "frame-interpolation"),
        ("How does a self-driving car see other cars with lidar?", "3d-object-detection"),
        ("Can an app upscale my blurry 4x zoomed photo?", "image-super-resolution"),
    ],
)
def test_everyday_questions_find_their_task(corpus: Corpus, question: str, task_id: str) -> None:
    task = classify_task(corpus, question, [])
    assert task is not None and task.id == task_id


@pytest.mark.parametrize(
    "question",
    ["Can AI make a photo of my cat look like a painting?", "make my holiday picture look like a Van Gogh"],
)
def test_restyling_a_photo_is_a_vision_task(corpus: Corpus, question: str) -> None:
    task = classify_task(corpus, question, [])
    assert isinstance(task, Task) and task.area == "vision"


def test_question_about_nothing_known_has_no_task(corpus: Corpus) -> None:
    assert classify_task(corpus, "Where did I leave my keys?", []) is None
    assert classify_task(corpus, "", []) is None


def test_keywords_match_whole_words_only(corpus: Corpus) -> None:
    # "ASR" must not fire inside another word, nor "4x" inside "x4x4".
    assert classify_task(corpus, "The LASRA team met at x4x4 station.", []) is None


def test_keyword_phrases_allow_hyphens_and_inflections(corpus: Corpus) -> None:
    cases = {
        "speech to text on my phone": "speech-recognition",
        "it upscaled the image": "image-super-resolution",
        "enlarging prints": "image-super-resolution",
        "Super Resolution": "image-super-resolution",
    }
    for text, task_id in cases.items():
        task = classify_task(corpus, text, [])
        assert task is not None and task.id == task_id, text
