"""The async samples run to completion against the in-process emulator and print what they promise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

EXPECTED_OUTPUT = {
    "send_messages_async.py": ["alice got: to everyone", "bob got: {'only': 'bob'}", "alice got: to room1",
                               "bob got: binary", "alice got numbers: [0, 1, 2, 3, 4]"],
    "manage_groups_async.py": ["room1 members: ['alice', 'bob']", "vip exists: True",
                               "carol may send to room1: True", "room1 exists after removals: False",
                               "adding a user with no connection: 404"],
}


@pytest.mark.parametrize("sample", sorted(EXPECTED_OUTPUT))
def test_async_sample_runs_against_the_emulator(sample: str) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "WEBPUBSUB_CONNECTION_STRING"}
    environment["PYTHONWARNINGS"] = "error::ResourceWarning"
    finished = subprocess.run([sys.executable, "-X", "dev", str(SAMPLES / sample)], capture_output=True, text=True,
                              timeout=90, env=environment, cwd=SAMPLES.parent)
    assert finished.returncode == 0, finished.stderr
    assert "Unclosed" not in finished.stderr and "ResourceWarning" not in finished.stderr
    for expected in EXPECTED_OUTPUT[sample]:
        assert expected in finished.stdout
