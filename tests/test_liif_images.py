"""Image input/output edge cases, through the Python loader and through ``scientist upscale``."""

from __future__ import annotations

import os
import struct
import zlib
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.cli_helpers import assert_ok, assert_one_line_error, run
from tools.liif.errors import ImageError
from tools.liif.images import load_image, open_image

LIMIT = 64_000_000


def upscale(source: Path, output: Path, weights: Path, *extra: str | Path):
    return run("upscale", source, "-o", output, "--weights", weights, *extra)


def upscaled(source: Path, weights: Path) -> Image.Image:
    """``source`` enlarged 4x through the CLI (which must succeed), read back whole."""
    output = source.with_name(f"{source.stem}-x4.png")
    assert_ok(upscale(source, output, weights))
    with Image.open(output) as image:
        image.load()
    return image


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def huge_png_bytes(width: int = 100_000, height: int = 100_000) -> bytes:
    """A small, well-formed PNG whose header declares ``width`` x ``height`` 8-bit RGB pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def alpha_ramp(size: tuple[int, int] = (32, 24)) -> Image.Image:
    """An 'L' alpha mask: fully transparent in the 8 left columns, then a ramp up to opaque."""
    width, height = size
    values = np.zeros((height, width), dtype=np.uint8)
    values[:, 8:] = np.linspace(40, 255, width - 8).round().astype(np.uint8)
    values[: height // 2, 8:] //= 2  # vary along y too
    return Image.fromarray(values, "L")


# --------------------------------------------------------------------------------------------
# Formats


FORMATS = {"png": 0.0, "jpg": 0.04, "webp": 0.05, "bmp": 0.0, "tiff": 0.0}  # mean abs error allowed


@pytest.mark.parametrize("extension", FORMATS)
def test_loader_reads_every_input_format(tmp_path, small_input, extension):
    path = tmp_path / f"input.{extension}"
    small_input.save(path)
    loaded = load_image(path, LIMIT)
    assert loaded.size == (32, 24)
    assert loaded.rgb.shape == (24, 32, 3) and loaded.rgb.dtype == np.float32
    assert loaded.alpha is None and not loaded.grayscale
    assert loaded.rgb.min() >= 0.0 and loaded.rgb.max() <= 1.0
    expected = np.asarray(small_input, dtype=np.float32) / 255.0
    error = np.abs(loaded.rgb - expected).mean()
    assert error <= FORMATS[extension] + 1e-7, error


@pytest.mark.parametrize("extension", FORMATS)
def test_cli_upscales_every_input_format(tmp_path, small_input, edsr_weights, extension):
    source = tmp_path / f"input.{extension}"
    small_input.save(source)
    out = upscaled(source, edsr_weights)
    assert out.format == "PNG" and out.size == (128, 96) and out.mode == "RGB"


OUTPUT_FORMATS = [
    ("jpg", "JPEG"),
    ("jpeg", "JPEG"),
    ("webp", "WEBP"),
    ("bmp", "BMP"),
    ("tif", "TIFF"),
    ("tiff", "TIFF"),
]


@pytest.mark.parametrize(("extension", "pillow_format"), OUTPUT_FORMATS)
def test_cli_writes_the_format_the_output_extension_names(tmp_path, edsr_weights, fixtures, extension, pillow_format):
    output = tmp_path / f"out.{extension}"
    assert_ok(upscale(fixtures / "input-32x24.png", output, edsr_weights))
    with Image.open(output) as out:
        assert out.format == pillow_format and out.size == (128, 96)
    assert sorted(p.name for p in tmp_path.iterdir()) == [output.name]  # no temporary file left behind


# --------------------------------------------------------------------------------------------
# Modes


def test_grayscale_stays_grayscale(tmp_path, small_input, edsr_weights):
    source = tmp_path / "gray.png"
    small_input.convert("L").save(source)
    loaded = load_image(source, LIMIT)
    assert loaded.grayscale and loaded.alpha is None
    np.testing.assert_array_equal(loaded.rgb[..., 0], loaded.rgb[..., 1])
    np.testing.assert_array_equal(loaded.rgb[..., 0], loaded.rgb[..., 2])
    np.testing.assert_allclose(loaded.rgb[..., 0], np.asarray(small_input.convert("L")) / 255.0, atol=1e-6)

    out = upscaled(source, edsr_weights)
    assert out.mode == "L" and out.size == (128, 96)


def test_grayscale_with_alpha_stays_grayscale_with_alpha(tmp_path, small_input, edsr_weights):
    source = tmp_path / "gray-alpha.png"
    image = small_input.convert("L")
    image.putalpha(alpha_ramp())
    image.save(source)
    assert Image.open(source).mode == "LA"
    loaded = load_image(source, LIMIT)
    assert loaded.grayscale and loaded.alpha is not None

    out = upscaled(source, edsr_weights)
    assert out.mode == "LA" and out.size == (128, 96)
    expected = alpha_ramp().resize((128, 96), Image.BICUBIC)
    np.testing.assert_array_equal(np.asarray(out.getchannel("A")), np.asarray(expected))


def test_palette_without_transparency(tmp_path, small_input, edsr_weights):
    source = tmp_path / "palette.png"
    palette = small_input.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    palette.save(source)
    with Image.open(source) as check:
        assert check.mode == "P" and "transparency" not in check.info
    loaded = load_image(source, LIMIT)
    assert loaded.alpha is None and not loaded.grayscale
    np.testing.assert_allclose(loaded.rgb, np.asarray(palette.convert("RGB")) / 255.0, atol=1e-6)

    out = upscaled(source, edsr_weights)
    assert out.mode == "RGB" and out.size == (128, 96)


def test_palette_with_transparency_keeps_alpha(tmp_path, small_input, edsr_weights):
    source = tmp_path / "palette-transparent.png"
    quantized = small_input.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    indices = np.asarray(quantized).copy()
    indices[:, :8] = 63  # the left 8 columns use the transparent entry
    palette = Image.fromarray(indices, "P")
    palette.putpalette(quantized.getpalette())
    palette.save(source, transparency=63)
    with Image.open(source) as check:
        assert check.mode == "P" and check.info.get("transparency") == 63
    loaded = load_image(source, LIMIT)
    assert loaded.alpha is not None
    assert (loaded.alpha[:, :8] == 0).all() and (loaded.alpha[indices != 63] == 1).all()

    out = upscaled(source, edsr_weights)
    assert out.mode == "RGBA" and out.size == (128, 96)
    alpha = np.asarray(out.getchannel("A"))
    assert (alpha[:, :24] == 0).all()  # well inside the transparent band, 4x enlarged
    expected = Image.fromarray(((indices != 63) * 255).astype(np.uint8), "L").resize((128, 96), Image.BICUBIC)
    np.testing.assert_array_equal(alpha, np.asarray(expected))


def test_rgba_png_output_keeps_the_bicubically_enlarged_alpha(tmp_path, small_input, edsr_weights):
    source = tmp_path / "rgba.png"
    rgba = small_input.copy()
    rgba.putalpha(alpha_ramp())
    rgba.save(source)
    loaded = load_image(source, LIMIT)
    assert loaded.alpha is not None and not loaded.grayscale
    np.testing.assert_allclose(loaded.alpha, np.asarray(alpha_ramp()) / 255.0, atol=1e-6)
    # colour is kept unpremultiplied, even under full transparency
    np.testing.assert_allclose(loaded.rgb, np.asarray(small_input) / 255.0, atol=1e-6)

    out = upscaled(source, edsr_weights)
    assert out.mode == "RGBA" and out.size == (128, 96)
    alpha = np.asarray(out.getchannel("A"))
    expected = np.asarray(alpha_ramp().resize((128, 96), Image.BICUBIC))
    np.testing.assert_array_equal(alpha, expected)
    assert alpha.min() == 0 and alpha.max() == 255


def test_rgba_to_jpeg_drops_alpha_onto_white(tmp_path, small_input, edsr_weights):
    source = tmp_path / "rgba.png"
    rgba = small_input.copy()
    rgba.putalpha(alpha_ramp())
    rgba.save(source)
    output = tmp_path / "out.jpg"
    assert_ok(upscale(source, output, edsr_weights))
    with Image.open(output) as out:
        assert out.format == "JPEG" and out.mode == "RGB" and out.size == (128, 96)
        pixels = np.asarray(out)
    assert pixels[:, :20].min() >= 235  # the transparent band is composited onto white
    assert pixels[:, 64:].mean() < 200  # the opaque part is the picture, not white


def test_sixteen_bit_grayscale_is_scaled_to_unit_range(tmp_path, edsr_weights):
    values = np.linspace(0, 65535, 32 * 24).round().astype(np.uint16).reshape(24, 32)
    values[0, 0], values[-1, -1] = 0, 65535
    source = tmp_path / "gray16.png"
    Image.fromarray(values).save(source)
    with Image.open(source) as check:
        assert check.mode == "I;16"
    loaded = load_image(source, LIMIT)
    assert loaded.grayscale and loaded.alpha is None
    assert loaded.rgb.min() == 0.0 and loaded.rgb.max() == 1.0
    np.testing.assert_allclose(loaded.rgb[..., 0], values / 65535.0, atol=1e-6)
    np.testing.assert_array_equal(loaded.rgb[..., 0], loaded.rgb[..., 2])
    # not truncated to the low byte, nor left in 0..65535
    assert abs(loaded.rgb[12, 16, 0] - values[12, 16] / 65535.0) < 1e-6 and 0.4 < loaded.rgb[12, 16, 0] < 0.6

    out = upscaled(source, edsr_weights)
    assert out.mode == "L" and out.size == (128, 96)
    pixels = np.asarray(out, dtype=np.float32)
    # a smooth ramp stays a ramp: dark top-left, bright bottom-right, in 8 bits
    assert pixels[:8, :8].mean() < 40 and pixels[-8:, -8:].mean() > 215


def test_cmyk_jpeg_loads_as_rgb(tmp_path, small_input):
    source = tmp_path / "cmyk.jpg"
    small_input.convert("CMYK").save(source, quality=95)
    loaded = load_image(source, LIMIT)
    assert loaded.size == (32, 24) and not loaded.grayscale and loaded.alpha is None
    assert np.abs(loaded.rgb - np.asarray(small_input) / 255.0).mean() < 0.05


def test_exif_orientation_is_applied(tmp_path, small_input, edsr_weights):
    source = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    small_input.save(source, exif=exif, quality=95)
    with Image.open(source) as raw:
        assert raw.size == (32, 24) and raw.getexif().get(0x0112) == 6

    assert open_image(source, LIMIT).size == (24, 32)
    loaded = load_image(source, LIMIT)
    assert loaded.size == (24, 32)
    clockwise = np.asarray(small_input.transpose(Image.Transpose.ROTATE_270), dtype=np.float32) / 255.0
    counter = np.asarray(small_input.transpose(Image.Transpose.ROTATE_90), dtype=np.float32) / 255.0
    assert np.abs(loaded.rgb - clockwise).mean() < 0.04
    assert np.abs(loaded.rgb - counter).mean() > 2 * np.abs(loaded.rgb - clockwise).mean()

    out = upscaled(source, edsr_weights)
    assert out.size == (96, 128)


# --------------------------------------------------------------------------------------------
# Bad inputs


def corrupt(tmp_path: Path, _fixtures_dir: Path) -> Path:
    path = tmp_path / "corrupt.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    return path


def truncated(tmp_path: Path, fixtures_dir: Path) -> Path:
    data = (fixtures_dir / "input-32x24.png").read_bytes()
    path = tmp_path / "truncated.png"
    path.write_bytes(data[: len(data) // 2])
    return path


def empty(tmp_path: Path, _fixtures_dir: Path) -> Path:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    return path


def text(tmp_path: Path, _fixtures_dir: Path) -> Path:
    path = tmp_path / "notes.png"
    path.write_text("this is not an image\nat all\n")
    return path


def missing(tmp_path: Path, _fixtures_dir: Path) -> Path:
    return tmp_path / "missing.png"


def directory(tmp_path: Path, _fixtures_dir: Path) -> Path:
    path = tmp_path / "folder.png"
    path.mkdir()
    return path


def bomb(tmp_path: Path, _fixtures_dir: Path) -> Path:
    path = tmp_path / "bomb.png"
    path.write_bytes(huge_png_bytes())
    return path


@cache
def text_bomb_chunk() -> bytes:
    """A 50 KB zTXt chunk that inflates to 50 MB: past Pillow's limit on PNG text."""
    return png_chunk(b"zTXt", b"comment\0\0" + zlib.compress(b"a" * 50_000_000, 9))


