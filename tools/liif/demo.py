"""The demo pair: scikit-image's astronaut (512x512) as ground truth and its
Pillow-bicubic 128x128 reduction as the small picture to enlarge 4x.

    python -m tools.liif.demo DIR     # writes DIR/astronaut-512.png and DIR/astronaut-128.png
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from PIL import Image

DEMO_SIZE = 128


def demo_pair(folder: Path, low_size: int = DEMO_SIZE) -> tuple[Path, Path]:
    """Write (low-resolution, reference) PNGs into folder, once; returns their paths."""
    low, reference = folder / f"astronaut-{low_size}.png", folder / "astronaut-512.png"
    if not (low.is_file() and reference.is_file()):
        folder.mkdir(parents=True, exist_ok=True)
        photo = astronaut()
        photo.save(reference)
        photo.resize((low_size, low_size), Image.BICUBIC).save(low)
    return low, reference


def astronaut() -> Image.Image:
    """scikit-image's astronaut, read from its data folder (importing skimage costs a second)."""
    spec = importlib.util.find_spec("skimage")
    bundled = Path(next(iter(spec.submodule_search_locations))) / "data" / "astronaut.png" if spec else None
    if bundled and bundled.is_file():
        return Image.open(bundled).convert("RGB")
    from skimage import data

    return Image.fromarray(data.astronaut())


if __name__ == "__main__":
    for path in demo_pair(Path(sys.argv[1] if len(sys.argv) > 1 else "out/demo")):
        print(path)
