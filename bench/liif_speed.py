"""Literal vs fast fp32 vs fast bf16, timed in one run on this machine.

Scikit-image's astronaut, Pillow-bicubic 512 -> 128, then LIIF 4x back to 512.
Prints best-of-N seconds, speed ratios against the literal path, the largest
deviation from it (in [0, 1] output space) and PSNR against the original.

    python bench/liif_speed.py [--repeats 3] [--weights CKPT]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from PIL import Image
from skimage import data

from tools.liif import load_model
from tools.liif.metrics import psnr

RUNS = [("literal", "literal", "fp32"), ("fast fp32", "fast", "fp32"), ("fast bf16", "fast", "bf16")]


def best_time(fn, repeats: int) -> tuple[float, np.ndarray]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--weights", default=None)
    args = parser.parse_args()

    model = load_model(args.weights)
    reference = Image.fromarray(data.astronaut())
    small = reference.resize((128, 128), Image.BICUBIC)
    truth = np.asarray(reference, dtype=np.float32) / 255
    print(f"{model.describe()}, {torch.get_num_threads()} threads, astronaut 128x128 -> 512x512\n")

    model.predict(small, (512, 512))  # warm-up: first calls pay for library initialisation
    rows = {}
    for label, path, precision in RUNS:
        rows[label] = best_time(lambda p=path, q=precision: model.predict(small, (512, 512), q, p), args.repeats)

    literal_time, literal_out = rows["literal"]
    print(f"{'path':<10} {'seconds':>8} {'speed-up':>9} {'max |diff|':>11} {'PSNR dB':>8}")
    for label, (seconds, out) in rows.items():
        diff = float(np.abs(out - literal_out).max())
        quality = psnr(np.clip(out, 0, 1), truth, border=4)
        print(f"{label:<10} {seconds:8.3f} {literal_time / seconds:8.2f}x {diff:11.2e} {quality:8.3f}")


if __name__ == "__main__":
    main()
