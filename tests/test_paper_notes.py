"""Paper notes (agent/paper_notes.py): what a paper is about comes from its own words; its level from
its task, its field and its closeness in meaning."""

from __future__ import annotations

from agent.corpus import load_corpus
from agent.paper_notes import Closeness, contribution, name_letters, note
from agent.schema import Record

ABSTRACT = (
    "Image classifiers are information-discarding machines, by design. Yet, how these models discard "
    "information remains mysterious. We hypothesize that one way is to zoom. In this paper, we propose a "
    "test-time augmentation that forces models to zoom in before predicting. It beats MEMO."
)


def task(task_id: str):
    return load_corpus().task(task_id)


def test_the_contribution_sentence_is_quoted_shortened_and_first_sentence_otherwise():
    assert (
        contribution(ABSTRACT)
        == "In this paper, we propose a test-time augmentation that forces models to zoom in before predicting."
    )
    assert contribution("Plain text with no claim. Another one.") == "Plain text with no claim."
    assert contribution(None) is None and contribution("  ") is None
    long = "We present " + "a very long method " * 30 + "."
    assert contribution(long).endswith(" …") and len(contribution(long)) <= 242


def test_a_note_quotes_the_paper_and_never_labels_its_subject():
    paper = Record(name="Zoom In: Test-Time Zooming for Classifiers", summary=ABSTRACT)
    written = note(paper, None, task("image-classification"), Closeness(0.2, task("image-classification")))
    assert written.quoted and written.about in ABSTRACT
    assert written.level == "related"  # its own task is the question's


def test_levels_by_field_and_closeness():
    question_task = task("speech-recognition")
    physics = Record(name="Observation of Gravitational Waves from a Binary Black Hole Merger", summary="We report.")
    assert note(physics, None, question_task, Closeness(0.05, task("weather-forecasting"))).level == "not related"
    tts = Record(name="A voice paper", summary="We present a text-to-speech system that reads text aloud.")
    assert note(tts, None, question_task, Closeness(0.31, task("text-to-speech"))).level == "tangential"
    close = Record(name="Some paper", summary="We study something.")
    assert note(close, None, question_task, Closeness(0.65, None)).level == "related"


def test_a_paper_the_recommended_model_builds_on_is_related():
    corpus = load_corpus()
    llava = next(card for card in corpus.models if card.name == "LLaVA")
    paper = Record(name="Visual Instruction Tuning", summary="We present the first attempt to use GPT-4.")
    level = note(paper, llava, task("image-captioning"), Closeness(0.1, None), recommended=[llava]).level
    assert level == "related"
    hyena = Record(name="Hyena Hierarchy: Towards Larger Convolutional Language Models", summary="We propose Hyena.")
    letters = name_letters(["HyenaDNA-1M"])
    assert note(hyena, None, task("genomics"), Closeness(0.1, None), model_letters=letters).level == "related"


def test_without_embeddings_only_the_papers_own_words_decide():
    paper = Record(name="Whisper-style speech recognition", summary="We propose a speech recognition model.")
    assert note(paper, None, task("speech-recognition"), None).level == "related"
