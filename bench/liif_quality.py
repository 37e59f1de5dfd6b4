"""PSNR/SSIM of LIIF against bicubic at x2, x3 and x4 on scikit-image's colour photos.

Each photo is cropped to a multiple of the scale, reduced with Pillow bicubic, then
enlarged back with bicubic and with LIIF; metrics are on RGB with the border shaved
by the scale.

    python bench/liif_quality.py [--weights CKPT] [--precision fp32|bf16]
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image
from skimage import data

from tools.liif import load_model
from tools.liif.metrics import psnr, ssim

PHOTOS = ["astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field"]
SCALES = [2, 3, 4]


def unit(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float32) / 255


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None)
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    args = parser.parse_args()
    model = load_model(args.weights)
    print(f"{model.describe()}, precision {args.precision}\n")
    print(f"{'photo':<22}{'scale':>6}{'bicubic dB':>12}{'LIIF dB':>9}{'gain':>7}{'bicubic SSIM':>14}{'LIIF SSIM':>11}")
    gains: dict[int, list[float]] = {s: [] for s in SCALES}
    for name in PHOTOS:
        photo = Image.fromarray(getattr(data, name)())
        for s in SCALES:
            w, h = photo.width - photo.width % s, photo.height - photo.height % s
            truth = photo.crop((0, 0, w, h))
            small = truth.resize((w // s, h // s), Image.BICUBIC)
            bicubic = unit(small.resize((w, h), Image.BICUBIC))
            liif = np.clip(model.predict(small, (w, h), args.precision), 0, 1)
            liif = np.round(liif * 255) / 255  # what a saved 8-bit file holds
            ref = unit(truth)
            b_psnr, l_psnr = psnr(bicubic, ref, s), psnr(liif, ref, s)
            b_ssim, l_ssim = ssim(bicubic, ref, s), ssim(liif, ref, s)
            gains[s].append(l_psnr - b_psnr)
            gain = l_psnr - b_psnr
            print(f"{name:<22}{'x' + str(s):>6}{b_psnr:12.2f}{l_psnr:9.2f}{gain:+7.2f}{b_ssim:14.4f}{l_ssim:11.4f}")
    print()
    for s in SCALES:
        print(f"mean PSNR gain over bicubic at x{s}: {np.mean(gains[s]):+.2f} dB")


if __name__ == "__main__":
    main()
