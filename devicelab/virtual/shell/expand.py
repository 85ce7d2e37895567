"""Word expansion: quotes, parameters, command substitution, field splitting and globbing,
as mksh does it for the words a command line holds."""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from devicelab.virtual.shell.syntax import ShellSyntaxError, _skip_nested, _skip_quoted

IFS = " \t\n"
GLOB_CHARS = frozenset("*?[")
MAX_GLOB_MATCHES = 10_000
MAX_WORD = 1 << 22  # an expanded word larger than this is refused


class ExpansionError(Exception):
    """A word cannot be expanded (`${x?}`, bad substitution, ...)."""


@dataclass
class Scope:
    """What expansion needs from the shell."""

    lookup: Callable[[str], str | None]
    substitute: Callable[[str], Awaitable[str]]
    listdir: Callable[[str], list[str] | None]  # None: not a readable directory
    exists: Callable[[str], bool]
    cwd: str = "/"
    home: str = "/"


@dataclass
class _Run:
    text: str
    quoted: bool  # no splitting, no globbing
    split: bool  # came from an unquoted expansion: split on IFS


@dataclass
class _Field:
    runs: list[_Run] = field(default_factory=list)
    quoted: bool = False  # had quotes: survives even when empty

    @property
    def text(self) -> str:
        return "".join(r.text for r in self.runs)


class _Reader:
    """Turns a raw word into runs of text marked quoted / split."""

    def __init__(self, raw: str, scope: Scope) -> None:
        self.raw = raw
        self.scope = scope
        self.runs: list[_Run] = []
        self.size = 0

    def add(self, text: str, *, quoted: bool, split: bool = False) -> None:
        self.size += len(text)
        if self.size > MAX_WORD:
            raise ExpansionError("word too long after expansion")
        if text or quoted:
            self.runs.append(_Run(text, quoted, split))

    async def read(self) -> list[_Run]:
        raw, i = self.raw, 0
        if raw.startswith("~") and (len(raw) == 1 or raw[1] == "/"):
            self.add(self.scope.home, quoted=True)
            i = 1
        while i < len(raw):
            c = raw[i]
            if c == "'":
                end = _skip_quoted(raw, i + 1, "'")
                self.add(raw[i + 1 : end - 1], quoted=True)
                i = end
            elif c == '"':
                end = _skip_quoted(raw, i + 1, '"')
                await self._double(raw[i + 1 : end - 1])
                i = end
            elif c == "\\":
                self.add(raw[i + 1 : i + 2] or "\\", quoted=True)
                i += 2
            elif c in "$`":
                i = await self._dollar(raw, i, quoted=False)
            else:
                j = i
                while j < len(raw) and raw[j] not in "'\"\\$`":
                    j += 1
                self.add(raw[i:j], quoted=False)
                i = j
        return self.runs

    async def _double(self, body: str) -> None:
        self.add("", quoted=True)  # "" is an empty field, not no field
        i = 0
        while i < len(body):
            c = body[i]
            if c == "\\" and i + 1 < len(body) and body[i + 1] in '$`"\\\n':
                self.add(body[i + 1] if body[i + 1] != "\n" else "", quoted=True)
                i += 2
            elif c in "$`":
                i = await self._dollar(body, i, quoted=True)
            else:
                j = i + 1
                while j < len(body) and body[j] not in "\\$`":
                    j += 1
                self.add(body[i:j], quoted=True)
                i = j

    async def _dollar(self, text: str, i: int, *, quoted: bool) -> int:
        """Expand the `$...` or backtick at text[i]; returns the index after it."""
        if text[i] == "`":
            end = _skip_quoted(text, i + 1, "`")
            await self._emit(await self.scope.substitute(text[i + 1 : end - 1]), quoted)
            return end
        nxt = text[i + 1 : i + 2]
        if text.startswith("$((", i):
            raise ExpansionError("arithmetic expansion is not supported by the virtual shell")
        if nxt == "(":
            end = _skip_nested(text, i + 2, "(", ")")
            output = await self.scope.substitute(text[i + 2 : end - 1])
            await self._emit(output.rstrip("\n"), quoted)
            return end
        if nxt == "{":
            end = _skip_nested(text, i + 2, "{", "}")
            await self._emit(await self._braced(text[i + 2 : end - 1]), quoted)
            return end
        if nxt and (nxt in "?$!#@*-" or nxt.isdecimal()):
            await self._emit(self.scope.lookup(nxt) or "", quoted)
            return i + 2
        j = i + 1
        while j < len(text) and (text[j].isalnum() or text[j] == "_"):
            j += 1
        if j == i + 1 or text[i + 1].isdecimal():
            self.add("$", quoted=quoted)
            return i + 1
        await self._emit(self.scope.lookup(text[i + 1 : j]) or "", quoted)
        return j

    async def _emit(self, value: str, quoted: bool) -> None:
        self.add(value, quoted=quoted, split=not quoted)

    async def _braced(self, body: str) -> str:
        if body.startswith("#") and len(body) > 1:
            return str(len(self.scope.lookup(body[1:]) or ""))
        name = body
        for op in (":-", ":=", ":+", ":?", "-", "=", "+", "?"):
            idx = body.find(op)
            if idx > 0:
                name, word = body[:idx], body[idx + len(op) :]
                value = self.scope.lookup(name)
                unset = value is None or (op.startswith(":") and value == "")
                default = await expand_string(word, self.scope) if word else ""
                if op.strip(":") in ("-", "="):
                    return default if unset else value or ""
                if op.strip(":") == "+":
                    return "" if unset else default
                if unset:
                    raise ExpansionError(f"{name}: {default or 'parameter null or not set'}")
                return value or ""
        if not name or not (name.replace("_", "a").isalnum() or name in "?$!#@*-"):
            raise ExpansionError(f"${{{body}}}: bad substitution")
        return self.scope.lookup(name) or ""


