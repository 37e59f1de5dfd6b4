"""LIIF super-resolution (Chen, Liu and Wang, CVPR 2021), written from the paper.

    from tools.liif import load_model, upscale
    model = load_model()                      # authors' EDSR-baseline-LIIF weights
    big = upscale(image, scale=4, model=model)

Names load on first use (PEP 562), so importing a light submodule such as
``tools.liif.settings`` does not import torch.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "LiifModel": "tools.liif.api",
    "load_model": "tools.liif.api",
    "upscale": "tools.liif.api",
    "CheckpointError": "tools.liif.errors",
    "ImageError": "tools.liif.errors",
    "LiifError": "tools.liif.errors",
    "WeightsFetchError": "tools.liif.errors",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tools.liif' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
