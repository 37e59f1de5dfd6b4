"""Retrieval: a bare question in, the catalog's best models and papers out, each with its scores.

Lay users say "make my old photo bigger", catalogs say "Single Image Super-Resolution"; three signals
bridge the gap, blended into one score per record:

- **semantic**: MiniLM cosine similarity between the question and the record's text;
- **bm25**: keywords, after query expansion from the task taxonomy: everyday phrases ("voice memo",
  "blow up a photo") name a task, whose plain-language name and description join the query;
- **task**: how strongly the question reads as the task the record serves (taxonomy keywords, and the
  question's similarity to each task's description).

In ``openai`` mode an LLM may reorder the top candidates (``rerank``); scores stay those above.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import numpy as np

from agent.catalog import CATALOG_FILE, Catalog, CatalogRecord
from agent.corpus import CORPUS_DIR, keyword_scores, load_corpus
from agent.errors import AgentError
from agent.schema import Hit, Question, Retrieval, Task
from agent.search_index import Progress, SearchIndex, build_index, is_current, load_index, save_index, terms
from agent.settings import AgentSettings

WEIGHTS = {"semantic": 0.5, "bm25": 0.2, "task": 0.3}  # sums to 1, so a score is 0..1
PAPER_PRIOR = 0.85  # a model answers the question, a paper supports it: a paper leads only when clearly better
TASK_TEMPERATURE = 0.04  # how sharply the question's similarity to task descriptions picks one task
EXPANSION_TASKS = 2  # keyword-matched tasks whose names join the query
# Confidence: the mean of the best record's and the nearest task's similarity to the question. Measured on
# the 197 everyday questions of examples/catalog/: 196 reach 0.236; 13 off-topic ones stay under 0.222.
CONFIDENT = 0.235
BM25_HALF = 5.0  # the BM25 score that counts as half a match (about two distinctive words)
QUERY_FILLER = frozenset(terms("ai computer app program software tool model machine way work thing something"))
RERANK_CANDIDATES = 10
RELATED_PAPERS = 3


Order = Callable[[str, Sequence[CatalogRecord]], list[int]]  # (question, candidates) -> indices, best first


class RetrievalError(AgentError):
    """A corpus that cannot be searched (no catalog, unreadable index)."""


def corpus_tasks(root: Path) -> list[Task]:
    """The corpus's own taxonomy when it has one, else the shipped one (everyday phrasing of common tasks)."""
    return load_corpus(root if (Path(root) / "tasks.yaml").is_file() else CORPUS_DIR).tasks


def sync_index(catalog: Catalog, progress: Progress | None = None) -> tuple[SearchIndex, int]:
    """The catalog's index, brought up to date (and saved when the folder is writable).

    Returns it and how many records had to be embedded.
    """
    tasks = corpus_tasks(catalog.root)
    index = load_index(catalog.root)
    if is_current(index, catalog.records, tasks):
        assert index is not None
        return index, 0
    index, embedded = build_index(catalog.records, tasks, previous=index, progress=progress)
    with contextlib.suppress(OSError):  # a read-only corpus is searched from memory
        save_index(index, catalog.root)
    return index, embedded


