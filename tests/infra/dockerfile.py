"""Just enough of a Dockerfile and .dockerignore reader for the checks in this package."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ...
    arguments: str  # the rest of the (joined) line


@dataclass
class Stage:
    name: str | None
    base: str  # the FROM image or the name of an earlier stage
    instructions: list[Instruction] = field(default_factory=list)


def instructions(path: Path) -> list[Instruction]:
    """The file's instructions, continuation lines joined, comments and blank lines dropped."""
    result: list[Instruction] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        result.append(Instruction(keyword.upper(), arguments.strip()))
        pending = ""
    return result


def global_args(path: Path) -> dict[str, str]:
    """The ARG defaults of the file, by name (ARGs before the first FROM and inside stages alike)."""
    args: dict[str, str] = {}
    for instruction in instructions(path):
        if instruction.keyword == "ARG" and "=" in instruction.arguments:
            name, _, value = instruction.arguments.partition("=")
            args[name] = value
    return args


def stages(path: Path) -> dict[str, Stage]:
    """Every named stage of the file by name."""
    named: dict[str, Stage] = {}
    current: Stage | None = None
    for instruction in instructions(path):
        if instruction.keyword == "FROM":
            words = instruction.arguments.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            current = Stage(name, words[0])
            if name:
                named[name] = current
        elif current is not None:
            current.instructions.append(instruction)
    return named


def stage_chain(path: Path, target: str) -> list[Stage]:
    """The stage `target` and the stages it is built FROM, base first."""
    named = stages(path)
    chain: list[Stage] = []
    name: str | None = target
    while name in named:
        chain.insert(0, named[name])
        name = named[name].base
    return chain


def effective(chain: list[Stage], keyword: str) -> Instruction | None:
    """The last `keyword` instruction that applies to the final stage of `chain`."""
    found = None
    for stage in chain:
        for instruction in stage.instructions:
            if instruction.keyword == keyword:
                found = instruction
    return found


def exec_form(arguments: str) -> list[str]:
    """The argv of a CMD/ENTRYPOINT/HEALTHCHECK CMD (JSON array form, else split as a shell would)."""
    text = arguments.strip()
    return json.loads(text) if text.startswith("[") else shlex.split(text)


def copy_sources(path: Path) -> list[str]:
    """The build-context sources of every COPY/ADD that does not copy from a stage or image."""
    sources: list[str] = []
    for instruction in instructions(path):
        if instruction.keyword not in ("COPY", "ADD"):
            continue
        words = shlex.split(instruction.arguments)
        if any(w.startswith("--from=") for w in words):
            continue
        paths = [w for w in words if not w.startswith("--")]
        sources.extend(paths[:-1])  # the last word is the destination
    return sources


def ignore_patterns(context: Path) -> list[str]:
    """The patterns of the context's .dockerignore (empty when there is none)."""
    path = context / ".dockerignore"
    if not path.exists():
        return []
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def is_ignored(relative: str, patterns: list[str]) -> bool:
    """Whether .dockerignore `patterns` leave `relative` (a path in the context) out of the context:
    the last pattern matching it or one of its parent directories decides; `!` re-includes."""
    parts = Path(relative).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        include = pattern.startswith("!")
        regex = _pattern_regex(pattern.lstrip("!").strip("/"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            ignored = not include
    return ignored


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)
