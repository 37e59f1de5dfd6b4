"""The Python API: ``load_model``, ``LiifModel.predict`` and ``upscale``."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image

from tools.liif.checkpoint import load_checkpoint
from tools.liif.errors import ImageError
from tools.liif.fast import decode_grid
from tools.liif.images import compose, to_loaded
from tools.liif.model import LIIF, coordinate_grid
from tools.liif.settings import LiifSettings
from tools.liif.weights import resolve_weights, sha256_file

Precision = Literal["fp32", "bf16"]
Path_ = Literal["fast", "literal"]
MAX_SIDE = 65_535  # JPEG's limit and far beyond any photo; the fast path keeps 256 features per output column
LITERAL_CHUNK = 30_000  # queries per chunk on the literal path, as in the authors' demo
ImageLike = Image.Image | np.ndarray


@dataclass
class LiifModel:
    """A loaded LIIF network plus where its weights came from."""

    network: LIIF
    weights_path: Path
    sha256: str
    device: torch.device

    @property
    def encoder(self) -> str:
        return self.network.encoder_name

    @property
    def name(self) -> str:
        return f"{self.encoder}-liif"

    @property
    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.network.parameters())

    def describe(self) -> str:
        return f"{self.name} (sha256 {self.sha256[:12]}…)"

    @torch.inference_mode()
    def predict(
        self,
        image: ImageLike,
        size: tuple[int, int],
        precision: Precision = "fp32",
        path: Path_ = "fast",
        on_rows: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """LIIF output (H, W, 3) float32 for ``size=(W, H)``: ``model_output * 0.5 + 0.5``, unclamped."""
        width, height = size
        rgb = as_rgb_array(image)
        pixels = torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).to(self.device)
        feat = self.network.features((pixels - 0.5) / 0.5)
        if path == "literal":
            out = self.query_literal(feat, height, width, on_rows)
        else:
            out = decode_grid(self.network, feat, height, width, precision, on_rows)
        return (out * 0.5 + 0.5).cpu().numpy()

    def query_literal(self, feat: torch.Tensor, height: int, width: int, on_rows: Callable[[int], None] | None):
        coord = coordinate_grid(height, width, self.device).view(1, -1, 2)
        cell = torch.tensor([2 / height, 2 / width], device=self.device).expand_as(coord)
        chunks = []
        for start in range(0, coord.shape[1], LITERAL_CHUNK):
            end = start + LITERAL_CHUNK
            chunks.append(self.network.query_literal(feat, coord[:, start:end], cell[:, start:end]))
            if on_rows:
                on_rows(min(end, height * width) // width - start // width)
        return torch.cat(chunks, dim=1).view(height, width, 3)


def as_rgb_array(image: ImageLike) -> np.ndarray:
    """float32 (H, W, 3) in [0, 1] from a Pillow image or a uint8/float array."""
    if isinstance(image, Image.Image):
        return to_loaded(image).rgb
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ImageError(f"expected an (H, W, 3) array, got shape {array.shape}")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    return np.ascontiguousarray(array, dtype=np.float32)


def load_model(weights: str | Path | None = None, device: str = "cpu") -> LiifModel:
    """Load a LIIF checkpoint (default: the authors' EDSR-baseline-LIIF, fetched on first use)."""
    path = resolve_weights(weights, LiifSettings())
    network = load_checkpoint(path).to(device)
    return LiifModel(network, path, sha256_file(path), torch.device(device))


_SHARED_LOCK = threading.Lock()
_SHARED: dict[tuple[str | None, str], LiifModel] = {}


def shared_model(weights: str | Path | None = None, device: str = "cpu") -> LiifModel:
    """One loaded model per checkpoint and device for the whole process (chat, the MCP server and the
    agent's demo runs all share it), loaded on first use."""
    key = (str(weights) if weights is not None else None, device)
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = load_model(weights, device)
        return _SHARED[key]


def output_size(
    input_size: tuple[int, int], scale: float | None = None, size: tuple[int, int] | None = None
) -> tuple[int, int]:
    """(W, H) of the result: an explicit size, else the input scaled (default 4x)."""
    if size is not None:
        width, height = size
    else:
        factor = 4.0 if scale is None else scale
        if not (factor > 0 and math.isfinite(factor)):
            raise ImageError(f"scale must be positive and finite, got {factor:g}")
        if max(input_size) * factor > MAX_SIDE:
            raise ImageError(
                f"scale {factor:g} is too large: the output would be over the {MAX_SIDE:,}-pixel limit on a side"
            )
        width, height = round(input_size[0] * factor), round(input_size[1] * factor)
    if width < 1 or height < 1:
        raise ImageError(f"output size {width}x{height} is empty")
    if max(width, height) > MAX_SIDE:
        raise ImageError(f"output size {width}x{height} is too large: over the {MAX_SIDE:,}-pixel limit on a side")
    return width, height


def check_output_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise ImageError(
            f"output {width}x{height} is {width * height / 1e6:.1f} MP, over the {max_pixels / 1e6:g} MP limit "
            "(raise it with --max-pixels or SCIENTIST_MAX_PIXELS)"
        )


def upscale(
    image: ImageLike,
    scale: float | None = None,
    size: tuple[int, int] | None = None,
    model: LiifModel | None = None,
    precision: Precision = "fp32",
    max_pixels: int | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> Image.Image:
    """Enlarge an image with LIIF; grayscale stays grayscale and alpha is kept (enlarged bicubically)."""
    loaded = to_loaded(image) if isinstance(image, Image.Image) else None
    rgb = loaded.rgb if loaded else as_rgb_array(image)
    target = output_size((rgb.shape[1], rgb.shape[0]), scale, size)
    check_output_pixels(target, max_pixels or LiifSettings().max_pixels)
    model = model or load_model()
    out = model.predict(rgb, target, precision, on_rows=on_rows)
    alpha = None
    if loaded and loaded.alpha is not None:
        alpha_image = Image.fromarray((loaded.alpha * 255 + 0.5).astype(np.uint8), "L")
        alpha = np.asarray(alpha_image.resize(target, Image.BICUBIC), dtype=np.float32) / 255.0
    return compose(out, alpha, bool(loaded and loaded.grayscale))
