"""The fast decoder: the same function as ``LIIF.query_literal`` on a full output
grid, rearranged so that the expensive parts run once instead of many times.

Exact rewrites:
1. The first MLP layer applied to 3x3-unfolded codes is a 3x3 convolution over
   the latent map, so it runs once per latent pixel (``first_layer_map``), not
   four times per output pixel. The cell term is the same for every query, so it
   folds into that layer's bias.
2. On a grid, a query's row picks its neighbour's row and its column picks its
   column: nearest-code lookups, offsets and area weights are separable and are
   computed once per output row and once per output column.
3. The last layer is linear, so the four neighbours' hidden states are blended
   by their area weights first and the last layer runs once per output pixel.

Speed without changing the function: tiles of output rows sized to stay in cache,
preallocated buffers, oneDNN's fused linear+ReLU with prepacked weights on CPU,
and one tile per core (single-threaded kernels beat splitting each small matmul).

``precision="bf16"`` runs the 256x256 layers in bfloat16 (fp32 accumulation);
everything else stays fp32.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from tools.liif.model import ENSEMBLE_EPS, LIIF, SHIFTS, pixel_centres

TILE_QUERIES = 2048  # output pixels per tile: 4 neighbours x 2048 x 256 floats = 8 MB of activations
Layer = Callable[[torch.Tensor], torch.Tensor]


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


def linear_relu(layer: torch.nn.Linear, dtype: torch.dtype, rows: int) -> Layer:
    """``relu(layer(x))`` as one fused oneDNN kernel with prepacked weights on CPU, else addmm + relu."""
    weight, bias = layer.weight.to(dtype), layer.bias.to(dtype)
    if weight.device.type == "cpu" and torch.backends.mkldnn.is_available():
        try:
            packed = torch.ops.mkldnn._reorder_linear_weight(weight, rows)
            return lambda x: torch.ops.mkldnn._linear_pointwise(x, packed, bias, "relu", [], "")
        except (AttributeError, RuntimeError):
            pass  # a torch build without these oneDNN ops: the plain path below
    weight_t = weight.t().contiguous()
    return lambda x: torch.addmm(bias, x, weight_t).relu_()


class GridDecoder:
    """Everything about one (latent map, output size) pair that tiles share."""

    def __init__(self, model: LIIF, feat: torch.Tensor, height: int, width: int, precision: str) -> None:
        device = feat.device
        h, w = feat.shape[-2:]
        first, *hidden, last = model.imnet.linears
        c9 = feat.shape[1] * 9
        self.height, self.width, self.n_hidden = height, width, first.out_features
        self.tile_rows = max(1, TILE_QUERIES // width)
        self.table = first_layer_map(model, feat, (2 / height, 2 / width))  # (h, w, hidden)
        self.rows = {d: axis_lookup(height, h, d, device) for d in (-1, 1)}
        self.cols = {d: axis_lookup(width, w, d, device) for d in (-1, 1)}
        self.row_terms = {d: self.rows[d].offset[:, None] * first.weight[:, c9] for d in (-1, 1)}
        self.col_terms = {d: self.cols[d].offset[:, None] * first.weight[:, c9 + 1] for d in (-1, 1)}

        # Each neighbour's prediction is weighted by the area of the opposite neighbour's rectangle.
        areas = [(self.rows[dy].offset[:, None] * self.cols[dx].offset[None, :]).abs() + 1e-9 for dy, dx in SHIFTS]
        total = torch.stack(areas).sum(dim=0)
        self.weights = torch.stack([area / total for area in reversed(areas)]).unsqueeze(-1)  # (4, H, W, 1)

        self.dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        self.hidden = [linear_relu(layer, self.dtype, 4 * TILE_QUERIES) for layer in hidden]
        self.last_weight, self.last_bias = last.weight.t().contiguous(), last.bias
        self.out = torch.empty(height, width, 3, device=device)
        self.buffers = threading.local()

    def tile_starts(self) -> range:
        return range(0, self.height, self.tile_rows)

    @torch.inference_mode()  # per thread: workers do not inherit the caller's mode
    def decode_tile(self, r0: int) -> int:
        """Fill output rows r0.. of one tile; returns how many rows it did."""
        r1 = min(self.height, r0 + self.tile_rows)
        n = (r1 - r0) * self.width
        if not hasattr(self.buffers, "pre"):
            self.buffers.pre = self.table.new_empty(4 * self.tile_rows * self.width, self.n_hidden)
        pre = self.buffers.pre[: 4 * n]
        x = pre.view(4, r1 - r0, self.width, self.n_hidden)
        for k, (dy, dx) in enumerate(SHIFTS):
            latent_rows = self.table.index_select(0, self.rows[dy].index[r0:r1])
            latent_rows += self.row_terms[dy][r0:r1, None, :]
            torch.index_select(latent_rows, 1, self.cols[dx].index, out=x[k])
            x[k] += self.col_terms[dx]
        a = pre.relu_().to(self.dtype)
        for layer in self.hidden:
            a = layer(a)
        a = a.view(4, n, self.n_hidden)
        blend = self.weights[:, r0:r1].reshape(4, n, 1)
        blended = a[0] * blend[0]
        for k in range(1, 4):
            blended.addcmul_(a[k], blend[k])
        torch.addmm(self.last_bias, blended, self.last_weight, out=self.out[r0:r1].view(n, 3))
        return r1 - r0


def decode_grid(
    model: LIIF,
    feat: torch.Tensor,
    height: int,
    width: int,
    precision: str = "fp32",
    on_rows: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """RGB (height, width, 3) in model output space for a (1, C, h, w) latent map.

    ``on_rows(n)`` is called (on the calling thread) as each tile's n rows finish.
    """
    decoder = GridDecoder(model, feat, height, width, precision)
    if feat.device.type != "cpu":
        for r0 in decoder.tile_starts():
            done = decoder.decode_tile(r0)
            if on_rows:
                on_rows(done)
        return decoder.out
    with one_thread_per_tile() as pool:
        for done in pool.map(decoder.decode_tile, decoder.tile_starts()):
            if on_rows:
                on_rows(done)
    return decoder.out


CPU_THREADS_LOCK = threading.Lock()


@contextmanager
def one_thread_per_tile() -> Iterator[ThreadPoolExecutor]:
    """A pool with one worker per torch thread, whose kernels run single-threaded.

    torch's thread count is process-wide, so decodes take turns (they each use every core anyway).
    Pending tiles are cancelled if the caller stops early (e.g. Ctrl-C).
    """
    with CPU_THREADS_LOCK:
        threads = torch.get_num_threads()
        pool = ThreadPoolExecutor(threads, thread_name_prefix="liif-tile")
        torch.set_num_threads(1)
        try:
            yield pool
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            torch.set_num_threads(threads)