@dataclass
class Retriever:
    catalog: Catalog
    index: SearchIndex
    tasks: list[Task]

    @cached_property
    def priors(self) -> np.ndarray:
        return np.array([PAPER_PRIOR if record.kind == "paper" else 1.0 for record in self.catalog.records])

    @classmethod
    def open(cls, root: Path) -> Retriever:
        catalog = Catalog.load(root)
        if not catalog.records:
            raise RetrievalError(f"{root}: the corpus has no catalog records (add some with `scientist corpus add`)")
        index, _ = sync_index(catalog)
        return cls(catalog, index, corpus_tasks(root))

    def search(self, question: str, k: int = 5) -> Retrieval:
        """The ``k`` best records for ``question``, best first, with their scores."""
        signals, expansion, nearest_task = self.signals(question)
        score = sum(WEIGHTS[name] * signals[name] for name in WEIGHTS) * self.priors
        order = np.argsort(-score, kind="stable")[:k]
        hits = [
            Hit(
                name=self.catalog.records[i].name,
                kind=self.catalog.records[i].kind,
                score=round(float(score[i]), 4),
                bm25=round(float(signals["bm25"][i]), 4),
                semantic=round(float(signals["semantic"][i]), 4),
                task=self.index.tasks[i],
            )
            for i in order
        ]
        confidence = round((hits[0].semantic + nearest_task) / 2, 4) if hits else 0.0
        return Retrieval(
            query=question,
            corpus=str(self.catalog.root),
            tasks=expansion,
            confidence=confidence,
            confident=confidence >= CONFIDENT,
            results=hits,
        )

    def signals(self, question: str) -> tuple[dict[str, np.ndarray], list[str], float]:
        """Each signal for every record (0..1), the tasks whose names expanded the query, and the question's
        similarity to the nearest task description."""
        from agent.minilm import load_minilm

        vector = load_minilm().encode([question])[0]
        keywords = keyword_scores(self.tasks, question)
        expansion = sorted(keywords, key=lambda task_id: -keywords[task_id])[:EXPANSION_TASKS]
        by_id = {task.id: task for task in self.tasks}
        query = " ".join([question, *(f"{by_id[t].name} {by_id[t].doing}" for t in expansion)])
        bm25 = self.index.bm25([term for term in terms(query) if term not in QUERY_FILLER])
        similarity = self.index.task_vectors @ vector
        task_weight = self._task_weights(similarity, keywords)
        return (
            {
                "semantic": self.index.embeddings @ vector,
                "bm25": bm25 / (bm25 + BM25_HALF),
                "task": np.array([task_weight.get(t, 0.0) if t else 0.0 for t in self.index.tasks]),
            },
            expansion,
            float(similarity.max(initial=0.0)),
        )

    def _task_weights(self, similarity: np.ndarray, keywords: dict[str, int]) -> dict[str, float]:
        """0..1 per task: the softmax of the question's similarity to each task's description (1 for the
        nearest), averaged with the task's share of the taxonomy keywords found when there are any."""
        soft = np.exp((similarity - similarity.max()) / TASK_TEMPERATURE)
        top = max(keywords.values(), default=0)
        return {
            task_id: float(soft[i]) if not top else 0.5 * float(soft[i]) + 0.5 * keywords.get(task_id, 0) / top
            for i, task_id in enumerate(self.index.task_ids)
        }

    def record(self, name: str) -> CatalogRecord:
        return next(record for record in self.catalog.records if record.name == name)


@cache
def _open(root: Path, stamp: int) -> Retriever:
    return Retriever.open(root)


_OPENING = threading.Lock()  # a batch's workers wait for one index build instead of each doing it


def retriever(root: Path | str = CORPUS_DIR) -> Retriever:
    """A retriever for the corpus at ``root``, shared within the process until its catalog changes."""
    root = Path(root).resolve()
    path = root / CATALOG_FILE
    with _OPENING:
        return _open(root, path.stat().st_mtime_ns if path.exists() else 0)


def rerank(retrieval: Retrieval, candidates: Sequence[CatalogRecord], order: Order) -> Retrieval:
    """``retrieval`` with its first ``len(candidates)`` results reordered by ``order(question, candidates)
    -> indices``; candidates the ranking leaves out follow those it ranked, then the rest. A failing
    ``order`` changes nothing."""
    try:
        ranked = [i for i in order(retrieval.query, candidates) if 0 <= i < len(candidates)]
    except AgentError as error:
        return retrieval.model_copy(update={"note": f"not reranked ({error})"})
    ranked = list(dict.fromkeys(ranked))
    ranked += [i for i in range(len(retrieval.results)) if i not in ranked]
    results = [retrieval.results[i] for i in ranked]
    return retrieval.model_copy(update={"results": results, "reranked": True})


def llm_order(settings: AgentSettings) -> Order | None:
    """The LLM's ranking of candidates, in openai mode with reranking on; else None."""
    if not (settings.rerank and settings.resolved_backend() == "openai"):
        return None
    from agent.answer import llm_backend

    return llm_backend(settings.model_dump_json()).rerank


