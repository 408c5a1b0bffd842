"""emulator/README.md, the emulator's reference, says what the command line and the config file do."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Set

from webpubsub_emulator import Emulator
from webpubsub_emulator._cli import _parser

README = Path(__file__).resolve().parent.parent / "README.md"


def documented_flags() -> Set[str]:
    """The flags in the first column of the README's flag table."""
    text = README.read_text(encoding="utf-8")
    table = text[text.index("| Flag | Meaning |"):].split("\n\n", 1)[0]
    rows = [row.split("|")[1] for row in table.splitlines()[2:]]
    return {flag for row in rows for flag in re.findall(r"`(--[a-z-]+)", row)}


def test_the_flag_table_has_every_flag_of_help_and_no_other() -> None:
    flags = {option for action in _parser()._actions for option in action.option_strings if option.startswith("--")}
    assert documented_flags() == flags - {"--help"}


def test_the_config_file_example_is_accepted() -> None:
    text = README.read_text(encoding="utf-8")
    example = json.loads(re.search(r"^```json\n(.*?)^```", text, re.MULTILINE | re.DOTALL).group(1))
    with Emulator(config=example) as emulator:
        assert emulator.access_keys == example["accessKeys"]
        assert emulator.settings.max_connections == example["maxConnections"]
