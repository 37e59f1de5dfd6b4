"""agent.minilm must give the same vectors as sentence-transformers, cheaply, in input order."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agent.minilm import MODEL_NAME, MiniLM, load_minilm, model_dir

ROOT = Path(__file__).resolve().parents[1]
LONG = " ".join(f"Sentence {i}: the super-resolution network upsamples low-resolution crops." for i in range(60))
TEXTS = [
    "make my photo bigger",
    "Upscale",
    LONG,  # far over 256 tokens: exercises truncation
    "Héllo, wörld! Ça va? 東京 — naïve café… (émoji 🚀) #tags & <html> 3.14e-2",
    "What is the PSNR of LIIF on DIV2K at x4 scale, compared with bicubic interpolation?",
    "",
    "a",
    "   leading and trailing whitespace   ",
]


@pytest.fixture(scope="module")
def encoder() -> MiniLM:
    return load_minilm()


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    os.environ["HF_HUB_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir()), device="cpu")
    assert model.max_seq_length == 256
    return model.encode(TEXTS, normalize_embeddings=True)


def test_matches_sentence_transformers(encoder: MiniLM, reference: np.ndarray) -> None:
    ours = encoder.encode(TEXTS)
    assert ours.dtype == np.float32
    assert ours.shape == reference.shape == (len(TEXTS), 384)
    assert np.abs(ours - reference).max() < 1e-5


def test_long_text_is_truncated(encoder: MiniLM) -> None:
    assert len(encoder.tokenizer.encode(LONG).ids) == 256
    # Words past token 256 cannot change the vector.
    assert np.abs(encoder.encode([LONG]) - encoder.encode([LONG + " completely different ending"])).max() < 1e-6


def test_order_preserved_with_small_batches(encoder: MiniLM, reference: np.ndarray) -> None:
    shuffled = [5, 2, 0, 7, 3, 1, 6, 4]
    ours = encoder.encode([TEXTS[i] for i in shuffled], batch_size=2)
    assert np.abs(ours - reference[shuffled]).max() < 1e-5


def test_rows_are_unit_norm(encoder: MiniLM) -> None:
    assert np.allclose(np.linalg.norm(encoder.encode(TEXTS), axis=1), 1.0, atol=1e-5)


def test_empty_input(encoder: MiniLM) -> None:
    out = encoder.encode([])
    assert out.shape == (0, 384)
    assert out.dtype == np.float32
    assert encoder.dim == 384


def test_similar_sentences_score_higher(encoder: MiniLM) -> None:
    a, b, c = encoder.encode(["make my photo bigger", "enlarge a small picture", "translate to French"])
    assert a @ b > a @ c + 0.3
    assert a @ b > b @ c + 0.3


def test_progress_counts_every_text(encoder: MiniLM) -> None:
    calls: list[int] = []
    encoder.encode(TEXTS, batch_size=3, progress=calls.append)
    assert calls and sum(calls) == len(TEXTS)
    assert len(calls) == 3


def test_load_is_cached() -> None:
    assert load_minilm() is load_minilm()
    assert MODEL_NAME == "all-MiniLM-L6-v2"


def test_import_does_not_pull_sentence_transformers() -> None:
    code = (
        "import sys, agent.minilm as m; m.load_minilm().encode(['hi']);"
        "print(sorted(k for k in sys.modules if k.split('.')[0] in ('sentence_transformers', 'transformers')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
