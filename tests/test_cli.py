"""End-to-end ``scientist`` command line, through click's CliRunner."""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.cli_helpers import assert_ok, assert_one_line_error, run
from tools.liif.weights import DEFAULT_SHA256, sha256_file

EDSR_PARAMETERS = 1_567_323
RDN_PARAMETERS = 22_320_835


@pytest.fixture
def source(tmp_path, fixtures) -> Path:
    """The 32x24 fixture, copied so that default outputs land in tmp_path."""
    path = tmp_path / "small.png"
    path.write_bytes((fixtures / "input-32x24.png").read_bytes())
    return path


def upscale_json(*args: str | Path) -> dict:
    result = run("upscale", *args, "--json")
    assert_ok(result)
    return json.loads(result.stdout)


# --------------------------------------------------------------------------------------------
# Help


def test_help():
    result = run("--help")
    assert_ok(result)
    assert "Usage: scientist" in result.stdout
    assert "upscale" in result.stdout and "weights" in result.stdout and "--debug" in result.stdout


def test_upscale_help():
    result = run("upscale", "--help")
    assert_ok(result)
    for option in ("--scale", "--size", "--weights", "--precision", "--reference", "--compare", "--max-pixels"):
        assert option in result.stdout


def test_weights_help():
    result = run("weights", "--help")
    assert_ok(result)
    assert all(command in result.stdout for command in ("fetch", "path", "info"))


# --------------------------------------------------------------------------------------------
# upscale: sizes


def test_default_is_4x_png_beside_the_input(source, edsr_weights):
    result = run("upscale", source, "--weights", edsr_weights)
    assert_ok(result)
    output = source.with_name("small-liif.png")
    with Image.open(output) as out:
        assert out.format == "PNG" and out.size == (128, 96) and out.mode == "RGB"
    assert "(32x24)" in result.stdout and "(128x96)" in result.stdout
    assert "edsr-baseline-liif" in result.stdout and "precision fp32" in result.stdout


def test_default_output_is_liif_not_bicubic(source, edsr_weights, fixtures):
    """The file written is the network's output: closer to the reference than bicubic is."""
    output = source.with_name("out.png")
    assert_ok(run("upscale", source, "-o", output, "--weights", edsr_weights))
    reference = np.asarray(Image.open(fixtures / "reference-128x96.png").convert("RGB"), dtype=np.float64)
    ours = np.asarray(Image.open(output), dtype=np.float64)
    bicubic = np.asarray(Image.open(source).resize((128, 96), Image.BICUBIC), dtype=np.float64)
    inner = np.s_[4:-4, 4:-4]
    assert ((ours - reference)[inner] ** 2).mean() < ((bicubic - reference)[inner] ** 2).mean()


@pytest.mark.parametrize(
    ("args", "size"),
    [
        (("--scale", "2.5"), (80, 60)),
        (("--size", "41x55"), (41, 55)),
        (("--scale", "1"), (32, 24)),
        (("--size", "7X5"), (7, 5)),
    ],
)
def test_scale_and_size(source, edsr_weights, args, size):
    output = source.with_name("out.png")
    report = upscale_json(source, "-o", output, "--weights", edsr_weights, *args)
    assert tuple(report["output_size"]) == size and tuple(report["input_size"]) == (32, 24)
    assert report["scale"] == pytest.approx([size[0] / 32, size[1] / 24])
    with Image.open(output) as out:
        assert out.size == size


def test_scale_and_size_together_is_a_usage_error(source, edsr_weights):
    result = run("upscale", source, "--scale", "2", "--size", "64x48", "--weights", edsr_weights)
    assert result.exit_code == 2
    assert "--scale or --size" in result.stderr
    assert not source.with_name("small-liif.png").exists()


@pytest.mark.parametrize("size", ["64", "64x", "axb", "0x10", "10x-1", "1x2x3"])
def test_bad_size_is_a_usage_error(source, size):
    result = run("upscale", source, "--size", size)
    assert result.exit_code == 2
    assert "--size" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("scale", ["0", "-2"])
