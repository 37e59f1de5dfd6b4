"""``scientist batch``: many inputs, bad ones recorded not fatal, resumable, atomic, concurrent."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.cli_helpers import run
from tests.fakes.openai_server import FakeOpenAI, good
from tests.seed import EXAMPLES, SEED, SEED_LINKS

ROOT = Path(__file__).resolve().parent.parent
MODELS = [
    ("SASRec", "https://arxiv.org/abs/1808.09781", "recommend the next song"),
    ("Whisper", "https://arxiv.org/abs/2212.04356", "turn my voice memos into text"),
    ("YOLOv8", "https://github.com/ultralytics/ultralytics", "find the cars in my dashcam video"),
    ("Stable Diffusion", "https://arxiv.org/abs/2112.10752", "draw a picture from a sentence"),
]


def question_text(i: int) -> str:
    name, link, doing = MODELS[i % len(MODELS)]
    field = "GitHub" if "github" in link else "Paper"
    return (
        f'A user has asked the following question:\n"Question {i}: how can AI {doing}?"\n\n'
        f"### Recommended AI Models:\nModel: {name}\n{field}: {link}\n"
    )


def write_questions(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"q{i:02d}.txt" for i in range(count)]
    for i, path in enumerate(paths):
        path.write_text(question_text(i))
    return paths


def index(out: Path) -> dict[str, dict]:
    return {line["name"]: line for line in map(json.loads, (out / "index.jsonl").read_text().splitlines())}


def summary_counts(stderr: str) -> list[str]:
    """The numbers in the summary table's row (answered, failed, skipped)."""
    row = next(line for line in stderr.splitlines() if "│" in line and " s " in line)
    return [cell.strip() for cell in row.split("│")[1:4]]


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    folder = tmp_path / "questions"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(EXAMPLES / "next-song.txt", folder / "next-song.txt")
    shutil.copy(EXAMPLES / "4x-upscale.json", folder / "sub" / "upscale.json")
    (folder / "empty.txt").write_text("")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (folder / "page.md").write_text("<!DOCTYPE html>\n<html><body>Hello</body></html>\n")
    (folder / "sub" / "no-question.txt").write_text("### Recommended AI Models:\nModel: SASRec\n")
    (folder / "notes.csv").write_text("not a question file suffix, ignored\n")
    return folder


REASONS = {
    "empty": "file is empty",
    "binary": "binary data",
    "page": "looks like HTML",
    "sub__no-question": "no question found",
}


def test_good_inputs_are_answered_and_bad_ones_recorded(mixed: Path, tmp_path: Path):
    out = tmp_path / "out"
    result = run("batch", mixed, "--out", out, "--no-tools", "--backend", "offline")
    assert result.exit_code == 1, result.output
    lines = index(out)
    assert set(lines) == {"next-song", "sub__upscale", *REASONS}
    for name in ("next-song", "sub__upscale"):
        assert lines[name]["status"] == "answered" and lines[name]["error"] is None
        record = json.loads((out / f"{name}.json").read_text())
        assert record["grounding"]["ok"] and record["error"] is None
        assert (out / f"{name}.md").read_text() == record["answer_markdown"]
    upscale = json.loads((out / "sub__upscale.json").read_text())
    assert sorted(upscale["links"]) == sorted(SEED_LINKS)
    for name, reason in REASONS.items():
        assert lines[name]["status"] == "failed" and reason in lines[name]["error"]
        record = json.loads((out / f"{name}.json").read_text())
        assert reason in record["error"] and record["answer_markdown"] is None
        assert not (out / f"{name}.md").exists()
    assert summary_counts(result.stderr) == ["2", "4", "0"]
    assert "Traceback" not in result.output


def test_rerun_skips_everything_and_force_redoes_all(mixed: Path, tmp_path: Path):
    out = tmp_path / "out"
    first = run("batch", mixed, "--out", out, "--no-tools", "--backend", "offline")
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")}
    again = run("batch", mixed, "--out", out, "--no-tools", "--backend", "offline")
    assert again.exit_code == first.exit_code == 1
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")} == stamps
    lines = index(out)
    assert all(line["cached"] for line in lines.values())
    assert summary_counts(again.stderr) == ["0", "4", "2"]
    assert {n for n, line in lines.items() if line["status"] == "failed"} == set(REASONS)

    forced = run("batch", mixed, "--out", out, "--no-tools", "--backend", "offline", "--force")
    assert forced.exit_code == 1
    assert not any(line["cached"] for line in index(out).values())
    assert summary_counts(forced.stderr) == ["2", "4", "0"]