def text_bomb(tmp_path: Path, fixtures_dir: Path) -> Path:
    data = (fixtures_dir / "input-32x24.png").read_bytes()
    path = tmp_path / "text-bomb.png"
    path.write_bytes(data[:33] + text_bomb_chunk() + data[33:])  # right after IHDR: read by Image.open
    return path


def text_bomb_after_pixels(tmp_path: Path, fixtures_dir: Path) -> Path:
    data = (fixtures_dir / "input-32x24.png").read_bytes()
    path = tmp_path / "text-bomb-late.png"
    path.write_bytes(data[:-12] + text_bomb_chunk() + data[-12:])  # before IEND: read by load()
    return path


def eps(tmp_path: Path, fixtures_dir: Path) -> Path:
    """A format Pillow knows but we do not document: reading it would need Ghostscript."""
    path = tmp_path / "picture.eps"
    Image.open(fixtures_dir / "input-32x24.png").convert("RGB").save(path)
    return path


BAD_INPUTS = {
    "text-bomb": (text_bomb, ("text metadata is too large",)),
    "text-bomb-after-pixels": (text_bomb_after_pixels, ("text metadata is too large",)),
    "eps": (eps, ("not an image in a supported format (PNG, JPEG, WebP, BMP or TIFF)",)),
    "corrupt": (corrupt, ("cannot open", "not an image", "corrupt")),
    "truncated": (truncated, ("truncated",)),
    "empty": (empty, ("empty",)),
    "text": (text, ("not an image",)),
    "missing": (missing, ("no such file",)),
    "directory": (directory, ("directory",)),
    "bomb": (bomb, ("decompression-bomb",)),
}


