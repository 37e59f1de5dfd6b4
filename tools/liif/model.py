"""LIIF, the method as written: an encoder turns the image into a grid of latent
codes; an MLP maps (nearby code, offset to it, output cell size) to RGB at any
continuous coordinate; four nearby codes are blended by area (local ensemble).

``LIIF.query_literal`` follows the paper step by step and is the yardstick the
fast path in ``fast.py`` is tested against.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from tools.liif.encoders import ENCODERS

ENSEMBLE_EPS = 1e-6  # nudge so a query exactly between two codes picks one consistently
SHIFTS = ((-1, -1), (-1, 1), (1, -1), (1, 1))  # (row, column) neighbour offsets, in this order


class MLP(nn.Module):
    """ReLU MLP; ``layers`` holds Linear modules at even indices, as in the checkpoints."""

    def __init__(self, in_dim: int, out_dim: int, hidden_list: list[int]) -> None:
        super().__init__()
        dims = [in_dim, *hidden_list]
        blocks: list[nn.Module] = []
        for d_in, d_out in itertools.pairwise(dims):
            blocks += [nn.Linear(d_in, d_out), nn.ReLU()]
        blocks.append(nn.Linear(dims[-1], out_dim))
        self.layers = nn.Sequential(*blocks)

    @property
    def linears(self) -> list[nn.Linear]:
        return [m for m in self.layers if isinstance(m, nn.Linear)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def pixel_centres(n: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Centres of n pixels spanning [-1, 1]: -1 + 1/n + 2/n * i (float32)."""
    return (-1 + 1 / n) + (2 / n) * torch.arange(n, dtype=torch.float32, device=device)


def coordinate_grid(height: int, width: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(height, width, 2) pixel-centre coordinates; channel 0 is the row axis."""
    rows, cols = pixel_centres(height, device), pixel_centres(width, device)
    return torch.stack(torch.meshgrid(rows, cols, indexing="ij"), dim=-1)


def nearest(grid_map: torch.Tensor, coord: torch.Tensor) -> torch.Tensor:
    """Values of grid_map (B, C, h, w) at the pixel nearest each (row, col) coord (B, Q, 2) -> (B, Q, C)."""
    sample_at = coord.flip(-1).unsqueeze(1)  # grid_sample wants (x, y)
    return F.grid_sample(grid_map, sample_at, mode="nearest", align_corners=False)[:, :, 0, :].permute(0, 2, 1)


class LIIF(nn.Module):
    """Encoder + MLP with feature unfolding, local ensemble and cell decoding."""

    def __init__(self, encoder: str, hidden_list: list[int], out_dim: int = 3) -> None:
        super().__init__()
        self.encoder_name = encoder
        self.encoder = ENCODERS[encoder]()
        c = self.encoder.out_dim
        self.imnet = MLP(c * 9 + 2 + 2, out_dim, hidden_list)

    def features(self, image: torch.Tensor) -> torch.Tensor:
        """Latent codes (B, C, h, w) for an image normalised to [-1, 1]."""
        return self.encoder(image.contiguous(memory_format=torch.channels_last))

    def query_literal(self, feat: torch.Tensor, coord: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
        """RGB (B, Q, 3) at coords (B, Q, 2) for output cells (B, Q, 2), both in [-1, 1] units."""
        b, c, h, w = feat.shape
        feat = feat.contiguous()  # plain NCHW, as the method was written (the encoder may hand over channels-last)
        unfolded = F.unfold(feat, 3, padding=1).view(b, c * 9, h, w)  # channel index c*9 + ky*3 + kx
        code_coord = coordinate_grid(h, w, feat.device).permute(2, 0, 1).unsqueeze(0).expand(b, 2, h, w)
        scale = torch.tensor([h, w], dtype=torch.float32, device=feat.device)
        rel_cell = cell * scale

        preds, areas = [], []
        for dy, dx in SHIFTS:
            shifted = coord.clone()
            shifted[..., 0] += dy / h + ENSEMBLE_EPS  # half a latent pixel towards the neighbour
            shifted[..., 1] += dx / w + ENSEMBLE_EPS
            shifted.clamp_(-1 + 1e-6, 1 - 1e-6)
            code = nearest(unfolded, shifted)
            rel_coord = (coord - nearest(code_coord, shifted)) * scale
            preds.append(self.imnet(torch.cat([code, rel_coord, rel_cell], dim=-1)))
            areas.append((rel_coord[..., 0] * rel_coord[..., 1]).abs() + 1e-9)

        total = torch.stack(areas).sum(dim=0)
        # Each prediction is weighted by the area of the opposite neighbour's rectangle.
        out = 0
        for pred, area in zip(preds, reversed(areas), strict=True):
            out = out + pred * (area / total).unsqueeze(-1)
        return out