def test_changed_input_or_settings_is_answered_again(tmp_path: Path):
    paths = write_questions(tmp_path / "q", 3)
    out = tmp_path / "out"
    assert run("batch", tmp_path / "q", "--out", out, "--no-tools", "--backend", "offline").exit_code == 0
    paths[1].write_text(question_text(1).replace("Question 1", "Question one, reworded"))
    result = run("batch", tmp_path / "q", "--out", out, "--no-tools", "--backend", "offline")
    assert result.exit_code == 0
    lines = index(out)
    assert [lines[n]["status"] for n in ("q00", "q01", "q02")] == ["skipped", "answered", "skipped"]
    assert "reworded" in json.loads((out / "q01.json").read_text())["question"]
    # A fixed file that failed before is retried, because its content changed.
    paths[2].write_text("")
    assert run("batch", tmp_path / "q", "--out", out, "--no-tools", "--backend", "offline").exit_code == 1
    paths[2].write_text(question_text(2))
    assert run("batch", tmp_path / "q", "--out", out, "--no-tools", "--backend", "offline").exit_code == 0
    assert index(out)["q02"]["status"] == "answered"
    # Running tools is part of the key: the same inputs with tools are not taken from the no-tools run.
    assert run("batch", paths[0], "--out", out, "--backend", "offline").exit_code == 0
    assert index(out)["q00"]["status"] == "answered"


def test_jsonl_lines_are_inputs(tmp_path: Path):
    lines = [
        json.dumps({"question": "How does my music app guess the next song?", "models": [{"name": "SASRec",
                    "paper": "https://arxiv.org/abs/1808.09781"}]}),
        "",
        "{not json",
        json.dumps(json.loads(SEED.with_suffix(".json").read_text())),
    ]  # fmt: skip
    source = tmp_path / "many.jsonl"
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    result = run("batch", source, "--out", out, "--no-tools", "--backend", "offline")
    assert result.exit_code == 1
    found = index(out)
    assert list(found) == ["many-1", "many-3", "many-4"]
    assert found["many-1"]["input"] == f"{source}#1" and found["many-1"]["status"] == "answered"
    assert found["many-3"]["status"] == "failed" and "invalid JSON" in found["many-3"]["error"]
    assert sorted(json.loads((out / "many-4.json").read_text())["links"]) == sorted(SEED_LINKS)


def test_folders_recurse_and_globs_expand(tmp_path: Path):
    write_questions(tmp_path / "a" / "deep" / "er", 2)
    write_questions(tmp_path / "b", 2)
    (tmp_path / "a" / ".hidden").mkdir()
    (tmp_path / "a" / ".hidden" / "x.txt").write_text(question_text(0))
    out = tmp_path / "a" / "out"  # inside an input folder: its records are not read back as inputs
    first = run(
        "batch", tmp_path / "a", str(tmp_path / "b" / "*.txt"), "--out", out, "--no-tools", "--backend", "offline"
    )
    assert first.exit_code == 0, first.output
    assert list(index(out)) == ["deep__er__q00", "deep__er__q01", "q00", "q01"]
    again = run(
        "batch", tmp_path / "a", str(tmp_path / "b" / "*.txt"), "--out", out, "--no-tools", "--backend", "offline"
    )
    assert again.exit_code == 0 and all(line["status"] == "skipped" for line in index(out).values())


def test_same_stem_twice_gets_distinct_stable_names(tmp_path: Path):
    for folder in ("x", "y"):
        write_questions(tmp_path / folder, 1)
    out = tmp_path / "out"
    args = (
        "batch",
        tmp_path / "x" / "q00.txt",
        tmp_path / "y" / "q00.txt",
        "--out",
        out,
        "--no-tools",
        "--backend",
        "offline",
    )
    assert run(*args).exit_code == 0
    assert list(index(out)) == ["q00", "q00-2"]
    assert run(*args).exit_code == 0
    assert [line["status"] for line in index(out).values()] == ["skipped", "skipped"]


def test_missing_path_is_a_one_line_error(tmp_path: Path):
    result = run("batch", tmp_path / "nope.txt", "--out", tmp_path / "out")
    assert result.exit_code == 1 and result.stderr.startswith("error: ") and "nope.txt" in result.stderr


def test_demo_images_go_beside_the_record(demo_cache, tmp_path: Path):
    source = tmp_path / "seed.txt"
    shutil.copy(SEED, source)
    out = tmp_path / "out"
    assert run("batch", source, "--out", out, "--backend", "offline").exit_code == 0
    record = json.loads((out / "seed.json").read_text())
    (call,) = record["tool_calls"]
    for key in ("output", "compare"):
        assert Path(call["result"][key]).parent == out and Path(call["result"][key]).is_file()


# ---------------------------------------------------------------------------------------------
# Through an LLM: a killed run leaves only whole records, and --jobs answers in parallel


def llm_env(server: FakeOpenAI) -> dict[str, str]:
    return {
        "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "test", "SCIENTIST_MODEL": "fake-model",
        "SCIENTIST_LLM_TIMEOUT": "10", "SCIENTIST_LLM_RETRIES": "0",
    }  # fmt: skip


