"""The virtual /system/bin/sh: quoting, lists, pipes, redirections, `$?`, exit codes and the
messages mksh prints for failures."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from devicelab.virtual.shell import BufferIO, execute, register_command, run, unregister_command
from devicelab.virtual.shell.io import CommandContext
from devicelab.virtual.shell.syntax import ShellSyntaxError, Simple, parse
from tests.virtual.shell_helpers import boot, out, sh


def scenario(body: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run an async test body on a fresh loop."""
    asyncio.run(body())


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("echo hi", "hi\n"),
        ("echo 'a  b' \"c  d\" e\\ f", "a  b c  d e f\n"),
        ("A=5; echo $A ${A} \"$A\" '$A'", "5 5 5 $A\n"),
        ("echo $(echo inner) `echo back`", "inner back\n"),
        ("true && echo yes || echo no", "yes\n"),
        ("false && echo yes || echo no", "no\n"),
        ("false; echo $?", "1\n"),
        ("true; echo $?", "0\n"),
        ("echo one; echo two", "one\ntwo\n"),
        ("echo a\necho b", "a\nb\n"),
        ("printf '%s-%d\\n' x 42", "x-42\n"),
        ("echo -n no-newline", "no-newline"),
        ("echo 'tab\\tend'", "tab\tend\n"),
        ("X=1 sh -c 'echo $X'", "1\n"),
        ("sh -c 'echo $0 $1' zero one", "zero one\n"),
        ("{ echo a; echo b; } | wc -l", "2\n"),
        ("(cd /system && pwd); pwd", "/system\n/\n"),
        ("! false; echo $?", "0\n"),
        ("echo ${UNSET:-fallback}", "fallback\n"),
        ("echo \"\" | wc -c", "1\n"),
        ("set -- a b c; echo $# $2", "3 b\n"),
        ("echo a#b # a comment", "a#b\n"),
        ("A=$(false); echo $?", "1\n"),
        ("false; A=1; echo $?", "0\n"),
    ],
)
def test_shell_grammar(command: str, expected: str) -> None:
    async def body() -> None:
        handset = await boot()
        assert await out(handset, command) == expected

    scenario(body)


def test_unknown_command_fails_as_mksh_does() -> None:
    async def body() -> None:
        handset = await boot()
        result = await sh(handset, "frobnicate --now")
        assert result.exit_code == 127
        assert result.stderr == b"/system/bin/sh: frobnicate: inaccessible or not found\n"
        assert result.stdout == b""
        nested = await sh(handset, "sh -c nothere")
        assert nested.stderr == b"sh: nothere: inaccessible or not found\n"
        assert nested.exit_code == 127

    scenario(body)


def test_exit_code_marker_as_adbutils_appends_it() -> None:
    async def body() -> None:
        handset = await boot()
        assert await out(handset, "ls /nothere; echo X4EXIT:$?") == "X4EXIT:1\n"
        assert await out(handset, "getprop ro.product.model; echo X4EXIT:$?") == "Nokia 7 plus\nX4EXIT:0\n"
        assert await out(handset, "nothere 2>/dev/null; echo X4EXIT:$?") == "X4EXIT:127\n"

    scenario(body)


def test_exit_stops_the_line_and_sets_the_code() -> None:
    async def body() -> None:
        handset = await boot()
        result = await sh(handset, "echo before; exit 3; echo after")
        assert (result.exit_code, result.stdout) == (3, b"before\n")
        assert (await sh(handset, "exit 300")).exit_code == 300 & 0xFF
        assert await out(handset, "sh -c 'exit 4'; echo $?") == "4\n"
        assert await out(handset, "(exit 5); echo $?") == "5\n"
        assert await out(handset, "exit 6 | true; echo $?") == "0\n"

    scenario(body)


def test_pipes_and_text_filters() -> None:
    async def body() -> None:
        handset = await boot()
        props = await out(handset, "getprop | grep '^\\[ro.product' | sort -r | head -n 2 | cut -d: -f1")
        assert props == "[ro.product.name]\n[ro.product.model]\n"
        assert await out(handset, "printf 'b\\na\\nb\\n' | sort | uniq -c") == "      1 a\n      2 b\n"
        assert await out(handset, "echo Hello | tr a-z A-Z") == "HELLO\n"
        assert await out(handset, "printf '1\\n2\\n3\\n' | tail -n 1") == "3\n"
        assert await out(handset, "echo a b c | wc -w") == "3\n"
        result = await sh(handset, "echo abc | grep -q zzz")
        assert result.exit_code == 1

    scenario(body)


def test_redirections() -> None:
    async def body() -> None:
        handset = await boot()
        written = await out(handset, "echo one > /data/local/tmp/f; echo two >> /data/local/tmp/f; "
                                     "cat /data/local/tmp/f")
        assert written == "one\ntwo\n"
        assert await out(handset, "ls /nothere 2>/dev/null; echo $?") == "1\n"
        merged = await sh(handset, "ls /nothere 2>&1")
        assert (merged.stdout, merged.stderr) == (b"ls: /nothere: No such file or directory\n", b"")
        to_file = await sh(handset, "ls /nothere > /sdcard/err.txt 2>&1")
        assert to_file.exit_code == 1
        assert to_file.stderr == b""
        assert await out(handset, "cat /sdcard/err.txt") == "ls: /nothere: No such file or directory\n"
        assert await out(handset, "grep two < /data/local/tmp/f") == "two\n"
        denied = await sh(handset, "echo x > /system/evil")
        assert denied.exit_code == 1
        assert denied.stderr == b"/system/bin/sh: can't create /system/evil: Read-only file system\n"
        assert (await sh(handset, "echo x > /data/system/evil")).stderr.endswith(b"Permission denied\n")
        assert handset.fs.stat("/data/local/tmp/f").uid == 2000  # the shell user owns what it creates

    scenario(body)


