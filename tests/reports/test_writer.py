"""The output folder as a whole: every format written, nothing raw outside evidence/, never a private key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devicelab.capture.ca import create_run_ca
from devicelab.reports.evidence import EvidenceBundle
from devicelab.reports.output import ReportFolder, ReportLeakError, audit
from devicelab.reports.writer import Written, write_reports
from tests.reports import helpers as h


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_every_format_is_written(written: Written, out: Path) -> None:
    for name in ("verdict.json", "junit.xml", "report.html", "allure-results/categories.json",
                 "allure-results/environment.properties", "evidence/MANIFEST.json"):
        assert (out / name).is_file(), name
    assert written.allure_report is None
    assert written.run.outcome == "fail"


def test_no_raw_identifier_in_any_report_file_only_in_evidence(out: Path) -> None:
    evidence = out / "evidence"
    raw_in_evidence = set()
    for path in _files(out):
        data = path.read_bytes()
        found = {raw for raw in h.RAW_IDENTIFIERS if raw.encode() in data or raw.upper().encode() in data}
        if path.is_relative_to(evidence):
            raw_in_evidence |= found
        else:
            assert not found, f"{path.relative_to(out)} holds {found}"
    # the raw evidence keeps what was seen (the logcat carries the zzhc payload, the HARs the advertising ID)
    assert {h.ah.IMEI, h.ah.ICCID, h.ah.AAID} <= raw_in_evidence
    assert audit(out, h.redactor()) == []


def test_the_ca_private_key_never_reaches_the_output_folder(tmp_path: Path) -> None:
    ca = create_run_ca(tmp_path / "confdir", label="test")
    key_text = ca.key_file.read_text()
    key_body = key_text.splitlines()[1]  # a line of the key's Base64
    out = tmp_path / "out"
    run, bundle = h.sample_run(out)
    assert bundle is not None
    bundle.add(ca.confdir, description="the capture's confdir")  # the key file is refused, the certificate kept
    bundle.add(ca.key_file, handset="b2n-01")
    planted = bundle.folder("b2n-01") / "stray.pem"
    planted.write_text(key_text)
    assert bundle.adopt(planted) is None
    assert not planted.exists()
    with pytest.raises(ReportLeakError):
        ReportFolder(out, h.redactor()).write_text("allure-results/key.txt", key_text)
    written = write_reports(run, out, h.redactor(), evidence=bundle, allure_html=False)
    for path in _files(out):
        data = path.read_bytes()
        assert b"PRIVATE KEY" not in data, path
        assert key_body.encode() not in data, path
    assert any(p.name == "mitmproxy-ca-cert.pem" for p in _files(out / "evidence"))
    assert any("private key" in note for note in written.run.notes)
    manifest = json.loads((out / "evidence" / "MANIFEST.json").read_text())
    assert any("mitmproxy-ca.pem" in why for why in manifest["refused"])


def test_a_key_put_in_the_folder_behind_our_back_is_removed_and_reported(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run, bundle = h.sample_run(out)
    (out / "confdir").mkdir(parents=True)
    (out / "confdir" / "mitmproxy-ca.p12").write_bytes(b"\x30\x82binary")
    with pytest.raises(ReportLeakError, match="private key"):
        write_reports(run, out, h.redactor(), evidence=bundle, allure_html=False)
    assert not (out / "confdir" / "mitmproxy-ca.p12").exists()


def test_the_audit_finds_a_raw_identifier_outside_the_evidence(out: Path, tmp_path: Path) -> None:
    (tmp_path / "report.html").write_text(f"<td>{h.ah.IMSI}</td>")
    (tmp_path / "evidence").mkdir()
    (tmp_path / "evidence" / "capture.txt").write_text(h.ah.IMSI)
    assert audit(tmp_path, h.redactor()) == ["report.html: raw identifiers (imsi)"]


def test_report_text_is_scrubbed_on_the_way_out(tmp_path: Path) -> None:
    folder = ReportFolder(tmp_path, h.redactor())
    path = folder.write_text("note.txt", f"imei {h.ah.IMEI} and a lone surrogate \ud800")
    text = path.read_text()
    assert h.ah.IMEI not in text
    assert "⟦imei" in text
    with pytest.raises(ValueError, match="outside"):
        folder.write_text("../escape.txt", "x")


def test_evidence_manifest_lists_sizes_and_hashes(out: Path) -> None:
    manifest = json.loads((out / "evidence" / "MANIFEST.json").read_text())
    paths = {f["path"] for f in manifest["files"]}
    assert {"evidence/b2n-01/logcat.txt", "evidence/b2n-01/screen-0062.png",
            "evidence/emu-01/reporthar_android_first-run.har"} <= paths
    for f in manifest["files"]:
        assert (out / f["path"]).stat().st_size == f["size"]
        assert len(f["sha256"]) == 64


def test_evidence_names_are_made_safe_and_unique(tmp_path: Path) -> None:
    bundle = EvidenceBundle(tmp_path / "out")
    source = tmp_path / "weird name<script>.txt"
    source.write_text("x")
    first = bundle.add(source, handset="../b2n 01")
    second = bundle.add(source, handset="../b2n 01")
    assert first == ["evidence/b2n_01/weird_name_script_.txt"]
    assert second == ["evidence/b2n_01/weird_name_script_-2.txt"]
    assert bundle.add(tmp_path / "missing.txt") == []
    assert "not found" in bundle.refused[0]


def test_an_offline_scan_uses_the_same_writers(tmp_path: Path) -> None:
    from devicelab.capture.files import scan_files
    from devicelab.reports.collect import scan_run
    from devicelab.reports.model import BuildRef
    from devicelab.reports.redaction import Redactor

    report = scan_files(h.HARS, h.emulator_identity(), h.global_policy())
    run = scan_run(report, Redactor([h.emulator_identity()]), run_id="scan-1", build=BuildRef(name="captures"),
                   policy_path="fixtures/policies/global.yaml", command=["devicelab", "scan"])
    written = write_reports(run, tmp_path, Redactor([h.emulator_identity()]), allure_html=False)
    assert written.run.outcome == "fail"
    assert [r.handset.id for r in written.run.handsets] == ["capture"]
    assert h.ah.AAID not in written.html.read_text()