def test_non_positive_scale_is_an_error(source, edsr_weights, scale):
    line = assert_one_line_error(run("upscale", source, "--scale", scale, "--weights", edsr_weights))
    assert "scale must be positive" in line
    assert not source.with_name("small-liif.png").exists()


# --------------------------------------------------------------------------------------------
# upscale: reference, compare, precision, weights


def test_reference_prints_psnr_and_ssim(source, fixtures, edsr_weights):
    result = run("upscale", source, "--reference", fixtures / "reference-128x96.png", "--weights", edsr_weights)
    assert_ok(result)
    psnr = re.search(r"PSNR: LIIF ([\d.]+) dB, bicubic ([\d.]+) dB \(\+([\d.]+) dB\)", result.stdout)
    assert psnr, result.stdout
    ours, bicubic, gain = (float(g) for g in psnr.groups())
    assert ours > bicubic and gain == pytest.approx(ours - bicubic, abs=0.011)
    assert re.search(r"SSIM: LIIF 0\.\d{4}, bicubic 0\.\d{4}", result.stdout)


def test_reference_json_liif_beats_bicubic(source, fixtures, edsr_weights):
    reference = fixtures / "reference-128x96.png"
    report = upscale_json(source, "--scale", "4", "--reference", reference, "--weights", edsr_weights)
    assert report["encoder"] == "edsr-baseline"
    assert report["reference"] == str(reference)
    assert report["psnr_db"] > report["bicubic_psnr_db"] > 20
    assert report["ssim"] > report["bicubic_ssim"]
    assert report["output"] == str(source.with_name("small-liif.png"))
    assert report["weights"].startswith("edsr-baseline-liif") and DEFAULT_SHA256[:12] in report["weights"]


def test_reference_of_the_wrong_size_is_an_error(source, fixtures, edsr_weights):
    reference = fixtures / "reference-128x96.png"
    output = source.with_name("out.png")
    result = run("upscale", source, "-o", output, "--scale", "2", "--reference", reference, "--weights", edsr_weights)
    line = assert_one_line_error(result, reference)
    assert "128x96" in line and "64x48" in line
    assert not output.exists()


def test_reference_sets_the_output_size(source, fixtures, edsr_weights, tmp_path):
    reference = tmp_path / "reference-96x64.png"
    Image.open(fixtures / "reference-128x96.png").resize((96, 64), Image.BICUBIC).save(reference)
    output = tmp_path / "out.png"
    report = upscale_json(source, "-o", output, "--reference", reference, "--weights", edsr_weights)
    assert tuple(report["output_size"]) == (96, 64)
    assert report["psnr_db"] is not None and report["bicubic_psnr_db"] is not None
    assert Image.open(output).size == (96, 64)


def test_compare_writes_a_wide_figure(source, fixtures, edsr_weights, tmp_path):
    figure = tmp_path / "fig.png"
    result = run(
        "upscale",
        source,
        "--reference",
        fixtures / "reference-128x96.png",
        "--compare",
        figure,
        "--weights",
        edsr_weights,
    )
    assert_ok(result)
    assert f"comparison: {figure}" in result.stdout
    with Image.open(figure) as image:
        assert image.format == "PNG" and image.width > image.height


def test_compare_without_reference(source, edsr_weights, tmp_path):
    figure = tmp_path / "fig.png"
    report = upscale_json(source, "--compare", figure, "--weights", edsr_weights)
    assert report["compare"] == str(figure) and report["psnr_db"] is None
    with Image.open(figure) as image:
        assert image.width > image.height


