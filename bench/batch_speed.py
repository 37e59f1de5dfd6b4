"""How fast ``scientist batch`` is, measured in one run, each batch in a fresh process:

1. speed: 40 question files through an OpenAI-compatible fake server that takes 0.3 s a reply,
   ``--jobs 1`` then ``--jobs 8`` (target: at least 5x faster);
2. resume: 150 files offline (the example questions, varied, and one question per task of the
   corpus taxonomy, plus 10 bad files), then the same command again, which skips every unchanged input.

    python bench/batch_speed.py [--only speed|resume]

The question files are generated into a temporary folder and removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.openai_server import FakeOpenAI, slow  # noqa: E402

EXAMPLES = ROOT / "examples" / "questions"
MARKER = "asked the following question:\n"
BAD_FILES: dict[str, bytes] = {
    "empty.txt": b"",
    "blank.md": b"\n \n",
    "binary.txt": bytes(range(256)) * 8,
    "page.txt": b"<!DOCTYPE html><html><body>Not a question</body></html>",
    "page.md": b"<html><head><title>x</title></head></html>",
    "no-question.txt": b"### Recommended AI Models:\nModel: SASRec\n",
    "broken.json": b'{"question": "cut off',
    "no-question.json": b'{"models": []}',
    "no-question.yaml": b"question: ''\nmodels: []\n",
    "bad-record.json": b'{"question": "What is this?", "models": [42]}',
}


def varied(example: Path, i: int) -> tuple[str, str]:
    """(file name, content): an example question with its question text made unique."""
    text = example.read_text()
    if example.suffix == ".txt":
        return f"{example.stem}-{i:03d}.txt", text.replace(MARKER, f"{MARKER}(variant {i}) ", 1)
    data = json.loads(text) if example.suffix == ".json" else yaml.safe_load(text)
    data["question"] = f"(variant {i}) {data['question']}"
    dumped = json.dumps(data, indent=2) if example.suffix == ".json" else yaml.safe_dump(data, sort_keys=False)
    return f"{example.stem}-{i:03d}{example.suffix}", dumped


def task_question(task: dict, i: int) -> tuple[str, str]:
    """(file name, content): a seed-format question about one task of corpus/tasks.yaml, with a
    made-up model and paper record (their links are supplied records like any other)."""
    slug = task["id"]
    text = (
        f"You are an AI scientist.\n\nA user has asked the following question:\n"
        f'"(variant {i}) I keep hearing that AI is good at {task["doing"]}. How does that work?"\n\n'
        f"### Recommended AI Models:\nModel: {slug}-net-{i}\nPaper: https://arxiv.org/abs/2401.{i:05d}\n"
        f"GitHub: https://github.com/example-lab/{slug}-net\n"
        f"Summary: A model for {task['name'].lower()}: it takes {task['input']} and returns {task['output']}.\n\n"
        f"### Related Papers:\nModel: A survey of {task['name'].lower()}\nPaper: http://arxiv.org/pdf/2402.{i:05d}v1.pdf\n"
        f"Summary: We review methods for {task['name'].lower()}.\n"
    )
    return f"{slug}-{i:03d}.txt", text


def write_questions(folder: Path, count: int, bad: bool = False) -> None:
    """``count`` files: the example questions, varied, alternating with one question per corpus task."""
    folder.mkdir(parents=True)
    examples = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".txt", ".json", ".yaml"))
    tasks = yaml.safe_load((ROOT / "corpus" / "tasks.yaml").read_text())
    good_count = count - (len(BAD_FILES) if bad else 0)
    for i in range(good_count):
        if i % 2:
            name, text = task_question(tasks[(i // 2) % len(tasks)], i)
        else:
            name, text = varied(examples[(i // 2) % len(examples)], i)
        (folder / name).write_text(text)
    if bad:
        for name, content in BAD_FILES.items():
            (folder / name).write_bytes(content)


def timed_batch(folder: Path, out: Path, env: dict[str, str], *args: str) -> tuple[float, float, int]:
    """(process wall time, the batch's own time from its summary, exit code)."""
    command = [sys.executable, "-m", "agent.cli", "batch", str(folder), "--out", str(out), "--no-tools", *args]
    start = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    own = re.findall(r"([\d.]+) s\s*│", result.stderr)  # the summary's start-up and answering times
    return wall, float(own[-1]) if own else float("nan"), result.returncode


def counts(out: Path) -> str:
    lines = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    found = {s: sum(1 for line in lines if line["status"] == s) for s in ("answered", "failed", "skipped")}
    return ", ".join(f"{n} {s}" for s, n in found.items())


def bench_speed(tmp: Path) -> None:
    write_questions(tmp / "speed", 40)
    with FakeOpenAI() as server:
        server.respond_with(lambda _body: slow(0.3))
        env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "bench",
               "SCIENTIST_MODEL": "fake-model", "SCIENTIST_LLM_RETRIES": "0"}  # fmt: skip
        one, own1, rc1 = timed_batch(tmp / "speed", tmp / "out-1", env, "--backend", "openai", "--jobs", "1")
        eight, own8, rc8 = timed_batch(tmp / "speed", tmp / "out-8", env, "--backend", "openai", "--jobs", "8")
        requests = server.calls
    print(f"speed: 40 questions, fake LLM with 0.3 s latency ({requests} requests in all, both runs)")
    print("            process   answering (the batch summary's time: after loading Python and the LLM client)")
    print(f"  --jobs 1: {one:6.2f} s  {own1:6.2f} s  exit {rc1}  ({counts(tmp / 'out-1')})")
    print(f"  --jobs 8: {eight:6.2f} s  {own8:6.2f} s  exit {rc8}  ({counts(tmp / 'out-8')})")
    print(f"  speedup:  {one / eight:6.1f}x  {own1 / own8:6.1f}x")


def bench_resume(tmp: Path) -> None:
    write_questions(tmp / "resume", 150, bad=True)
    env = {**os.environ, "SCIENTIST_BACKEND": "offline"}
    first, _, rc1 = timed_batch(tmp / "resume", tmp / "out-resume", env)
    first_counts = counts(tmp / "out-resume")
    records = [json.loads(p.read_text()) for p in (tmp / "out-resume").glob("*.json")]
    grounded = sum(1 for r in records if r.get("grounding") and r["grounding"]["ok"])
    errors = sorted({r["error"].split(": ", 1)[1] for r in records if r.get("error")})
    tasks = {
        t for r in records if r.get("sections") for t in re.findall(r"this is \*\*(.+?)\*\*", r["sections"]["task"])
    }
    again, _, rc2 = timed_batch(tmp / "resume", tmp / "out-resume", env)
    print(f"resume: 150 files offline ({len(BAD_FILES)} bad), each run in a fresh process")
    print(f"  first run: {first:6.2f} s  exit {rc1}  ({first_counts}; {grounded} records grounded)")
    print(f"  {len(tasks)} different tasks answered; reasons given for the bad files: {'; '.join(errors)}")
    print(f"  rerun:     {again:6.2f} s  exit {rc2}  ({counts(tmp / 'out-resume')})")
    print(f"  ratio:     {first / again:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["speed", "resume"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "speed"):
            bench_speed(Path(tmp))
        if args.only in (None, "resume"):
            bench_resume(Path(tmp))


if __name__ == "__main__":
    main()
