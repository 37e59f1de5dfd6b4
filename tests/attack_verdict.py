"""Scoring a batch run over a folder of hostile question files (shared by tests/test_attack_sets.py and
bench/attack_sets.py): answers with a link outside their supplied records (judged by rendering, see
tests/link_oracle.py), answers that lost a supplied link, and errors that are not one plain sentence.

The supplied links come from the JSON the attack writers left beside their files:
``{"file name": {"allowed": [...], "allowed_per_line": [[...], ...]}}`` (per line for .jsonl).
A file from which no records were parsed is answered from our catalog; the catalog's records then
supply links too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from tests.link_oracle import unsupplied

EXCEPTION_NAME = re.compile(r"\b[A-Z]\w*(?:Error|Exception|Warning)\b|Traceback")


@dataclass
class Verdict:
    answered: int = 0
    failed: int = 0
    from_catalog: int = 0  # answered from catalog records: no records were parsed from the file
    leaks: list[tuple[str, list[str]]] = field(default_factory=list)
    lost: list[tuple[str, list[str]]] = field(default_factory=list)
    unplain_errors: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def allowed_for(label: str, expected: dict) -> list[str]:
    """The supplied links for an index entry: ``path`` or ``path#line`` for a .jsonl line."""
    path, _, line = label.partition("#")
    entry = expected.get(Path(path).name, {})
    if line and "allowed_per_line" in entry:
        per_line = entry["allowed_per_line"]
        return per_line[int(line) - 1] if int(line) <= len(per_line) else []
    return entry.get("allowed", [])


def judge_batch(out: Path, expected: dict) -> Verdict:
    """Read ``out/index.jsonl`` and every answer a batch wrote, and judge them."""
    verdict = Verdict()
    for line in (out / "index.jsonl").read_text().splitlines():
        entry = json.loads(line)
        if entry["status"] == "failed":
            verdict.failed += 1
            error = entry["error"] or ""
            verdict.errors.append(error)
            if "\n" in error or EXCEPTION_NAME.search(error):
                verdict.unplain_errors.append((entry["input"], error))
            continue
        verdict.answered += 1
        markdown = (out / f"{entry['name']}.md").read_text()
        record = json.loads((out / f"{entry['name']}.json").read_text())
        allowed = allowed_for(entry["input"], expected)
        catalog = record["grounding"]["allowed_links"] if record["retrieval"] else []
        verdict.from_catalog += bool(record["retrieval"])
        found = unsupplied(markdown, allowed + catalog)
        if found:
            verdict.leaks.append((entry["input"], found))
        missing = [url for url in allowed if url not in record["links"]]
        if missing:
            verdict.lost.append((entry["input"], missing))
    return verdict
