"""Coverage-guided fuzzing (atheris/libFuzzer) of what hostile traffic and bad files reach.

    python tests/fuzz/fuzz_inputs.py TARGET -runs=N            # a short run (make test does this)
    make fuzz                                                    # ten minutes per target

TARGET: body (the analysis of a request body, with a fuzzed Content-Encoding), quiet (the same
bodies, with an identifier spliced in: wherever the C quiet path answers, its analysis must equal
the walker's) or capture (a capture file: HAR, mitmproxy flows or an evidence log). The analysis
must never raise; a capture file may only raise ConfigError (one clear message).
"""

from __future__ import annotations

import contextlib
import gzip
import sys
import tempfile
from pathlib import Path

import atheris

# only our own code: instrumenting mitmproxy and the rest costs ~40 s a start and finds nothing of ours
with atheris.instrument_imports(include=["devicelab"]):
    from devicelab.analysis.scan import Analyzer
    from devicelab.capture.files import read_any as read_capture
    from devicelab.errors import ConfigError
    from devicelab.model.identity import Identity
    from devicelab.model.traffic import Flow, Request

IDENTITY = Identity(imei=("490154203237518",), iccid=("8947080037110452710",), wifi_mac=("8c:45:00:12:34:56",),
                    android_id=("51b6be48bac8c569",))
ANALYZER = Analyzer(IDENTITY)
WALKER = Analyzer(IDENTITY, fast=False)
#: what the quiet target splices into a body: identifiers as they are and as the decoders would reveal them
SPLICES = (b"", b"490154203237518", b"NDkwMTU0MjAzMjM3NTE4", b"%34%39%30154203237518", b"8c:45:00:12:34:56",
           b"51b6be48bac8c569", b"&imei=490154203237518&", b'{"id": "490154203237518"}', b"\x00\x01")
ENCODINGS = ("", "gzip", "deflate", "br", "zstd", "gzip, br", "identity", "x-unknown")
SCRATCH = Path(tempfile.mkdtemp(prefix="devicelab-fuzz-")) / "capture"


def fuzz_body(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    encoding = ENCODINGS[fdp.ConsumeIntInRange(0, len(ENCODINGS) - 1)]
    ctype = fdp.ConsumeUnicodeNoSurrogates(40)
    body = fdp.ConsumeBytes(fdp.remaining_bytes())
    headers = (("Content-Type", ctype), ("Content-Encoding", encoding)) if encoding else (("Content-Type", ctype),)
    request = Request(method="POST", scheme="http", host="zzhc.vnet.cn", port=80, path="/", headers=headers,
                      content=body)
    ANALYZER.analyze(Flow(source="fuzz", index=0, id="f", request=request, tls=False))


def fuzz_quiet(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    encoding = ENCODINGS[fdp.ConsumeIntInRange(0, 2)]
    ctype = fdp.ConsumeUnicodeNoSurrogates(40)
    splice = SPLICES[fdp.ConsumeIntInRange(0, len(SPLICES) - 1)]
    path = "/" + fdp.ConsumeUnicodeNoSurrogates(20)
    body = fdp.ConsumeBytes(fdp.remaining_bytes())
    at = len(body) // 2
    body = body[:at] + splice + body[at:]
    if encoding == "gzip":
        body = gzip.compress(body)
    headers = (("Content-Type", ctype), ("Content-Encoding", encoding)) if encoding else (("Content-Type", ctype),)
    request = Request(method="POST", scheme="http", host="zzhc.vnet.cn", port=80, path=path, headers=headers,
                      content=body)
    flow = Flow(source="fuzz", index=0, id="f", request=request, tls=False)
    assert ANALYZER.quiet_path is not None
    if ANALYZER.quiet_path.prove(request) is None:
        return
    ours, walked = ANALYZER.analyze(flow), WALKER.analyze(flow)
    if ours.findings != walked.findings or ours.notes != walked.notes:
        raise AssertionError(f"the quiet path and the walker disagree: {ours} != {walked}")


def fuzz_capture(data: bytes) -> None:
    SCRATCH.write_bytes(data)
    with contextlib.suppress(ConfigError):  # one clear message is the allowed answer to a bad file
        read_capture(SCRATCH)


TARGETS = {"body": fuzz_body, "quiet": fuzz_quiet, "capture": fuzz_capture}

if __name__ == "__main__":
    target = TARGETS[sys.argv.pop(1)]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()
