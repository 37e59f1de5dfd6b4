"""How long ``scientist ask`` takes on the seed question, offline, as a user runs it:
a fresh process each time; first with an empty demo cache (LIIF runs), then again
with the cached demo.

    python bench/ask_speed.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.liif.weights import fetch_default_weights

SEED = Path(__file__).resolve().parent.parent / "examples" / "questions" / "4x-upscale.txt"


def timed_ask(env: dict[str, str]) -> float:
    command = [sys.executable, "-m", "agent.cli", "ask", str(SEED), "--backend", "offline"]
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    weights = fetch_default_weights()
    cold, warm = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "SCIENTIST_CACHE_DIR": cache, "SCIENTIST_LIIF_WEIGHTS": str(weights)}
            cold.append(timed_ask(env))
            warm.append(timed_ask(env))
    print(f"seed question, offline, {args.runs} runs, each in a fresh process")
    print(f"with the LIIF demo:   median {statistics.median(cold):.2f} s  (best {min(cold):.2f} s)")
    print(f"demo already cached:  median {statistics.median(warm):.2f} s  (best {min(warm):.2f} s)")


if __name__ == "__main__":
    main()