def retrieve_one(question: str, settings: AgentSettings, k: int = 5) -> Retrieval:
    """The ``k`` best records of ``settings.corpus`` for ``question``; the LLM reorders the first
    candidates in openai mode (when it fails, the hybrid order stands and the note says why)."""
    found = retriever(settings.corpus)
    order = llm_order(settings)
    retrieval = found.search(question, k=max(k, RERANK_CANDIDATES) if order else k)
    if order is not None:
        candidates = [found.record(hit.name) for hit in retrieval.results[:RERANK_CANDIDATES]]
        retrieval = rerank(retrieval, candidates, order)
    return retrieval.model_copy(update={"results": retrieval.results[:k]})


def with_retrieved_records(question: Question, settings: AgentSettings) -> Question:
    """A question that came with no records gets the corpus's best ones (others are returned as they are,
    and so is every question when the corpus has no catalog: it is then answered from the taxonomy alone)."""
    if question.models or question.papers or not (Path(settings.corpus) / CATALOG_FILE).is_file():
        return question
    retrieval = retrieve_one(question.question, settings, RERANK_CANDIDATES)
    return supplied_from(question, retrieval, retriever(settings.corpus))


def evaluate(path: Path, settings: AgentSettings, k: int = 5, progress: Progress | None = None) -> dict[str, Any]:
    """Recall@1/3/5 over an evaluation file, and each query's first ``k`` results."""
    items = read_queries(path)
    retrievals = []
    for item in items:
        retrievals.append(retrieve_one(item["question"], settings, max(k, 5)))
        if progress:
            progress(1, len(items))
    report: dict[str, Any] = {"recall": recall([item["expected"] for item in items], retrievals)}
    known = {record.name for record in retriever(settings.corpus).catalog.records}
    if unknown := sorted({item["expected"] for item in items} - known):
        report["unknown_expected"] = unknown  # counted as misses
    report["queries"] = [
        {
            "question": item["question"],
            "expected": item["expected"],
            "results": [hit.model_dump(include={"name", "kind", "score"}) for hit in retrieval.results[:k]],
        }
        for item, retrieval in zip(items, retrievals, strict=True)
    ]
    return report


def supplied_from(question: Question, retrieval: Retrieval, found: Retriever) -> Question:
    """The question with retrieved records as if supplied. When confident: the best model (and a close
    second) as the recommended models, the best papers as related ones. When not: no recommendation;
    the closest records are listed as related, for the user to judge."""
    models = [hit for hit in retrieval.results if hit.kind == "model"]
    papers = [hit for hit in retrieval.results if hit.kind == "paper"]
    if retrieval.confident:
        recommended = [hit for hit in models[:2] if hit.score >= 0.9 * models[0].score]
        related = papers[:RELATED_PAPERS]
    else:
        recommended, related = [], retrieval.results[:RELATED_PAPERS]
    return question.model_copy(
        update={
            "models": [found.record(hit.name).record() for hit in recommended],
            "papers": [found.record(hit.name).record() for hit in related],
            "retrieval": retrieval,
        }
    )


def recall(expected: Sequence[str], retrievals: Sequence[Retrieval], ks: Sequence[int] = (1, 3, 5)) -> dict[str, float]:
    """The share of questions whose expected record is among the first k results, for each k."""
    ranks = [[hit.name for hit in r.results] for r in retrievals]
    found = {k: sum(name in names[:k] for name, names in zip(expected, ranks, strict=True)) for k in ks}
    return {str(k): round(found[k] / len(retrievals), 4) for k in ks}


def read_queries(path: Path) -> list[dict[str, str]]:
    """An evaluation file: a JSON list of {"question": ..., "expected": <name>}."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise RetrievalError(f"{path}: cannot read ({error})") from None
    except json.JSONDecodeError as error:
        raise RetrievalError(f"{path}: not valid JSON ({error})") from None
    if (
        not isinstance(data, list)
        or not data
        or not all(
            isinstance(item, dict) and isinstance(item.get("question"), str) and isinstance(item.get("expected"), str)
            for item in data
        )
    ):
        raise RetrievalError(f'{path}: expected a non-empty JSON list of {{"question": ..., "expected": ...}} objects')
    return data
