"""Random command lines never raise out of `execute`: they end in an exit code 0-255, fast."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devicelab.virtual.handset import VirtualHandset
from devicelab.virtual.shell import BufferIO, command_names, execute
from tests.virtual.shell_helpers import boot
from tests.virtual.ui_helpers import cancel_the_rest

OPERATORS = [";", "&&", "||", "|", "&", ">", ">>", "<", "2>&1", "2>/dev/null", "(", ")", "{", "}", "!", "\n",
             "$?", "$(", "`", "'", '"', "\\", "${", "}", "*", "~", "#", "=", "$$", "$#", "$1", "-"]
ARGS = ["-a", "-l", "-d", "-f", "-p", "-b", "-v", "-t", "1", "0", "-1", "99999999999", "/", "/data", "/system",
        "/sdcard/x", "/data/local/tmp/f", "/proc/net/tcp", "secure", "global", "android_id", "packages", "list",
        "get", "put", "call", "iphonesubinfo", "size", "keyevent", "tap", "text", "swipe", "start", "-n",
        "com.android.settings/.Settings", "threadtime", "all", "wifi", "data", "enable", "disable", "ro.x", "debug.x",
        "x" * 50, "é", "\x00", "%s", "*:S"]
#: Commands whose effect would stall or reset the fuzzed handset; their behaviour is tested elsewhere.
SKIP = {"reboot", "sleep", "svc", "logcat", "input"}
WORDS = [name for name in command_names() if name not in SKIP]

simple_commands = st.tuples(st.sampled_from(WORDS), st.lists(st.sampled_from(ARGS), max_size=5)).map(
    lambda parts: " ".join([parts[0], *parts[1]]))
well_formed = st.lists(st.tuples(simple_commands, st.sampled_from(["; ", " && ", " || ", " | ", " 2>&1 | "])),
                       min_size=1, max_size=4).map(lambda items: "".join(c + sep for c, sep in items) + "true")
command_lines = st.one_of(
    well_formed,
    st.text(max_size=60),
    st.lists(st.one_of(st.sampled_from(WORDS), st.sampled_from(ARGS), st.sampled_from(OPERATORS),
                       st.text(alphabet="abc$'\"\\|;&()<>{} -_/.=*", max_size=6)),
             max_size=14).map(" ".join),
)


@pytest.fixture(scope="module")
def handset_loop() -> Iterator[tuple[asyncio.AbstractEventLoop, VirtualHandset]]:
    loop = asyncio.new_event_loop()
    try:
        handset = loop.run_until_complete(boot(name="fuzz", clock_scale=1000.0))
        yield loop, handset
        loop.run_until_complete(handset.power_off())
    finally:
        loop.run_until_complete(cancel_the_rest())
        loop.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=command_lines, root=st.booleans())
def test_random_command_lines_end_in_an_exit_code(
    handset_loop: tuple[asyncio.AbstractEventLoop, VirtualHandset], line: str, root: bool,
) -> None:
    loop, handset = handset_loop
    if any(word in line for word in SKIP) or (root and "rm" in line):
        return
    io = BufferIO(stdin=b"echo from stdin\n")
    code = loop.run_until_complete(asyncio.wait_for(execute(handset, line, io, root=root), 10))
    assert isinstance(code, int)
    assert 0 <= code <= 255
    assert b"internal error" not in io.err, (line, io.err)
    assert handset.system is not None
