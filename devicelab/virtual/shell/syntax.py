"""The grammar of the virtual `/system/bin/sh`: what lab tools send, parsed into a small tree.

Supported: `;`, `&`, newlines, `&&`, `||`, pipes, `!`, `( ... )`, `{ ...; }`, redirections
(`>`, `>>`, `<`, `N>`, `N>&M`, `&>`), quotes, `$VAR`, `${...}`, `$(...)` and backticks.
`if ... then ... elif ... else ... fi` (lab tools' install scripts use it); other control flow
(`for`, `while`, `case`) is refused with a clear syntax error.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Input longer than this is refused before parsing (adb caps a service string at 1 MiB).
MAX_SCRIPT = 1 << 20
MAX_NESTING = 32

METACHARS = frozenset(" \t\r\n;&|()<>")
OPERATORS = ("&>>", "&&", "||", ";;", "&>", ">>", ">&", "<&", "<<", ">|", "<>", ";", "&", "|", "(", ")", "<", ">")
REDIRECT_OPS = frozenset({">", ">>", "<", ">&", "<&", "&>", "&>>", ">|", "<>"})
RESERVED = frozenset({"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "case", "esac",
                      "select", "function", "[[", "]]"})


class ShellSyntaxError(Exception):
    """The command line does not parse; the message is what mksh would say after `sh: `."""


@dataclass(frozen=True)
class Token:
    kind: str  # word, op, newline
    value: str
    fd: int | None = None  # for a redirection operator preceded by an fd number


@dataclass(frozen=True)
class Redirect:
    fd: int
    op: str
    target: str  # raw word


@dataclass(frozen=True)
class Simple:
    assigns: tuple[str, ...]
    words: tuple[str, ...]
    redirects: tuple[Redirect, ...]


@dataclass(frozen=True)
class Group:
    body: Script
    subshell: bool
    redirects: tuple[Redirect, ...]


@dataclass(frozen=True)
class If:
    branches: tuple[tuple[Script, Script], ...]  # (condition, body): `if` and each `elif`
    otherwise: Script | None
    redirects: tuple[Redirect, ...]


Node = Simple | Group | If


@dataclass(frozen=True)
class Pipeline:
    commands: tuple[Node, ...]
    negate: bool = False


@dataclass(frozen=True)
class AndOr:
    first: Pipeline
    rest: tuple[tuple[str, Pipeline], ...] = ()


@dataclass(frozen=True)
class Script:
    items: tuple[tuple[AndOr, bool], ...]  # (list, run in background)


# -- lexing --------------------------------------------------------------------------------------
def _skip_quoted(text: str, i: int, quote: str) -> int:
    """Index just past the closing `quote` of a quote opened at text[i-1]."""
    if quote == "'":
        end = text.find("'", i)
        if end < 0:
            raise ShellSyntaxError("unterminated ' string")
        return end + 1
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
        elif c == quote:
            return i + 1
        elif quote == '"' and c == "$" and text.startswith("$(", i):
            i = _skip_nested(text, i + 2, "(", ")")
        elif quote == '"' and c == "`":
            i = _skip_quoted(text, i + 1, "`")
        else:
            i += 1
    raise ShellSyntaxError(f"unterminated {quote} string")


def _skip_nested(text: str, i: int, open_: str, close: str) -> int:
    """Index just past the `close` matching an `open_` that ended at text[i-1]."""
    depth = 1
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c in "'\"`":
            i = _skip_quoted(text, i + 1, c)
            continue
        if c == open_:
            depth += 1
        elif c == close:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ShellSyntaxError(f"missing {close!r}")


def _read_word(text: str, i: int) -> int:
    while i < len(text) and text[i] not in METACHARS:
        c = text[i]
        if c == "\\":
            i += 2
        elif c in "'\"`":
            i = _skip_quoted(text, i + 1, c)
        elif c == "$" and text.startswith("$(", i):
            i = _skip_nested(text, i + 2, "(", ")")
        elif c == "$" and text.startswith("${", i):
            i = _skip_nested(text, i + 2, "{", "}")
        else:
            i += 1
    return min(i, len(text))


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_SCRIPT:
        raise ShellSyntaxError(f"command line is longer than {MAX_SCRIPT} bytes")
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c in " \t\r":
            i += 1
        elif c == "\n":
            tokens.append(Token("newline", "\n"))
            i += 1
        elif c == "#" and (not tokens or tokens[-1].kind != "word" or text[i - 1] in METACHARS):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
        elif c in METACHARS:
            op = next(o for o in OPERATORS if text.startswith(o, i))
            if op == "<<":
                raise ShellSyntaxError("here documents are not supported by the virtual shell")
            tokens.append(Token("op", op))
            i += len(op)
        else:
            end = _read_word(text, i)
            word = text[i:end]
            if word.isdecimal() and end < len(text) and text[end] in "<>" and len(word) < 3:
                op = next(o for o in OPERATORS if text.startswith(o, end))
                tokens.append(Token("op", op, fd=int(word)))
                i = end + len(op)
                continue
            tokens.append(Token("word", word))
            i = end
    return tokens


# -- parsing -------------------------------------------------------------------------------------
def is_assignment(word: str) -> bool:
    name, eq, _ = word.partition("=")
    return bool(eq) and bool(name) and (name[0].isalpha() or name[0] == "_") and all(
        ch.isalnum() or ch == "_" for ch in name
    )


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def unexpected(self, token: Token | None) -> ShellSyntaxError:
        if token is None:
            return ShellSyntaxError("unexpected end of command line")
        shown = "newline" if token.kind == "newline" else token.value
        return ShellSyntaxError(f"'{shown}' unexpected")

    def skip_newlines(self) -> None:
        while (token := self.peek()) is not None and token.kind == "newline":
            self.pos += 1

    def script(self, closer: str | None = None) -> Script:
        items: list[tuple[AndOr, bool]] = []
        while True:
            self.skip_newlines()
            token = self.peek()
            if token is None or self._closes(token, closer):
                return Script(tuple(items))
            and_or = self.and_or()
            background = False
            token = self.peek()
            if token is not None and token.kind == "op" and token.value in (";", "&"):
                background = self.next().value == "&"
            elif token is not None and token.kind != "newline" and not self._closes(token, closer):
                raise self.unexpected(token)
            items.append((and_or, background))

    @staticmethod
    def _closes(token: Token, closer: str | None) -> bool:
        if closer == ")":
            return token.kind == "op" and token.value == ")"
        # "}" or reserved words ending an `if` part, e.g. "elif|else|fi"
        return closer is not None and token.kind == "word" and token.value in closer.split("|")

    def and_or(self) -> AndOr:
        first = self.pipeline()
        rest: list[tuple[str, Pipeline]] = []
        while (token := self.peek()) is not None and token.kind == "op" and token.value in ("&&", "||"):
            self.next()
            self.skip_newlines()
            rest.append((token.value, self.pipeline()))
        return AndOr(first, tuple(rest))

    def pipeline(self) -> Pipeline:
        negate = False
        token = self.peek()
        if token is not None and token.kind == "word" and token.value == "!":
            self.next()
            negate = True
        commands = [self.command()]
        while (token := self.peek()) is not None and token.kind == "op" and token.value == "|":
            self.next()
            self.skip_newlines()
            commands.append(self.command())
        return Pipeline(tuple(commands), negate)

    def command(self) -> Node:
        token = self.peek()
        if token is None:
            raise self.unexpected(None)
        if token.kind == "op" and token.value == "(":
            self.next()
            return Group(self._nested(")"), True, self.redirects())
        if token.kind == "word" and token.value == "{":
            self.next()
            return Group(self._nested("}"), False, self.redirects())
        if token.kind == "word" and token.value == "if":
            self.next()
            return self._if()
        if token.kind == "word" and token.value in RESERVED:
            raise ShellSyntaxError(f"'{token.value}': control flow is not supported by the virtual shell")
        return self.simple()

    def _if(self) -> If:
        branches: list[tuple[Script, Script]] = []
        otherwise: Script | None = None
        while True:
            condition = self._nested("then")
            body = self._nested("elif|else|fi")
            branches.append((condition, body))
            word = self.tokens[self.pos - 1].value
            if word == "elif":
                continue
            if word == "else":
                otherwise = self._nested("fi")
            return If(tuple(branches), otherwise, self.redirects())

    def _nested(self, closer: str) -> Script:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ShellSyntaxError("groups are nested too deeply")
        body = self.script(closer)
        token = self.peek()
        if token is None or not self._closes(token, closer):
            raise ShellSyntaxError(f"missing '{closer}'")
        self.next()
        self.depth -= 1
        if not body.items:
            raise self.unexpected(token)
        return body

    def redirects(self) -> tuple[Redirect, ...]:
        found = []
        while (token := self.peek()) is not None and token.kind == "op" and token.value in REDIRECT_OPS:
            found.append(self.redirect())
        return tuple(found)

    def redirect(self) -> Redirect:
        token = self.next()
        target = self.peek()
        if target is None or target.kind != "word":
            raise self.unexpected(target)
        self.next()
        op = ">" if token.value == ">|" else token.value
        default_fd = 0 if op in ("<", "<&", "<>") else 1
        return Redirect(token.fd if token.fd is not None else default_fd, op, target.value)

    def simple(self) -> Simple:
        assigns: list[str] = []
        words: list[str] = []
        redirects: list[Redirect] = []
        while (token := self.peek()) is not None:
            if token.kind == "word":
                self.next()
                if not words and is_assignment(token.value):
                    assigns.append(token.value)
                else:
                    words.append(token.value)
            elif token.kind == "op" and token.value in REDIRECT_OPS:
                redirects.append(self.redirect())
            elif token.kind == "op" and token.value in ("(", ")") and not words and not assigns:
                raise self.unexpected(token)
            else:
                break
        if not (assigns or words or redirects):
            raise self.unexpected(self.peek())
        return Simple(tuple(assigns), tuple(words), tuple(redirects))


def parse(text: str) -> Script:
    """Parse a command line; ShellSyntaxError says what is wrong."""
    parser = _Parser(tokenize(text))
    script = parser.script()
    if parser.peek() is not None:
        raise parser.unexpected(parser.peek())
    return script
