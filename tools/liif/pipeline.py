"""One upscaling job from files to files, with metrics: what ``scientist upscale``
and the agent's ``liif_upscale`` tool both run."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from pydantic import BaseModel

from tools.liif.api import LiifModel, Precision, check_output_pixels, output_size, upscale
from tools.liif.compare import comparison_figure
from tools.liif.errors import ImageError
from tools.liif.images import load_image, open_image, output_format, save_image
from tools.liif.metrics import psnr, ssim


class UpscaleReport(BaseModel):
    """What one run did and measured; the JSON of ``scientist upscale --json``."""

    input: str
    output: str
    input_size: tuple[int, int]
    output_size: tuple[int, int]
    scale: tuple[float, float]
    weights: str
    encoder: str
    precision: str
    seconds: float
    reference: str | None = None
    compare: str | None = None
    psnr_db: float | None = None
    bicubic_psnr_db: float | None = None
    ssim: float | None = None
    bicubic_ssim: float | None = None


def as_unit_rgb(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


def upscale_file(
    source: Path,
    output: Path,
    load_model: Callable[[], LiifModel],
    *,
    scale: float | None = None,
    size: tuple[int, int] | None = None,
    reference: Path | None = None,
    compare: Path | None = None,
    precision: Precision = "fp32",
    max_pixels: int,
    on_rows: Callable[[int], None] | None = None,
    on_start: Callable[[tuple[int, int]], None] | None = None,
) -> UpscaleReport:
    """Upscale ``source`` into ``output``; with a reference, also PSNR/SSIM for LIIF and bicubic.

    ``on_start(size)`` is told the output size once it is known (before the slow part).
    ``load_model`` is called only once the inputs, output paths and sizes have been
    checked, so bad input fails before any weights load.
    """
    for path in (output, compare):
        if path is not None:
            output_format(path)  # an unknown extension fails now, not after the work
    image = open_image(source, max_pixels)
    truth = load_image(reference, max_pixels) if reference else None
    if size is None and scale is None and truth is not None:
        size = truth.size  # compare against the reference at its own size
    target = output_size(image.size, scale, size)
    check_output_pixels(target, max_pixels)
    if truth is not None and truth.size != target:
        raise ImageError(
            f"{reference}: reference is {truth.size[0]}x{truth.size[1]} but the output is {target[0]}x{target[1]}"
        )
    model = load_model()
    if on_start:
        on_start(target)

    started = time.perf_counter()
    result = upscale(image, size=target, model=model, precision=precision, max_pixels=max_pixels, on_rows=on_rows)
    seconds = time.perf_counter() - started
    save_image(result, output)

    report = UpscaleReport(
        input=str(source),
        output=str(output),
        input_size=image.size,
        output_size=target,
        scale=(target[0] / image.size[0], target[1] / image.size[1]),
        weights=model.describe(),
        encoder=model.encoder,
        precision=precision,
        seconds=round(seconds, 3),
        reference=str(reference) if reference else None,
    )
    bicubic = image.convert("RGB").resize(target, Image.BICUBIC)
    panels = [("Bicubic", bicubic), (f"LIIF ({model.encoder})", result)]
    if truth is not None:
        border = math.ceil(max(report.scale))
        ours, base = as_unit_rgb(result), as_unit_rgb(bicubic)
        report.psnr_db = round(psnr(ours, truth.rgb, border), 3)
        report.bicubic_psnr_db = round(psnr(base, truth.rgb, border), 3)
        report.ssim = round(ssim(ours, truth.rgb, border), 4)
        report.bicubic_ssim = round(ssim(base, truth.rgb, border), 4)
        panels = [
            (f"Bicubic\nPSNR {report.bicubic_psnr_db:.2f} dB  SSIM {report.bicubic_ssim:.3f}", bicubic),
            (f"LIIF ({model.encoder})\nPSNR {report.psnr_db:.2f} dB  SSIM {report.ssim:.3f}", result),
            ("Reference", Image.fromarray((truth.rgb * 255 + 0.5).astype(np.uint8))),
        ]
    if compare is not None:
        report.compare = str(save_image(comparison_figure(panels), compare))
    return report
