"""Run a folder of hostile question files through ``scientist batch`` (offline, no tool) and count:
answers with a link outside their supplied records (judged by rendering to HTML, tests/link_oracle.py),
answers that lost a supplied link,
inputs that failed (each must be one plain sentence, no exception name), and a batch that crashed.

The expected supplied links come from a JSON file written with the attacks:
``{"file name": {"allowed": [...], "allowed_per_line": [[...], ...]}}`` (per line for .jsonl).

Usage: python bench/attack_sets.py FOLDER EXPECTED.json [--jobs N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.attack_verdict import EXCEPTION_NAME, judge_batch  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("expected", type=Path)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    expected = json.loads(args.expected.read_text())
    scientist = Path(sys.executable).parent / "scientist"
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        command = [str(scientist), "batch", str(args.folder), "--out", out, "--backend", "offline", "--no-tools"]
        done = subprocess.run([*command, "--jobs", str(args.jobs)], capture_output=True, text=True, timeout=1800)
        seconds = time.perf_counter() - started
        if not (Path(out) / "index.jsonl").is_file() or EXCEPTION_NAME.search(done.stderr):
            print(f"batch crashed (exit {done.returncode}):\n{done.stderr[-3000:]}")
            sys.exit(1)
        verdict = judge_batch(Path(out), expected)
    inputs = verdict.answered + verdict.failed
    print(f"{args.folder}: {inputs} inputs ({verdict.answered} answered, {verdict.failed} failed) in {seconds:.1f} s")
    print(f"answered from catalog records (no records parsed from the file): {verdict.from_catalog}")
    for title, rows in (
        ("answers with an unsupplied link", verdict.leaks),
        ("answers missing a supplied link", verdict.lost),
        ("errors that are not one plain sentence", verdict.unplain_errors),
    ):
        print(f"{title}: {len(rows)}" + "".join(f"\n  {label}: {str(detail)[:200]}" for label, detail in rows))
    print("errors:" + "".join(f"\n  {error[:160]}" for error in sorted(verdict.errors)))


if __name__ == "__main__":
    main()
