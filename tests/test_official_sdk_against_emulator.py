"""The official SDK (azure-messaging-webpubsubservice 1.3.0 from PyPI) works against our emulator unchanged.

It runs in a child process with the official package first on its path (it has the same import name as
ours); the package is installed once into benchmarks/.official. Without PyPI the test is skipped.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import pytest
from webpubsub_emulator import Emulator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from _common import ensure_official, python_env  # noqa: E402


@pytest.fixture(scope="module")
def official_session(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    official_path = ensure_official()
    if official_path is None:
        pytest.skip("the official package could not be installed from PyPI")
    with Emulator() as emulator:
        finished = subprocess.run(
            [sys.executable, str(ROOT / "tests" / "official_sdk_session.py"), emulator.connection_string],
            capture_output=True, text=True, timeout=90, env=python_env(official_path),
            cwd=tmp_path_factory.mktemp("official"))
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout)  # type: ignore[no-any-return]


def test_the_child_really_uses_the_official_package(official_session: Dict[str, Any]) -> None:
    assert ".official" in official_session["sdk"]


def test_its_client_tokens_connect_with_user_and_groups(official_session: Dict[str, Any]) -> None:
    assert official_session["connected"]["userId"] == "alice"


def test_its_sends_reach_the_client(official_session: Dict[str, Any]) -> None:
    json_message, group_message, binary_message = official_session["messages"]
    assert json_message["data"] == {"hello": "official"}
    assert (group_message["from"], group_message["data"]) == ("group", "to the room")
    assert (binary_message["dataType"], binary_message["data"]) == ("binary", "AQ==")


def test_its_checks_groups_paging_and_permissions_work(official_session: Dict[str, Any]) -> None:
    assert official_session["exists"] == [True, False, True]
    assert official_session["members"] == ["alice"]
    assert official_session["permission"] is True


def test_its_close_reaches_the_client_with_the_reason(official_session: Dict[str, Any]) -> None:
    assert official_session["closed"] == {"type": "system", "event": "disconnected", "message": "done"}
