"""Deterministic synthetic LIIF checkpoints, rebuilt from a keys file.

The recipe is the fixture's documented one: each tensor comes from numpy's PCG64
seeded with the first 8 bytes (little-endian) of sha256(key); weights are
N(0, 1) / sqrt(fan_in), biases N(0, 1) * 0.01.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch


def synthetic_tensor(key: str, shape: list[int]) -> torch.Tensor:
    seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")
    values = np.random.Generator(np.random.PCG64(seed)).standard_normal(int(np.prod(shape)))
    values *= 1.0 / np.sqrt(np.prod(shape[1:])) if len(shape) >= 2 else 0.01
    return torch.from_numpy(values.reshape(shape).astype(np.float32))


def write_synthetic_checkpoint(keys_file: Path, out: Path) -> Path:
    spec = json.loads(keys_file.read_text())
    state = {key: synthetic_tensor(key, shape) for key, shape in spec["keys"]}
    torch.save({"model": {"name": "liif", "args": spec["args"], "sd": state}}, out)
    return out
