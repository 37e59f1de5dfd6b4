"""A side-by-side figure: bicubic | LIIF | reference, labelled, with zoomed crops of
the most detailed region underneath so the difference is visible at a glance."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

PANEL = 360  # width of each column in the figure
LABEL_HEIGHT = 44
GAP = 8


def detailed_region(image: Image.Image, side: int) -> tuple[int, int, int, int]:
    """The side x side box with the most gradient energy (where enlargement differs most)."""
    gray = np.asarray(image.convert("L"), dtype=np.float32)
    energy = np.abs(np.diff(gray, axis=0))[:, :-1] + np.abs(np.diff(gray, axis=1))[:-1, :]
    integral = np.pad(energy, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    h, w = energy.shape
    side = min(side, h, w)
    step = max(1, side // 4)
    best, box = -1.0, (0, 0, side, side)
    for y in range(0, h - side + 1, step):
        for x in range(0, w - side + 1, step):
            total = integral[y + side, x + side] - integral[y, x + side] - integral[y + side, x] + integral[y, x]
            if total > best:
                best, box = total, (x, y, x + side, y + side)
    return box


def fit(image: Image.Image, width: int) -> Image.Image:
    height = max(1, round(image.height * width / image.width))
    return image.resize((width, height), Image.LANCZOS if image.width > width else Image.NEAREST)


def comparison_figure(panels: list[tuple[str, Image.Image]]) -> Image.Image:
    """``panels`` are (label, image) pairs of equal size, e.g. bicubic, LIIF, reference."""
    images = [image.convert("RGB") for _, image in panels]
    full_w, full_h = images[0].size
    box = detailed_region(images[-1], max(8, min(full_w, full_h) // 5))
    scale = PANEL / full_w
    tops = [fit(image, PANEL) for image in images]
    zooms = [image.crop(box).resize((PANEL, PANEL), Image.NEAREST) for image in images]
    top_h = tops[0].height
    figure = Image.new("RGB", (len(images) * (PANEL + GAP) + GAP, LABEL_HEIGHT + top_h + PANEL + 3 * GAP), "white")
    draw = ImageDraw.Draw(figure)
    font = ImageFont.load_default(size=14)
    for i, ((label, _), top, zoom) in enumerate(zip(panels, tops, zooms, strict=True)):
        x = GAP + i * (PANEL + GAP)
        draw.multiline_text((x, 4), label, fill="black", font=font, spacing=4)
        figure.paste(top, (x, LABEL_HEIGHT))
        rect = [x + box[0] * scale, LABEL_HEIGHT + box[1] * scale, x + box[2] * scale, LABEL_HEIGHT + box[3] * scale]
        draw.rectangle(rect, outline=(230, 30, 30), width=2)
        figure.paste(zoom, (x, LABEL_HEIGHT + top_h + 2 * GAP))
    return figure