def test_crafted_png_really_declares_a_huge_size(tmp_path):
    """The bomb fixture is a valid PNG header Pillow itself refuses, not a corrupt file."""
    from PIL import PngImagePlugin

    data = huge_png_bytes(40, 30)  # the same bytes at a harmless size open fine
    (tmp_path / "small.png").write_bytes(data)
    with Image.open(tmp_path / "small.png") as image:
        assert isinstance(image, PngImagePlugin.PngImageFile) and image.size == (40, 30)
    (tmp_path / "huge.png").write_bytes(huge_png_bytes())
    with pytest.raises(Image.DecompressionBombError):
        Image.open(tmp_path / "huge.png")


@pytest.mark.parametrize("kind", BAD_INPUTS)
def test_loader_rejects_bad_input_with_one_line(tmp_path, fixtures, kind):
    make, reason = BAD_INPUTS[kind]
    path = make(tmp_path, fixtures)
    with pytest.raises(ImageError) as info:
        load_image(path, LIMIT)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ") and any(r in message for r in reason)
    assert not any(word in message for word in ("Error", "MAX_TEXT", "Ghostscript"))


@pytest.mark.parametrize("kind", BAD_INPUTS)
def test_cli_rejects_bad_input_with_one_line(tmp_path, fixtures, edsr_weights, kind):
    make, reason = BAD_INPUTS[kind]
    path = make(tmp_path, fixtures)
    before = set(tmp_path.iterdir())
    output = tmp_path / "out.png"
    line = assert_one_line_error(upscale(path, output, edsr_weights), path)
    assert any(r in line for r in reason), line
    assert not output.exists()
    assert set(tmp_path.iterdir()) == before  # nothing written, not even a temporary file


