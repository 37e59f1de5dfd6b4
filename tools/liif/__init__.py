"""LIIF super-resolution (Chen, Liu and Wang, CVPR 2021), written from the paper.

from tools.liif import load_model, upscale
model = load_model()                      # authors' EDSR-baseline-LIIF weights
big = upscale(image, scale=4, model=model)
"""

from tools.liif.api import LiifModel, load_model, upscale
from tools.liif.errors import CheckpointError, ImageError, LiifError, WeightsFetchError

__all__ = ["CheckpointError", "ImageError", "LiifError", "LiifModel", "WeightsFetchError", "load_model", "upscale"]
