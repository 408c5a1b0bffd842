"""The async README section (``samples/ASYNC_SECTION.md``, merged into README.md) runs as written.

Each ``python`` block is executed in turn against the local emulator, with the names the README's own
examples assume (``connection_string``, ``endpoint``, ``access_key``, ``connection_id`` of a connected
user ``alice`` in group ``alice-room``); blocks marked ``<!-- readme-test: skip (...) -->`` need Azure.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

ROOT = Path(__file__).resolve().parent.parent
SECTION = ROOT / "samples" / "ASYNC_SECTION.md"
sys.path.insert(0, str(ROOT / "samples"))

from _sample_support import Listener  # noqa: E402
from webpubsub_emulator import Emulator  # noqa: E402

from azure.messaging.webpubsubservice import WebPubSubServiceClient  # noqa: E402

_BLOCK = re.compile(r"(<!-- readme-test: skip[^>]*-->\s*)?```python\n(.*?)```", re.DOTALL)


def _blocks() -> List[str]:
    return [match.group(2) for match in _BLOCK.finditer(SECTION.read_text(encoding="utf-8")) if not match.group(1)]


@pytest.fixture(scope="module")
def names() -> Iterator[Dict[str, Any]]:
    with Emulator() as emulator:
        with WebPubSubServiceClient.from_connection_string(emulator.connection_string, hub="chat") as service:
            alice = Listener(service.get_client_access_token(user_id="alice", groups=["alice-room"])["url"])
            alice.next()  # connected
            yield {"connection_string": emulator.connection_string, "endpoint": emulator.endpoint,
                   "access_key": emulator.access_key, "connection_id": alice.connection_id, "__name__": "__readme__"}
            alice.close()
            alice._loop.close()  # Listener.close() stops its thread's loop but leaves it for the GC to close


def test_the_section_has_examples_and_one_needs_azure() -> None:
    assert len(_blocks()) >= 5
    assert "readme-test: skip" in SECTION.read_text(encoding="utf-8")


def test_the_section_runs_as_written(names: Dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    for code in _blocks():  # each in a namespace of its own, as the README test runs them
        exec(compile(code, str(SECTION), "exec"), dict(names))  # noqa: S102 - the section is ours
    printed = capsys.readouterr().out
    assert "alice online: True" in printed
    assert f"{names['connection_id']} alice" in printed
    assert "{'sent': True}" in printed
    assert "202\n404" in printed
