"""A corpus's search index, kept beside its catalog in ``<corpus>/index/``: what retrieval needs ready.

- ``embeddings.npy``: one MiniLM vector per record (unit length), in catalog order;
- ``bm25.json``: BM25 statistics (postings: term -> [[row, count], ...], and each record's length);
- ``meta.json``: the embedding model, each record's digest and taxonomy task, and the task vectors.

Updating is incremental where it costs: a record whose search text is unchanged keeps its vector, so
adding ten records to a thousand embeds ten. The BM25 statistics are recounted from the texts, which
takes milliseconds. The index is derived data (git ignores it); a missing or stale one is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent.catalog import CatalogRecord
from agent.corpus import keyword_scores
from agent.evidence import tokens
from agent.files import atomic_file
from agent.schema import Task

INDEX_DIR = "index"
FORMAT = 1
K1, B = 1.2, 0.75
_SUFFIX = re.compile(r"(?<=\w{3})(?:ing|ed|es|s)$")

Progress = Callable[[int, int], None]  # (done just now, total)


def terms(text: str) -> list[str]:
    """BM25 terms: lower-case words without stopwords, common endings cut ('photos', 'photo' agree)."""
    return [_SUFFIX.sub("", word) for word in tokens(text)]


def task_text(task: Task) -> str:
    """How a task reads to the embedding model: its everyday name and what the user is doing."""
    return f"{task.name}: {task.doing}. Input: {task.input}. Output: {task.output}."


def taxonomy_digest(tasks: Sequence[Task]) -> str:
    return hashlib.sha256("\n".join(task_text(task) for task in tasks).encode()).hexdigest()[:16]


@dataclass
class SearchIndex:
    digests: list[str]  # per record, catalog order
    embeddings: np.ndarray  # (records, dim) float32, unit rows
    postings: dict[str, list[list[int]]]  # term -> [[row, count], ...]
    lengths: list[int]
    tasks: list[str | None]  # each record's taxonomy task id
    task_ids: list[str]  # the taxonomy, in order ...
    task_vectors: np.ndarray  # ... and its vectors (tasks, dim)
    taxonomy: str  # digest of the taxonomy the task fields were computed from
    model: str

    def bm25(self, query_terms: Sequence[str]) -> np.ndarray:
        """Okapi BM25 of every record for the query's distinct terms."""
        scores = np.zeros(len(self.lengths), dtype=np.float64)
        if not self.lengths:
            return scores
        n, average = len(self.lengths), (sum(self.lengths) / len(self.lengths)) or 1.0
        for term in set(query_terms):
            postings = self.postings.get(term)
            if not postings:
                continue
            idf = math.log(1 + (n - len(postings) + 0.5) / (len(postings) + 0.5))
            for row, count in postings:
                norm = K1 * (1 - B + B * self.lengths[row] / average)
                scores[row] += idf * count * (K1 + 1) / (count + norm)
        return scores


