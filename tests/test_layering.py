"""The package reads as layers: request builders and operations at the bottom know nothing of the clients or
transports above them, the event handler stands apart, no module imports one that imports it back, and none opens
sockets or speaks HTTP itself (that is urllib3's and aiohttp's work)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, Set

import pytest

PACKAGE = "azure.messaging.webpubsubservice"
ROOT = Path(__file__).resolve().parent.parent / "azure" / "messaging" / "webpubsubservice"
# The sans-IO bottom: argument checks, request building, response interpretation, errors, keywords, tokens.
BOTTOM = {"rest", "_endpoint", "_jwt", "_errors", "_keywords", "_odata", "_operations", "_version"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[str]:
    """Package modules ``path`` imports, relative to the package (``_operations``, ``eventhandler._core``)."""
    here = _module_name(path).split(".") if path.name != "__init__.py" else [*_module_name(path).split("."), ""]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = [part for part in here[: len(here) - node.level] if part]
                target = ".".join([*base, *(node.module or "").split(".")]).strip(".")
            elif (node.module or "").startswith(PACKAGE):
                target = (node.module or "")[len(PACKAGE) + 1:]
            else:
                continue
            for alias in node.names:  # ``from . import rest`` names a module, ``from ._x import y`` a name in one
                candidate = f"{target}.{alias.name}".strip(".")
                yield candidate if _exists(candidate) else target
        elif isinstance(node, ast.Import):
            yield from (alias.name[len(PACKAGE) + 1:] for alias in node.names if alias.name.startswith(PACKAGE + "."))


def _exists(module: str) -> bool:
    path = ROOT.joinpath(*module.split(".")) if module else ROOT
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _graph() -> Dict[str, Set[str]]:
    return {_module_name(path): {name for name in _imports(path) if name != _module_name(path)}
            for path in ROOT.rglob("*.py")}


GRAPH = _graph()


def _reachable(start: str) -> Set[str]:
    seen: Set[str] = set()
    stack = [start]
    while stack:
        for imported in GRAPH.get(stack.pop(), set()):
            if imported not in seen:
                seen.add(imported)
                stack.append(imported)
    return seen


def test_the_graph_was_read() -> None:
    assert "_operations" in GRAPH["_shell"] and "eventhandler._core" in GRAPH["eventhandler._asgi"]


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_module_imports_itself_back(module: str) -> None:
    assert module not in _reachable(module)


@pytest.mark.parametrize("module", sorted(BOTTOM))
def test_the_bottom_layer_imports_only_the_bottom_layer(module: str) -> None:
    assert _reachable(module) <= BOTTOM


@pytest.mark.parametrize("module", sorted(name for name in GRAPH if name.startswith("eventhandler")))
def test_the_event_handler_stands_apart_from_the_service_client(module: str) -> None:
    assert all(name.startswith("eventhandler") for name in _reachable(module)), _reachable(module)


def test_the_event_handler_core_knows_nothing_of_its_adapters() -> None:
    assert not {"eventhandler._asgi", "eventhandler._wsgi", "eventhandler"} & _reachable("eventhandler._core")


# The HTTP itself is urllib3's and aiohttp's: no module of the package opens sockets, frames HTTP or wraps TLS.
SOCKET_AND_HTTP_MODULES = {"socket", "socketserver", "selectors", "select", "asyncore", "asynchat", "http.client",
                           "http.server", "h11", "httptools", "wsproto"}
SOCKET_AND_STREAM_CALLS = {"open_connection", "start_server", "create_connection", "create_server", "wrap_socket",
                           "wrap_bio", "sock_connect", "sock_recv", "sock_sendall", "start_tls", "connect_ex"}


def _standard_imports_and_attributes(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            yield node.module or ""
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Attribute):
            yield node.attr


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_module_opens_sockets_or_speaks_http_itself(module: str) -> None:
    path = ROOT.joinpath(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    found = set(_standard_imports_and_attributes(path)) & (SOCKET_AND_HTTP_MODULES | SOCKET_AND_STREAM_CALLS)
    assert not found, f"{module} uses {sorted(found)}: sockets and HTTP are urllib3's and aiohttp's work"
