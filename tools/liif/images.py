"""Reading and writing images safely.

Every input becomes float32 RGB in [0, 1] plus what we need to give it back in its
own form: grayscale stays grayscale, and alpha survives.

Alpha: LIIF is trained on RGB, so colour goes through LIIF while the alpha channel
is enlarged with bicubic interpolation and reattached. Formats without alpha
(JPEG, BMP) get the result composited onto white.
"""

from __future__ import annotations

import os
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from tools.liif.errors import ImageError

# The formats we document and test. Pillow reads many more, some through outside programs (EPS
# through Ghostscript), so it is only ever asked for these.
FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "TIFF")
FORMAT_NAMES = "PNG, JPEG, WebP, BMP or TIFF"
ALPHA_FORMATS = {"PNG", "WEBP", "TIFF"}
# PNG level 3 writes several times faster than the default 6, for slightly larger files.
SAVE_OPTIONS = {"JPEG": {"quality": 95}, "WEBP": {"quality": 95}, "PNG": {"compress_level": 3}}


@dataclass
class LoadedImage:
    rgb: np.ndarray  # (H, W, 3) float32 in [0, 1]
    alpha: np.ndarray | None  # (H, W) float32 in [0, 1], or None
    grayscale: bool

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), as Pillow reports sizes."""
        return self.rgb.shape[1], self.rgb.shape[0]


def describe(exc: BaseException) -> str:
    """The first line of Pillow's reason, for the end of a one-line error."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror  # "Permission denied", without the errno and the path again
    text = str(exc).strip().splitlines()
    return text[0] if text else "no details"


def open_image(path: str | Path, max_pixels: int) -> Image.Image:
    """Open, bound-check and fully decode an image file, with EXIF orientation applied."""
    path = Path(path)
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path}: is a directory, not an image")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we apply our own limit below
            image = Image.open(path, formats=FORMATS)
    except Image.DecompressionBombError:
        raise ImageError(f"{path}: refused, its pixel count is a decompression-bomb size") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image in a supported format ({FORMAT_NAMES})") from None
    except ValueError as exc:  # a damaged header, or PNG text past Pillow's limits
        raise unreadable(path, exc) from None
    except OSError as exc:
        raise ImageError(f"{path}: cannot open ({describe(exc)})") from None
    width, height = image.size
    if width * height > max_pixels:
        raise ImageError(
            f"{path}: {width}x{height} is {width * height / 1e6:.0f} MP, over the {max_pixels / 1e6:g} MP input limit"
        )
    try:
        image.load()
        return ImageOps.exif_transpose(image)
    except Exception as exc:  # Pillow raises many types for damaged files
        raise unreadable(path, exc) from None


def unreadable(path: Path, exc: Exception) -> ImageError:
    """Pillow's reason for refusing a file, in words: its text-chunk limits (MAX_TEXT_CHUNK,
    MAX_TEXT_MEMORY, against PNG text that inflates to megabytes) are named in the message only."""
    if "MAX_TEXT" in str(exc):
        return ImageError(f"{path}: refused, its text metadata is too large to read safely")
    return ImageError(f"{path}: corrupt or truncated image ({describe(exc)})")


def to_loaded(image: Image.Image) -> LoadedImage:
    """Split any Pillow image into float RGB, optional alpha and whether it was grayscale."""
    mode = image.mode
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        gray = np.asarray(image, dtype=np.float32) / 65535.0
        return LoadedImage(np.repeat(np.clip(gray, 0, 1)[..., None], 3, axis=2), None, True)
    if mode == "F":
        gray = np.clip(np.asarray(image, dtype=np.float32), 0, 1)
        return LoadedImage(np.repeat(gray[..., None], 3, axis=2), None, True)
    grayscale = mode in ("1", "L", "LA")
    alpha = None
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
        alpha = rgba[..., 3]
        if alpha.min() >= 1.0:
            alpha = None
        rgb = rgba[..., :3]
    else:
        rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return LoadedImage(np.ascontiguousarray(rgb), alpha, grayscale)


def load_image(path: str | Path, max_pixels: int) -> LoadedImage:
    return to_loaded(open_image(path, max_pixels))


def to_uint8(values: np.ndarray) -> np.ndarray:
    return (np.clip(values, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def compose(rgb: np.ndarray, alpha: np.ndarray | None, grayscale: bool) -> Image.Image:
    """Build the output Pillow image in the input's own form."""
    colour = Image.fromarray(to_uint8(rgb), "RGB")
    if grayscale:
        colour = colour.convert("L")
    if alpha is None:
        return colour
    colour.putalpha(Image.fromarray(to_uint8(alpha), "L"))
    return colour


def output_format(path: Path) -> str:
    """The Pillow format an output extension names; only the documented formats are written."""
    extension = path.suffix.lower()
    fmt = Image.registered_extensions().get(extension)
    if fmt is None or fmt not in FORMATS:
        known = ".png, .jpg, .webp, .bmp or .tiff"
        raise ImageError(f"{path}: unknown image extension {extension or '(none)'!r}; use {known}")
    return fmt


def save_image(image: Image.Image, path: str | Path) -> Path:
    """Write atomically (temp file + rename), so an interrupted run leaves no half-written file."""
    path = Path(path)
    fmt = output_format(path)
    if image.mode in ("RGBA", "LA") and fmt not in ALPHA_FORMATS:
        background = Image.new(image.mode[:-1], image.size, "white")
        background.paste(image, mask=image.getchannel("A"))
        image = background
    path.parent.mkdir(parents=True, exist_ok=True)
    # open() creates with mode 0o666 and the kernel applies the umask, so the image gets the usual
    # mode (0644 under umask 022); mkstemp would make it 0600.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")
    try:
        with open(tmp, "xb") as f:
            image.save(f, format=fmt, **SAVE_OPTIONS.get(fmt, {}))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
