"""The packages are fully typed: mypy --strict finds nothing in them, typing.get_type_hints() resolves every public
annotation, and a user's mypy --strict sees the types of the package as pip installs it."""

from __future__ import annotations

import inspect
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import typing
import venv
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import pytest

from azure.messaging.webpubsubservice import GroupMember, WebPubSubServiceClient, eventhandler, odata, rest
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AsyncWebPubSubServiceClient

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("package, folder", [("azure.messaging.webpubsubservice", ROOT),
                                             ("webpubsub_emulator", ROOT / "emulator")])
def test_mypy_strict_is_clean(package: str, folder: Path, tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--explicit-package-bases", "--cache-dir", str(tmp_path),
         "-p", package],
        cwd=folder, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stdout + finished.stderr


# --- typing.get_type_hints() on the public surface ----------------------------------------------------------

def _public_callables() -> List[Any]:
    classes = [WebPubSubServiceClient, AsyncWebPubSubServiceClient, GroupMember,
               *(getattr(eventhandler, name) for name in eventhandler.__all__)]
    found: List[Any] = []
    for cls in classes:
        found.append(pytest.param(cls, id=cls.__qualname__))
        for name, member in inspect.getmembers(cls):
            if name.startswith("_") and name not in ("__init__", "__call__", "__enter__", "__exit__", "__aenter__",
                                                     "__aexit__"):
                continue
            function = member.fget if isinstance(member, property) else member
            if callable(function) and (getattr(function, "__module__", None) or "").startswith("azure.messaging"):
                found.append(pytest.param(function, id=f"{cls.__module__.split('.')[-1]}.{cls.__qualname__}.{name}"))
    found += [pytest.param(odata, id="odata")]
    found += [pytest.param(getattr(rest, name), id=f"rest.{name}") for name in rest.__all__ if name.startswith("build")]
    return found


@pytest.mark.parametrize("member", _public_callables())
def test_get_type_hints_resolves_every_public_annotation(member: Any) -> None:
    hints = typing.get_type_hints(member)
    if inspect.isfunction(member) and member.__name__ != "__init__":
        assert "return" in hints


def test_client_methods_show_resolved_types_without_the_operation_target() -> None:
    hints = typing.get_type_hints(WebPubSubServiceClient.send_to_all)
    assert "target" not in hints and hints["return"] is type(None)
    assert typing.get_type_hints(AsyncWebPubSubServiceClient.user_exists)["return"] is bool
    parameters = inspect.signature(WebPubSubServiceClient.close_all_connections).parameters
    assert list(parameters) == ["self", "excluded", "reason", "kwargs"]
    assert parameters["excluded"].annotation == Optional[Sequence[str]]


# --- what a user's mypy sees after installing the package -----------------------------------------------------
#
# A fresh virtualenv plus ``pip install .`` would download the dependencies again on every run (tens of
# seconds). The same facts are checked cheaper: the package as ``pip install .`` lays it out (the ``installed``
# fixture of conftest.py, non-editable) is copied into a bare virtualenv that borrows this environment's
# dependencies (azure-core, typing-extensions) through a .pth file, and mypy --strict checks a user's script
# with that virtualenv's interpreter. Nothing of the repository is on its path (an editable install here stays
# out of it), and a second run without py.typed shows that the marker is what lets mypy use the types.

USER_CODE = '''\
from azure.core.credentials import AzureKeyCredential
from azure.messaging.webpubsubservice import WebPubSubServiceClient, odata
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AsyncClient
from azure.messaging.webpubsubservice.eventhandler import WebPubSubEventHandler

client = WebPubSubServiceClient("https://contoso.webpubsub.azure.com", "chat", AzureKeyCredential("key"))
client.send_to_all("hi", exclude=["c1"])
url: int = client.get_client_access_token()["url"]
text: bytes = odata("userId eq {}", "a")


async def check() -> None:
    async with AsyncClient("https://contoso.webpubsub.azure.com", "chat", AzureKeyCredential("key")) as aclient:
        exists: str = await aclient.user_exists("u")

hub: int = WebPubSubEventHandler("chat", allowed_origins="*").hub
'''
ASSIGNED = r'Incompatible types in assignment \(expression has type "{}", variable has type "{}"\)'
EXPECTED_ERRORS = {  # line of USER_CODE -> the error mypy must report there (a regular expression)
    7: r'Unexpected keyword argument "exclude".*; did you mean "excluded"\?',
    8: ASSIGNED.format("str", "int"),
    9: ASSIGNED.format("str", "bytes"),
    14: ASSIGNED.format("bool", "str"),
    16: ASSIGNED.format("str", "int"),
}


def _user_mypy(installed: Path, folder: Path, *, py_typed: bool = True) -> Dict[int, str]:
    """mypy --strict on USER_CODE, with the installed package in a bare virtualenv: {line: error}."""
    venv.create(folder / "venv", with_pip=False)
    python = folder / "venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True, timeout=60).stdout.strip())
    shutil.copytree(installed / "azure", site / "azure")
    if not py_typed:
        (site / "azure" / "messaging" / "webpubsubservice" / "py.typed").unlink()
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    script = folder / "user_code.py"
    script.write_text(USER_CODE)
    env = {name: value for name, value in os.environ.items() if name not in ("PYTHONPATH", "MYPYPATH")}
    finished = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--python-executable", str(python), "--no-error-summary",
         "--show-error-codes", "--cache-dir", str(folder / "mypy-cache"), str(script)],
        cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    errors: Dict[int, str] = {}
    for line in finished.stdout.splitlines():
        match = re.match(r".*user_code\.py:(\d+): error: (.*)$", line)
        if match:
            errors[int(match.group(1))] = match.group(2)
    assert errors or finished.returncode == 0, finished.stdout + finished.stderr
    return errors


def test_mypy_strict_sees_the_installed_packages_types(installed: Path, tmp_path: Path) -> None:
    errors = _user_mypy(installed, tmp_path)
    assert sorted(errors) == sorted(EXPECTED_ERRORS), errors
    for line, pattern in EXPECTED_ERRORS.items():
        assert re.fullmatch(pattern + r"  \[[a-z-]+\]", errors[line]), errors[line]


def test_without_py_typed_mypy_would_not_use_them(installed: Path, tmp_path: Path) -> None:
    errors = _user_mypy(installed, tmp_path, py_typed=False)
    assert any("[import-untyped]" in message for message in errors.values()), errors
