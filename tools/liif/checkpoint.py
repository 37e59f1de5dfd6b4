"""Checkpoints in the LIIF authors' layout:
``{'model': {'name': 'liif', 'args': {'encoder_spec': ..., 'imnet_spec': ...}, 'sd': state_dict}}``.

Loaded with ``weights_only=True`` so no pickled code runs, and with strict keys.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from tools.liif.encoders import ENCODERS
from tools.liif.errors import CheckpointError
from tools.liif.model import LIIF


def read_spec(checkpoint: dict[str, Any], path: Path) -> tuple[str, list[int]]:
    """The encoder name and MLP hidden sizes a checkpoint declares."""
    try:
        model = checkpoint["model"]
        args = model["args"]
        encoder = args["encoder_spec"]["name"]
        hidden = list(args["imnet_spec"]["args"]["hidden_list"])
        model["sd"]
    except KeyError as exc:
        raise CheckpointError(f"{path}: not a LIIF checkpoint (no model/args/sd layout; missing {exc})") from None
    except TypeError:  # a part of the layout is not a mapping; Python's words for it would say nothing useful
        raise CheckpointError(f"{path}: not a LIIF checkpoint (no model/args/sd layout)") from None
    if model.get("name", "liif") != "liif":
        raise CheckpointError(f"{path}: model {model.get('name')!r} is not 'liif'")
    if encoder not in ENCODERS:
        raise CheckpointError(f"{path}: encoder {encoder!r} is not supported (expected one of {', '.join(ENCODERS)})")
    return encoder, hidden


def load_checkpoint(path: str | Path) -> LIIF:
    """Build the LIIF model a checkpoint file describes and load its weights."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, OSError, ValueError) as exc:
        lines = str(exc).strip().splitlines()
        raise CheckpointError(f"{path}: cannot read checkpoint ({lines[0] if lines else 'no details'})") from None
    encoder, hidden = read_spec(checkpoint, path)
    model = LIIF(encoder, hidden)
    state = checkpoint["model"]["sd"]
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: keys do not match a {encoder} LIIF model: "
            f"missing {summarise(missing)}; unexpected {summarise(unexpected)}"
        )
    wrong = [k for k, v in state.items() if tuple(v.shape) != tuple(expected[k].shape)]
    if wrong:
        k = wrong[0]
        raise CheckpointError(
            f"{path}: {len(wrong)} tensors have the wrong shape, e.g. {k} is {tuple(state[k].shape)}, "
            f"expected {tuple(expected[k].shape)}"
        )
    model.load_state_dict(state, strict=True)
    model.encoder.to(memory_format=torch.channels_last)  # oneDNN's fast convolution layout
    return model.eval().requires_grad_(False)


def save_checkpoint(model: LIIF, path: str | Path) -> None:
    """Write a model in the authors' layout (loadable by their code and ours)."""
    hidden = [m.out_features for m in model.imnet.linears[:-1]]
    args = {
        "encoder_spec": {"name": model.encoder_name, "args": {"no_upsampling": True}},
        "imnet_spec": {"name": "mlp", "args": {"out_dim": 3, "hidden_list": hidden}},
    }
    torch.save({"model": {"name": "liif", "args": args, "sd": model.state_dict()}}, path)


def summarise(keys: list[str], limit: int = 3) -> str:
    if not keys:
        return "none"
    shown = ", ".join(keys[:limit])
    return f"{len(keys)} ({shown}{', ...' if len(keys) > limit else ''})"
