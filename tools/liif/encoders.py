"""The two LIIF encoders, without their upsampling tails: EDSR-baseline and RDN.

Parameter names follow the authors' checkpoints (``head``/``body`` for EDSR,
``SFENet``/``RDBs``/``GFF`` for RDN) so their state dicts load unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv3x3(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, padding=1)


class MeanShift(nn.Conv2d):
    """A fixed 1x1 conv in the checkpoint (``sub_mean``/``add_mean``).

    The authors' forward pass never applies it, so neither do we; it exists only
    so that their state dict loads with strict keys.
    """

    def __init__(self) -> None:
        super().__init__(3, 3, 1)
        self.requires_grad_(False)


class ResBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv3x3(channels, channels), nn.ReLU(inplace=True), conv3x3(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class EDSRBaseline(nn.Module):
    """EDSR-baseline: 16 residual blocks of 64 channels, one long skip."""

    def __init__(self, n_resblocks: int = 16, n_feats: int = 64) -> None:
        super().__init__()
        self.out_dim = n_feats
        self.sub_mean = MeanShift()
        self.add_mean = MeanShift()
        self.head = nn.Sequential(conv3x3(3, n_feats))
        self.body = nn.Sequential(*[ResBlock(n_feats) for _ in range(n_resblocks)], conv3x3(n_feats, n_feats))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(x)
        return x + self.body(x)


class DenseLayer(nn.Module):
    """One RDB layer: a 3x3 conv + ReLU whose output is appended to its input."""

    def __init__(self, c_in: int, growth: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(conv3x3(c_in, growth), nn.ReLU(inplace=True))


class ResidualDenseBlock(nn.Module):
    def __init__(self, g0: int, growth: int, n_layers: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(DenseLayer(g0 + i * growth, growth) for i in range(n_layers))
        self.LFF = nn.Conv2d(g0 + n_layers * growth, g0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Dense connections write into one preallocated buffer instead of
        # concatenating at every layer: same numbers, a third of the peak memory.
        g0 = x.shape[1]
        growth = self.convs[0].conv[0].out_channels
        dense = x.new_empty(x.shape[0], g0 + len(self.convs) * growth, *x.shape[2:])
        dense[:, :g0] = x
        for i, layer in enumerate(self.convs):
            end = g0 + i * growth
            dense[:, end : end + growth] = layer.conv(dense[:, :end])
        return x + self.LFF(dense)


class RDN(nn.Module):
    """RDN (config B: 16 blocks x 8 layers, growth 64, G0 64)."""

    def __init__(self, g0: int = 64, n_blocks: int = 16, n_layers: int = 8, growth: int = 64) -> None:
        super().__init__()
        self.out_dim = g0
        self.SFENet1 = conv3x3(3, g0)
        self.SFENet2 = conv3x3(g0, g0)
        self.RDBs = nn.ModuleList(ResidualDenseBlock(g0, growth, n_layers) for _ in range(n_blocks))
        self.GFF = nn.Sequential(nn.Conv2d(n_blocks * g0, g0, 1), conv3x3(g0, g0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shallow = self.SFENet1(x)
        x = self.SFENet2(shallow)
        # GFF's 1x1 conv over all blocks' outputs, concatenated, equals the sum of its
        # per-block slices: accumulate as we go instead of keeping every output.
        fuse = self.GFF[0]
        fused = fuse.bias.view(1, -1, 1, 1)
        for block, weight in zip(self.RDBs, fuse.weight.split(self.out_dim, dim=1), strict=True):
            x = block(x)
            fused = fused + F.conv2d(x, weight)
        return self.GFF[1](fused) + shallow


ENCODERS: dict[str, type[nn.Module]] = {"edsr-baseline": EDSRBaseline, "rdn": RDN}
