"""The fast decoder: the same function as ``LIIF.query_literal`` on a full output
grid, rearranged so that the expensive parts run once instead of many times.

Three exact rewrites:
1. The first MLP layer applied to 3x3-unfolded codes is a 3x3 convolution over
   the latent map, so it runs once per latent pixel (``first_layer_map``), not
   four times per output pixel. The cell term is the same for every query, so it
   folds into that layer's bias.
2. On a grid, a query's row picks its neighbour's row and its column picks its
   column: nearest-code lookups, offsets and area weights are separable and are
   computed once per output row and once per output column.
3. The remaining layers run on tiles of output rows sized to stay in cache, into
   one preallocated buffer, as oneDNN linear+ReLU kernels with prepacked weights
   on CPU (plain addmm + relu elsewhere).

``precision="bf16"`` runs the 256x256 layers in bfloat16 (fp32 accumulation);
everything else stays fp32.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from tools.liif.model import ENSEMBLE_EPS, LIIF, SHIFTS, pixel_centres

TILE_QUERIES = 2048  # output pixels per tile: 4 neighbours x 2048 x 256 floats = 8 MB, well inside L3


@dataclass
class AxisLookup:
    """For one axis and one neighbour direction: the latent row (or column) each
    output row (or column) reads, and its offset to that code in latent pixels."""

    index: torch.Tensor  # (n_out,) int64
    offset: torch.Tensor  # (n_out,) float32


def axis_lookup(n_out: int, n_latent: int, direction: int, device: torch.device) -> AxisLookup:
    coord = pixel_centres(n_out, device)
    shifted = (coord + (direction / n_latent + ENSEMBLE_EPS)).clamp_(-1 + 1e-6, 1 - 1e-6)
    # Ask grid_sample itself which latent pixel is nearest, so ties round exactly as in the literal path.
    positions = torch.arange(n_latent, dtype=torch.float32, device=device).view(1, 1, 1, n_latent)
    grid = torch.stack([shifted, torch.zeros_like(shifted)], dim=-1).view(1, 1, n_out, 2)
    index = F.grid_sample(positions, grid, mode="nearest", align_corners=False).view(n_out).long()
    offset = (coord - pixel_centres(n_latent, device)[index]) * n_latent
    return AxisLookup(index, offset)


def first_layer_map(model: LIIF, feat: torch.Tensor, cell: tuple[float, float]) -> torch.Tensor:
    """The first MLP layer's code and cell terms at every latent pixel: (h, w, hidden)."""
    first = model.imnet.linears[0]
    c, h, w = feat.shape[1:]
    weight_code = first.weight[:, : c * 9].reshape(-1, c, 3, 3)
    weight_cell = first.weight[:, c * 9 + 2 :]
    rel_cell = torch.tensor([cell[0] * h, cell[1] * w], dtype=torch.float32, device=feat.device)
    bias = first.bias + weight_cell @ rel_cell
    return F.conv2d(feat, weight_code, bias, padding=1)[0].permute(1, 2, 0).contiguous()


def linear_relu(layer: torch.nn.Linear, dtype: torch.dtype, rows: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """``relu(layer(x))`` as one fused oneDNN kernel with prepacked weights on CPU, else addmm + relu."""
    weight, bias = layer.weight.to(dtype), layer.bias.to(dtype)
    if weight.device.type == "cpu" and torch.backends.mkldnn.is_available():
        packed = torch.ops.mkldnn._reorder_linear_weight(weight, rows)
        return lambda x: torch.ops.mkldnn._linear_pointwise(x, packed, bias, "relu", [], "")
    weight_t = weight.t().contiguous()
    return lambda x: torch.addmm(bias, x, weight_t).relu_()


def decode_grid(
    model: LIIF,
    feat: torch.Tensor,
    height: int,
    width: int,
    precision: str = "fp32",
    on_rows: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """RGB (height, width, 3) in model output space for a (1, C, h, w) latent map.

    ``on_rows(n)`` is called after each tile with the number of rows it finished.
    """
    device = feat.device
    h, w = feat.shape[-2:]
    first, *hidden_layers, last = model.imnet.linears
    c9 = feat.shape[1] * 9
    table = first_layer_map(model, feat, (2 / height, 2 / width))
    rows = {d: axis_lookup(height, h, d, device) for d in (-1, 1)}
    cols = {d: axis_lookup(width, w, d, device) for d in (-1, 1)}
    row_terms = {d: rows[d].offset[:, None] * first.weight[:, c9] for d in (-1, 1)}  # (height, hidden)
    col_terms = {d: cols[d].offset[:, None] * first.weight[:, c9 + 1] for d in (-1, 1)}  # (width, hidden)

    # Each neighbour's prediction is weighted by the area of the opposite neighbour's rectangle.
    areas = [(rows[dy].offset[:, None] * cols[dx].offset[None, :]).abs() + 1e-9 for dy, dx in SHIFTS]
    total = torch.stack(areas).sum(dim=0)
    weights = torch.stack([area / total for area in reversed(areas)]).unsqueeze(-1)  # (4, height, width, 1)

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    tile_rows = max(1, TILE_QUERIES // width)
    n_hidden = first.out_features
    hidden = [linear_relu(layer, dtype, 4 * tile_rows * width) for layer in hidden_layers]
    last_weight = last.weight.t().contiguous()

    out = torch.empty(height, width, 3, device=device)
    buffer = torch.empty(4 * tile_rows * width, n_hidden, device=device)
    for r0 in range(0, height, tile_rows):
        r1 = min(height, r0 + tile_rows)
        n = (r1 - r0) * width
        x = buffer[: 4 * n].view(4, r1 - r0, width, n_hidden)
        for k, (dy, dx) in enumerate(SHIFTS):
            latent_rows = table.index_select(0, rows[dy].index[r0:r1]).add_(row_terms[dy][r0:r1, None, :])
            torch.index_select(latent_rows, 1, cols[dx].index, out=x[k])
            x[k].add_(col_terms[dx])
        a = buffer[: 4 * n].relu_().to(dtype)
        for layer in hidden:
            a = layer(a)
        # The last layer is linear, so blend the four neighbours first and apply it once per pixel.
        a = a.view(4, n, n_hidden)
        blend_weights = weights[:, r0:r1].reshape(4, n, 1)
        blended = a[0] * blend_weights[0]
        for k in range(1, 4):
            blended.addcmul_(a[k], blend_weights[k])
        torch.addmm(last.bias, blended, last_weight, out=out[r0:r1].view(n, 3))
        if on_rows:
            on_rows(r1 - r0)
    return out