def test_bf16_precision(source, edsr_weights, tmp_path):
    fp32, bf16 = tmp_path / "fp32.png", tmp_path / "bf16.png"
    assert upscale_json(source, "-o", fp32, "--weights", edsr_weights)["precision"] == "fp32"
    report = upscale_json(source, "-o", bf16, "--precision", "bf16", "--weights", edsr_weights)
    assert report["precision"] == "bf16" and tuple(report["output_size"]) == (128, 96)
    a = np.asarray(Image.open(fp32), dtype=np.int16)
    b = np.asarray(Image.open(bf16), dtype=np.int16)
    assert np.abs(a - b).max() <= 2 and np.abs(a - b).mean() < 0.5  # within about 1/255
    assert (a != b).any()  # bf16 really ran: a few values round differently


def test_unknown_precision_is_a_usage_error(source):
    assert run("upscale", source, "--precision", "fp8").exit_code == 2


def test_rdn_weights(source, rdn_weights, tmp_path):
    output = tmp_path / "rdn.png"
    report = upscale_json(source, "-o", output, "--weights", rdn_weights)
    assert report["encoder"] == "rdn" and report["weights"].startswith("rdn-liif")
    assert Image.open(output).size == (128, 96)


def test_weights_from_the_environment(source, rdn_weights, monkeypatch):
    monkeypatch.setenv("SCIENTIST_LIIF_WEIGHTS", str(rdn_weights))
    report = upscale_json(source, "--size", "40x30")
    assert report["encoder"] == "rdn"


def test_missing_weights_file_is_an_error(source, tmp_path):
    weights = tmp_path / "nope.pth"
    line = assert_one_line_error(run("upscale", source, "--weights", weights), weights)
    assert "no such checkpoint" in line
    assert not source.with_name("small-liif.png").exists()


# --------------------------------------------------------------------------------------------
# weights


def test_weights_path_from_environment(edsr_weights, monkeypatch):
    monkeypatch.setenv("SCIENTIST_LIIF_WEIGHTS", str(edsr_weights))
    result = run("weights", "path")
    assert_ok(result)
    last = result.stdout.strip().splitlines()[-1]
    assert last == str(edsr_weights) and Path(last).is_file()


def test_weights_path_default(edsr_weights):
    """With nothing set, the default checkpoint (already in the cache) is printed."""
    result = run("weights", "path")
    assert_ok(result)
    last = Path(result.stdout.strip().splitlines()[-1])
    assert last.is_file() and last == edsr_weights
    assert sha256_file(last) == DEFAULT_SHA256


def test_weights_info_edsr_json(edsr_weights):
    result = run("weights", "info", edsr_weights, "--json")
    assert_ok(result)
    info = json.loads(result.stdout)
    assert info["encoder"] == "edsr-baseline" and info["name"] == "edsr-baseline-liif"
    assert info["parameters"] == EDSR_PARAMETERS
    assert re.fullmatch(r"[0-9a-f]{64}", info["sha256"]) and info["sha256"] == DEFAULT_SHA256
    assert info["path"] == str(edsr_weights)


def test_weights_info_rdn_json(rdn_weights):
    result = run("weights", "info", rdn_weights, "--json")
    assert_ok(result)
    info = json.loads(result.stdout)
    assert info["encoder"] == "rdn" and info["parameters"] == RDN_PARAMETERS
    assert re.fullmatch(r"[0-9a-f]{64}", info["sha256"]) and info["sha256"] == sha256_file(rdn_weights)


def test_weights_info_text(rdn_weights):
    result = run("weights", "info", rdn_weights)
    assert_ok(result)
    assert "encoder: rdn" in result.stdout and f"parameters: {RDN_PARAMETERS:,}" in result.stdout


def test_weights_info_default(edsr_weights, monkeypatch):
    monkeypatch.setenv("SCIENTIST_LIIF_WEIGHTS", str(edsr_weights))
    info = json.loads(run("weights", "info", "--json").stdout)
    assert info["parameters"] == EDSR_PARAMETERS


