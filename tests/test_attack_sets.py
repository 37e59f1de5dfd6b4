"""The hostile question files two attack writers made without seeing our code (tests/fixtures/attacks:
``dev`` was used while building the guard; ``heldout`` was kept unseen until one final measurement and is
a regression set since). Every file through ``scientist batch``: no unsupplied link, no supplied link lost
beyond the two known cases, every failure one plain sentence, and the batch completes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.attack_verdict import judge_batch
from tests.cli_helpers import run

ATTACKS = Path(__file__).parent / "fixtures" / "attacks"
KNOWN_LOST = {  # decisions, see README: IPv6 hosts are refused; records need their section headers
    "field-odd-but-valid-urls.json",
    "txt-no-headers-no-answer.txt",
}


@pytest.mark.parametrize("folder", ["dev", "heldout"])
def test_no_attack_file_leaks_or_crashes(folder, tmp_path):
    out = tmp_path / "out"
    result = run("batch", ATTACKS / folder, "--out", out, "--backend", "offline", "--no-tools", "--jobs", "2")
    assert result.exit_code == 1, result.output  # some files are not question files at all
    assert "Traceback" not in result.output
    verdict = judge_batch(out, json.loads((ATTACKS / "EXPECTED.json").read_text()))
    assert verdict.answered > 50
    assert verdict.leaks == []
    assert {Path(label).name for label, _ in verdict.lost} <= KNOWN_LOST
    assert verdict.unplain_errors == []
