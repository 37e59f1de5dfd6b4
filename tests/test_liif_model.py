"""LIIF as a function: the authors' outputs (goldens), fast == literal, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tools.liif import CheckpointError, load_model
from tools.liif.checkpoint import load_checkpoint, save_checkpoint
from tools.liif.fast import decode_grid
from tools.liif.model import LIIF

SIZES = {"x4": (128, 96), "x2.5": (80, 60), "x6": (192, 144), "h55w41": (41, 55)}  # (W, H)


@pytest.mark.parametrize("checkpoint", ["edsr-baseline-liif", "synthetic-rdn-liif"])
@pytest.mark.parametrize("path", ["literal", "fast"])
@pytest.mark.parametrize("size", SIZES)
def test_matches_the_authors_outputs(request, small_input, goldens, checkpoint, path, size):
    model = request.getfixturevalue("edsr_model" if checkpoint.startswith("edsr") else "rdn_model")
    out = model.predict(small_input, size=SIZES[size], path=path)
    golden = goldens[f"{checkpoint}/{size}"] * 0.5 + 0.5  # goldens are in model output space
    assert out.shape == golden.shape and out.dtype == np.float32
    assert np.abs(out - golden).max() <= 1e-4


@pytest.mark.parametrize("seed", range(6))
def test_fast_equals_literal_on_random_images_and_scales(edsr_model, seed):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(5, 40, size=2)
    image = rng.random((h, w, 3), dtype=np.float32)
    sy, sx = rng.uniform(0.7, 7.5, size=2)  # also different x and y scales, and downscaling
    size = (max(1, round(w * sx)), max(1, round(h * sy)))
    literal = edsr_model.predict(image, size, path="literal")
    fast = edsr_model.predict(image, size, path="fast")
    assert np.abs(fast - literal).max() <= 1e-5


def test_fast_equals_literal_for_rdn(rdn_model):
    image = np.random.default_rng(7).random((17, 23, 3), dtype=np.float32)
    literal = rdn_model.predict(image, (70, 37), path="literal")
    assert np.abs(rdn_model.predict(image, (70, 37)) - literal).max() <= 1e-5


def test_bf16_stays_within_one_level(edsr_model, small_input):
    fp32 = edsr_model.predict(small_input, (128, 96))
    bf16 = edsr_model.predict(small_input, (128, 96), precision="bf16")
    assert 0 < np.abs(bf16 - fp32).max() <= 1 / 255


@pytest.mark.parametrize("scale", [1.5, 2.5, 12, 30])
def test_any_scale(edsr_model, scale):
    image = np.random.default_rng(1).random((6, 5, 3), dtype=np.float32)
    size = (round(5 * scale), round(6 * scale))
    out = edsr_model.predict(image, size)
    assert out.shape == (size[1], size[0], 3) and np.isfinite(out).all()


def test_tiles_do_not_change_the_result(edsr_model, monkeypatch):
    """The output is the same whatever the tile size, including a ragged last tile."""
    import tools.liif.fast as fast

    image = torch.rand(1, 3, 9, 11)
    with torch.inference_mode():
        feat = edsr_model.network.features(image)
        whole = decode_grid(edsr_model.network, feat, 37, 29)
        monkeypatch.setattr(fast, "TILE_QUERIES", 29 * 3)
        tiled = decode_grid(edsr_model.network, feat, 37, 29)
    assert torch.equal(whole, tiled)


def test_progress_reports_every_row(edsr_model):
    for path in ("fast", "literal"):
        rows: list[int] = []
        edsr_model.predict(np.zeros((8, 8, 3), np.float32), (700, 90), path=path, on_rows=rows.append)
        assert sum(rows) == 90


def test_encoder_is_read_from_the_checkpoint(edsr_model, rdn_model):
    assert (edsr_model.encoder, edsr_model.parameter_count) == ("edsr-baseline", 1_567_323)
    assert (rdn_model.encoder, rdn_model.parameter_count) == ("rdn", 22_320_835)


def test_save_and_load_round_trip(rdn_model, tmp_path):
    save_checkpoint(rdn_model.network, tmp_path / "copy.pth")
    again = load_checkpoint(tmp_path / "copy.pth")
    for (name, a), (_, b) in zip(rdn_model.network.state_dict().items(), again.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def checkpoint_with(tmp_path, edit) -> str:
    model = LIIF("edsr-baseline", [256, 256, 256, 256])
    blob = {"model": {"name": "liif", "args": {
        "encoder_spec": {"name": "edsr-baseline", "args": {"no_upsampling": True}},
        "imnet_spec": {"name": "mlp", "args": {"out_dim": 3, "hidden_list": [256, 256, 256, 256]}},
    }, "sd": model.state_dict()}}  # fmt: skip
    edit(blob)
    path = tmp_path / "edited.pth"
    torch.save(blob, path)
    return str(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda b: b["model"]["sd"].pop("encoder.head.0.weight"), "missing 1 (encoder.head.0.weight)"),
        (lambda b: b["model"]["sd"].__setitem__("encoder.extra", torch.zeros(1)), "unexpected 1 (encoder.extra)"),
        (lambda b: b["model"]["sd"].__setitem__("imnet.layers.8.bias", torch.zeros(4)), "wrong shape"),
        (lambda b: b["model"]["args"]["encoder_spec"].__setitem__("name", "swinir"), "'swinir' is not supported"),
        (lambda b: b.pop("model"), "not a LIIF checkpoint"),
    ],
)
def test_checkpoint_errors_name_the_problem(tmp_path, edit, message):
    with pytest.raises(CheckpointError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_checkpoint(checkpoint_with(tmp_path, edit))


def test_checkpoints_never_run_pickled_code(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pth"
    torch.save({"model": Payload()}, path)
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_model(path)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", b"PK\x03\x04truncated zip"])
def test_unreadable_checkpoints(tmp_path, content):
    path = tmp_path / "bad.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=r"bad\.pth"):
        load_checkpoint(path)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_checkpoint(tmp_path / "nope.pth")


def test_stopping_mid_decode_cancels_the_rest_and_restores_threads(edsr_model):
    threads = torch.get_num_threads()
    seen: list[int] = []

    def stop_after_first_tile(rows: int) -> None:
        seen.append(rows)
        raise KeyboardInterrupt

    image = np.zeros((40, 40, 3), np.float32)
    with pytest.raises(KeyboardInterrupt):
        edsr_model.predict(image, (400, 400), on_rows=stop_after_first_tile)
    assert len(seen) == 1
    assert torch.get_num_threads() == threads