@pytest.mark.parametrize("kind", BAD_INPUTS)
def test_cli_rejects_bad_reference_with_one_line(tmp_path, fixtures, edsr_weights, kind):
    make, reason = BAD_INPUTS[kind]
    path = make(tmp_path, fixtures)
    output = tmp_path / "out.png"
    line = assert_one_line_error(upscale(fixtures / "input-32x24.png", output, edsr_weights, "--reference", path), path)
    assert any(r in line for r in reason), line
    assert not output.exists()


def test_bad_input_fails_before_the_model_is_loaded(tmp_path, monkeypatch):
    """Without --weights, a bad input is still one line: no default-weights download or notice first."""
    import tools.liif

    def no_model(*_args, **_kwargs):
        raise AssertionError("the model was loaded for an input that cannot be read")

    monkeypatch.setattr(tools.liif, "load_model", no_model)
    path = tmp_path / "missing.png"
    result = run("upscale", path, "-o", tmp_path / "out.png")
    line = assert_one_line_error(result, path)
    assert "no such file" in line


def test_input_over_the_pixel_limit(tmp_path, edsr_weights):
    source = tmp_path / "big.png"
    Image.new("RGB", (100, 100), (10, 20, 30)).save(source)
    with pytest.raises(ImageError, match="over the"):
        load_image(source, max_pixels=5000)
    assert load_image(source, max_pixels=10_000).size == (100, 100)  # the limit is inclusive

    output = tmp_path / "out.png"
    line = assert_one_line_error(upscale(source, output, edsr_weights, "--max-pixels", "5000"), source)
    assert "100x100" in line and "limit" in line
    assert not output.exists()


def test_input_limit_from_environment(tmp_path, edsr_weights, monkeypatch):
    source = tmp_path / "big.png"
    Image.new("RGB", (100, 100)).save(source)
    monkeypatch.setenv("SCIENTIST_MAX_PIXELS", "5000")
    output = tmp_path / "out.png"
    line = assert_one_line_error(upscale(source, output, edsr_weights), source)
    assert "100x100" in line
    assert not output.exists()


