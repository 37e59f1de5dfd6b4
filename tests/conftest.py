from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.synthetic import write_synthetic_checkpoint

FIXTURES = Path(__file__).parent / "fixtures" / "liif"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see no SCIENTIST_* or OPENAI_* settings from the shell that runs them (the cache dir aside)."""
    for name in (
        "SCIENTIST_DEBUG", "SCIENTIST_LIIF_WEIGHTS", "SCIENTIST_MAX_PIXELS", "SCIENTIST_BACKEND", "SCIENTIST_MODEL",
        "SCIENTIST_EMBEDDINGS", "SCIENTIST_MCP_ROOT", "SCIENTIST_LLM_TIMEOUT", "SCIENTIST_LLM_RETRIES",
        "SCIENTIST_CORPUS", "SCIENTIST_RERANK", "OPENAI_API_KEY", "OPENAI_BASE_URL",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def small_input() -> Image.Image:
    """The 32x24 low-resolution fixture (a crop of scikit-image's chelsea, 4x reduced)."""
    return Image.open(FIXTURES / "input-32x24.png").convert("RGB")


@pytest.fixture(scope="session")
def goldens() -> dict[str, np.ndarray]:
    with np.load(FIXTURES / "golden-outputs.npz") as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="session")
def edsr_weights() -> Path:
    """The authors' EDSR-baseline-LIIF checkpoint (``make test`` fetches it first)."""
    from tools.liif.weights import fetch_default_weights

    return fetch_default_weights()


@pytest.fixture(scope="session")
def rdn_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("weights") / "synthetic-rdn-liif.pth"
    return write_synthetic_checkpoint(FIXTURES / "keys-rdn-liif.json", out)


@pytest.fixture(scope="session")
def edsr_model(edsr_weights: Path):
    from tools.liif import load_model

    return load_model(edsr_weights)


@pytest.fixture(scope="session")
def rdn_model(rdn_weights: Path):
    from tools.liif import load_model

    return load_model(rdn_weights)


@pytest.fixture
def demo_cache(tmp_path_factory: pytest.TempPathFactory, edsr_weights: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A per-session run cache for the LIIF demo, with the already-fetched default weights."""
    cache = tmp_path_factory.getbasetemp() / "scientist-cache"
    monkeypatch.setenv("SCIENTIST_CACHE_DIR", str(cache))
    monkeypatch.setenv("SCIENTIST_LIIF_WEIGHTS", str(edsr_weights))
    return cache


CATALOG = Path(__file__).parent.parent / "examples" / "catalog"


@pytest.fixture(scope="session")
def catalog_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus of examples/catalog/catalog.json (52 models over 39 tasks), indexed once per session."""
    from tests.cli_helpers import assert_ok, run

    root = tmp_path_factory.mktemp("catalog-corpus")
    assert_ok(run("corpus", "add", CATALOG / "catalog.json", "--corpus", root))
    return root
