"""The README runs top to bottom, as a reader pasting its blocks into one Python session would run it.

Every ```python block runs in document order in ONE namespace, fed line by line to the interactive
interpreter, so a block that needs state an earlier block destroyed (a closed connection, a removed
group) fails here as it would for the reader, and so does one that cannot be pasted. The
"Follow along" block starts the emulator and connects ``alice``; nothing else is provided (the README
writes its own ``file.json``, here in a scratch working directory). ``>>>`` blocks run as doctests in
the same namespace. A block after ``<!-- readme-test: skip (reason) -->`` is not run (it
needs Azure). The "Handle events" blocks run in the flow too; test_eventhandler_readme.py also serves
each of them and sends it real events.

A ``print(...)`` line whose comment starts with values (``# True``, ``# True True``, ``# 202: accepted``)
must print exactly those values, so a flipped result fails too.
"""

from __future__ import annotations

import code
import contextlib
import doctest
import io
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

_BLOCK = re.compile(r"(<!-- readme-test: skip[^>]*-->\s*)?^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
_HEADING = re.compile(r"^#{2,3} .*$", re.MULTILINE)
_VALUE = r"(?:True|False|None|-?\d+(?:\.\d+)?)"
_EXPECTED = re.compile(rf"^\s*print\(.*\)\s*#\s*({_VALUE}(?: {_VALUE})*)(?::.*)?$")


@dataclass
class Block:
    heading: str
    line: int
    code: str
    skipped: bool

    @property
    def where(self) -> str:
        return f"README.md line {self.line} ({self.heading})"

    def expected_outputs(self) -> List[str]:
        return [match.group(1) for match in map(_EXPECTED.match, self.code.splitlines()) if match]


def blocks(text: str) -> List[Block]:
    """Every ```python block of ``text`` in document order, with the heading it stands under."""
    headings = [(match.start(), match.group(0).lstrip("#").strip()) for match in _HEADING.finditer(text)]
    found = []
    for match in _BLOCK.finditer(text):
        start = match.start(2)
        heading = next((title for offset, title in reversed(headings) if offset < start), "(top)")
        found.append(Block(heading, text.count("\n", 0, start) + 1, match.group(2), bool(match.group(1))))
    return found


def _run_doctest(block: Block, namespace: Dict[str, Any]) -> None:
    test = doctest.DocTestParser().get_doctest(block.code, namespace, "README", str(README), block.line - 1)
    report = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test, out=report.write, clear_globs=False)
    namespace.update(test.globs)  # DocTest ran in a copy: keep its names for the blocks that follow
    if runner.failures:
        raise AssertionError(report.getvalue())


class _Paste(code.InteractiveConsole):
    """The interactive interpreter, fed a block line by line as a paste would; errors raise instead of
    printing, so a block that only works as a file (a blank line inside an indented body, a statement
    straight after one) fails here too."""

    def showsyntaxerror(self, filename: Optional[str] = None, **_: Any) -> None:
        raise sys.exc_info()[1] or SyntaxError(filename)

    def showtraceback(self) -> None:
        raise sys.exc_info()[1] or RuntimeError("unknown error")


def _paste(block: Block, namespace: Dict[str, Any]) -> None:
    console = _Paste(namespace, filename=block.where)
    waiting = False
    for line in block.code.splitlines():
        waiting = console.push(line)
    if waiting:
        console.push("")  # the blank line that ends a compound statement at the end of a paste


def run_in_order(text: str, namespace: Dict[str, Any]) -> int:
    """Run the blocks of ``text`` one after the other in ``namespace``; return how many ran."""
    ran = 0
    for block in blocks(text):
        if block.skipped:
            continue
        output = io.StringIO()
        try:
            with contextlib.redirect_stdout(output):
                if block.code.lstrip().startswith(">>>"):
                    _run_doctest(block, namespace)
                else:
                    _paste(block, namespace)
        except BaseException as error:
            raise AssertionError(f"{block.where} failed after the blocks before it: {error!r}") from error
        printed = output.getvalue().splitlines()
        for expected in block.expected_outputs():
            assert expected in printed, f"{block.where} should print {expected!r}, printed {printed}"
        ran += 1
    return ran


@contextlib.contextmanager
def reader_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dict[str, Any]]:
    """A namespace like a fresh ``python`` session in an empty directory; cleaned up after."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WEBPUBSUB_CONNECTION_STRING", "restored after the test")
    sdk_logger = logging.getLogger("azure.messaging.webpubsubservice")
    handlers, level = list(sdk_logger.handlers), sdk_logger.level
    namespace: Dict[str, Any] = {"__name__": "__main__"}
    try:
        yield namespace
    finally:  # whatever a failed run left open (the README's last block closes it otherwise)
        if "session" in namespace:
            namespace["session"].close()
        sdk_logger.handlers[:], sdk_logger.level = handlers, level


def test_readme_runs_top_to_bottom_in_one_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with reader_session(tmp_path, monkeypatch) as namespace:
        ran = run_in_order(README.read_text(encoding="utf-8"), namespace)
    assert ran >= 25


def test_the_first_block_sets_the_session_up_and_the_last_one_closes_it() -> None:
    runnable = [block for block in blocks(README.read_text(encoding="utf-8")) if not block.skipped]
    assert runnable[0].heading == "Follow along"
    assert "Emulator()" in runnable[0].code and "connection_id" in runnable[0].code
    assert "session.close()" in runnable[-1].code


def test_a_block_that_needs_what_an_earlier_block_closed_fails(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    set_up = next(block for block in blocks(README.read_text(encoding="utf-8")) if block.heading == "Follow along")
    text = (f"## Follow along\n```python\n{set_up.code}```\n"
            "## Users\n```python\nservice.close_connection(connection_id)\n```\n"
            "## Permissions\n```python\n"
            "service.grant_permission('sendToGroup', connection_id, target_name='room1')\n```\n")
    with reader_session(tmp_path, monkeypatch) as namespace:
        with pytest.raises(AssertionError, match=r"line \d+ \(Permissions\) failed .*ResourceNotFoundError"):
            run_in_order(text, namespace)


def test_doctest_blocks_share_the_session_and_skipped_blocks_do_not_run() -> None:
    text = ("## A\n```python\n>>> x = 2\n>>> x + 1\n3\n```\n"
            "<!-- readme-test: skip (needs Azure) -->\n```python\nraise SystemExit('ran')\n```\n"
            "## B\n```python\nprint(x * 2)   # 4: from the doctest\n```\n")
    namespace: Dict[str, Any] = {}
    assert run_in_order(text, namespace) == 2


def test_a_block_that_cannot_be_pasted_into_the_interpreter_fails() -> None:
    text = "## A\n```python\ndef f():\n    x = 1\n\n    return x\n```\n"
    with pytest.raises(AssertionError, match=r"line 3 \(A\) failed .*IndentationError"):
        run_in_order(text, {})


def test_a_printed_value_that_contradicts_its_comment_fails() -> None:
    text = "## A\n```python\nprint(1 == 2)   # True\n```\n"
    with pytest.raises(AssertionError, match="should print 'True'"):
        run_in_order(text, {})
