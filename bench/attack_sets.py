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
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.link_oracle import unsupplied  # noqa: E402

EXCEPTION_NAME = re.compile(r"\b[A-Z]\w*(?:Error|Exception|Warning)\b|Traceback")


def allowed_for(label: str, expected: dict) -> list[str]:
    """The supplied links for an index entry: ``path`` or ``path#line`` for a .jsonl line."""
    path, _, line = label.partition("#")
    entry = expected.get(Path(path).name, {})
    if line and "allowed_per_line" in entry:
        per_line = entry["allowed_per_line"]
        number = int(line)
        return per_line[number - 1] if number <= len(per_line) else []
    return entry.get("allowed", [])


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
        index_file = Path(out) / "index.jsonl"
        if not index_file.is_file() or EXCEPTION_NAME.search(done.stderr):
            print(f"batch crashed (exit {done.returncode}):\n{done.stderr[-3000:]}")
            sys.exit(1)
        entries = [json.loads(line) for line in index_file.read_text().splitlines()]
        leaks, lost, bad_errors, answered, failed, retrieval = [], [], [], 0, 0, 0
        for entry in entries:
            if entry["status"] == "failed":
                failed += 1
                error = entry["error"] or ""
                if "\n" in error or EXCEPTION_NAME.search(error):
                    bad_errors.append((entry["input"], error))
                continue
            answered += 1
            markdown = (Path(out) / f"{entry['name']}.md").read_text()
            record = json.loads((Path(out) / f"{entry['name']}.json").read_text())
            allowed = allowed_for(entry["input"], expected)
            # No records parsed: the question was answered from our catalog, whose records supply links too.
            retrieved = record["grounding"]["allowed_links"] if record["retrieval"] else []
            retrieval += bool(record["retrieval"])
            found = unsupplied(markdown, allowed + retrieved)
            if found:
                leaks.append((entry["input"], found))
            missing = [url for url in allowed if url not in record["links"]]
            if missing:
                lost.append((entry["input"], missing))
    print(
        f"{args.folder}: {len(entries)} inputs ({answered} answered, {failed} failed) in {seconds:.1f} s, "
        f"exit {done.returncode}"
    )
    print(f"answered from catalog records (no records parsed from the file): {retrieval}")
    print(f"answers with an unsupplied link: {len(leaks)}")
    for label, found in leaks:
        print(f"  {label}: {found[:5]}")
    print(f"answers missing a supplied link: {len(lost)}")
    for label, missing in lost:
        print(f"  {label}: {missing[:5]}")
    print(f"errors that are not one plain sentence: {len(bad_errors)}")
    for label, error in bad_errors:
        print(f"  {label}: {error[:200]!r}")
    failures = sorted({entry["error"] for entry in entries if entry["status"] == "failed"})
    print("distinct errors:" + "".join(f"\n  {error[:160]}" for error in failures))


if __name__ == "__main__":
    main()