def test_killed_run_leaves_whole_records_and_resumes(tmp_path: Path):
    write_questions(tmp_path / "q", 16)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "agent.cli", "batch", str(tmp_path / "q"), "--out", str(out), "--no-tools",
               "--backend", "openai", "--jobs", "2"]  # fmt: skip

    def slow_good(_body: dict) -> object:
        time.sleep(0.15)
        return good()

    with FakeOpenAI() as server:
        server.respond_with(slow_good)
        env = {**os.environ, **llm_env(server)}
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while len(list(out.glob("q*.json"))) < 3 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert process.poll() is None, "the batch finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stderr.close()
        written = sorted(out.glob("*.json"))
        assert 3 <= len(written) < 16
        for path in written:
            assert json.loads(path.read_text())["input_sha256"]  # whole records only
        assert not (out / "index.jsonl").exists()
        done = {p.stem for p in written}

        resumed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    lines = index(out)
    assert sorted(lines) == [f"q{i:02d}" for i in range(16)]
    assert {n for n, line in lines.items() if line["status"] == "skipped"} == done
    for name in lines:
        record = json.loads((out / f"{name}.json").read_text())
        assert record["error"] is None and record["answer_markdown"]
    assert not list(out.glob(".*.tmp"))  # the rerun cleared the killed run's unfinished writes


def test_jobs_answer_in_parallel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    write_questions(tmp_path / "q", 8)
    in_flight = 0
    most = 0
    lock = threading.Lock()

    def counting(_body: dict) -> object:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        time.sleep(0.1)
        with lock:
            in_flight -= 1
        return good()

    with FakeOpenAI() as server:
        server.respond_with(counting)
        for name, value in llm_env(server).items():
            monkeypatch.setenv(name, value)
        result = run(
            "batch", tmp_path / "q", "--out", tmp_path / "out", "--no-tools", "--backend", "openai", "--jobs", "4"
        )
    assert result.exit_code == 0, result.output
    assert all(line["status"] == "answered" for line in index(tmp_path / "out").values())
    assert most > 1


# ---------------------------------------------------------------------------------------------
# Nothing about one input stops the batch; only our own temp files are removed; usual file modes


def test_lone_surrogate_in_a_record_does_not_stop_the_batch(tmp_path: Path):
    write_questions(tmp_path / "q", 2)
    record = '{"name": "M\\ud800", "paper": "https://a.org/x\\ud800"}'
    (tmp_path / "q" / "odd.json").write_text(f'{{"question": "Why \\ud800?", "models": [{record}]}}')
    out = tmp_path / "out"
    result = run("batch", tmp_path / "q", "--out", out, "--no-tools", "--backend", "offline")
    assert result.exit_code == 0, result.output
    assert [line["status"] for line in index(out).values()] == ["answered"] * 3
    answer = json.loads((out / "odd.json").read_text(encoding="utf-8"))
    assert answer["question"] == "Why \ufffd?"


def test_a_record_that_cannot_be_written_is_one_failed_entry(tmp_path: Path):
    write_questions(tmp_path / "q", 3)
    out = tmp_path / "out"
    (out / "q01.json").mkdir(parents=True)  # the answer cannot replace a folder
    result = run("batch", tmp_path / "q", "--out", out, "--no-tools", "--backend", "offline")
    assert result.exit_code == 1, result.output
    lines = index(out)
    assert [lines[n]["status"] for n in ("q00", "q01", "q02")] == ["answered", "failed", "answered"]
    assert "cannot write its answer" in lines["q01"]["error"] and "Is a directory" in lines["q01"]["error"]
    assert "Traceback" not in result.output and "Error:" not in lines["q01"]["error"]


def test_undecodable_file_names_get_records_and_index_lines(tmp_path: Path):
    """A file name that is not UTF-8 reaches Python as lone surrogates; its records must still be written."""
    folder = tmp_path / "q"
    folder.mkdir()
    (folder / os.fsdecode(b"good\xff.txt")).write_text(question_text(0))
    (folder / os.fsdecode(b"empty\xff.txt")).write_text("")
    out = tmp_path / "out"
    result = run("batch", folder, "--out", out, "--no-tools", "--backend", "offline")
    assert result.exit_code == 1, result.output
    lines = index(out)
    assert {n: line["status"] for n, line in lines.items()} == {"empty": "failed", "good": "answered"}
    assert "empty\ufffd.txt: file is empty" in lines["empty"]["error"]
    assert "\ufffd" in json.loads((out / "empty.json").read_text())["error"]
    assert json.loads((out / "good.json").read_text())["source"].endswith("good\ufffd.txt")


def test_only_our_own_temp_files_are_cleaned_up(tmp_path: Path):
    write_questions(tmp_path / "q", 1)
    out = tmp_path / "out"
    out.mkdir()
    (out / ".notes.tmp").write_text("the user's own")
    (out / ".scientist-q00.json.0123abcd.tmp").write_text("a killed run's")
    assert run("batch", tmp_path / "q", "--out", out, "--no-tools", "--backend", "offline").exit_code == 0
    assert (out / ".notes.tmp").read_text() == "the user's own"
    assert not (out / ".scientist-q00.json.0123abcd.tmp").exists()


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_outputs_get_the_usual_mode(tmp_path: Path, umask: int, mode: int):
    write_questions(tmp_path / "q", 1)
    out = tmp_path / "out"
    previous = os.umask(umask)
    try:
        assert run("batch", tmp_path / "q", "--out", out, "--no-tools", "--backend", "offline").exit_code == 0
    finally:
        os.umask(previous)
    for name in ("q00.json", "q00.md", "index.jsonl"):
        assert (out / name).stat().st_mode & 0o777 == mode, name
