"""The README's Python examples run as written against the local emulator.

``>>>`` blocks are doctests; other ``python`` blocks are executed with the names the README says they
assume: ``service`` (a client for hub ``chat``), ``connection_id`` (a connected client of user ``alice``),
``connection_string``, ``endpoint`` and ``access_key``. A block preceded by
``<!-- readme-test: skip (...) -->`` is not run (it needs Azure); the "Handle events" section has its own
test (test_eventhandler_readme.py).
"""

from __future__ import annotations

import doctest
import re
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
sys.path.insert(0, str(ROOT / "samples"))

from _sample_support import Listener  # noqa: E402
from webpubsub_emulator import Emulator  # noqa: E402

from azure.messaging.webpubsubservice import WebPubSubServiceClient  # noqa: E402

_BLOCK = re.compile(r"(<!-- readme-test: skip[^>]*-->\s*)?```python\n(.*?)```", re.DOTALL)
_OWN_TESTS = ("## Handle events",)


def _sections() -> Iterator[Tuple[str, str]]:
    heading = ""
    for part in re.split(r"(?m)^(## .*)$", README.read_text(encoding="utf-8")):
        if part.startswith("## "):
            heading = part.strip()
        else:
            yield heading, part


def _examples() -> List[Any]:
    examples = []
    for heading, text in _sections():
        if heading.startswith(_OWN_TESTS):
            continue
        for number, match in enumerate(_BLOCK.finditer(text), start=1):
            if not match.group(1):
                examples.append(pytest.param(match.group(2), id=f"{heading[3:]} #{number}"))
    return examples


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture
def names(emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dict[str, Any]]:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file.json").write_text('{"from": "file.json"}')
    service = WebPubSubServiceClient.from_connection_string(emulator.connection_string, hub="chat")
    alice = Listener(service.get_client_access_token(user_id="alice")["url"])
    alice.next()  # connected: now alice.connection_id is known
    yield {"service": service, "connection_id": alice.connection_id, "connection_string": emulator.connection_string,
           "endpoint": emulator.endpoint, "access_key": emulator.access_key, "__name__": "__readme__"}
    alice.close()
    service.close()


def test_readme_has_examples_to_run() -> None:
    assert len(_examples()) >= 10


@pytest.mark.parametrize("code", _examples())
def test_readme_example_runs(code: str, names: Dict[str, Any]) -> None:
    if code.lstrip().startswith(">>>"):
        parser = doctest.DocTestParser()
        test = parser.get_doctest(code, names, "README", str(README), 0)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        runner.run(test, out=sys.stdout.write)
        assert runner.failures == 0, "README doctest failed (see output above)"
    else:
        exec(compile(code, str(README), "exec"), names)  # noqa: S102 - the README is ours