def build_index(
    records: Sequence[CatalogRecord],
    tasks: Sequence[Task],
    previous: SearchIndex | None = None,
    progress: Progress | None = None,
) -> tuple[SearchIndex, int]:
    """An index of ``records``; vectors of unchanged records are taken from ``previous``.

    Returns the index and how many texts had to be embedded.
    """
    from agent.minilm import MODEL_NAME, load_minilm

    digests = [record.digest() for record in records]
    taxonomy = taxonomy_digest(tasks)
    known: dict[str, np.ndarray] = {}
    if previous is not None and previous.model == MODEL_NAME:
        known = dict(zip(previous.digests, previous.embeddings, strict=True))
    missing = [i for i, digest in enumerate(digests) if digest not in known]
    encoder = load_minilm()
    report = (lambda done: progress(done, len(missing))) if progress else None
    fresh = encoder.encode([records[i].search_text() for i in missing], progress=report)
    vectors = np.zeros((len(records), encoder.dim), dtype=np.float32)
    for row, digest in enumerate(digests):
        if digest in known:
            vectors[row] = known[digest]
    for row, vector in zip(missing, fresh, strict=True):
        vectors[row] = vector
    reuse_tasks = previous is not None and previous.taxonomy == taxonomy and previous.model == MODEL_NAME
    task_vectors = previous.task_vectors if reuse_tasks else encoder.encode([task_text(task) for task in tasks])
    postings: dict[str, list[list[int]]] = {}
    lengths = []
    for row, record in enumerate(records):
        counts = Counter(terms(record.search_text()))
        lengths.append(sum(counts.values()))
        for term, count in counts.items():
            postings.setdefault(term, []).append([row, count])
    index = SearchIndex(
        digests=digests,
        embeddings=vectors,
        postings=postings,
        lengths=lengths,
        tasks=[],
        task_ids=[task.id for task in tasks],
        task_vectors=np.asarray(task_vectors, dtype=np.float32).reshape(len(tasks), encoder.dim),
        taxonomy=taxonomy,
        model=MODEL_NAME,
    )
    index.tasks = [record_task(record, vector, tasks, index) for record, vector in zip(records, vectors, strict=True)]
    return index, len(missing)


def record_task(record: CatalogRecord, vector: np.ndarray, tasks: Sequence[Task], index: SearchIndex) -> str | None:
    """The taxonomy task a record serves: by the keywords in its category and name, else the nearest task."""
    if not tasks:
        return None
    for text in (f"{record.detailed_category or ''} {record.name}", record.search_text()):
        if scores := keyword_scores(tasks, text):
            return max(scores, key=scores.__getitem__)
    return index.task_ids[int(np.argmax(index.task_vectors @ vector))]


# -- files ----------------------------------------------------------------------------------------


def save_index(index: SearchIndex, root: Path) -> None:
    """Each file written whole and moved into place; meta.json last, so a half-written index reads as stale."""
    folder = Path(root) / INDEX_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_file(folder / "embeddings.npy") as tmp, tmp.open("wb") as stream:
        np.save(stream, np.concatenate([index.embeddings, index.task_vectors]))
    with atomic_file(folder / "bm25.json") as tmp:
        tmp.write_text(json.dumps({"postings": index.postings, "lengths": index.lengths}, separators=(",", ":")))
    meta = {
        "format": FORMAT,
        "model": index.model,
        "digests": index.digests,
        "tasks": index.tasks,
        "task_ids": index.task_ids,
        "taxonomy": index.taxonomy,
    }
    with atomic_file(folder / "meta.json") as tmp:
        tmp.write_text(json.dumps(meta))


def load_index(root: Path) -> SearchIndex | None:
    """The saved index, or None when there is none or it cannot be read (it is then rebuilt)."""
    folder = Path(root) / INDEX_DIR
    try:
        meta = json.loads((folder / "meta.json").read_text())
        bm25 = json.loads((folder / "bm25.json").read_text())
        vectors = np.load(folder / "embeddings.npy", allow_pickle=False)
        if meta.get("format") != FORMAT:
            return None
        records = len(meta["digests"])
        if vectors.shape[0] != records + len(meta["task_ids"]) or len(bm25["lengths"]) != records:
            return None
        return SearchIndex(
            digests=meta["digests"],
            embeddings=vectors[:records],
            postings=bm25["postings"],
            lengths=bm25["lengths"],
            tasks=meta["tasks"],
            task_ids=meta["task_ids"],
            task_vectors=vectors[records:],
            taxonomy=meta["taxonomy"],
            model=meta["model"],
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def is_current(index: SearchIndex | None, records: Sequence[CatalogRecord], tasks: Sequence[Task]) -> bool:
    from agent.minilm import MODEL_NAME

    return (
        index is not None
        and index.model == MODEL_NAME
        and index.taxonomy == taxonomy_digest(tasks)
        and index.digests == [record.digest() for record in records]
    )