@pytest.mark.parametrize(
    "content",
    [b"", b"not a checkpoint at all\n", b"PK\x03\x04" + bytes(200), b"\x80\x02}q\x00."],
    ids=["empty", "text", "broken-zip", "bare-pickle"],
)
def test_weights_info_on_a_non_checkpoint(tmp_path, content):
    path = tmp_path / "bad.pth"
    path.write_bytes(content)
    line = assert_one_line_error(run("weights", "info", path), path)
    assert "checkpoint" in line


def test_weights_info_on_a_state_dict_without_the_authors_layout(tmp_path, rdn_weights):
    path = tmp_path / "bare.pth"
    torch.save(torch.load(rdn_weights, weights_only=True)["model"]["sd"], path)
    line = assert_one_line_error(run("weights", "info", path), path)
    assert "not a LIIF checkpoint" in line


def test_checkpoint_with_a_missing_key(tmp_path, rdn_weights, source):
    checkpoint = torch.load(rdn_weights, weights_only=True)
    dropped = sorted(checkpoint["model"]["sd"])[len(checkpoint["model"]["sd"]) // 2]
    del checkpoint["model"]["sd"][dropped]
    path = tmp_path / "missing-key.pth"
    torch.save(checkpoint, path)

    line = assert_one_line_error(run("weights", "info", path), path)
    assert dropped in line and "missing" in line
    line = assert_one_line_error(run("upscale", source, "--weights", path), path)
    assert dropped in line
    assert not source.with_name("small-liif.png").exists()


def test_checkpoint_with_a_wrong_shape(tmp_path, rdn_weights):
    checkpoint = torch.load(rdn_weights, weights_only=True)
    key = next(k for k, v in checkpoint["model"]["sd"].items() if v.ndim == 4)
    checkpoint["model"]["sd"][key] = checkpoint["model"]["sd"][key][:1]
    path = tmp_path / "wrong-shape.pth"
    torch.save(checkpoint, path)
    line = assert_one_line_error(run("weights", "info", path), path)
    assert key in line and "shape" in line


def test_checkpoint_with_an_unknown_encoder(tmp_path, rdn_weights, source):
    checkpoint = torch.load(rdn_weights, weights_only=True)
    checkpoint["model"]["args"]["encoder_spec"]["name"] = "swinir-xl"
    path = tmp_path / "unknown-encoder.pth"
    torch.save(checkpoint, path)

    line = assert_one_line_error(run("weights", "info", path), path)
    assert "'swinir-xl'" in line and "not supported" in line
    line = assert_one_line_error(run("upscale", source, "--weights", path), path)
    assert "swinir-xl" in line


def test_ctrl_c_stops_cleanly_and_leaves_no_output(source, tmp_path, edsr_weights, monkeypatch):
    import tools.liif.api

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(tools.liif.api.LiifModel, "predict", interrupt)
    result = run("upscale", source, "-o", tmp_path / "out.png", "--weights", edsr_weights)
    assert result.exit_code == 130
    assert result.stderr.strip() == "interrupted"
    assert not list(tmp_path.glob("out.png*")) and not list(tmp_path.glob(".out.png*"))


# --------------------------------------------------------------------------------------------
# Odd input: one plain sentence, no Python exception names; odd characters never crash a command


@pytest.mark.parametrize("scale", ["inf", "-inf", "nan", "-1", "1e309", "1e200"])
def test_scale_must_be_a_finite_positive_number(source, edsr_weights, scale):
    line = assert_one_line_error(run("upscale", source, "--scale", scale, "--weights", edsr_weights))
    assert "scale" in line and "Error" not in line.removeprefix("error: ")
    assert not source.with_name("small-liif.png").exists()


def test_size_larger_than_any_image(source, edsr_weights):
    huge = "1" + "0" * 200
    line = assert_one_line_error(run("upscale", source, "--size", f"{huge}x{huge}", "--weights", edsr_weights))
    assert "too large" in line and "Error" not in line.removeprefix("error: ")


def test_a_thin_strip_wider_than_any_image_is_refused_before_it_allocates(source, edsr_weights):
    """30 MP is under the pixel limit, but 10 million columns would need gigabytes of per-column features."""
    line = assert_one_line_error(run("upscale", source, "--size", "9999999x3", "--weights", edsr_weights))
    assert "over the 65,535-pixel limit on a side" in line and "alloc" not in line


def test_checkpoint_whose_model_is_not_a_mapping(tmp_path):
    path = tmp_path / "odd.pth"
    torch.save({"model": 3}, path)
    line = assert_one_line_error(run("weights", "info", path), path)
    assert "not a LIIF checkpoint" in line and "subscriptable" not in line


@pytest.mark.parametrize(
    ("error", "sentence"),
    [
        (RecursionError("maximum recursion depth exceeded"), "nested too deeply"),
        (OverflowError("cannot convert float infinity to integer"), "a number is too large"),
        (ValueError("Exceeds the limit (4300 digits) for integer string conversion"), "more than 4300 digits"),
        (RuntimeError(), "an unexpected error"),
    ],
)
def test_unexpected_errors_are_plain_sentences(source, edsr_weights, monkeypatch, error, sentence):
    import tools.liif.pipeline

    def fail(*_args, **_kwargs):
        raise error

    monkeypatch.setattr(tools.liif.pipeline, "upscale_file", fail)
    line = assert_one_line_error(run("upscale", source, "--weights", edsr_weights))
    assert sentence in line and "--debug" in line
    assert type(error).__name__ not in line and "sys." not in line


def test_ask_with_a_lone_surrogate_writes_its_answer(tmp_path):
    path = tmp_path / "odd.json"
    record = '{"name": "M\\ud800", "paper": "https://a.org/\\ud800"}'  # JSON's escape for a lone surrogate
    path.write_text(f'{{"question": "How do I enlarge \\ud800 a photo?", "models": [{record}]}}')
    out = tmp_path / "out"
    result = run("ask", path, "--json", "--out", out, "--no-tools", "--backend", "offline")
    assert_ok(result)
    assert json.loads((out / "odd.json").read_text(encoding="utf-8"))["question"] == "How do I enlarge \ufffd a photo?"
    assert (out / "odd.md").is_file()


def test_ask_deeply_nested_json_is_one_plain_line(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000)
    line = assert_one_line_error(run("ask", path, "--no-tools", "--backend", "offline"), path)
    assert "nested too deeply" in line and "Recursion" not in line


def test_failed_ask_out_leaves_nothing_behind(tmp_path, monkeypatch):
    import agent.answer

    def disk_full(_target):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(agent.answer, "atomic_file", disk_full)
    out = tmp_path / "new" / "answers"
    args = ("--no-tools", "--backend", "offline")
    line = assert_one_line_error(run("ask", "How do I enlarge a photo?", "--out", out, *args), out)
    assert "No space left on device" in line
    assert list(tmp_path.iterdir()) == []  # not even the parent it created
    existing = tmp_path / "mine"
    existing.mkdir()
    (existing / "notes.txt").write_text("kept")
    assert_one_line_error(run("ask", "How do I enlarge a photo?", "--out", existing, *args), existing)
    assert [p.name for p in existing.iterdir()] == ["notes.txt"]  # a folder that was there is left alone


def test_printing_undecodable_file_names_cannot_crash(tmp_path, fixtures, edsr_weights):
    """A file name that is not UTF-8 reaches Python as lone surrogates, which a strict stdout cannot print."""
    source = tmp_path / os.fsdecode(b"photo\xff.png")
    source.write_bytes((fixtures / "input-32x24.png").read_bytes())
    command = [sys.executable, "-m", "agent.cli", "upscale", source, "--weights", edsr_weights]
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}  # errors="strict", as under a UTF-8 locale
    result = subprocess.run(command, cwd=Path(__file__).parent.parent, env=env, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert b"photo?.png (32x24) -> " in result.stdout