def _split(runs: list[_Run]) -> list[_Field]:
    fields: list[_Field] = []
    current = _Field()
    started = False
    for run in runs:
        if not run.split:
            current.runs.append(run)
            current.quoted = current.quoted or run.quoted
            started = True
            continue
        pieces = run.text
        i = 0
        while i < len(pieces):
            if pieces[i] in IFS:
                if started:
                    fields.append(current)
                    current, started = _Field(), False
                while i < len(pieces) and pieces[i] in IFS:
                    i += 1
                continue
            j = i
            while j < len(pieces) and pieces[j] not in IFS:
                j += 1
            current.runs.append(_Run(pieces[i:j], False, True))
            started = True
            i = j
    if started:
        fields.append(current)
    return [f for f in fields if f.text or f.quoted]


def _pattern(fld: _Field) -> str | None:
    """An fnmatch pattern for the field, or None when it has no unquoted glob character."""
    pattern, globbing = [], False
    for run in fld.runs:
        if run.quoted:
            pattern.append("".join(f"[{c}]" if c in GLOB_CHARS else c for c in run.text))
        else:
            globbing = globbing or any(c in GLOB_CHARS for c in run.text)
            pattern.append(run.text)
    return "".join(pattern) if globbing else None


def glob(pattern: str, scope: Scope) -> list[str]:
    """Paths in the virtual file system matching `pattern` (relative to scope.cwd)."""
    absolute = pattern.startswith("/")
    parts = [p for p in pattern.split("/") if p]
    found = [("/" if absolute else "", "/" if absolute else scope.cwd)]  # (shown, real dir)
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        nxt: list[tuple[str, str]] = []
        for shown, real in found:
            if not any(c in GLOB_CHARS for c in part):
                nxt.append((posixpath.join(shown, part) if shown else part, posixpath.join(real, part)))
                continue
            names = scope.listdir(real) or []
            for name in names:
                if name.startswith(".") and not part.startswith("."):
                    continue
                if fnmatch.fnmatchcase(name, part):
                    nxt.append((posixpath.join(shown, name) if shown else name, posixpath.join(real, name)))
                    if len(nxt) > MAX_GLOB_MATCHES:
                        raise ExpansionError("too many glob matches")
        found = nxt
        if not last:
            found = [(s, r) for s, r in found if scope.listdir(r) is not None]
    return sorted(shown for shown, real in found if scope.exists(real))


async def _runs(raw: str, scope: Scope) -> list[_Run]:
    try:
        return await _Reader(raw, scope).read()
    except ShellSyntaxError as exc:  # e.g. an unclosed ${ inside double quotes
        raise ExpansionError(f"syntax error: {exc}") from None


async def expand_word(raw: str, scope: Scope) -> list[str]:
    """A raw word to the fields it becomes (zero, one or more)."""
    fields = _split(await _runs(raw, scope))
    result: list[str] = []
    for fld in fields:
        pattern = _pattern(fld)
        matches = glob(pattern, scope) if pattern else []
        result.extend(matches or [fld.text])
    return result


async def expand_string(raw: str, scope: Scope) -> str:
    """A raw word expanded without splitting or globbing (assignments, redirection targets)."""
    return "".join(run.text for run in await _runs(raw, scope))


__all__ = ["ExpansionError", "Scope", "ShellSyntaxError", "expand_string", "expand_word", "glob"]
