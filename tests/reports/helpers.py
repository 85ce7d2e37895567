"""Run records for the report tests: built by hand, and from real scans (ReportHAR captures, the zzhc flow)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from devicelab.model.traffic import CaptureRead, Flow, Request
from devicelab.analysis.scan import Analyzer, ScanReport, coverage_gaps
from devicelab.capture.files import scan_files
from devicelab.analysis.verdict import evaluate
from devicelab.model.traffic import CoverageGap
from devicelab.model.identity import Identity, load_identity
from devicelab.model.policy import Policy, load_policy
from devicelab.reports.collect import FindingContext, handset_result
from devicelab.reports.evidence import EvidenceBundle
from devicelab.reports.model import (
    BuildRef,
    ConsentChoice,
    HandsetInfo,
    HandsetResult,
    InfraError,
    PolicyRef,
    RunRecord,
    Step,
)
from devicelab.reports.redaction import Redactor
from tests.analysis import helpers as ah
from tests.analysis.test_zzhc import zzhc_flow

EMULATOR_IDENTITY = ah.ROOT / "fixtures" / "identities" / "reporthar-emulator.yaml"
HARS = sorted(ah.DATA.glob("*.har"))
T0 = datetime(2025, 3, 14, 9, 30, 0, tzinfo=UTC)
NOKIA_SERIAL = ah.SERIAL
#: Every raw identifier the sample runs carry; none may appear in a report file.
RAW_IDENTIFIERS = (ah.IMEI, ah.IMEI2, ah.IMSI, ah.ICCID, ah.CELL_ID, ah.WIFI_MAC, ah.AAID, ah.SERIAL, ah.ANDROID_ID)


@cache
def emulator_identity() -> Identity:
    return load_identity(EMULATOR_IDENTITY)


def global_policy() -> Policy:
    return load_policy(ah.GLOBAL_POLICY)


@cache
def redactor() -> Redactor:
    return Redactor([ah.identity(), emulator_identity()])


def scan_flows(flows: Sequence[Flow], identity: Identity, policy: Policy,
               gaps: Sequence[CoverageGap] = ()) -> ScanReport:
    """scan_files for flows built in memory (one capture called "live")."""
    capture = CaptureRead("live", "mitmproxy", tuple(flows))
    analyzer = Analyzer(identity)
    analyses = tuple(analyzer.analyze(flow) for flow in flows)
    findings = [f for a in analyses for f in a.findings]
    verdict = evaluate(findings, flows, [*coverage_gaps([capture]), *gaps], policy)
    return ScanReport(policy, (capture,), analyses, verdict, analyzer.needles, analyzer.matcher.engine)


def checkin_flow(index: int = 1) -> Flow:
    """Google checkin over TLS carrying the IMEI: approved by the global policy."""
    body = f'{{"imei":"{ah.IMEI}","build":"00WW_3_22C"}}'.encode()
    request = Request(method="POST", scheme="https", host="android.clients.google.com", port=443, path="/checkin",
                      http_version="HTTP/1.1", headers=(("Content-Type", "application/json"),), content=body)
    return Flow(source="live", index=index, id=f"checkin{index}", request=request, tls=True,
                app="com.google.android.gms", timestamp=T0.timestamp() + 65)


def nokia_flows() -> list[Flow]:
    zzhc = zzhc_flow()
    zzhc = Flow(source="live", index=0, id=zzhc.id, request=zzhc.request, tls=False, app=zzhc.app,
                timestamp=T0.timestamp() + 62)
    return [zzhc, checkin_flow(1)]


def nokia_handset(hid: str = "b2n-01") -> HandsetInfo:
    return HandsetInfo(id=hid, model="Nokia 7 Plus (TA-1062)", serial=NOKIA_SERIAL,
                       fingerprint="Nokia/Onyx_00WW/B2N_sprout:9/PPR1.180610.011/00WW_3_22C:user/release-keys",
                       sim="telenor-no", host="lab-usb-1")


def nokia_result(context: FindingContext | None = None, hid: str = "b2n-01") -> HandsetResult:
    report = scan_flows(nokia_flows(), ah.identity(), global_policy())
    return handset_result(nokia_handset(hid), report, redactor(), context)


@cache
def emulator_result() -> HandsetResult:
    report = scan_files(HARS, emulator_identity(), global_policy())
    return handset_result(HandsetInfo(id="emu-01", model="Android emulator (ReportHAR)", host="lab-usb-2"), report,
                          redactor())


def steps(handset: str, failed: str = "") -> tuple[Step, ...]:
    names = ["lease", "flash", "factory reset", "first boot", "activation", "observe", "analyse"]
    out = []
    for i, name in enumerate(names):
        status = "failed" if name == failed else "ok"
        out.append(Step(name=name, handset=handset, start=T0 + timedelta(seconds=60 * i),
                        end=T0 + timedelta(seconds=60 * i + 42), status=status,
                        message=f"{name} broke" if status == "failed" else ""))
        if status == "failed":
            break
    return tuple(out)


def run_record(handsets: Sequence[HandsetResult], *, run_id: str = "run-1", build: str = "nokia7plus-00WW_3_22C",
               infra_errors: Sequence[InfraError] = (), timeline: Sequence[Step] = ()) -> RunRecord:
    return RunRecord(
        run_id=run_id, command=("devicelab", "gate", "--build", build, "--out", "reports/run-1"),
        started=T0, finished=T0 + timedelta(minutes=12),
        build=BuildRef(name=build, fingerprint=f"Nokia/Onyx_00WW/B2N_sprout:9/{build}:user/release-keys"),
        policy=PolicyRef(name="global", path="fixtures/policies/global.yaml"), handsets=tuple(handsets),
        consent=(ConsentChoice(name="usage & diagnostics", choice="declined"),
                 ConsentChoice(name="location", choice="off")),
        observation_seconds=3600.0,
        timeline=tuple(timeline) or tuple(s for r in handsets for s in steps(r.handset.id)),
        infra_errors=tuple(infra_errors),
    )


def sample_run(out: Path | None = None) -> tuple[RunRecord, EvidenceBundle | None]:
    """Two handsets, the Nokia one leaking to zzhc.vnet.cn; evidence (with a CA key to refuse) when `out` is given."""
    bundle = None
    context = None
    if out is not None:
        bundle = EvidenceBundle(out)
        shot = out.parent / "screen-0062.png"
        shot.write_bytes(PNG_1PX)
        [shot_rel] = bundle.add(shot, handset="b2n-01", description="screen when zzhc.vnet.cn was contacted")
        log = out.parent / "logcat.txt"
        log.write_text(LOGCAT)
        bundle.add(log, handset="b2n-01", description="logcat")
        for har in HARS:
            bundle.add(har, handset="emu-01", description="capture (HAR)")
        confdir = out.parent / "mitmproxy-conf"
        confdir.mkdir()
        (confdir / "mitmproxy-ca.pem").write_text(CA_KEY_PEM)
        (confdir / "mitmproxy-ca-cert.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
        bundle.add(confdir, description="the capture's CA")
        context = FindingContext(logcat={"zzhc": LOGCAT.splitlines()}, screenshots={"zzhc": shot_rel})
    return run_record([nokia_result(context), emulator_result()]), bundle


PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360f8cf"
    "c0f01f0005000201ffa3d8f9a00000000049454e44ae426082"
)
LOGCAT = (
    "03-14 09:31:02.101  1234  1290 I AutoRegistration: start self-registration\n"
    f'03-14 09:31:02.180  1234  1290 D AutoRegistration: Params: {{"MEID":"{ah.IMEI}","SIM1ICCID":"{ah.ICCID}"}}\n'
    "03-14 09:31:02.950  1234  1290 I AutoRegistration: resultCode=0\n"
)
CA_KEY_PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n"


SCRIPT = "<script>document.title='pwned';document.body.setAttribute('data-pwned','1')</script>"
IMG = "<img src=x onerror=\"document.body.setAttribute('data-pwned','2')\">"


def hostile_run() -> RunRecord:
    """A run whose every field that comes off the wire (or from a handset) carries markup."""
    from devicelab.reports.model import (
        Coverage,
        EvidenceFile,
        FindingRecord,
        FlowGroup,
        GapRecord,
        NoteRecord,
        RequestExcerpt,
        ViolationRecord,
    )

    host = f"evil{SCRIPT}.example"
    finding = FindingRecord(
        kind="imei", identifier=ah.IMEI, host=host, url=f"http://{host}/?q={SCRIPT}", method="POST",
        location=f"body > json:{IMG}", decoders=("json",), tls=False, app=f"com.evil{IMG}",
        request=RequestExcerpt(method="POST", url=f"http://{host}/{SCRIPT}", headers=((f"X-{IMG}", SCRIPT),)),
        body=f'{{"imei": "⟦imei …7518#1f0b62⟧", "html": "{SCRIPT}{IMG}"}}', body_where="body",
        logcat=(f"I Tag: {SCRIPT}",), detail=IMG,
    )
    result = HandsetResult(
        handset=HandsetInfo(id=f"h{IMG}", model=SCRIPT, sim=IMG, host=SCRIPT, fingerprint=SCRIPT),
        findings=(finding,),
        violations=(ViolationRecord(rule=f"unapproved-host: {SCRIPT}", host=host, finding=0, kind="imei",
                                    identifier=ah.IMEI),),
        coverage=Coverage(gaps=(GapRecord(kind="tls_undecrypted", detail=SCRIPT, host=host),),
                          notes=(NoteRecord(host=host, flow_index=0, location=IMG, decoder="json", problem=SCRIPT),)),
        flows=(FlowGroup(host=host, app=SCRIPT, scheme="http", tls=False, count=1, bytes=10),),
    )
    run = run_record([result], run_id=f"run{IMG}", build=f"build{SCRIPT}",
                     infra_errors=[InfraError(type="AdbError", handset=result.handset.id, step=IMG, message=SCRIPT)])
    return run.model_copy(update={"evidence": (EvidenceFile(path="evidence/x.txt", description=SCRIPT),),
                                  "notes": (SCRIPT,), "consent": (ConsentChoice(name=IMG, choice=SCRIPT),)})
