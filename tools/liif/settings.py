"""Settings the LIIF tool reads from the environment (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MAX_PIXELS = 64_000_000


class LiifSettings(BaseSettings):
    """``SCIENTIST_CACHE_DIR``, ``SCIENTIST_LIIF_WEIGHTS``, ``SCIENTIST_MAX_PIXELS``."""

    model_config = SettingsConfigDict(env_prefix="SCIENTIST_", extra="ignore")

    cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "cnaps-scientist")
    liif_weights: Path | None = None
    max_pixels: int = Field(default=DEFAULT_MAX_PIXELS, gt=0)
