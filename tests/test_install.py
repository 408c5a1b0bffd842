"""The README's install commands install THIS package and the emulator from the clone.

``azure-messaging-webpubsubservice`` on PyPI is Microsoft's SDK, so the README must never install by
the bare name. The commands it gives are run here as pip runs them (``pip install . ./emulator``, into a
scratch directory, ``--no-deps``: the dependencies come from PyPI either way), and what they install is
checked: the SDK with ``rest``, ``eventhandler`` and ``aio``, the ``[aio]`` extra, the emulator with its
command and pytest plugin.
(The ``installed`` fixture is in conftest.py: test_typing.py checks a user's mypy against it too.)
"""

from __future__ import annotations

import re
import shlex
from email.message import Message
from email.parser import Parser
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
_METADATA = {".dist-info": "METADATA", ".egg-info": "PKG-INFO"}


def readme_pip_installs() -> List[List[str]]:
    """The arguments of every ``pip install`` command in the README's shell blocks."""
    text = README.read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"^```(?:bash|console|sh)\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        for command in re.split(r"&&|\n", block.replace("\\\n", " ")):  # continuation lines joined first
            if "pip" not in command:
                continue
            words = shlex.split(command, comments=True)
            if "pip" in words and words[words.index("pip") + 1 : words.index("pip") + 2] == ["install"]:
                commands.append(words[words.index("pip") + 2 :])
    return commands


def _targets(arguments: List[str]) -> Iterator[Tuple[str, str]]:
    """(option, value) for what a pip install argument list installs: ("-r", file) or ("", spec)."""
    words = iter(arguments)
    for word in words:
        if word in ("-r", "--requirement", "-e", "--editable"):
            yield word, next(words)
        elif not word.startswith("-"):
            yield "", word


def _metadata(site: Path, distribution: str) -> Tuple[Path, Message]:
    """The distribution's metadata folder (a wheel's .dist-info, or the .egg-info of older pips) and fields."""
    prefix = distribution.replace("-", "_") + "-"
    folder = next(path for path in site.iterdir() if path.name.startswith(prefix) and path.suffix in _METADATA)
    return folder, Parser().parsestr((folder / _METADATA[folder.suffix]).read_text(encoding="utf-8"))


def test_the_readme_installs_from_the_clone_never_by_the_bare_name() -> None:
    installs = readme_pip_installs()
    specs = [value for arguments in installs for option, value in _targets(arguments) if not option]
    assert {".[aio]", "./emulator"} <= set(specs)
    for spec in specs:
        assert spec.startswith("."), f"the README installs {spec!r}: from PyPI that is another package"


def test_the_sdk_installs_with_rest_eventhandler_and_aio(installed: Path) -> None:
    package = installed / "azure" / "messaging" / "webpubsubservice"
    for part in ("rest.py", "py.typed", "eventhandler/__init__.py", "aio/__init__.py"):
        assert (package / part).is_file(), part
    assert not (installed / "tests").exists() and not (installed / "samples").exists()


def test_the_extras_the_readme_names_exist(installed: Path) -> None:
    _, metadata = _metadata(installed, "azure-messaging-webpubsubservice")
    assert metadata["Name"] == "azure-messaging-webpubsubservice"
    extras = set(metadata.get_all("Provides-Extra") or [])
    named = {extra for arguments in readme_pip_installs() for option, spec in _targets(arguments)
             for extra in re.findall(r"\[([\w,]+)\]", spec)}
    assert named and named <= extras
    assert any(requirement.startswith("aiohttp") for requirement in _extra_requirements(installed, "aio"))


def _extra_requirements(site: Path, extra: str) -> List[str]:
    folder, metadata = _metadata(site, "azure-messaging-webpubsubservice")
    if folder.suffix == ".egg-info":  # older pips list them in requires.txt, under "[extra]"
        sections = re.split(r"^\[(\w+)\]$", (folder / "requires.txt").read_text(encoding="utf-8"), flags=re.M)
        return dict(zip(sections[1::2], sections[2::2])).get(extra, "").split()
    return [requirement for requirement in metadata.get_all("Requires-Dist") or []
            if f'extra == "{extra}"' in requirement]


def test_the_emulator_installs_with_its_command_and_pytest_plugin(installed: Path) -> None:
    assert (installed / "webpubsub_emulator" / "__init__.py").is_file()
    folder, _ = _metadata(installed, "webpubsub-emulator")
    entry_points = (folder / "entry_points.txt").read_text(encoding="utf-8")
    assert "webpubsub-emulator = webpubsub_emulator._cli:main" in entry_points
    assert "webpubsub_emulator = webpubsub_emulator.pytest_plugin" in entry_points
