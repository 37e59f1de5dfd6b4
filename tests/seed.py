"""The seed question file and what it supplies, shared by the tests."""

from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "questions"
SEED = EXAMPLES / "4x-upscale.txt"
SEED_QUESTION = (
    "I used to avoid enlarging small pictures, but now AI makes them look great even at 4x. What makes this possible?"
)
SEED_LINKS = [
    "https://arxiv.org/pdf/2012.09161",
    "https://github.com/yinboc/liif",
    "http://arxiv.org/pdf/2502.16025v1.pdf",
    "http://arxiv.org/pdf/2304.05538v4.pdf",
    "http://arxiv.org/pdf/2406.17117v2.pdf",
]
