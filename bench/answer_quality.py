"""Answer quality on question files nobody on the team wrote, graded blind against ../shared/rubric.md.

  python bench/answer_quality.py answer FOLDER OUT      answer every file offline (scientist batch), then
                                                       copy question + answer pairs, shuffled, into
                                                       OUT/grading/ for blind graders; prints the checks
                                                       code can make (placeholder workflows, abstentions)
  python bench/answer_quality.py levels FOLDER KEY      paper relevance levels against the writers' key
  python bench/answer_quality.py counts GRADES.jsonl    the counts of a blind grading (bench/grades/)

Graders see only the question file, the answer and the rubric, and write one JSON line per answer:
{"name", "T", "W", "P", "C", "U", "abstained", "why"}. An answer passes when T, W, P and C all hold.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PLACEHOLDERS = ("**Input**: the data the model was built for", "**Output**: the model's prediction")
ABSTAINED = ("I can't tell the task", "I can't tell which AI task")


def answer(folder: Path, out: Path) -> None:
    scientist = Path(sys.executable).parent / "scientist"
    answers = out / "answers"
    subprocess.run(
        [str(scientist), "batch", str(folder), "--out", str(answers), "--backend", "offline", "--force"], check=False
    )
    files = sorted(p for p in folder.iterdir() if p.suffix == ".txt")
    grading = out / "grading"
    shutil.rmtree(grading, ignore_errors=True)
    grading.mkdir(parents=True)
    (out / "names.jsonl").unlink(missing_ok=True)
    order = list(files)
    random.Random(0).shuffle(order)
    placeholders, abstained = [], []
    for number, path in enumerate(order, 1):
        markdown = (answers / f"{path.stem}.md").read_text() if (answers / f"{path.stem}.md").exists() else ""
        (grading / f"{number:03d}.question.txt").write_text(path.read_text())
        (grading / f"{number:03d}.answer.md").write_text(markdown or "(no answer)")
        with (out / "names.jsonl").open("a") as names:  # beside the pairs, not among them: graders see no file names
            names.write(json.dumps({"number": f"{number:03d}", "file": path.name}) + "\n")
        if any(p in markdown for p in PLACEHOLDERS):
            placeholders.append(path.name)
        if any(a in markdown for a in ABSTAINED):
            abstained.append(path.name)
    print(f"{len(files)} answers in {answers}; blind grading pairs in {grading}")
    print(f"placeholder workflows: {len(placeholders)} {placeholders}")
    print(f"abstentions on the task: {len(abstained)} {abstained}")


def levels(folder: Path, key: Path) -> None:
    """Our relevance level for each (question, paper) pair against the writers' key."""
    from agent.answer import answer_question
    from agent.parse import load_question

    labels = {}
    for line in key.read_text().splitlines():
        entry = json.loads(line)
        labels[entry["file"]] = entry["papers"]
    confusion: dict[tuple[str, str], int] = {}
    for path in sorted(folder.glob("*.txt")):
        if path.name not in labels:
            continue
        result = answer_question(load_question(str(path)))
        for line in (result.sections or {}).get("references", "").splitlines():
            for title, truth in labels[path.name].items():
                if title[:40] in line.replace("\\", ""):
                    ours = re.search(r"\*(Related|Tangential|Not related)\*", line)
                    pair = (truth, ours[1].lower() if ours else "?")
                    confusion[pair] = confusion.get(pair, 0) + 1
    right = sum(n for (truth, ours), n in confusion.items() if truth == ours)
    print(f"paper levels right: {right} of {sum(confusion.values())}")
    for (truth, ours), n in sorted(confusion.items()):
        print(f"  key {truth:<12} ours {ours:<12} {n}")


def counts(grades: Path) -> None:
    rows = [json.loads(line) for line in grades.read_text().splitlines() if line.strip()]
    passed = sum(all(row[k] for k in "TWPC") for row in rows)
    print(f"{grades}: {len(rows)} answers; pass {passed} ({passed / len(rows):.0%})")
    for k in "TWPCU":
        print(f"  {k}: {sum(bool(row[k]) for row in rows)}")
    print(f"  abstained: {sum(bool(row.get('abstained')) for row in rows)}")


def main() -> None:
    command, *args = sys.argv[1:] or ["help"]
    if command == "answer" and len(args) == 2:
        answer(Path(args[0]), Path(args[1]))
    elif command == "levels" and len(args) == 2:
        levels(Path(args[0]), Path(args[1]))
    elif command == "counts" and len(args) == 1:
        counts(Path(args[0]))
    else:
        print(__doc__)


if __name__ == "__main__":
    main()
