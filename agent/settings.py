"""Agent settings from the environment (pydantic-settings); see the README's Settings table."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent.corpus import CORPUS_DIR

Backend = Literal["auto", "offline", "openai"]


class AgentSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    openai_api_key: str | None = Field(default=None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL")
    model: str = Field(default="gpt-4o-mini", alias="SCIENTIST_MODEL")
    backend: Backend = Field(default="auto", alias="SCIENTIST_BACKEND")
    llm_timeout_s: float = Field(default=60.0, alias="SCIENTIST_LLM_TIMEOUT")
    llm_max_retries: int = Field(default=2, alias="SCIENTIST_LLM_RETRIES")
    embeddings: bool = Field(default=False, alias="SCIENTIST_EMBEDDINGS")  # MiniLM ranking of evidence passages
    corpus: Path = Field(default=CORPUS_DIR, alias="SCIENTIST_CORPUS")  # where bare questions find their records
    rerank: bool = Field(default=True, alias="SCIENTIST_RERANK")  # let the LLM reorder retrieval (openai mode)

    def with_backend(self, backend: str | None) -> AgentSettings:
        """These settings with ``backend`` (a command-line override) when one is given."""
        return self.model_copy(update={"backend": backend}) if backend else self

    def resolved_backend(self) -> Literal["offline", "openai"]:
        """``auto`` means the LLM when a key or base URL is set, else offline."""
        if self.backend != "auto":
            return self.backend
        return "openai" if (self.openai_api_key or self.openai_base_url) else "offline"