def test_if_then_elif_else_fi_as_the_ca_install_uses_it() -> None:
    async def body() -> None:
        handset = await boot()
        assert (await sh(handset, "if true; then echo yes; else echo no; fi")).stdout == b"yes\n"
        assert (await sh(handset, "if false; then echo a; elif true; then echo b; else echo c; fi")).stdout == b"b\n"
        assert (await sh(handset, "if false; then echo a; fi; echo $?")).stdout == b"0\n"
        result = await sh(handset, "if cp /nope /data/local/tmp/x 2>/dev/null; then how=direct; else how=copy; fi; "
                                   "echo $how")
        assert result.stdout == b"copy\n"

    scenario(body)


def test_syntax_errors_are_reported_not_raised() -> None:
    async def body() -> None:
        handset = await boot()
        for bad in ("echo 'open", "; ls", "ls |", "(echo", "for x in a; do echo; done", "if true; echo; fi",
                    "if true; then echo", "echo $((1+1))"):
            result = await sh(handset, bad)
            assert result.exit_code != 0, bad
            assert result.stderr.startswith(b"/system/bin/sh: "), bad

    scenario(body)


def test_parser_tree_shapes() -> None:
    script = parse("CLASSPATH=/data/local/tmp/u2.jar app_process / com.wetest.uia2.Main -p 9008")
    (and_or, background), = script.items
    simple = and_or.first.commands[0]
    assert not background
    assert isinstance(simple, Simple)
    assert simple.assigns == ("CLASSPATH=/data/local/tmp/u2.jar",)
    assert simple.words[:2] == ("app_process", "/")
    with pytest.raises(ShellSyntaxError):
        parse("echo (")


def test_limits_end_in_an_error_not_a_hang() -> None:
    async def body() -> None:
        handset = await boot()
        nested = "echo " + "$(echo " * 40 + "x" + ")" * 40
        result = await asyncio.wait_for(sh(handset, nested), 10)
        assert result.exit_code == 1
        assert b"nested too deeply" in result.stderr
        huge = await asyncio.wait_for(sh(handset, "echo " + "x" * (2 << 20)), 10)
        assert huge.exit_code == 1
        assert b"longer than" in huge.stderr
        big_but_fine = await asyncio.wait_for(sh(handset, "echo " + "y" * 200_000 + " | wc -c"), 10)
        assert big_but_fine.stdout == b"200001\n"

    scenario(body)


def test_background_jobs_finish_before_the_line_ends() -> None:
    async def body() -> None:
        handset = await boot(clock_scale=100.0)
        text = await out(handset, "sleep 1 && echo late & echo early")
        assert text == "early\nlate\n"

    scenario(body)


def test_sleep_ends_when_the_host_closes_the_stream() -> None:
    async def body() -> None:
        handset = await boot()
        io = BufferIO()
        task = asyncio.create_task(execute(handset, "sleep 100; echo done", io))
        await asyncio.sleep(0.05)
        io.closed.set()
        assert await asyncio.wait_for(task, 2) == 0

    scenario(body)


def test_registry_hook_adds_commands() -> None:
    async def hello(ctx: CommandContext) -> int:
        await ctx.out(f"hello {' '.join(ctx.argv[1:])} as {ctx.uid}\n")
        return 7

    register_command("hello-lab", hello)
    try:
        async def body() -> None:
            handset = await boot()
            result = await run(handset, "hello-lab world; echo $?")
            assert result.stdout == b"hello world as 2000\n7\n"
            assert (await run(handset, "/system/bin/hello-lab x")).exit_code == 7

        scenario(body)
    finally:
        unregister_command("hello-lab")


def test_a_failing_command_does_not_take_the_shell_down() -> None:
    async def broken(ctx: CommandContext) -> int:
        raise RuntimeError("boom")

    register_command("broken-lab", broken)
    try:
        async def body() -> None:
            handset = await boot()
            result = await run(handset, "broken-lab; echo still here")
            assert result.stdout == b"still here\n"
            assert b"broken-lab: internal error: boom" in result.stderr

        scenario(body)
    finally:
        unregister_command("broken-lab")


def test_su_only_on_non_user_builds() -> None:
    async def body() -> None:
        user = await boot()
        denied = await sh(user, "su 0 id")
        assert denied.exit_code == 127
        assert b"su: inaccessible or not found" in denied.stderr
        debug = await boot("nokia7plus-00WW_3_22C-userdebug", name="debug")
        assert (await out(debug, "su 0 id")).startswith("uid=0(root) gid=0(root)")
        assert (await out(debug, "su -c 'id -u; whoami'")) == "0\nroot\n"
        assert (await out(debug, "su root cat /data/system/x 2>&1; echo $?")).endswith("1\n")
        assert (await out(user, "id", root=True)).startswith("uid=0(root)")

    scenario(body)
