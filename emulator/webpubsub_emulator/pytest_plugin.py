"""pytest plugin (entry point `pytest11`): the `webpubsub_emulator` fixture."""
from __future__ import annotations

from typing import Iterator

import pytest

from ._server import Emulator


@pytest.fixture
def webpubsub_emulator() -> Iterator[Emulator]:
    """A started emulator on a free loopback port, running in its own thread; stopped after the test."""
    with Emulator() as emulator:
        yield emulator
