"""Literal vs fast fp32 vs fast bf16, timed in one run on this machine.

Scikit-image's astronaut, Pillow-bicubic 512 -> 128, then LIIF 4x back to 512
(the whole ``predict``: encoder and decoder). The three paths run interleaved,
round after round, so that a slow spell on a shared machine hits all of them;
speed-ups are the median over rounds of each round's ratio. Also prints the
largest deviation from the literal path (in [0, 1] output space) and PSNR
against the original.

    python bench/liif_speed.py [--rounds 5] [--weights CKPT]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from PIL import Image
from skimage import data

from tools.liif import load_model
from tools.liif.metrics import psnr

PATHS = {"literal": ("literal", "fp32"), "fast fp32": ("fast", "fp32"), "fast bf16": ("fast", "bf16")}


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--weights", default=None)
    args = parser.parse_args()

    model = load_model(args.weights)
    reference = Image.fromarray(data.astronaut())
    small = reference.resize((128, 128), Image.BICUBIC)
    truth = np.asarray(reference, dtype=np.float32) / 255
    print(f"{model.describe()}, {torch.get_num_threads()} threads, astronaut 128x128 -> 512x512")
    print(f"{args.rounds} interleaved rounds\n")

    model.predict(small, (512, 512))  # warm-up: first calls pay for library initialisation
    seconds: dict[str, list[float]] = {label: [] for label in PATHS}
    outputs: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for label, (path, precision) in PATHS.items():
            start = time.perf_counter()
            outputs[label] = model.predict(small, (512, 512), precision, path)
            seconds[label].append(time.perf_counter() - start)

    literal = outputs["literal"]
    print(f"{'path':<10} {'best s':>7} {'median s':>9} {'speed-up':>9} {'max |diff|':>11} {'PSNR dB':>8}")
    for label, times in seconds.items():
        speedup = statistics.median(lit / t for lit, t in zip(seconds["literal"], times, strict=True))
        diff = float(np.abs(outputs[label] - literal).max())
        quality = psnr(np.clip(outputs[label], 0, 1), truth, border=4)
        print(
            f"{label:<10} {min(times):7.3f} {statistics.median(times):9.3f} {speedup:8.2f}x {diff:11.2e} {quality:8.3f}"
        )
    pixels = torch.from_numpy(np.asarray(small, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    with torch.inference_mode():
        encoder = min(timed(lambda: model.network.features((pixels - 0.5) / 0.5)) for _ in range(args.rounds))
    print(f"\nof which the encoder, the same for every path: {encoder:.3f} s")
    bf16, fp32 = (psnr(np.clip(outputs[k], 0, 1), truth, border=4) for k in ("fast bf16", "fast fp32"))
    print(f"\nbf16 PSNR minus fp32 PSNR: {bf16 - fp32:+.4f} dB")


if __name__ == "__main__":
    main()
