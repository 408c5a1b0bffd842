"""The official SDK (azure-messaging-webpubsubservice 1.3.0 from PyPI) works against our emulator unchanged,
and code written for it runs unchanged on ours, with the same outcome.

The session runs in child processes: one with the official package first on its path (it has the same
import name as ours; installed once into benchmarks/.official), one with ours. Without PyPI the official
side is skipped.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Optional

import pytest
from webpubsub_emulator import Emulator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from _common import ensure_official, python_env  # noqa: E402


def run_session(tmp_path_factory: pytest.TempPathFactory, package_path: Optional[str]) -> Dict[str, Any]:
    with Emulator() as emulator:
        finished = subprocess.run(
            [sys.executable, str(ROOT / "tests" / "official_sdk_session.py"), emulator.connection_string],
            capture_output=True, text=True, timeout=90, env=python_env(package_path),
            cwd=tmp_path_factory.mktemp("session"))
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    return run_session(tmp_path_factory, None)


@pytest.fixture(scope="module")
def official(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    official_path = ensure_official()
    if official_path is None:
        pytest.skip("the official package could not be installed from PyPI")
    return run_session(tmp_path_factory, official_path)


@pytest.fixture(params=["official", "ours"])
def official_session(request: pytest.FixtureRequest) -> Dict[str, Any]:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def test_each_child_really_uses_its_package(official: Dict[str, Any], ours: Dict[str, Any]) -> None:
    assert ".official" in official["sdk"]
    assert Path(ours["sdk"]).resolve() == ROOT / "azure" / "messaging" / "webpubsubservice" / "__init__.py"


def test_the_official_code_has_the_same_outcome_on_both_packages(official: Dict[str, Any],
                                                                  ours: Dict[str, Any]) -> None:
    def comparable(seen: Dict[str, Any]) -> Dict[str, Any]:
        return {name: value for name, value in seen.items() if name not in ("sdk", "connected")}

    assert comparable(ours) == comparable(official)


def test_its_client_tokens_connect_with_user_and_groups(official_session: Dict[str, Any]) -> None:
    assert official_session["connected"]["userId"] == "alice"


def test_its_sends_reach_the_client(official_session: Dict[str, Any]) -> None:
    json_message, group_message, binary_message, filtered = official_session["messages"]
    assert json_message["data"] == {"hello": "official"}
    assert (group_message["from"], group_message["data"]) == ("group", "to the room")
    assert (binary_message["dataType"], binary_message["data"]) == ("binary", "AQ==")
    assert filtered["data"] == "filtered"


def test_its_checks_groups_paging_and_permissions_work(official_session: Dict[str, Any]) -> None:
    assert official_session["exists"] == [True, False, True, True]
    assert official_session["members"] == ["alice"]
    assert official_session["permission"] is True


def test_its_close_reaches_the_client_with_the_reason(official_session: Dict[str, Any]) -> None:
    assert official_session["closed"] == {"type": "system", "event": "disconnected", "message": "done"}


def test_a_misspelt_keyword_raises_type_error_and_closes_nothing(official_session: Dict[str, Any]) -> None:
    assert official_session["misspelt"] == "TypeError"
    assert official_session["closed"]["message"] == "done"  # the first close came after the misspelt one


def test_config_tokens_and_cls_work_as_written_for_the_official_sdk(official_session: Dict[str, Any]) -> None:
    assert official_session["config"] == ["chat", True]
    assert official_session["token_keys"] == ["baseUrl", "token", "url"]
    assert official_session["status_by_cls"] == 202
