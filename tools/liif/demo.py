"""The demo photo: scikit-image's astronaut (512x512), the ground truth the measured
4x demo reduces and enlarges back."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from PIL import Image


def demo_reference(folder: Path) -> Path:
    """The astronaut as a PNG in folder, written once."""
    path = folder / "astronaut-512.png"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        astronaut().save(path)
    return path


def astronaut() -> Image.Image:
    """scikit-image's astronaut, read from its data folder (importing skimage costs a second)."""
    spec = importlib.util.find_spec("skimage")
    bundled = Path(next(iter(spec.submodule_search_locations))) / "data" / "astronaut.png" if spec else None
    if bundled and bundled.is_file():
        return Image.open(bundled).convert("RGB")
    from skimage import data

    return Image.fromarray(data.astronaut())
