"""The student skeleton, generated from the reference solution so the two never drift.

Rules of the markers (in any module of the package that is an assignment's reference):

1. A block starts with a comment line ``# SOLUTION`` or ``# SOLUTION: hint`` (the hint may go on
   over the next comment lines) and ends with ``# END SOLUTION`` at the same indentation.
2. The skeleton keeps everything outside the blocks and replaces each block by the hint, as
   ``# TODO:`` comments, and ``raise NotImplementedError(...)`` at the block's indentation. So
   the student writes exactly the bodies the reference writes, and nothing else changes.
3. Blocks do not nest; a missing or unbalanced marker is an error naming the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_START = re.compile(r"^(?P<indent>[ \t]*)# SOLUTION(?::\s*(?P<hint>.*))?$")
_END = re.compile(r"^(?P<indent>[ \t]*)# END SOLUTION\s*$")
_COMMENT = re.compile(r"^[ \t]*# ?(?P<text>.*)$")


@dataclass(frozen=True)
class Block:
    """One SOLUTION block: ``start`` / ``end`` are 1-based line numbers of its markers."""

    start: int
    end: int
    indent: str
    hint: str


def blocks(source: str, name: str = "source") -> list[Block]:
    """The SOLUTION blocks of ``source``, in order; ValueError on unbalanced markers."""
    lines = source.splitlines()
    out: list[Block] = []
    open_at: int | None = None
    indent, hint = "", ""
    i = 0
    while i < len(lines):
        line = lines[i]
        m, e = _START.match(line), _END.match(line)
        if m:
            if open_at is not None:
                raise ValueError(f"{name}:{i + 1}: '# SOLUTION' inside the block opened at line "
                                 f"{open_at}; blocks do not nest")
            open_at, indent = i + 1, m["indent"]
            parts = [m["hint"] or ""]
            # the hint continues on the next comment lines (until code or a numbered step)
            while i + 1 < len(lines) and (c := _COMMENT.match(lines[i + 1])) and parts[0] and \
                    not _END.match(lines[i + 1]) and lines[i + 1].startswith(indent + "# ") and \
                    not re.match(r"\d+\.", c["text"]) and len(parts) < 6:
                parts.append(c["text"])
                i += 1
            hint = " ".join(p.strip() for p in parts if p.strip())
        elif e:
            if open_at is None:
                raise ValueError(f"{name}:{i + 1}: '# END SOLUTION' without a '# SOLUTION'")
            if e["indent"] != indent:
                raise ValueError(f"{name}:{i + 1}: '# END SOLUTION' is not indented like the "
                                 f"'# SOLUTION' of line {open_at}")
            out.append(Block(open_at, i + 1, indent, hint))
            open_at = None
        i += 1
    if open_at is not None:
        raise ValueError(f"{name}:{open_at}: '# SOLUTION' is never closed by '# END SOLUTION'")
    return out


def skeleton(source: str, assignment: str, name: str = "source") -> str:
    """``source`` with every SOLUTION block replaced by its hint and ``NotImplementedError``."""
    found = blocks(source, name)
    if not found:
        raise ValueError(f"{name} has no '# SOLUTION' block; nothing for a student to write")
    lines = source.splitlines()
    out: list[str] = []
    prev = 0
    for b in found:
        out.extend(lines[prev : b.start - 1])
        for chunk in _wrap(b.hint or "write this part", 90 - len(b.indent)):
            out.append(f"{b.indent}# TODO: {chunk}")
        todo = f"TODO({assignment}): see the comment above"
        out.append(f"{b.indent}raise NotImplementedError({todo!r})")
        prev = b.end
    out.extend(lines[prev:])
    return "\n".join(out) + "\n"


def _wrap(text: str, width: int) -> list[str]:
    words, lines, cur = text.split(), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}" if cur else w
    return lines + ([cur] if cur else [])