@pytest.mark.parametrize(("args", "size"), [(("--scale", "30"), "960x720"), (("--size", "400x300"), "400x300")])
def test_output_over_the_pixel_limit_is_refused_before_any_work(
    tmp_path, fixtures, edsr_weights, monkeypatch, args, size
):
    from tools.liif.api import LiifModel

    def no_work(*_args, **_kwargs):
        raise AssertionError("LIIF ran for an output over the limit")

    monkeypatch.setattr(LiifModel, "predict", no_work)
    output = tmp_path / "out.png"
    result = upscale(fixtures / "input-32x24.png", output, edsr_weights, *args, "--max-pixels", "100000")
    line = assert_one_line_error(result)
    assert f"output {size}" in line and "--max-pixels" in line and "AssertionError" not in line
    assert not output.exists()
    assert list(tmp_path.iterdir()) == []


def test_output_limit_allows_exactly_the_limit(tmp_path, fixtures, edsr_weights):
    output = tmp_path / "out.png"
    assert_ok(upscale(fixtures / "input-32x24.png", output, edsr_weights, "--max-pixels", str(128 * 96)))
    assert Image.open(output).size == (128, 96)


@pytest.mark.parametrize("name", ["out.xyz", "out"])
def test_unknown_output_extension(tmp_path, fixtures, edsr_weights, name):
    output = tmp_path / name
    line = assert_one_line_error(upscale(fixtures / "input-32x24.png", output, edsr_weights), output)
    assert "unknown image extension" in line
    assert list(tmp_path.iterdir()) == []


def test_output_in_an_undocumented_format_is_refused(tmp_path, fixtures, edsr_weights):
    output = tmp_path / "out.eps"
    line = assert_one_line_error(upscale(fixtures / "input-32x24.png", output, edsr_weights), output)
    assert "unknown image extension '.eps'" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_output_gets_the_usual_mode(tmp_path, fixtures, edsr_weights, umask, mode):
    output, figure = tmp_path / "out.png", tmp_path / "fig.png"
    previous = os.umask(umask)
    try:
        assert_ok(upscale(fixtures / "input-32x24.png", output, edsr_weights, "--compare", figure))
    finally:
        os.umask(previous)
    assert output.stat().st_mode & 0o777 == mode and figure.stat().st_mode & 0o777 == mode


def test_unknown_compare_extension_writes_nothing(tmp_path, fixtures, edsr_weights):
    output, figure = tmp_path / "out.png", tmp_path / "fig.xyz"
    result = upscale(fixtures / "input-32x24.png", output, edsr_weights, "--compare", figure)
    line = assert_one_line_error(result, figure)
    assert "unknown image extension" in line
    assert list(tmp_path.iterdir()) == []  # the output is not written when the figure cannot be


# --------------------------------------------------------------------------------------------
# Unexpected errors and --debug


def test_unexpected_error_is_one_line_without_debug(tmp_path, fixtures, edsr_weights, monkeypatch):
    import tools.liif.pipeline

    def boom(*_args, **_kwargs):
        raise RuntimeError("kaboom in the pipeline")

    monkeypatch.delenv("SCIENTIST_DEBUG", raising=False)
    monkeypatch.setattr(tools.liif.pipeline, "upscale_file", boom)
    result = upscale(fixtures / "input-32x24.png", tmp_path / "out.png", edsr_weights)
    line = assert_one_line_error(result)
    assert line.startswith("error: kaboom in the pipeline") and "RuntimeError" not in line
    assert "--debug" in line
    assert result.exit_code == 1


def test_debug_shows_the_traceback(tmp_path, fixtures, edsr_weights, monkeypatch):
    import tools.liif.pipeline

    def boom(*_args, **_kwargs):
        raise RuntimeError("kaboom in the pipeline")

    monkeypatch.delenv("SCIENTIST_DEBUG", raising=False)
    monkeypatch.setattr(tools.liif.pipeline, "upscale_file", boom)
    args = ["upscale", fixtures / "input-32x24.png", "-o", tmp_path / "out.png", "--weights", edsr_weights]
    result = run("--debug", *args)
    assert result.exit_code != 0
    assert isinstance(result.exception, RuntimeError) and str(result.exception) == "kaboom in the pipeline"
    assert "error: " not in result.stderr

    monkeypatch.setenv("SCIENTIST_DEBUG", "1")
    result = run(*args)
    assert isinstance(result.exception, RuntimeError)


def test_debug_shows_the_traceback_of_a_bad_input_too(tmp_path, edsr_weights, monkeypatch):
    monkeypatch.delenv("SCIENTIST_DEBUG", raising=False)
    path = tmp_path / "missing.png"
    result = run("--debug", "upscale", path, "-o", tmp_path / "out.png", "--weights", edsr_weights)
    assert result.exit_code != 0
    assert isinstance(result.exception, ImageError) and str(path) in str(result.exception)
