"""Image quality against a reference: PSNR and SSIM on RGB in [0, 1].

Both shave a border as wide as the scale factor, as super-resolution papers do,
because neither bicubic nor LIIF can know what lies beyond the image edge.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def shave(image: np.ndarray, border: int) -> np.ndarray:
    return image[border:-border, border:-border] if border > 0 else image


def psnr(output: np.ndarray, reference: np.ndarray, border: int = 0) -> float:
    """Peak signal-to-noise ratio in dB over all RGB values, peak 1.0."""
    diff = shave(output, border).astype(np.float64) - shave(reference, border).astype(np.float64)
    mse = float(np.mean(diff**2))
    return math.inf if mse == 0 else -10.0 * math.log10(mse)


def gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(output: np.ndarray, reference: np.ndarray, border: int = 0) -> float:
    """Structural similarity (Wang et al. 2004: 11x11 Gaussian, sigma 1.5), mean over RGB channels."""
    x = torch.from_numpy(np.ascontiguousarray(shave(output, border), dtype=np.float32)).permute(2, 0, 1)
    y = torch.from_numpy(np.ascontiguousarray(shave(reference, border), dtype=np.float32)).permute(2, 0, 1)
    # Blur the five statistics of all three channels at once: a separable depthwise 'valid' filter.
    stats = torch.cat([x, y, x * x, y * y, x * y]).unsqueeze(0)
    g = gaussian_window()
    channels = stats.shape[1]
    blurred = F.conv2d(stats, g.view(1, 1, -1, 1).expand(channels, 1, -1, 1).contiguous(), groups=channels)
    blurred = F.conv2d(blurred, g.view(1, 1, 1, -1).expand(channels, 1, 1, -1).contiguous(), groups=channels)
    mx, my, xx, yy, xy = blurred[0].double().split(3)
    vx, vy, cxy = xx - mx**2, yy - my**2, xy - mx * my
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(s.mean())
