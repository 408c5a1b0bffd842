"""What a client connection may do with groups: token/connect roles plus REST grants and revokes."""
from __future__ import annotations

import re
from typing import Dict, Iterable, List, Optional, Pattern, Set

JOIN_LEAVE = "joinLeaveGroup"
SEND = "sendToGroup"
PERMISSIONS = (JOIN_LEAVE, SEND)
MAX_PATTERNS = 10
MAX_LITERALS = 1000
MAX_PATTERN_LENGTH = 1024

_ROLE_PREFIXES = {
    # role prefix -> (permission, kind)
    "webpubsub.joinLeaveGroup": (JOIN_LEAVE, "any"),
    "webpubsub.sendToGroup": (SEND, "any"),
    "webpubsub.joinLeaveGroup.": (JOIN_LEAVE, "literal"),
    "webpubsub.sendToGroup.": (SEND, "literal"),
    "webpubsub.joinLeaveGroups.": (JOIN_LEAVE, "pattern"),
    "webpubsub.sendToGroups.": (SEND, "pattern"),
}


class TooManyRules(Exception):
    """A grant would exceed the per-permission literal rule limit."""


def compile_group_pattern(pattern: str) -> Optional[Pattern[str]]:
    """`?` one char but '.', `*` any run without '.', `**` anything, `\\` escapes. None if invalid."""
    if not pattern or len(pattern) > MAX_PATTERN_LENGTH:
        return None
    parts: List[str] = []
    stars = 0
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            if index + 1 >= len(pattern) or pattern[index + 1] not in "\\*?":
                return None
            parts.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        if char == "*":
            if pattern.startswith("**", index):
                parts.append(".*")
                stars += 2
                index += 2
                continue
            parts.append("[^.]*")
            stars += 1
        elif char == "?":
            parts.append("[^.]")
        else:
            parts.append(re.escape(char))
        index += 1
    if stars > 5:
        return None
    return re.compile("".join(parts), re.DOTALL)


class _Rules:
    def __init__(self) -> None:
        self.any_group = False
        self.deny_all = False
        self.literals: Set[str] = set()
        self.patterns: List[Pattern[str]] = []
        self.denied: Set[str] = set()

    def allows(self, group: Optional[str]) -> bool:
        if group is None:
            return self.any_group and not self.deny_all
        if group in self.denied:
            return False
        if group in self.literals:
            return True
        if self.deny_all:
            return False
        return self.any_group or any(pattern.fullmatch(group) for pattern in self.patterns)


class Permissions:
    def __init__(self, roles: Iterable[str] = ()) -> None:
        self._rules: Dict[str, _Rules] = {name: _Rules() for name in PERMISSIONS}
        self.roles: List[str] = []
        for role in roles:
            self.add_role(role)

    def add_role(self, role: str) -> None:
        self.roles.append(role)
        for prefix, (permission, kind) in _ROLE_PREFIXES.items():
            rules = self._rules[permission]
            if kind == "any" and role == prefix:
                rules.any_group = True
            elif kind != "any" and role.startswith(prefix) and len(role) > len(prefix):
                target = role[len(prefix):]
                if kind == "literal" and len(rules.literals) < MAX_LITERALS:
                    rules.literals.add(target)
                elif kind == "pattern" and len(rules.patterns) < MAX_PATTERNS:
                    compiled = compile_group_pattern(target)
                    if compiled is not None:
                        rules.patterns.append(compiled)

    def allows(self, permission: str, group: Optional[str]) -> bool:
        """`group=None` asks about every group at once (a REST check without targetName)."""
        return self._rules[permission].allows(group)

    def grant(self, permission: str, group: Optional[str]) -> None:
        rules = self._rules[permission]
        if group is None:
            rules.any_group, rules.deny_all = True, False
            rules.denied.clear()
            return
        if group not in rules.literals and len(rules.literals) >= MAX_LITERALS:
            raise TooManyRules()
        rules.denied.discard(group)
        rules.literals.add(group)

    def revoke(self, permission: str, group: Optional[str]) -> None:
        rules = self._rules[permission]
        if group is None:
            rules.any_group, rules.deny_all = False, True
            rules.literals.clear()
            rules.patterns.clear()
            return
        if group not in rules.denied and len(rules.denied) >= MAX_LITERALS:
            raise TooManyRules()
        rules.literals.discard(group)
        rules.denied.add(group)
