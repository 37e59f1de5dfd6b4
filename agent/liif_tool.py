"""``liif_upscale``: the agent's LangChain tool over ``tools/liif``.

It proves a super-resolution answer by measurement: a picture (scikit-image's
astronaut, or the user's own) is reduced to a quarter of its size with Pillow
bicubic, enlarged back 4x with LIIF, and compared with the original, against
bicubic enlargement. Results are cached by weights hash, image hash and size.
"""

from __future__ import annotations

import hashlib
import json
import threading
from functools import cache
from pathlib import Path

from PIL import Image
from pydantic import BaseModel, Field, ValidationError

from agent.errors import plain_message, validation_problems
from agent.schema import ToolCall
from tools.liif.settings import LiifSettings

TOOL_NAME = "liif_upscale"
DEMO_IMAGE = "demo:astronaut"
SCALE = 4
MAX_SIDE = 512  # a user's picture is centre-cropped to this, so a demo stays a few seconds


class LiifUpscaleArgs(BaseModel):
    image: str = Field(DEMO_IMAGE, description="'demo:astronaut' or the path of a picture to test on")
    weights: str | None = Field(None, description="LIIF checkpoint path; default: the authors' EDSR-baseline-LIIF")


@cache
def preferred_precision() -> str:
    """bf16 where the CPU computes it natively (same PSNR to 4 decimals, ~1.6x faster), else fp32.

    Read from /proc/cpuinfo where there is one, so that a cached answer never imports torch.
    """
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        flags = cpuinfo.read_text(errors="replace")
        return "bf16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "fp32"
    import torch

    return "bf16" if torch.cpu._is_avx512_bf16_supported() else "fp32"


def reference_image(image: str, settings: LiifSettings) -> tuple[Path, str]:
    """The ground-truth picture to test on, and a label for it."""
    if image == DEMO_IMAGE:
        from tools.liif.demo import demo_reference

        return demo_reference(settings.cache_dir / "demo"), "scikit-image's astronaut photo (512x512)"
    return Path(image), f"your picture {image}"


def prepare(reference: Path, folder: Path, max_pixels: int) -> tuple[Path, Path]:
    """Write (small, truth) PNGs: the picture cropped to a multiple of the scale (at most MAX_SIDE) and its 1/4."""
    from tools.liif.images import open_image

    picture = open_image(reference, max_pixels).convert("RGB")
    side_w, side_h = (min(MAX_SIDE, s) // SCALE * SCALE for s in picture.size)
    if side_w < SCALE or side_h < SCALE:
        raise ValueError(f"{reference}: too small to test a {SCALE}x enlargement on")
    left, top = (picture.width - side_w) // 2, (picture.height - side_h) // 2
    truth = picture.crop((left, top, left + side_w, top + side_h))
    folder.mkdir(parents=True, exist_ok=True)
    truth.save(folder / "original.png")
    truth.resize((side_w // SCALE, side_h // SCALE), Image.BICUBIC).save(folder / "small.png")
    return folder / "small.png", folder / "original.png"


RUN_LOCK = threading.Lock()  # concurrent answers (batch --jobs) run one demo at a time, then share its cache


def liif_upscale(image: str = DEMO_IMAGE, weights: str | None = None) -> dict:
    """Run the measured 4x demo; returns the result dict of the answer record's tool call."""
    with RUN_LOCK:
        return run_demo(image, weights)


def run_demo(image: str, weights: str | None) -> dict:
    from tools.liif.weights import resolve_weights, sha256_file

    settings = LiifSettings()
    reference, label = reference_image(image, settings)
    checkpoint = resolve_weights(weights, settings)
    precision = preferred_precision()
    key = hashlib.sha256(
        f"{sha256_file(checkpoint)}:{sha256_file(reference)}:{MAX_SIDE}:{SCALE}:{precision}".encode()
    ).hexdigest()[:16]
    folder = settings.cache_dir / "runs" / key
    cached = folder / "result.json"
    if cached.is_file():
        return {**json.loads(cached.read_text()), "cached": True}

    from tools.liif.api import shared_model  # torch: only when LIIF really runs
    from tools.liif.pipeline import upscale_file

    small, truth = prepare(reference, folder, settings.max_pixels)
    report = upscale_file(
        small, folder / "liif-x4.png", lambda: shared_model(checkpoint), scale=SCALE, reference=truth,
        compare=folder / "compare.png", precision=precision, max_pixels=settings.max_pixels,
    )  # fmt: skip
    result = {
        "image": label,
        "input": str(small),
        "reference": str(truth),
        "output": report.output,
        "compare": report.compare,
        "input_size": list(report.input_size),
        "output_size": list(report.output_size),
        "psnr_db": report.psnr_db,
        "bicubic_psnr_db": report.bicubic_psnr_db,
        "psnr_gain_db": round(report.psnr_db - report.bicubic_psnr_db, 2),
        "ssim": report.ssim,
        "bicubic_ssim": report.bicubic_ssim,
        "seconds": report.seconds,
        "weights": report.weights,
        "encoder": report.encoder,
        "precision": precision,
    }
    cached.write_text(json.dumps(result, indent=2))
    return {**result, "cached": False}


def liif_tool():
    """The LangChain StructuredTool another agent (or ours) can call."""
    from langchain_core.tools import StructuredTool

    return StructuredTool.from_function(
        func=liif_upscale,
        name=TOOL_NAME,
        description=(
            "Measure LIIF super-resolution: reduce a picture 4x, enlarge it back with LIIF, and report "
            "PSNR/SSIM against the original and against bicubic, the time taken and the image paths."
        ),
        args_schema=LiifUpscaleArgs,
    )


def run_liif(arguments: dict) -> ToolCall:
    """Invoke the tool; a failure becomes the call's error instead of the answer's."""
    from tools.liif.errors import LiifError

    try:
        # The function the StructuredTool wraps, called directly: same arguments schema, without
        # importing LangChain's tool machinery (half a second) into every answer.
        result = liif_upscale(**LiifUpscaleArgs(**arguments).model_dump())
        return ToolCall(name=TOOL_NAME, arguments=arguments, result=result)
    except ValidationError as exc:
        return ToolCall(name=TOOL_NAME, arguments=arguments, error=f"bad arguments: {validation_problems(exc)}")
    except (LiifError, ValueError, OSError) as exc:
        return ToolCall(name=TOOL_NAME, arguments=arguments, error=plain_message(exc))
