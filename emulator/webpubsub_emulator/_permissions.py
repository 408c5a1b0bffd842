"""What a client connection may do with groups: token/connect roles plus REST grants and revokes.

Roles (client-protocols.md section 7, service-limits-and-errors.md section 5):
``webpubsub.joinLeaveGroup`` / ``webpubsub.sendToGroup`` allow every group, ``...Group.<group>`` one
literal group, and ``...Groups.<pattern>`` the groups a wildcard pattern matches:

* ``?`` one character other than ``.``; ``*`` any run of characters without ``.``; ``**`` (or any longer
  run of ``*``) any run including ``.``; ``\\`` escapes ``\\``, ``*`` and ``?``; ``.`` separates levels.
* A pattern is at most 1024 characters and holds at most five ``*`` characters (each ``*`` of a ``**``
  counts, and so does an escaped one: the documented limit counts characters). ``**`` alone means every
  group; a pattern without wildcards (e.g. only escapes) is a literal group.
* An invalid pattern in a token or a connect response is skipped (logged): the client still connects.
  Per permission and connection at most nine patterns are kept (Microsoft's emulator keeps ten rules,
  the default one included) and at most 1000 literal entries (literal roles, grants and revokes
  together); further roles are skipped, and a REST grant or revoke past the limit is refused (409).
* Matching is case-sensitive and ordinal. A literal entry (a literal role, a grant, a revoke) decides
  for its group before any pattern or the every-group role; revoking one group denies it even to a
  connection allowed every group.
"""
from __future__ import annotations

import logging
import re
from typing import Dict, Iterable, List, Pattern, Union

logger = logging.getLogger("webpubsub_emulator")

JOIN_LEAVE = "joinLeaveGroup"
SEND = "sendToGroup"
PERMISSIONS = (JOIN_LEAVE, SEND)
MAX_PATTERN_LENGTH = 1024
MAX_STARS = 5
MAX_PATTERNS = 9  # Microsoft's emulator: 10 rules per permission, the default rule included
MAX_LITERALS = 1000

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
    """A grant or revoke would exceed the per-permission literal entry limit."""


class InvalidPattern(ValueError):
    """A wildcard pattern the service refuses; the message says why."""


class AnyGroup:
    """What `**` compiles to: every group, like the unscoped role."""


ANY_GROUP = AnyGroup()
CompiledPattern = Union[str, Pattern[str], AnyGroup]  # a literal group, a regular expression, or every group


def compile_group_pattern(pattern: str) -> CompiledPattern:
    """The compiled form of a wildcard group pattern; raises InvalidPattern."""
    if not pattern:
        raise InvalidPattern("the pattern is empty")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise InvalidPattern(f"the pattern is longer than {MAX_PATTERN_LENGTH} characters")
    if pattern.count("*") > MAX_STARS:
        raise InvalidPattern(f"Too many '*' in the pattern, exceeding the maximum allowed complexity of {MAX_STARS}.")
    parts: List[str] = []
    literal: List[str] = []
    wildcards = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            if index + 1 >= len(pattern) or pattern[index + 1] not in "\\*?":
                raise InvalidPattern("'\\' must be followed by '\\', '*' or '?'")
            parts.append(re.escape(pattern[index + 1]))
            literal.append(pattern[index + 1])
            index += 2
            continue
        if char == "*":
            run = len(pattern) - index - len(pattern[index:].lstrip("*"))
            parts.append(".*" if run > 1 else "[^.]*")
            wildcards = True
            index += run
            continue
        if char == "?":
            parts.append("[^.]")
            wildcards = True
        else:
            parts.append(re.escape(char))
            literal.append(char)
        index += 1
    if not wildcards:
        return "".join(literal)
    if parts == [".*"]:
        return ANY_GROUP
    return re.compile("".join(parts), re.DOTALL)


class _Rules:
    def __init__(self) -> None:
        self.any_group = False
        self.literals: Dict[str, bool] = {}  # group -> allowed (literal roles and grants) or denied (revokes)
        self.patterns: List[Pattern[str]] = []

    def allows(self, group: str) -> bool:
        decided = self.literals.get(group)
        if decided is not None:
            return decided
        return self.any_group or any(pattern.fullmatch(group) for pattern in self.patterns)

    def set_literal(self, group: str, allowed: bool) -> bool:
        """False (and no change) when the literal entry limit is reached."""
        if group not in self.literals and len(self.literals) >= MAX_LITERALS:
            return False
        self.literals[group] = allowed
        return True


class Permissions:
    def __init__(self, roles: Iterable[str] = ()) -> None:
        self._rules: Dict[str, _Rules] = {name: _Rules() for name in PERMISSIONS}
        self.roles: List[str] = []
        for role in roles:
            self.add_role(role)

    def add_role(self, role: str) -> None:
        """A role from a token or a connect response; one over a limit or with a bad pattern is skipped."""
        self.roles.append(role)
        for prefix, (permission, kind) in _ROLE_PREFIXES.items():
            rules = self._rules[permission]
            if kind == "any" and role == prefix:
                rules.any_group = True
            elif kind != "any" and role.startswith(prefix) and len(role) > len(prefix):
                target = role[len(prefix):]
                if kind == "literal":
                    self._add_literal_role(rules, role, target)
                else:
                    self._add_pattern_role(rules, role, target)

    @staticmethod
    def _add_literal_role(rules: _Rules, role: str, group: str) -> None:
        if not rules.set_literal(group, True):
            logger.info("role %r skipped: more than %d literal groups for one permission", role, MAX_LITERALS)

    @staticmethod
    def _add_pattern_role(rules: _Rules, role: str, pattern: str) -> None:
        try:
            compiled = compile_group_pattern(pattern)
        except InvalidPattern as error:
            logger.info("role %r skipped: %s", role, error)
            return
        if isinstance(compiled, AnyGroup):
            rules.any_group = True
        elif isinstance(compiled, str):
            Permissions._add_literal_role(rules, role, compiled)
        elif len(rules.patterns) >= MAX_PATTERNS:
            logger.info("role %r skipped: more than %d patterns for one permission", role, MAX_PATTERNS)
        else:
            rules.patterns.append(compiled)

    def allows(self, permission: str, group: str) -> bool:
        return self._rules[permission].allows(group)

    def grant(self, permission: str, group: str) -> None:
        if not self._rules[permission].set_literal(group, True):
            raise TooManyRules()

    def revoke(self, permission: str, group: str) -> None:
        if not self._rules[permission].set_literal(group, False):
            raise TooManyRules()

