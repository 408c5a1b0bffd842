"""The packages are fully typed: mypy --strict finds nothing (the project promises py.typed packages)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("package, folder", [("azure.messaging.webpubsubservice", ROOT),
                                             ("webpubsub_emulator", ROOT / "emulator")])
def test_mypy_strict_is_clean(package: str, folder: Path, tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--explicit-package-bases", "--cache-dir", str(tmp_path),
         "-p", package],
        cwd=folder, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stdout + finished.stderr
