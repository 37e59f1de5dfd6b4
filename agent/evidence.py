"""Evidence: passages from the supplied records and their matching corpus cards,
ranked against the question. BM25 always; MiniLM sentence embeddings (``agent.minilm``)
blended in when ``SCIENTIST_EMBEDDINGS=1``: loading torch and the model costs a second
that a one-shot answer from a question file does not need.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from agent.schema import Evidence, ModelCard, PaperCard, Passage, Question, Task

TOKEN = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    "a an and are as at be but by can do does for from has have how i in is it its me my of on or so that the "
    "their them then there these this to use used uses using was what when which why with you your".split()
)


def tokens(text: str) -> list[str]:
    return [t for t in TOKEN.findall(text.lower()) if t not in STOPWORDS]


_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")  # "e.g. semantic" is no break


def sentences(text: str) -> list[str]:
    """``text``'s sentences, whitespace made single."""
    return [s.strip() for s in _SENTENCE_BREAK.split(" ".join(text.split())) if s.strip()]


def bm25_scores(query: str, documents: list[str], k1: float = 1.5, b: float = 0.75) -> list[float]:
    """Okapi BM25 of each document against the query."""
    docs = [tokens(d) for d in documents]
    if not docs:
        return []
    avg_len = sum(len(d) for d in docs) / len(docs) or 1.0
    frequency = Counter(term for d in docs for term in set(d))
    n = len(docs)
    scores = []
    for doc in docs:
        counts = Counter(doc)
        score = 0.0
        for term in set(tokens(query)):
            if term not in counts:
                continue
            idf = math.log(1 + (n - frequency[term] + 0.5) / (frequency[term] + 0.5))
            tf = counts[term]
            score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(doc) / avg_len))
        scores.append(score)
    return scores


def embedding_scores(query: str, documents: list[str]) -> list[float]:
    """Cosine similarity of each document to the query."""
    from agent.minilm import load_minilm

    vectors = load_minilm().encode([query, *documents])
    return [float(vectors[0] @ v) for v in vectors[1:]]


def card_passages(card: ModelCard | PaperCard) -> list[tuple[str, str]]:
    if isinstance(card, PaperCard):
        return [(card.name, card.summary)]
    texts = [card.summary, f"Input: {card.input} Output: {card.output}", *card.method, *card.facts]
    return [(card.name, text) for text in texts]


def collect_passages(question: Question, cards: dict[str, ModelCard | PaperCard], task: Task | None) -> list[Passage]:
    """Every piece of evidence with a stable id: M (models), P (papers), C (cards), T (task)."""
    passages: list[Passage] = []
    for kind, records in (("M", question.models), ("P", question.papers)):
        for i, record in enumerate(records, 1):
            text = record.name + (f": {record.summary}" if record.summary else "")
            passages.append(Passage(id=f"{kind}{i}", source=record.name, text=text))
    card_texts = [pair for name in sorted(cards) for pair in card_passages(cards[name])]
    passages += [Passage(id=f"C{i}", source=source, text=text) for i, (source, text) in enumerate(card_texts, 1)]
    if task:
        text = f"{task.name}: {task.doing}. Input: {task.input}. Output: {task.output}."
        passages.append(Passage(id="T1", source=f"task {task.id}", text=text))
    return passages


def rank(query: str, passages: list[Passage], embeddings: bool = False) -> list[Passage]:
    """Passages scored against the query, best first (ties keep their order)."""
    texts = [p.text for p in passages]
    scores = bm25_scores(query, texts)
    if embeddings and passages:
        top = max(scores, default=0.0) or 1.0
        scores = [0.5 * s / top + 0.5 * e for s, e in zip(scores, embedding_scores(query, texts), strict=True)]
    scored = [p.model_copy(update={"score": round(s, 4)}) for p, s in zip(passages, scores, strict=True)]
    return sorted(scored, key=lambda p: -p.score)


def gather_evidence(
    question: Question, cards: dict[str, ModelCard | PaperCard], task: Task | None, embeddings: bool = False
) -> Evidence:
    passages = rank(question.question, collect_passages(question, cards, task), embeddings)
    return Evidence(question=question, task=task, cards=cards, passages=passages)
